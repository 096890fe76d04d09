/** The pluggable logger: one warning per retry. Fields never hold keys, headers or message content. */
export interface RetryLogFields {
  reason: string;
  /** The attempt that failed, from 1. */
  attempt: number;
  delayMs: number;
  model: string;
  errorType: string;
  clientReplaced: boolean;
  traceId: string | undefined;
}

export interface Logger {
  warn(message: string, fields: RetryLogFields): void;
}

export const consoleLogger: Logger = {
  warn(message, fields) {
    console.warn(`resilient-chat: ${message}`, fields);
  },
};
