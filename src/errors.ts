/**
 * Errors that resilient-chat itself raises. Like undici's `lib/core/errors.js`, each carries a stable
 * `code` so callers can branch without matching messages. Errors from openai-node are never wrapped: a call
 * that gives up rethrows the last attempt's error as it was.
 */

export type ResilientChatErrorCode = 'RESILIENT_CHAT_INVALID_OPTION' | 'RESILIENT_CHAT_INVALID_CLIENT';

/** An option passed to `createResilientChat` is missing, of the wrong type or out of range. */
export class InvalidOptionError extends TypeError {
  override readonly name = 'InvalidOptionError';
  readonly code: ResilientChatErrorCode = 'RESILIENT_CHAT_INVALID_OPTION';
  /** The option's path, e.g. `retry.maxDelayMs`. */
  readonly option: string;

  constructor(option: string, expected: string, received: unknown) {
    super(`resilient-chat: option \`${option}\` must be ${expected}; received ${describe(received)}`);
    this.option = option;
  }
}

/** A client factory or client source handed back something that is not an OpenAI client. */
export class InvalidClientError extends TypeError {
  override readonly name = 'InvalidClientError';
  readonly code: ResilientChatErrorCode = 'RESILIENT_CHAT_INVALID_CLIENT';

  constructor(origin: string, received: unknown) {
    super(
      `resilient-chat: ${origin} must return an OpenAI client (with chat.completions.create); received ${describe(received)}`,
    );
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'no prototype'})`;
  return typeof value;
}

/**
 * The errors of the attempts before the last one, oldest first. The wrapper rethrows the last error
 * unchanged (same object, same class); the earlier ones are kept here rather than grafted onto it.
 */
const earlierAttempts = new WeakMap<object, readonly unknown[]>();

export function recordEarlierAttemptErrors(finalError: unknown, earlier: readonly unknown[]): void {
  if (earlier.length > 0 && typeof finalError === 'object' && finalError !== null) {
    earlierAttempts.set(finalError, earlier);
  }
}

/** Errors of the attempts that failed before the one whose error a call finally threw (oldest first). */
export function attemptErrors(error: unknown): readonly unknown[] {
  return typeof error === 'object' && error !== null ? (earlierAttempts.get(error) ?? []) : [];
}
