/**
 * The retry policy's options (`retry`, `streams`, `closedClient`): their types, their defaults, and their
 * resolution into the settings RetryPolicy and the attempt loop read. Checked once, at creation, so a bad
 * value fails at start-up with an InvalidOptionError naming it.
 */

import { InvalidOptionError } from '../errors.js';
import {
  duration,
  flag,
  type KeySet,
  optionalObject,
  TIMER,
  TIMER_OR_ZERO,
  wholeNumber,
} from '../option-checks.js';
import { MAX_HONOURED_RETRY_AFTER_MS } from './retry-after.js';

/** The retry policy for transient failures (429, 408, 409, 5xx, connection errors, timeouts) and the time limits. */
export interface RetryOptions {
  /**
   * Retries for transient failures (429, 408, 409, 5xx, connection errors, timeouts).
   * @defaultValue `2`
   */
  maxRetries?: number;
  /**
   * First backoff ceiling in ms; each retry doubles it (full jitter below it).
   * @defaultValue `500`
   */
  baseDelayMs?: number;
  /**
   * Largest backoff ceiling in ms.
   * @defaultValue `8000` (or `baseDelayMs` if larger)
   */
  maxDelayMs?: number;
  /**
   * Longest server-requested delay (Retry-After) honoured, in ms; longer ones fall back to backoff.
   * @defaultValue `60000`
   */
  maxRetryAfterMs?: number;
  /**
   * Time limit of one attempt in ms (JSON: whole response; stream: until the first event).
   * @defaultValue the client's `timeout` (openai's default: 10 minutes)
   */
  attemptTimeoutMs?: number;
  /**
   * Time limit of the whole call in ms: acquiring a client, every attempt and sleep, and a stream to its end.
   * @defaultValue none
   */
  totalTimeoutMs?: number;
  /**
   * The backoff's random source: a number in [0, 1) per draw, each delay being that fraction of its ceiling
   * (full jitter; a value outside [0, 1] is clamped, anything not a number counts as 1). Give a fixed one to
   * make delays reproducible, in tests say.
   * @defaultValue `Math.random`
   */
  random?: () => number;
  /**
   * Also replay requests that change the server's state (a Responses call with `conversation`, uploads,
   * batches, vector-store writes and other creates) after a failure that may have reached the server. Only for
   * a server that honours the `Idempotency-Key`; by default such a request is retried only when it provably
   * had no effect (never sent, a 429).
   * @defaultValue `false`
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
   * Past it the attempt fails with a timeout and is retried like any failure before substance.
   * @defaultValue the request's `timeout` (openai's default: 10 minutes)
   */
  firstEventTimeoutMs?: number;
  /**
   * The longest the server may stay silent between events once the first event of substance has reached the
   * caller. Past it the stream's iterator throws `APIConnectionTimeoutError` (give-up reason
   * `stream_stalled`). Only time spent waiting on the server counts: a caller that reads slowly is no stall.
   * @defaultValue the request's `timeout` (openai's default: 10 minutes)
   */
  idleTimeoutMs?: number;
}

/** What happens when a client's own transport is found closed or destroyed. */
export interface ClosedClientOptions {
  /**
   * Fresh-client retries per call after closed-client failures; not counted against `retry.maxRetries`.
   * @defaultValue `2`
   */
  maxRecoveries?: number;
  /**
   * Only for a single `OpenAI` instance with its own transport (`fetchOptions.dispatcher` or `fetch`): when
   * that transport is found closed, go on through Node's global dispatcher instead of failing. This leaves
   * the transport policy you gave (proxy, socket path, TLS certificates, connection limits) behind, so it is
   * off by default; each time it happens it is logged and marked on the span. Prefer a factory, a source or
   * a ClientPool as `clients`.
   * @defaultValue `false`
   */
  fallbackToGlobalDispatcher?: boolean;
}

/** The client options the retry policy is resolved from. */
export interface RetryPolicyOptions {
  retry?: RetryOptions | undefined;
  streams?: StreamOptions | undefined;
  closedClient?: ClosedClientOptions | undefined;
}

export interface ResolvedRetryPolicy {
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxRetryAfterMs: number;
  attemptTimeoutMs: number | undefined;
  totalTimeoutMs: number | undefined;
  /** `streams.firstEventTimeoutMs`; undefined: the request's timeout. */
  firstEventTimeoutMs: number | undefined;
  /** `streams.idleTimeoutMs`; undefined: the request's timeout. */
  idleTimeoutMs: number | undefined;
  maxRecoveries: number;
  /** The backoff's random source (`retry.random`). */
  random: () => number;
  replayNonIdempotent: boolean;
}

