/**
 * The public contract: the options of `createResilientClient` / `createResilientChat`, how clients are
 * supplied, the logger, and the reason unions that telemetry and errors report. Types only.
 */
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import type OpenAI from 'openai';
import type { CircuitBreakerOptions } from './policy/circuit-breaker.js';
import type { RetryBudgetOptions } from './policy/retry-budget.js';

/** Why an attempt failed, as the classifier reads the error (`resilient_chat.retry.reason`). */
export type FailureReason =
  /** Our own client's transport (its undici dispatcher) was closed or destroyed: retry on a fresh client. */
  | 'client_closed'
  /**
   * The server says *its* upstream client was closed (a LiteLLM proxy's 500 body or SSE error frame). Our
   * client is healthy: one immediate retry on the same client, then retried like any 5xx.
   */
  | 'upstream_client_closed'
  | 'rate_limited'
  | 'server_error'
  | 'timeout'
  | 'connection'
  | 'aborted'
  /**
   * The request could not be made as configured: a dispatcher that is not one, a base URL fetch cannot use,
   * a bad option, client or request field, a single client that cannot be replaced. Never retried.
   */
  | 'setup_error'
  /** A circuit breaker refused the attempt (`CircuitOpenError`): nothing was sent; retry after `retryAfterMs`. */
  | 'circuit_open'
  | 'not_retryable';

/** How `classifyError` reads an error: the reason, whether another attempt may succeed, and what to record. */
export interface Classification {
  reason: FailureReason;
  /** Whether another attempt may succeed. `client_closed` is retryable on a fresh client only. */
  retryable: boolean;
  /**
   * Low-cardinality identifier for `error.type`: an undici/Node error code, an error body's code from a
   * fixed list (`insufficient_quota`, `context_length_exceeded`...), or the error's class name.
   */
  errorType: string;
  /** HTTP status of the failed response, when there was one. */
  status?: number;
  /** Delay the server asked for (retry-after-ms / Retry-After) in ms, when present and not negative. */
  retryAfterMs?: number;
}

/** Why a call stopped trying (`resilient_chat.give_up.reason`). */
export type GiveUpReason =
  | 'not_retryable'
  | 'aborted'
  | 'attempts_exhausted'
  | 'recoveries_exhausted'
  | 'deadline'
  /** The retry budget shared by all calls was spent: the retry would have added load during an outage. */
  | 'budget_exhausted'
  /** The endpoint's circuit breaker refused the attempt. */
  | 'circuit_open'
  /** A stream failed after events had reached the caller; such failures are surfaced, not retried. */
  | 'stream_interrupted'
  /** A stream went silent for longer than `streams.idleTimeoutMs` after events had reached the caller. */
  | 'stream_stalled'
  /** The request's body was a stream that was (or may have been) sent already and cannot be sent again. */
  | 'body_not_replayable'
  /**
   * The request changes the server's state (a Responses call with `conversation`, an upload, a create) and may
   * have taken effect: sending it again could apply it twice (`retry.replayNonIdempotent` allows it).
   */
  | 'not_idempotent'
  /**
   * The single client's own transport (a custom dispatcher or fetch) is dead and nothing was given to build
   * a fresh one with the same transport policy: pass a factory, a source or a ClientPool as `clients`.
   */
  | 'client_not_replaceable';

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

/** The retry policy for transient failures (429, 408, 409, 5xx, connection errors, timeouts) and the time limits. */
export interface RetryOptions {
  /** Retries for transient failures (429, 408, 409, 5xx, connection errors, timeouts). Default 2. */
  maxRetries?: number;
  /** First backoff ceiling in ms; each retry doubles it (full jitter below it). Default 500. */
  baseDelayMs?: number;
  /** Largest backoff ceiling in ms. Default 8000. */
  maxDelayMs?: number;
  /** Longest server-requested delay (Retry-After) honoured, in ms; longer ones fall back to backoff. Default 60000. */
  maxRetryAfterMs?: number;
  /** Time limit of one attempt in ms (JSON: whole response; stream: until the first event). Default: the client's timeout. */
  attemptTimeoutMs?: number;
  /** Time limit of the whole call in ms: acquiring a client, every attempt and sleep, and a stream to its end. Default: none. */
  totalTimeoutMs?: number;
  /**
   * The backoff's random source: a number in [0, 1) per draw, each delay being that fraction of its ceiling
   * (full jitter; a value outside [0, 1] is clamped, anything not a number counts as 1). Give a fixed one to
   * make delays reproducible, in tests say. Default `Math.random`.
   */
  random?: () => number;
  /**
   * Also replay requests that change the server's state (a Responses call with `conversation`, uploads,
   * batches, vector-store writes and other creates) after a failure that may have reached the server. Only for
   * a server that honours the `Idempotency-Key`; by default such a request is retried only when it provably
   * had no effect (never sent, a 429). Default false.
   */
  replayNonIdempotent?: boolean;
}

