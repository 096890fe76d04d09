/**
 * The options of `createResilientChat`, their defaults, and their validation. Everything is checked once, at
 * creation, so a bad value fails at start-up with a TypeError naming it rather than on the first outage.
 */
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import type OpenAI from 'openai';
import type { ChatCompletionCreateParams } from 'openai/resources/chat/completions';
import { InvalidOptionError } from './errors.js';
import type { Logger } from './logger.js';
import {
  type CircuitBreakerOptions,
  DEFAULT_BREAKER,
  type ResolvedBreakerOptions,
} from './policy/circuit-breaker.js';
import { MAX_HONOURED_RETRY_AFTER_MS } from './policy/retry-after.js';
import {
  DEFAULT_BUDGET,
  type ResolvedBudgetOptions,
  type RetryBudgetOptions,
} from './policy/retry-budget.js';

/** What an attempt needs a client for: the call's parameters (to pick a client by model) and its signal. */
export interface AcquireContext {
  params: ChatCompletionCreateParams;
  signal: AbortSignal | undefined;
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

export type ClientsOption = OpenAI | ((context: AcquireContext) => OpenAI | Promise<OpenAI>) | ClientSource;

export interface RetryOptions {
  /** Retries for transient failures (429, 408, 409, 5xx, connection errors, timeouts). Default 2. */
  maxRetries?: number;
  /** First backoff ceiling in ms; each retry doubles it (full jitter below it). Default 500. */
  baseDelayMs?: number;
  /** Largest backoff ceiling in ms. Default 8000. */
  maxDelayMs?: number;
  /** Longest server-requested delay (Retry-After) honoured, in ms; longer ones fall back to backoff. Default 60000. */
  maxRetryAfterMs?: number;
  /** Time limit of one attempt in ms (JSON: whole response; stream: until the first chunk). Default: the client's timeout. */
  attemptTimeoutMs?: number;
  /** Time limit of the whole call in ms, over every attempt and sleep. Default: none. */
  totalTimeoutMs?: number;
}

export interface ClosedClientOptions {
  /** Fresh-client retries per call after closed-client failures; not counted against `retry.maxRetries`. Default 2. */
  maxRecoveries?: number;
}

export interface ResilientChatOptions {
  clients: ClientsOption;
  retry?: RetryOptions;
  closedClient?: ClosedClientOptions;
  /** Per-endpoint circuit breaker (Polly's defaults); `false` turns it off. */
  circuitBreaker?: CircuitBreakerOptions | false;
  /** Retry budget shared by every call of this wrapper; `false` turns it off. */
  retryBudget?: RetryBudgetOptions | false;
  /** Defaults to the global tracer provider of `@opentelemetry/api`. */
  tracerProvider?: TracerProvider;
  /** Defaults to the global meter provider of `@opentelemetry/api`. */
  meterProvider?: MeterProvider;
  /** Receives one warning per retry. Defaults to the console; `false` turns it off. */
  logger?: Logger | false;
  /** Record prompts and completions on the span (`gen_ai.input.messages`, `gen_ai.output.messages`). Default false. */
  captureContent?: boolean;
}

export interface ResolvedRetryPolicy {
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxRetryAfterMs: number;
  attemptTimeoutMs: number | undefined;
  totalTimeoutMs: number | undefined;
  maxRecoveries: number;
}

export const DEFAULT_RETRY = {
  maxRetries: 2,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxRetryAfterMs: MAX_HONOURED_RETRY_AFTER_MS,
} as const;

export const DEFAULT_MAX_RECOVERIES = 2;

/** Above this the schedule and the count stop meaning anything; it also keeps `retry.timeouts()` finite. */
const MAX_COUNT = 100;
/** setTimeout's own ceiling (2^31 - 1 ms); longer delays would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

export function resolveRetryPolicy(options: ResilientChatOptions): ResolvedRetryPolicy {
  const retry = optionalObject<RetryOptions>(options.retry, 'retry') ?? {};
  const closed = optionalObject<ClosedClientOptions>(options.closedClient, 'closedClient') ?? {};
  const baseDelayMs = duration(retry.baseDelayMs, 'retry.baseDelayMs', 0) ?? DEFAULT_RETRY.baseDelayMs;
  const maxDelayMs =
    duration(retry.maxDelayMs, 'retry.maxDelayMs', 0) ?? Math.max(DEFAULT_RETRY.maxDelayMs, baseDelayMs);
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
      duration(retry.maxRetryAfterMs, 'retry.maxRetryAfterMs', 0) ?? DEFAULT_RETRY.maxRetryAfterMs,
    attemptTimeoutMs: duration(retry.attemptTimeoutMs, 'retry.attemptTimeoutMs', 1),
    totalTimeoutMs: duration(retry.totalTimeoutMs, 'retry.totalTimeoutMs', 1),
    maxRecoveries: count(closed.maxRecoveries, 'closedClient.maxRecoveries') ?? DEFAULT_MAX_RECOVERIES,
  };
}

export function resolveBreakerOptions(options: ResilientChatOptions): ResolvedBreakerOptions | undefined {
  if (options.circuitBreaker === false) return undefined;
  const breaker = optionalObject<CircuitBreakerOptions>(options.circuitBreaker, 'circuitBreaker') ?? {};
  return {
    failureRatio:
      ratio(breaker.failureRatio, 'circuitBreaker.failureRatio', false) ?? DEFAULT_BREAKER.failureRatio,
    minimumThroughput:
      count(breaker.minimumThroughput, 'circuitBreaker.minimumThroughput', 1_000_000) ??
      DEFAULT_BREAKER.minimumThroughput,
    samplingDurationMs:
      duration(breaker.samplingDurationMs, 'circuitBreaker.samplingDurationMs', 1) ??
      DEFAULT_BREAKER.samplingDurationMs,
    breakDurationMs:
      duration(breaker.breakDurationMs, 'circuitBreaker.breakDurationMs', 0) ??
      DEFAULT_BREAKER.breakDurationMs,
  };
}

export function resolveBudgetOptions(options: ResilientChatOptions): ResolvedBudgetOptions | undefined {
  if (options.retryBudget === false) return undefined;
  const budget = optionalObject<RetryBudgetOptions>(options.retryBudget, 'retryBudget') ?? {};
  return {
    ratio: ratio(budget.ratio, 'retryBudget.ratio', true) ?? DEFAULT_BUDGET.ratio,
    minRetriesPerSecond:
      nonNegative(budget.minRetriesPerSecond, 'retryBudget.minRetriesPerSecond') ??
      DEFAULT_BUDGET.minRetriesPerSecond,
    windowMs: duration(budget.windowMs, 'retryBudget.windowMs', 1) ?? DEFAULT_BUDGET.windowMs,
  };
}

export function validateObservabilityOptions(options: ResilientChatOptions): void {
  if (options.tracerProvider !== undefined && typeof options.tracerProvider?.getTracer !== 'function') {
    throw new InvalidOptionError(
      'tracerProvider',
      'a TracerProvider (with getTracer())',
      options.tracerProvider,
    );
  }
  if (options.meterProvider !== undefined && typeof options.meterProvider?.getMeter !== 'function') {
    throw new InvalidOptionError('meterProvider', 'a MeterProvider (with getMeter())', options.meterProvider);
  }
  const { logger } = options;
  if (logger !== undefined && logger !== false && typeof (logger as Logger | null)?.warn !== 'function') {
    throw new InvalidOptionError('logger', 'an object with a warn(message, fields) method, or false', logger);
  }
  if (options.captureContent !== undefined && typeof options.captureContent !== 'boolean') {
    throw new InvalidOptionError('captureContent', 'a boolean', options.captureContent);
  }
}

function optionalObject<T>(value: unknown, name: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(name, 'an object', value);
  }
  return value as T;
}

function count(value: unknown, name: string, max = MAX_COUNT): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new InvalidOptionError(name, `a whole number from 0 to ${max}`, value);
  }
  return value;
}

/** A ratio in (0, 1]; with `zeroAllowed`, [0, 1] (a zero retry budget allows only the per-second floor). */
function ratio(value: unknown, name: string, zeroAllowed: boolean): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !(zeroAllowed ? value >= 0 : value > 0) || value > 1) {
    throw new InvalidOptionError(name, `a number ${zeroAllowed ? 'from 0' : 'above 0 and'} up to 1`, value);
  }
  return value;
}

function nonNegative(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError(name, 'a finite number of at least 0', value);
  }
  return value;
}

function duration(value: unknown, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > MAX_TIMER_MS) {
    throw new InvalidOptionError(name, `a number of milliseconds from ${min} to ${MAX_TIMER_MS}`, value);
  }
  return value;
}
