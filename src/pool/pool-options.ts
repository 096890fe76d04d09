/**
 * The options of `new ClientPool(...)`: their type, their defaults, and their resolution. Checked once, in the
 * constructor, so a bad value fails there with an InvalidOptionError naming it (a misspelt key with the
 * nearest valid one).
 */
import type { MeterProvider } from '@opentelemetry/api';
import type OpenAI from 'openai';
import { InvalidOptionError } from '../errors.js';
import { duration, type KeySet, keysOf, rejectUnknownKeys, wholeNumber } from '../option-checks.js';
import type { AcquireContext } from '../types.js';
import {
  checkUndici,
  type PoolTransport,
  resolveTransportOptions,
  TRANSPORT_KEYS,
  type TransportOptions,
  type UndiciModule,
} from './transport.js';

/**
 * What `key` is told of a call: a call through a resilient client gives all of it; `pool.acquire()` called
 * directly gives what its caller passed, so `request` is undefined there rather than a made-up one.
 */
export interface PoolKeyContext extends Omit<AcquireContext, 'request'> {
  /** The request's method and path; undefined for a direct `pool.acquire()` that names none. */
  request: AcquireContext['request'] | undefined;
}

/** The options of `new ClientPool(...)`; only `create` is required. */
export interface ClientPoolOptions extends TransportOptions {
  /** Builds the client for a key. Spread `transport` into the OpenAI options so the pool owns its sockets. */
  create(key: string, transport: PoolTransport): OpenAI | Promise<OpenAI>;
  /**
   * Which client a call uses (per API key, base URL, model group...).
   * @defaultValue one client for everything
   */
  key?(context: PoolKeyContext): string;
  /**
   * Age at which a client is evicted, in ms; Infinity for never (LiteLLM's 600 s).
   * @defaultValue `600000`
   */
  ttlMs?: number;
  /**
   * Most clients handed out at once (LiteLLM's 200).
   * @defaultValue `200`
   */
  maxSize?: number;
  /**
   * A client unleased for this long is closed, in ms; Infinity for never.
   * @defaultValue `60000`
   */
  idleTimeoutMs?: number;
  /**
   * Where the pool's metrics go.
   * @defaultValue global, read at construction
   */
  meterProvider?: MeterProvider;
  /**
   * The undici the pool builds its Agents and fetch with: pass `await import('undici')` to use your own copy.
   * The default is imported when the first client is built.
   * @defaultValue resilient-chat's own, lazily
   */
  undici?: UndiciModule;
}

/** The pool's options as it reads them: every default filled in but the providers, read where they are used. */
export interface ResolvedPoolOptions extends Required<Omit<ClientPoolOptions, 'meterProvider' | 'undici'>> {
  meterProvider: MeterProvider | undefined;
  undici: UndiciModule | undefined;
}

export const DEFAULT_POOL = {
  key: () => 'default',
  ttlMs: 600_000,
  maxSize: 200,
  idleTimeoutMs: 60_000,
} as const satisfies Partial<ClientPoolOptions>;

export const POOL_KEYS = {
  create: true,
  key: true,
  ttlMs: true,
  maxSize: true,
  idleTimeoutMs: true,
  meterProvider: true,
  undici: true,
  ...TRANSPORT_KEYS,
} as const satisfies KeySet<ClientPoolOptions>;

export function resolvePoolOptions(options: ClientPoolOptions): ResolvedPoolOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('ClientPool options', 'an object with `create`', options);
  }
  rejectUnknownKeys(options, keysOf(POOL_KEYS));
  if (typeof options.create !== 'function') {
    throw new InvalidOptionError('create', 'a function (key, transport) => OpenAI', options.create);
  }
  if (options.key !== undefined && typeof options.key !== 'function') {
    throw new InvalidOptionError('key', 'a function (context) => string', options.key);
  }
  const undici = checkUndici(options.undici);
  return {
    create: options.create,
    key: options.key ?? DEFAULT_POOL.key,
    ttlMs: duration(options.ttlMs, 'ttlMs', { never: true }) ?? DEFAULT_POOL.ttlMs,
    maxSize: wholeNumber(options.maxSize, 'maxSize', { min: 1 }) ?? DEFAULT_POOL.maxSize,
    idleTimeoutMs:
      duration(options.idleTimeoutMs, 'idleTimeoutMs', { never: true }) ?? DEFAULT_POOL.idleTimeoutMs,
    ...resolveTransportOptions(options),
    meterProvider: options.meterProvider,
    undici,
  };
}
