/**
 * The public contract: the options of `createResilientClient` / `createResilientChat`, how clients are
 * supplied, the logger, and the reason unions that telemetry and errors report. Types only. Each policy's
 * options live with the policy (src/policy/), and the reasons with the policy that decides on them; this file
 * imports from there, never the other way.
 */
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import type OpenAI from 'openai';
import type { CircuitBreakerOptions } from './policy/circuit-breaker.js';
import type { RetryBudgetOptions } from './policy/retry-budget.js';
import type { ClosedClientOptions, RetryOptions, StreamOptions } from './policy/retry-options.js';

export type { Classification, FailureReason, GiveUpReason } from './policy/failure.js';

/** What an attempt needs a client for. */
export interface AcquireContext {
  /** The request body when it is a JSON object: for chat, responses and embeddings, their parameters. */
  params: { model?: string; [key: string]: unknown };
  /** The caller's abort signal, if any: an `acquire` that waits should give up when it aborts. */
  signal: AbortSignal | undefined;
  /** The request's method (lower case) and path, e.g. `post` and `/chat/completions`. */
  request: { method: string; path: string };
}

/** Where the wrapper gets a client for each attempt, and where it hands it back. */
export interface ClientSource {
  /** A client for one attempt. Called again after a closed-client failure for a fresh one. */
  acquire(context: AcquireContext): OpenAI | Promise<OpenAI>;
  /** Called after every attempt (for streams: when the stream ends) with the client `acquire` gave. */
  release?(client: OpenAI): void;
  /** Called once for a client whose transport was found closed; only that client, never the others. */
  invalidate?(client: OpenAI, error: unknown): void;
}

/** Where clients come from: one instance, a factory called per attempt, or a source (a ClientPool is one). */
export type ClientsOption = OpenAI | ((context: AcquireContext) => OpenAI | Promise<OpenAI>) | ClientSource;

/**
 * The settings that every client of a source has, declared so that the resilient client can show them
 * (README, "Settings of the client"). Each is compared with the client's own at every acquire (`baseURL`
 * without trailing slashes). `apiKey` cannot be declared: it is a secret, and where a source serves several
 * tenants it differs from client to client.
 */
export interface SharedSettings {
  /** The base URL every client sends to, as openai's `baseURL` option (an absolute URL). */
  baseURL?: string;
  /** The `OpenAI-Organization` every client sends, or `null` for none. */
  organization?: string | null;
  /** The `OpenAI-Project` every client sends, or `null` for none. */
  project?: string | null;
  /** The secret `webhooks.unwrap()` verifies with, or `null` for none. Never shown in an error. */
  webhookSecret?: string | null;
}

/** The options of `createResilientClient` (and `createResilientChat`); only `clients` is required. */
export interface ResilientClientOptions {
  /** Where each attempt's client comes from: an `OpenAI`, a factory, a source or a `ClientPool`. */
  clients: ClientsOption;
  /**
   * Settings every client of a factory, a source or a `ClientPool` has, which the resilient client then shows
   * as its own (`client.baseURL`...), where otherwise reading one throws ClientSettingUnavailableError. Each
   * client the source hands out is checked against them before anything is sent; one that differs fails
   * the call with ClientSettingMismatchError. Not for a single instance, whose own settings are shown.
   * @defaultValue none
   */
  sharedSettings?: SharedSettings;
  /** Backoff, Retry-After, attempt and total time limits. */
  retry?: RetryOptions;
  /** Time limits of a stream's first event of substance and of the gaps after it. */
  streams?: StreamOptions;
  /** Recovery of clients whose own transport was found closed. */
  closedClient?: ClosedClientOptions;
  /**
   * Per-endpoint circuit breaker (Polly's defaults); `false` turns it off.
   * @defaultValue on
   */
  circuitBreaker?: CircuitBreakerOptions | false;
  /**
   * Retry budget shared by every call of this client; `false` turns it off.
   * @defaultValue on
   */
  retryBudget?: RetryBudgetOptions | false;
  /**
   * Where spans go.
   * @defaultValue the global one of `@opentelemetry/api`
   */
  tracerProvider?: TracerProvider;
  /**
   * Where metrics go.
   * @defaultValue the global one, looked up on each call
   */
  meterProvider?: MeterProvider;
  /**
   * Receives one warning per retry (and per dispatcher fallback); `false` turns it off.
   * @defaultValue the console
   */
  logger?: Logger | false;
  /**
   * Record prompts and completions on the span (`gen_ai.input.messages`, `gen_ai.output.messages`); the
   * option in code wins over the variable.
   * @defaultValue `false`, or `true` where `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`
   */
  captureContent?: boolean;
  /**
   * Send one `Idempotency-Key` per call, the same on every attempt, on POST, PUT and PATCH requests, so a server
   * that honours it can tell a retry from a new request. `false` sends only a key the caller gives (the
   * `idempotencyKey` request option or the header).
   * @defaultValue `true`
   */
  idempotencyKeys?: boolean;
}

/** The options of `createResilientChat`: the same as the client's. */
export type ResilientChatOptions = ResilientClientOptions;

/** Fields of the warning logged before each retry. Never keys, headers or message content. */
export interface RetryLogFields {
  /** Why the attempt failed (a FailureReason). */
  reason: string;
  /** The attempt that failed, from 1. */
  attempt: number;
  /** The delay before the next attempt, in ms (0: at once). */
  delayMs: number;
  /** The request's model; for requests that are not GenAI operations, undefined. */
  model: string | undefined;
  /** `POST /chat/completions`, `GET /models`... */
  operation: string;
  /** The failed attempt's `error.type`. */
  errorType: string;
  /** Whether the next attempt uses a fresh client. */
  clientReplaced: boolean;
  /** The trace of the call's span, to find it in Jaeger. */
  traceId: string | undefined;
}

/** Fields of the warning logged when a closed client is replaced through Node's global dispatcher. */
export interface DispatcherFallbackLogFields {
  /** What the dead transport was replaced with. */
  fallback: 'global_dispatcher';
  /** What the dead client used: `dispatcher` (fetchOptions.dispatcher) or `fetch` (a custom fetch). */
  replaced: 'dispatcher' | 'fetch';
  traceId: string | undefined;
}

/** Fields of the warning logged once when another instrumentation already patches openai's methods. */
export interface DuplicateInstrumentationLogFields {
  /** The patched methods, as paths on the client (`chat.completions.create`). */
  methods: string[];
}

/** Receives resilient-chat's warnings: one per retry, per dispatcher fallback, and once per duplicate instrumentation. */
export interface Logger {
  warn(
    message: string,
    fields: RetryLogFields | DispatcherFallbackLogFields | DuplicateInstrumentationLogFields,
  ): void;
}
