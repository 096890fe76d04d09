/**
 * `timer.unref()` where a timer has it. In a browser-like environment (jest's jsdom environment, whose
 * `setTimeout` is the window's) a timer is a number, and there is no Node event loop of ours to keep alive.
 */
export function unref<T>(timer: T): T {
  (timer as { unref?: () => void } | undefined)?.unref?.();
  return timer;
}