/**
 * Time limits of a stream beyond its headers, which openai-node's `timeout` does not cover. Both default to the
 * request's timeout (the client's `timeout`, 10 minutes in openai-node): the bound openai-node puts on a whole
 * response that is not streamed. Reasoning models may think for minutes before their first token; lower them
 * only for models you know.
 */
export interface StreamOptions {
  /**
   * The longest wait, from sending the request, for the first event of substance (text, a tool call, usage).
   * Past it the attempt fails with a timeout and is retried like any failure before substance. Default: the
   * request's timeout.
   */
  firstEventTimeoutMs?: number;
  /**
   * The longest the server may stay silent between events once the first event of substance has reached the
   * caller. Past it the stream's iterator throws `APIConnectionTimeoutError` (give-up reason
   * `stream_stalled`). Only time spent waiting on the server counts: a caller that reads slowly is no stall.
   * Default: the request's timeout.
   */
  idleTimeoutMs?: number;
}

/** What happens when a client's own transport is found closed or destroyed. */
export interface ClosedClientOptions {
  /** Fresh-client retries per call after closed-client failures; not counted against `retry.maxRetries`. Default 2. */
  maxRecoveries?: number;
  /**
   * Only for a single `OpenAI` instance with its own transport (`fetchOptions.dispatcher` or `fetch`): when
   * that transport is found closed, go on through Node's global dispatcher instead of failing. This leaves
   * the transport policy you gave (proxy, socket path, TLS certificates, connection limits) behind, so it is
   * off by default; each time it happens it is logged and marked on the span. Prefer a factory, a source or
   * a ClientPool as `clients`. Default false.
   */
  fallbackToGlobalDispatcher?: boolean;
}

/** The options of `createResilientClient` (and `createResilientChat`); only `clients` is required. */
export interface ResilientClientOptions {
  /** Where each attempt's client comes from: an `OpenAI`, a factory, a source or a `ClientPool`. */
  clients: ClientsOption;
  /** Backoff, Retry-After, attempt and total time limits. */
  retry?: RetryOptions;
  /** Time limits of a stream's first event of substance and of the gaps after it. */
  streams?: StreamOptions;
  /** Recovery of clients whose own transport was found closed. */
  closedClient?: ClosedClientOptions;
  /** Per-endpoint circuit breaker (Polly's defaults); `false` turns it off. */
  circuitBreaker?: CircuitBreakerOptions | false;
  /** Retry budget shared by every call of this client; `false` turns it off. */
  retryBudget?: RetryBudgetOptions | false;
  /** Defaults to the global tracer provider of `@opentelemetry/api`. */
  tracerProvider?: TracerProvider;
  /** Defaults to the global meter provider of `@opentelemetry/api`. */
  meterProvider?: MeterProvider;
  /** Receives one warning per retry (and per dispatcher fallback). Defaults to the console; `false` turns it off. */
  logger?: Logger | false;
  /**
   * Record prompts and completions on the span (`gen_ai.input.messages`, `gen_ai.output.messages`).
   * Default: `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true` turns it on, otherwise false.
   */
  captureContent?: boolean;
  /**
   * Send one `Idempotency-Key` per call, the same on every attempt, on POST, PUT and PATCH requests, so a server
   * that honours it can tell a retry from a new request. `false` sends only a key the caller gives (the
   * `idempotencyKey` request option or the header). Default true.
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
