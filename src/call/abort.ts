/**
 * Cancellation helpers of the call. openai-node's own retry sleep ignores the abort signal (openai-node issue
 * 2580); ours must not, so the sleep between attempts is a bounded wait (src/bounded-wait.ts) on the
 * caller's signal.
 */
import { boundedWait, userAbortError } from '../bounded-wait.js';

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

/** Waits `ms`, or rejects with the caller's abort error as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(userAbortError(signal));
  if (ms <= 0) return Promise.resolve();
  return boundedWait(undefined, { signal, timeoutMs: ms, onTimeout: () => undefined });
}
