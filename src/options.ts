/**
 * The options of `createResilientClient` (and `createResilientChat`), their defaults, and their validation.
 * Everything is checked once, at creation, so a bad value fails at start-up with a TypeError naming it rather
 * than on the first outage; a misspelt key is refused with the nearest valid one.
 */
import { InvalidOptionError } from './errors.js';
import { consoleLogger, guardedLogger } from './logger.js';
import { duration as checkedDuration, MAX_TIMER_MS, rejectUnknownKeys } from './option-checks.js';
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
import type {
  ClientsOption,
  ClosedClientOptions,
  Logger,
  ResilientClientOptions,
  RetryOptions,
  StreamOptions,
} from './types.js';

/** Everything a client needs, resolved and validated. */
export interface ResolvedOptions {
  clients: ClientsOption;
  retry: ResolvedRetryPolicy;
  fallbackToGlobalDispatcher: boolean;
  breaker: ResolvedBreakerOptions | undefined;
  budget: ResolvedBudgetOptions | undefined;
  tracerProvider: ResilientClientOptions['tracerProvider'];
  meterProvider: ResilientClientOptions['meterProvider'];
  logger: Logger | undefined;
  captureContent: boolean;
  latestConventionsOnly: boolean;
  idempotencyKeys: boolean;
}

/** The keys each options object may have; anything else is a typo, refused with the nearest valid key. */
export const KNOWN_KEYS = {
  '': [
    'clients',
    'retry',
    'streams',
    'closedClient',
    'circuitBreaker',
    'retryBudget',
    'tracerProvider',
    'meterProvider',
    'logger',
    'captureContent',
    'idempotencyKeys',
  ],
  retry: [
    'maxRetries',
    'baseDelayMs',
    'maxDelayMs',
    'maxRetryAfterMs',
    'attemptTimeoutMs',
    'totalTimeoutMs',
    'random',
    'replayNonIdempotent',
  ],
  streams: ['firstEventTimeoutMs', 'idleTimeoutMs'],
  closedClient: ['maxRecoveries', 'fallbackToGlobalDispatcher'],
  circuitBreaker: [
    'failureRatio',
    'minimumThroughput',
    'samplingDurationMs',
    'breakDurationMs',
    'probeTimeoutMs',
  ],
  retryBudget: ['ratio', 'minRetriesPerSecond', 'windowMs'],
} as const;

/**
 * `rootKeys`: the top-level keys allowed, for an entry point whose options differ from the client's at the top
 * (resilientFetch has no `clients`, and options of its own); every nested option is checked the same.
 */
export function resolveOptions(
  options: ResilientClientOptions,
  env: NodeJS.ProcessEnv = process.env,
  rootKeys: readonly string[] = KNOWN_KEYS[''],
): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object with at least `clients`', options);
  }
  rejectUnknownOptionKeys(options, '', rootKeys);
  validateObservabilityOptions(options);
  const closed = optionalObject<ClosedClientOptions>(options.closedClient, 'closedClient') ?? {};
  const fallback = closed.fallbackToGlobalDispatcher;
  if (fallback !== undefined && typeof fallback !== 'boolean') {
    throw new InvalidOptionError('closedClient.fallbackToGlobalDispatcher', 'a boolean', fallback);
  }
  if (options.idempotencyKeys !== undefined && typeof options.idempotencyKeys !== 'boolean') {
    throw new InvalidOptionError('idempotencyKeys', 'a boolean', options.idempotencyKeys);
  }
  const captureFromEnv = env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT?.trim().toLowerCase();
  return {
    clients: options.clients,
    retry: resolveRetryPolicy(options),
    fallbackToGlobalDispatcher: fallback ?? false,
    breaker: resolveBreakerOptions(options),
    budget: resolveBudgetOptions(options),
    tracerProvider: options.tracerProvider,
    meterProvider: options.meterProvider,
    logger: options.logger === false ? undefined : guardedLogger(options.logger ?? consoleLogger),
    // The standard GenAI instrumentation variable gives the default; the option in code wins.
    captureContent: options.captureContent ?? captureFromEnv === 'true',
    idempotencyKeys: options.idempotencyKeys ?? true,
    latestConventionsOnly: (env.OTEL_SEMCONV_STABILITY_OPT_IN ?? '')
      .split(',')
      .some((value) => value.trim() === 'gen_ai_latest_experimental'),
  };
}

