/** The default logger: the console. Fields never hold keys, headers or message content. */
import type { Logger } from './types.js';

export const consoleLogger: Logger = {
  warn(message, fields) {
    console.warn(`resilient-chat: ${message}`, fields);
  },
};