/** What an option left out resolves to; the time limits left out are the request's own (undefined here). */
export const DEFAULT_RETRY = {
  maxRetries: 2,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxRetryAfterMs: MAX_HONOURED_RETRY_AFTER_MS,
  random: Math.random,
  replayNonIdempotent: false,
} as const satisfies Partial<Record<keyof RetryOptions, unknown>>;

export const DEFAULT_CLOSED_CLIENT = {
  maxRecoveries: 2,
  fallbackToGlobalDispatcher: false,
} as const satisfies Required<ClosedClientOptions>;

export const RETRY_KEYS = {
  maxRetries: true,
  baseDelayMs: true,
  maxDelayMs: true,
  maxRetryAfterMs: true,
  attemptTimeoutMs: true,
  totalTimeoutMs: true,
  random: true,
  replayNonIdempotent: true,
} as const satisfies KeySet<RetryOptions>;

export const STREAM_KEYS = {
  firstEventTimeoutMs: true,
  idleTimeoutMs: true,
} as const satisfies KeySet<StreamOptions>;

export const CLOSED_CLIENT_KEYS = {
  maxRecoveries: true,
  fallbackToGlobalDispatcher: true,
} as const satisfies KeySet<ClosedClientOptions>;

/** Above this the schedule and the count stop meaning anything; it also keeps `retry.timeouts()` finite. */
const MAX_COUNT = 100;

export function resolveRetryPolicy(options: RetryPolicyOptions): ResolvedRetryPolicy {
  const retry = optionalObject<RetryOptions>(options.retry, 'retry') ?? {};
  const streams = optionalObject<StreamOptions>(options.streams, 'streams') ?? {};
  const { maxRecoveries } = resolveClosedClient(options.closedClient);
  const baseDelayMs =
    duration(retry.baseDelayMs, 'retry.baseDelayMs', TIMER_OR_ZERO) ?? DEFAULT_RETRY.baseDelayMs;
  const maxDelayMs =
    duration(retry.maxDelayMs, 'retry.maxDelayMs', TIMER_OR_ZERO) ??
    Math.max(DEFAULT_RETRY.maxDelayMs, baseDelayMs);
  if (retry.random !== undefined && typeof retry.random !== 'function') {
    throw new InvalidOptionError('retry.random', 'a function returning a number in [0, 1)', retry.random);
  }
  if (maxDelayMs < baseDelayMs) {
    throw new InvalidOptionError(
      'retry.maxDelayMs',
      `at least retry.baseDelayMs (${baseDelayMs})`,
      maxDelayMs,
    );
  }
  return {
    maxRetries: count(retry.maxRetries, 'retry.maxRetries') ?? DEFAULT_RETRY.maxRetries,
    baseDelayMs,
    maxDelayMs,
    maxRetryAfterMs:
      duration(retry.maxRetryAfterMs, 'retry.maxRetryAfterMs', TIMER_OR_ZERO) ??
      DEFAULT_RETRY.maxRetryAfterMs,
    attemptTimeoutMs: duration(retry.attemptTimeoutMs, 'retry.attemptTimeoutMs', TIMER),
    totalTimeoutMs: duration(retry.totalTimeoutMs, 'retry.totalTimeoutMs', TIMER),
    firstEventTimeoutMs: duration(streams.firstEventTimeoutMs, 'streams.firstEventTimeoutMs', TIMER),
    idleTimeoutMs: duration(streams.idleTimeoutMs, 'streams.idleTimeoutMs', TIMER),
    maxRecoveries,
    random: retry.random ?? DEFAULT_RETRY.random,
    replayNonIdempotent:
      flag(retry.replayNonIdempotent, 'retry.replayNonIdempotent') ?? DEFAULT_RETRY.replayNonIdempotent,
  };
}

export function resolveClosedClient(value: ClosedClientOptions | undefined): Required<ClosedClientOptions> {
  const closed = optionalObject<ClosedClientOptions>(value, 'closedClient') ?? {};
  return {
    maxRecoveries:
      count(closed.maxRecoveries, 'closedClient.maxRecoveries') ?? DEFAULT_CLOSED_CLIENT.maxRecoveries,
    fallbackToGlobalDispatcher:
      flag(closed.fallbackToGlobalDispatcher, 'closedClient.fallbackToGlobalDispatcher') ??
      DEFAULT_CLOSED_CLIENT.fallbackToGlobalDispatcher,
  };
}

function count(value: unknown, name: string): number | undefined {
  return wholeNumber(value, name, { min: 0, max: MAX_COUNT });
}
