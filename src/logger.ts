/** The default logger, the console, and the guard every logger is called through. */
import { callHook } from './hook-errors.js';
import type { Logger } from './types.js';

/** Fields never hold keys, headers or message content. */
export const consoleLogger: Logger = {
  warn(message, fields) {
    console.warn(`resilient-chat: ${message}`, fields);
  },
};

/**
 * `logger`, called so that it can never break a call or the process: a `warn` that throws or returns a
 * promise that rejects becomes a process warning (RESILIENT_CHAT_HOOK_FAILED), wherever it is called from.
 */
export function guardedLogger(logger: Logger): Logger {
  return { warn: (message, fields) => callHook('logger.warn()', () => logger.warn(message, fields)) };
}
