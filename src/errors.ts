/**
 * Errors that resilient-chat itself raises. Like undici's `lib/core/errors.js`, each carries a stable literal
 * `code` (checking it narrows the type) and a brand under `Symbol.for('resilient-chat.error')`, so
 * `instanceof` and `isResilientChatError` hold across two copies of this package in one process (an ESM and
 * a CommonJS one, say). Errors from openai-node are never wrapped: a call that gives up rethrows the last
 * attempt's error as it was.
 */

import { APIConnectionError, OpenAIError } from 'openai';

const kResilientChatError = Symbol.for('resilient-chat.error');

/**
 * Brands an error class, as undici brands its own: the mark goes on the prototype (one property for every
 * instance, under a `Symbol.for` key that each copy of the package shares), and `instanceof` asks for the mark
 * and the class's `code`, so it holds for an error from another copy and never takes one class for another.
 * `code` must be the class's own (the type says so).
 */
function brand<Code extends ResilientChatErrorCode>(
  type: abstract new (...args: never[]) => { readonly code: Code },
  code: NoInfer<Code>,
): void {
  Object.defineProperty(type.prototype, kResilientChatError, { value: true });
  Object.defineProperty(type, Symbol.hasInstance, {
    value: (value: unknown): boolean => isResilientChatError(value) && value.code === code,
  });
}

/** The `code` of every error resilient-chat raises, one per class. */
export type ResilientChatErrorCode =
  | 'RESILIENT_CHAT_INVALID_OPTION'
  | 'RESILIENT_CHAT_INVALID_CLIENT'
  | 'RESILIENT_CHAT_INVALID_REQUEST'
  | 'RESILIENT_CHAT_CIRCUIT_OPEN'
  | 'RESILIENT_CHAT_POOL_CLOSED'
  | 'RESILIENT_CHAT_CLIENT_NOT_REPLACEABLE'
  | 'RESILIENT_CHAT_STREAM_CONSUMED'
  | 'RESILIENT_CHAT_MISSING_PACKAGE'
  | 'RESILIENT_CHAT_SETTING_UNAVAILABLE'
  | 'RESILIENT_CHAT_SETTING_MISMATCH'
  | 'RESILIENT_CHAT_CLIENT_CLOSED';

/** An option passed to `createResilientClient` (or `createResilientChat`, `ClientPool`) is missing, misspelt, of the wrong type or out of range. */
export class InvalidOptionError extends TypeError {
  override readonly name = 'InvalidOptionError';
  readonly code = 'RESILIENT_CHAT_INVALID_OPTION' as const;
  /** The option's path, e.g. `retry.maxDelayMs`. */
  readonly option: string;

  /** `problem`: what is wrong, when not the value (`is not an option` for a misspelt key). */
  constructor(option: string, expected: string, received: unknown, problem?: string) {
    super(
      problem
        ? `resilient-chat: \`${option}\` ${problem}: expected ${expected}`
        : `resilient-chat: option \`${option}\` must be ${expected}; received ${describe(received)}`,
    );
    this.option = option;
  }
}
brand(InvalidOptionError, 'RESILIENT_CHAT_INVALID_OPTION');

/** A client factory or client source handed back something that is not an OpenAI client. */
export class InvalidClientError extends TypeError {
  override readonly name = 'InvalidClientError';
  readonly code = 'RESILIENT_CHAT_INVALID_CLIENT' as const;
  constructor(origin: string, received: unknown) {
    super(
      `resilient-chat: ${origin} must return an OpenAI client (an instance of openai's OpenAI class); received ${describe(received)}`,
    );
  }
}
brand(InvalidClientError, 'RESILIENT_CHAT_INVALID_CLIENT');

/**
 * A request made through a resilient client has a request option or body field it cannot be sent with (a
 * `signal` that is not an AbortSignal, a chat or embeddings request without a `model`). Thrown before any
 * attempt: nothing is sent, and the same request fails the same way every time.
 */
export class InvalidRequestError extends TypeError {
  override readonly name = 'InvalidRequestError';
  readonly code = 'RESILIENT_CHAT_INVALID_REQUEST' as const;
  /** What is wrong, as the caller wrote it: `signal` (a request option) or `body.model`. */
  readonly option: string;

  /** `operation`: the request's operation (`chat`), when the field is the body's. */
  constructor(option: string, expected: string, received: unknown, operation?: string) {
    super(
      `resilient-chat: ${operation ? `${operation}: ` : ''}${option.startsWith('body.') ? '' : 'request option '}\`${option}\` must be ${expected}; received ${describe(received)}`,
    );
    this.option = option;
  }
}
brand(InvalidRequestError, 'RESILIENT_CHAT_INVALID_REQUEST');

/**
 * The circuit breaker for this endpoint is open (or half-open with its probe in flight): the call was refused
 * without sending a request. Retry after `retryAfterMs`, or fall back.
 */