/** Every level of the options: unknown keys refused, nested option objects checked against their own keys. */
function rejectUnknownOptionKeys(
  value: object,
  path: keyof typeof KNOWN_KEYS,
  keys: readonly string[] = KNOWN_KEYS[path],
): void {
  rejectUnknownKeys(value, keys, path ? `${path}.` : '');
  for (const [key, nested] of Object.entries(value)) {
    if (
      key in KNOWN_KEYS &&
      key !== '' &&
      typeof nested === 'object' &&
      nested !== null &&
      !Array.isArray(nested)
    )
      rejectUnknownOptionKeys(nested, key as keyof typeof KNOWN_KEYS);
  }
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

export const DEFAULT_RETRY = {
  maxRetries: 2,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxRetryAfterMs: MAX_HONOURED_RETRY_AFTER_MS,
} as const;

export const DEFAULT_MAX_RECOVERIES = 2;

/** Above this the schedule and the count stop meaning anything; it also keeps `retry.timeouts()` finite. */
const MAX_COUNT = 100;

export function resolveRetryPolicy(options: ResilientClientOptions): ResolvedRetryPolicy {
  const retry = optionalObject<RetryOptions>(options.retry, 'retry') ?? {};
  const closed = optionalObject<ClosedClientOptions>(options.closedClient, 'closedClient') ?? {};
  const streams = optionalObject<StreamOptions>(options.streams, 'streams') ?? {};
  const baseDelayMs = duration(retry.baseDelayMs, 'retry.baseDelayMs', 0) ?? DEFAULT_RETRY.baseDelayMs;
  const maxDelayMs =
    duration(retry.maxDelayMs, 'retry.maxDelayMs', 0) ?? Math.max(DEFAULT_RETRY.maxDelayMs, baseDelayMs);
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
      duration(retry.maxRetryAfterMs, 'retry.maxRetryAfterMs', 0) ?? DEFAULT_RETRY.maxRetryAfterMs,
    attemptTimeoutMs: duration(retry.attemptTimeoutMs, 'retry.attemptTimeoutMs', 1),
    totalTimeoutMs: duration(retry.totalTimeoutMs, 'retry.totalTimeoutMs', 1),
    firstEventTimeoutMs: duration(streams.firstEventTimeoutMs, 'streams.firstEventTimeoutMs', 1),
    idleTimeoutMs: duration(streams.idleTimeoutMs, 'streams.idleTimeoutMs', 1),
    maxRecoveries: count(closed.maxRecoveries, 'closedClient.maxRecoveries') ?? DEFAULT_MAX_RECOVERIES,
    random: retry.random ?? Math.random,
    replayNonIdempotent: flag(retry.replayNonIdempotent, 'retry.replayNonIdempotent') ?? false,
  };
}

function flag(value: unknown, name: string): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean')
    throw new InvalidOptionError(name, 'a boolean', value);
  return value;
}

export function resolveBreakerOptions(options: ResilientClientOptions): ResolvedBreakerOptions | undefined {
  if (options.circuitBreaker === false) return undefined;
  const breaker = optionalObject<CircuitBreakerOptions>(options.circuitBreaker, 'circuitBreaker') ?? {};
  const breakDurationMs =
    duration(breaker.breakDurationMs, 'circuitBreaker.breakDurationMs', 0) ?? DEFAULT_BREAKER.breakDurationMs;
  return {
    failureRatio:
      ratio(breaker.failureRatio, 'circuitBreaker.failureRatio', false) ?? DEFAULT_BREAKER.failureRatio,
    minimumThroughput:
      count(breaker.minimumThroughput, 'circuitBreaker.minimumThroughput', 1_000_000) ??
      DEFAULT_BREAKER.minimumThroughput,
    samplingDurationMs:
      duration(breaker.samplingDurationMs, 'circuitBreaker.samplingDurationMs', 1) ??
      DEFAULT_BREAKER.samplingDurationMs,
    breakDurationMs,
    probeTimeoutMs:
      duration(breaker.probeTimeoutMs, 'circuitBreaker.probeTimeoutMs', 1) ?? Math.max(1, breakDurationMs),
  };
}

export function resolveBudgetOptions(options: ResilientClientOptions): ResolvedBudgetOptions | undefined {
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

function validateObservabilityOptions(options: ResilientClientOptions): void {
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

/** A duration setTimeout can wait in one go: above 0 (or 0 when `min` is 0), at most 2^31-1 ms. */
function duration(value: unknown, name: string, min: 0 | 1): number | undefined {
  return checkedDuration(value, name, { zero: min === 0, max: MAX_TIMER_MS });
}
