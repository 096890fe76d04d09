/**
 * The options of `createResilientClient` (and `createResilientChat`), composed: each policy resolves and
 * checks its own (src/policy/retry-options.ts, circuit-breaker.ts, retry-budget.ts); this file refuses
 * unknown keys at every level and resolves the rest (clients, telemetry, logger, idempotency keys); the
 * clients layer checks `sharedSettings` (src/clients/shared-settings.ts).
 * Everything is checked once, at creation, so a bad value fails at start-up with a TypeError naming it rather
 * than on the first outage; a misspelt key is refused with the nearest valid one.
 */
import { resolveSharedSettings } from './clients/shared-settings.js';
import { InvalidOptionError } from './errors.js';
import { consoleLogger, guardedLogger } from './logger.js';
import { flag, type KeySet, keysOf, rejectUnknownKeys } from './option-checks.js';
import {
  BREAKER_KEYS,
  type ResolvedBreakerOptions,
  resolveBreakerOptions,
} from './policy/circuit-breaker.js';
import { BUDGET_KEYS, type ResolvedBudgetOptions, resolveBudgetOptions } from './policy/retry-budget.js';
import {
  CLOSED_CLIENT_KEYS,
  RETRY_KEYS,
  type ResolvedRetryPolicy,
  resolveClosedClient,
  resolveRetryPolicy,
  STREAM_KEYS,
} from './policy/retry-options.js';
import type { ClientsOption, Logger, ResilientClientOptions, SharedSettings } from './types.js';

/** Everything a client needs, resolved and validated. */
export interface ResolvedOptions {
  clients: ClientsOption;
  /** What `sharedSettings` declares; undefined when nothing is. */
  sharedSettings: SharedSettings | undefined;
  retry: ResolvedRetryPolicy;
  fallbackToGlobalDispatcher: boolean;
  circuitBreaker: ResolvedBreakerOptions | undefined;
  retryBudget: ResolvedBudgetOptions | undefined;
  tracerProvider: ResilientClientOptions['tracerProvider'];
  meterProvider: ResilientClientOptions['meterProvider'];
  logger: Logger | undefined;
  captureContent: boolean;
  latestConventionsOnly: boolean;
  idempotencyKeys: boolean;
}

/** The top-level options' defaults that are values (the providers left out are the global ones, looked up later). */
export const DEFAULT_OPTIONS = {
  logger: consoleLogger,
  captureContent: false,
  idempotencyKeys: true,
} as const satisfies Partial<Record<keyof ResilientClientOptions, unknown>>;

export const ROOT_KEYS = {
  clients: true,
  retry: true,
  streams: true,
  closedClient: true,
  circuitBreaker: true,
  retryBudget: true,
  tracerProvider: true,
  meterProvider: true,
  logger: true,
  captureContent: true,
  idempotencyKeys: true,
  sharedSettings: true,
} as const satisfies KeySet<ResilientClientOptions>;

/** The keys of each nested options object, by its key. */
export const NESTED_KEYS = {
  retry: RETRY_KEYS,
  streams: STREAM_KEYS,
  closedClient: CLOSED_CLIENT_KEYS,
  circuitBreaker: BREAKER_KEYS,
  retryBudget: BUDGET_KEYS,
} as const satisfies Partial<Record<keyof ResilientClientOptions, Record<string, true>>>;

/**
 * `rootKeys`: the top-level keys allowed, for an entry point whose options differ from the client's at the top
 * (resilientFetch has no `clients`, and options of its own); every nested option is checked the same.
 */
export function resolveOptions(
  options: ResilientClientOptions,
  env: NodeJS.ProcessEnv = process.env,
  rootKeys: readonly string[] = keysOf(ROOT_KEYS),
): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object with at least `clients`', options);
  }
  rejectUnknownOptionKeys(options, rootKeys);
  validateObservabilityOptions(options);
  const { fallbackToGlobalDispatcher } = resolveClosedClient(options.closedClient);
  const idempotencyKeys = flag(options.idempotencyKeys, 'idempotencyKeys') ?? DEFAULT_OPTIONS.idempotencyKeys;
  const captureFromEnv = env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT?.trim().toLowerCase();
  return {
    clients: options.clients,
    sharedSettings: resolveSharedSettings(options.sharedSettings, options.clients),
    retry: resolveRetryPolicy(options),
    fallbackToGlobalDispatcher,
    circuitBreaker: resolveBreakerOptions(options.circuitBreaker),
    retryBudget: resolveBudgetOptions(options.retryBudget),
    tracerProvider: options.tracerProvider,
    meterProvider: options.meterProvider,
    logger: options.logger === false ? undefined : guardedLogger(options.logger ?? DEFAULT_OPTIONS.logger),
    // The standard GenAI instrumentation variable gives the default; the option in code wins.
    captureContent: options.captureContent ?? (captureFromEnv === 'true' || DEFAULT_OPTIONS.captureContent),
    idempotencyKeys,
    latestConventionsOnly: (env.OTEL_SEMCONV_STABILITY_OPT_IN ?? '')
      .split(',')
      .some((value) => value.trim() === 'gen_ai_latest_experimental'),
  };
}

/** Every level of the options: unknown keys refused, nested option objects checked against their own keys. */
function rejectUnknownOptionKeys(options: object, rootKeys: readonly string[]): void {
  rejectUnknownKeys(options, rootKeys);
  for (const [key, nested] of Object.entries(options)) {
    const keys = Object.hasOwn(NESTED_KEYS, key) ? NESTED_KEYS[key as keyof typeof NESTED_KEYS] : undefined;
    if (keys && typeof nested === 'object' && nested !== null && !Array.isArray(nested))
      rejectUnknownKeys(nested, keysOf(keys), `${key}.`);
  }
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
  flag(options.captureContent, 'captureContent');
}