export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError';
  readonly code = 'RESILIENT_CHAT_CIRCUIT_OPEN' as const;
  /** The base URL (without user info or query) and the model whose breaker refused the call: `https://gw.example/route-a/v1 gpt-4o-mini`. */
  readonly endpoint: string;
  /** Time until the breaker lets a probe through, in ms (or until an unanswered probe stops holding it). */
  readonly retryAfterMs: number;

  constructor(endpoint: string, retryAfterMs: number) {
    super(
      `resilient-chat: circuit open for ${endpoint}; no request sent (retry in ${Math.ceil(retryAfterMs)} ms)`,
    );
    this.endpoint = endpoint;
    this.retryAfterMs = retryAfterMs;
  }
}
brand(CircuitOpenError, 'RESILIENT_CHAT_CIRCUIT_OPEN');

/**
 * A single `OpenAI` instance with its own transport (`fetchOptions.dispatcher`, or a custom `fetch`) found
 * that transport closed, and resilient-chat was given no way to build a fresh client with the same transport
 * policy. It never swaps your dispatcher (proxy, socket path, TLS, limits) for Node's global one on its own.
 * Pass `clients` as a factory, a source or a ClientPool, or opt in to `closedClient.fallbackToGlobalDispatcher`.
 *
 * An `APIConnectionError`, as the closed-client failure itself was, so `catch` blocks written for openai-node
 * keep working; that failure is its `cause`.
 */
export class ClientNotReplaceableError extends APIConnectionError {
  override readonly name = 'ClientNotReplaceableError';
  override readonly code = 'RESILIENT_CHAT_CLIENT_NOT_REPLACEABLE' as const;
  constructor(transport: 'dispatcher' | 'fetch', cause: unknown) {
    super({
      message: `resilient-chat: the client's own ${transport === 'dispatcher' ? 'fetchOptions.dispatcher' : 'fetch'} is closed and there is no way to build a fresh client with the same transport; pass \`clients\` as a factory, a source or a ClientPool (see README, "One client instance")`,
      cause: cause instanceof Error ? cause : undefined,
    });
  }
}
brand(ClientNotReplaceableError, 'RESILIENT_CHAT_CLIENT_NOT_REPLACEABLE');

/**
 * A setting of the client itself (`apiKey`, `baseURL`, `webhookSecret`...) was read from, or written to, a
 * resilient client whose requests are sent by the clients of a factory, a source or a ClientPool, each with
 * settings of its own: the resilient client has none to give, and never makes one up. Read it from a client
 * of your source, or pass a single `OpenAI` instance as `clients` (its settings are then the resilient
 * client's own, read and written through).
 */
export class ClientSettingUnavailableError extends Error {
  override readonly name = 'ClientSettingUnavailableError';
  readonly code = 'RESILIENT_CHAT_SETTING_UNAVAILABLE' as const;
  /** The setting, e.g. `baseURL`. */
  readonly setting: string;

  constructor(setting: string) {
    super(
      `resilient-chat: \`client.${setting}\` is not known: this client sends each request through a client from its \`clients\` factory, source or ClientPool, each with its own ${setting}. Read it from a client of that source, or pass a single OpenAI instance as \`clients\` (README, "Settings of the client")`,
    );
    this.setting = setting;
  }
}
brand(ClientSettingUnavailableError, 'RESILIENT_CHAT_SETTING_UNAVAILABLE');

/**
 * A client that the `clients` factory, source or ClientPool handed out has another value of a setting than
 * `sharedSettings` declares for every client of it (`baseURL` compared without trailing slashes). Thrown
 * before anything is sent, never retried (the source would hand out the same client again); the client was
 * released back to the source. The message names the setting and both values, except for `webhookSecret`,
 * whose values are never shown; a base URL is shown without user info or query.
 */
export class ClientSettingMismatchError extends Error {
  override readonly name = 'ClientSettingMismatchError';
  readonly code = 'RESILIENT_CHAT_SETTING_MISMATCH' as const;
  /** The setting, e.g. `baseURL`. */
  readonly setting: string;

  /** `values`: how to show what was declared and what the client has; left out for a secret. */
  constructor(setting: string, values?: { declared: string; actual: string }) {
    const differs = values
      ? `has ${setting} ${values.actual}, but \`sharedSettings.${setting}\` declares ${values.declared}`
      : `has another ${setting} than \`sharedSettings.${setting}\` declares (a secret: neither is shown)`;
    super(
      `resilient-chat: a client from the \`clients\` source ${differs}; nothing was sent. Declare only what every client of the source has (README, "Settings of the client")`,
    );
    this.setting = setting;
  }
}
brand(ClientSettingMismatchError, 'RESILIENT_CHAT_SETTING_MISMATCH');

