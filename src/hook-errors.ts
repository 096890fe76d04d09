/**
 * Code the user hands us (a source's release/invalidate, a logger) must not break a call or leave its span
 * open when it fails. Its error is not swallowed either: it becomes a process warning, which Node prints. A
 * hook typed `void` may still return a promise (an `async` method, a JavaScript caller): one that rejects is
 * handled the same way, or it would be an unhandled rejection, which ends the process (Node's default).
 */
export function callHook(name: string, hook: () => unknown): void {
  try {
    const returned = hook();
    if (typeof (returned as { then?: unknown } | null | undefined)?.then === 'function') {
      Promise.resolve(returned).then(undefined, (error: unknown) => warn(name, 'rejected', error));
    }
  } catch (error) {
    warn(name, 'threw', error);
  }
}

/**
 * `callHook` for a hook whose end the caller waits for (a dispatcher's `close()`): resolves once the hook has
 * settled, and never rejects or throws; a failure becomes the same process warning.
 */
export function awaitHook(name: string, hook: () => unknown): Promise<void> {
  try {
    return Promise.resolve(hook()).then(
      () => undefined,
      (error: unknown) => warn(name, 'rejected', error),
    );
  } catch (error) {
    warn(name, 'threw', error);
    return Promise.resolve();
  }
}

function warn(name: string, how: 'threw' | 'rejected', error: unknown): void {
  process.emitWarning(`resilient-chat: ${name} ${how}: ${describe(error)}`, {
    code: 'RESILIENT_CHAT_HOOK_FAILED',
  });
}

/** Never throws itself: a thrown `Object.create(null)` has no `toString`. */
function describe(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'a value that cannot be printed';
  }
}
