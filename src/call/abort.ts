/**
 * Cancellation helpers. openai-node's own retry sleep ignores the abort signal (openai-node issue 2580);
 * ours must not, so the sleep between attempts is written here around a timer and an abort listener.
 */
import { APIUserAbortError } from 'openai';

/** The error an aborted call rejects with: openai-node's own, with the signal's reason as `cause`. */
export function userAbortError(signal: AbortSignal): APIUserAbortError {
  const error = new APIUserAbortError();
  Object.defineProperty(error, 'cause', { value: signal.reason, writable: true, configurable: true });
  return error;
}

/** An AbortSignal, or something that behaves as one (a signal from another realm). */
export function isAbortSignal(value: unknown): value is AbortSignal {
  if (value instanceof AbortSignal) return true;
  const candidate = value as Partial<AbortSignal> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.aborted === 'boolean' &&
    typeof candidate.addEventListener === 'function' &&
    typeof candidate.removeEventListener === 'function'
  );
}

/**
 * Waits `ms`, or rejects with the caller's abort error as soon as `signal` aborts. The listener is added
 * before the timer is armed, so a signal that throws there leaves no timer behind to fail later.
 */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(userAbortError(signal));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      clearTimeout(timer);
      reject(userAbortError(signal as AbortSignal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
  });
}
