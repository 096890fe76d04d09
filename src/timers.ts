/**
 * Timers that behave: unref'd where the platform has it, and of any length. setTimeout keeps delays in a
 * signed 32-bit int: anything above 2^31-1 ms (about 24.8 days) fires after 1 ms, so a 30-day TTL used to
 * evict every client at once. Here a long delay is waited out in steps, and Infinity means "never".
 */
import { MAX_TIMER_MS } from './option-checks.js';

/**
 * `timer.unref()` where a timer has it. In a browser-like environment (jest's jsdom environment, whose
 * `setTimeout` is the window's) a timer is a number, and there is no Node event loop of ours to keep alive.
 */
export function unref<T>(timer: T): T {
  (timer as { unref?: () => void } | undefined)?.unref?.();
  return timer;
}

export interface Timer {
  cancel(): void;
}

const NEVER: Timer = { cancel() {} };

/**
 * Calls `fn` after `ms` (any length; Infinity never fires). Unref'd unless `ref` is set, so a pool's timers
 * never hold a process open. Written by hand: Node has no long timer, and the one-function npm packages for
 * it are unmaintained.
 */
export function after(ms: number, fn: () => void, ref = false): Timer {
  if (ms === Number.POSITIVE_INFINITY) return NEVER;
  let timer: NodeJS.Timeout;
  const deadline = Date.now() + ms;
  const arm = (left: number) => {
    timer = setTimeout(
      () => {
        const rest = deadline - Date.now();
        if (left > MAX_TIMER_MS && rest > 0) arm(rest);
        else fn();
      },
      Math.min(left, MAX_TIMER_MS),
    );
    if (!ref) unref(timer);
  };
  arm(ms);
  return { cancel: () => clearTimeout(timer) };
}
