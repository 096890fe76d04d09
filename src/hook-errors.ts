/**
 * Code the user hands us (a source's release/invalidate, a logger) must not break a call or leave its span
 * open when it throws. Its error is not swallowed either: it becomes a process warning, which Node prints.
 */
export function callHook(name: string, hook: () => void): void {
  try {
    hook();
  } catch (error) {
    process.emitWarning(
      `resilient-chat: ${name} threw: ${error instanceof Error ? error.message : String(error)}`,
      {
        code: 'RESILIENT_CHAT_HOOK_FAILED',
      },
    );
  }
}
