/**
 * A wait bounded by the caller's abort and a time limit, written once for every wait that has them: a client
 * from the source, the sleep between attempts, a stream's first event of substance, ClientPool's acquire and
 * close. Whichever comes first settles the wait, and in every case the abort listener is removed and the
 * timer cleared. What the work yields after the wait stopped goes to `onLateValue` (a client lease to give
 * back, say); a late failure is dropped, never left unhandled: nobody waits for it any more.
 *
 * Here, not in src/call/, so that src/pool/ uses it too without importing the call layer.
 */
import { APIUserAbortError } from 'openai';
import { after, type Timer } from './timers.js';

/** The error an aborted call rejects with: openai-node's own, with the signal's reason as `cause`. */
export function userAbortError(signal: AbortSignal): APIUserAbortError {
  const error = new APIUserAbortError();
  Object.defineProperty(error, 'cause', { value: signal.reason, writable: true, configurable: true });
  return error;
}

interface AbortBound<T> {
  /** The caller's abort: the wait rejects with `userAbortError(signal)`; if it already is, the work never starts. */
  signal?: AbortSignal | undefined;
  /** A value the work yields after the wait stopped, to be given back. */
  onLateValue?: (value: T) => void;
}

export type WaitBounds<T> = AbortBound<T> &
  (
    | { timeoutMs?: undefined }
    | {
        /** How long the wait may take, in ms: any length, Infinity for no limit. */
        timeoutMs: number;
        /** What the wait settles with when the time is up: its value resolves the wait, its throw rejects it. */
        onTimeout: () => T;
      }
  );

/**
 * Waits for `work` (started here, once; none: the wait is for the time alone) within `bounds`. The timer is
 * ref'd: a wait that matters keeps the process alive until it ends.
 */
export function boundedWait<T>(
  work: (() => T | PromiseLike<T>) | undefined,
  bounds: WaitBounds<T>,
): Promise<T> {
  const { signal, onLateValue } = bounds;
  if (signal?.aborted) return Promise.reject(userAbortError(signal));
  return new Promise<T>((resolve, reject) => {
    let waiting = true;
    let timer: Timer | undefined;
    /** Ends the wait; true only for the first to end it. */
    const stop = (): boolean => {
      if (!waiting) return false;
      waiting = false;
      timer?.cancel();
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    function onAbort(): void {
      if (stop()) reject(userAbortError(signal as AbortSignal));
    }
    // The listener goes on before the timer is armed: a signal that throws there leaves no timer behind.
    signal?.addEventListener('abort', onAbort, { once: true });
    if (bounds.timeoutMs !== undefined) {
      const { onTimeout } = bounds;
      timer = after(bounds.timeoutMs, () => stop() && settle(onTimeout, resolve, reject), true);
    }
    if (!work) return;
    let pending: T | PromiseLike<T>;
    try {
      pending = work();
    } catch (error) {
      if (stop()) reject(error);
      return;
    }
    Promise.resolve(pending).then(
      (value) => (stop() ? resolve(value) : onLateValue?.(value)),
      (error: unknown) => stop() && reject(error),
    );
  });
}

function settle<T>(outcome: () => T, resolve: (value: T) => void, reject: (error: unknown) => void): void {
  try {
    resolve(outcome());
  } catch (error) {
    reject(error);
  }
}
