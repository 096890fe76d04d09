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

/** Waits `ms`, or rejects with the caller's abort error as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(userAbortError(signal));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(userAbortError(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