/**
 * The client's own transport (its undici dispatcher) was already closed or destroyed when an attempt was to
 * send a body that can be read only once (a stream): the attempt was not made, so the body is still unread
 * for a fresh client. Classified `client_closed`; a call sees it only if it runs out of fresh clients.
 */
export class ClientClosedError extends APIConnectionError {
  override readonly name = 'ClientClosedError';
  override readonly code = 'RESILIENT_CHAT_CLIENT_CLOSED' as const;
  constructor() {
    super({
      message:
        "Connection error: the client's dispatcher was already closed or destroyed, so the request (its body a one-shot stream) was not sent",
    });
  }
}
brand(ClientClosedError, 'RESILIENT_CHAT_CLIENT_CLOSED');

/** `acquire` was called on a ClientPool after `close()`. */
export class PoolClosedError extends Error {
  override readonly name = 'PoolClosedError';
  readonly code = 'RESILIENT_CHAT_POOL_CLOSED' as const;
  constructor() {
    super('resilient-chat: the ClientPool is closed');
  }
}
brand(PoolClosedError, 'RESILIENT_CHAT_POOL_CLOSED');

/**
 * A stream returned by a resilient client was iterated a second time: its events were already handed out.
 * An `OpenAIError`, as openai-node's own consumed-stream error is; `.tee()` splits a stream in two.
 */
export class StreamConsumedError extends OpenAIError {
  override readonly name = 'StreamConsumedError';
  readonly code = 'RESILIENT_CHAT_STREAM_CONSUMED' as const;
  constructor() {
    super('resilient-chat: this stream was already iterated; use `.tee()` to split it.');
  }
}
brand(StreamConsumedError, 'RESILIENT_CHAT_STREAM_CONSUMED');

/**
 * A package that a part of resilient-chat loads when it is first used (an OpenTelemetry SDK package for
 * `startTelemetry`, `undici` for `ClientPool`) is not installed. The message names the command that installs
 * it; `cause` is the loader's error.
 */
export class MissingPackageError extends Error {
  override readonly name = 'MissingPackageError';
  readonly code = 'RESILIENT_CHAT_MISSING_PACKAGE' as const;
  /** The npm package that could not be loaded. */
  readonly packageName: string;

  /**
   * `neededFor`: what needs it (`resilient-chat/otel (startTelemetry)`); `alternative`: another way out, said
   * after the install command (`pass your own as \`undici: await import('undici')\``).
   */
  constructor(packageName: string, neededFor: string, cause: unknown, alternative?: string) {
    super(
      `${neededFor} needs the package ${packageName}, which is not installed: run \`npm install ${packageName}\`${alternative ? `, or ${alternative}` : ''}.`,
      { cause },
    );
    this.packageName = packageName;
  }
}
brand(MissingPackageError, 'RESILIENT_CHAT_MISSING_PACKAGE');

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  // Never echo a string: a misplaced option is often an API key.
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'no prototype'})`;
  return typeof value;
}

/**
 * The errors of the attempts before the last one, oldest first. The wrapper rethrows the last error
 * unchanged (same object, same class); the earlier ones are kept here rather than grafted onto it. One map
 * per process (per realm) under a `Symbol.for` key, so attemptErrors from the ESM build finds what a call of
 * the CommonJS build recorded, and the other way round.
 */
const kEarlierAttempts = Symbol.for('resilient-chat.attemptErrors');
const shared = globalThis as { [kEarlierAttempts]?: WeakMap<object, readonly unknown[]> };
shared[kEarlierAttempts] ??= new WeakMap();
const earlierAttempts = shared[kEarlierAttempts];

export function recordEarlierAttemptErrors(finalError: unknown, earlier: readonly unknown[]): void {
  if (earlier.length > 0 && typeof finalError === 'object' && finalError !== null) {
    earlierAttempts.set(finalError, earlier);
  }
}

/** Errors of the attempts that failed before the one whose error a call finally threw (oldest first). */
export function attemptErrors(error: unknown): readonly unknown[] {
  return typeof error === 'object' && error !== null ? (earlierAttempts.get(error) ?? []) : [];
}

/** Any error resilient-chat raises; `code` tells which. */
export type ResilientChatError =
  | InvalidOptionError
  | InvalidClientError
  | InvalidRequestError
  | CircuitOpenError
  | PoolClosedError
  | ClientNotReplaceableError
  | StreamConsumedError
  | MissingPackageError
  | ClientSettingUnavailableError
  | ClientSettingMismatchError
  | ClientClosedError;

/**
 * Whether `value` is an error resilient-chat raised, from any copy of the package.
 *
 * @example
 * try { await client.chat.completions.create(params); }
 * catch (error) { if (isResilientChatError(error) && error.code === 'RESILIENT_CHAT_CIRCUIT_OPEN') fallback(); }
 */
export function isResilientChatError(value: unknown): value is ResilientChatError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[kResilientChatError] === true
  );
}
