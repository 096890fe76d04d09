/**
 * EvictingClientCache reproduces the production hazard on purpose: a LiteLLM-style client cache (TTL and max
 * size) that closes or destroys an evicted client's transport at once, whether or not a request still holds
 * it. It has no leases and no `invalidate`: that is the point. Use it to show a failure and its recovery;
 * use ClientPool to serve traffic.
 */
import type OpenAI from 'openai';
// A test tool with a synchronous `acquire`, so it loads undici up front (the main entry never does).
import * as undici from 'undici';
import { InvalidOptionError } from '../errors.js';
import { duration, type KeySet, keysOf, rejectUnknownKeys, wholeNumber } from '../option-checks.js';
import {
  createTransport,
  DEFAULT_TRANSPORT,
  type PoolDispatcher,
  type PoolTransport,
} from '../pool/transport.js';
import type { AcquireContext, ClientSource } from '../types.js';

export interface EvictingClientCacheOptions {
  create(key: string, transport: PoolTransport): OpenAI;
  key?(context: AcquireContext): string;
  /** Age at which an entry is evicted on the next lookup, in ms. Default 600000. */
  ttlMs?: number;
  /** Entries kept; adding one more evicts the oldest. Default 200. */
  maxSize?: number;
  /** What eviction does to the transport: `close` (in-flight requests finish, new ones fail) or `destroy`. */
  onEvict?: 'close' | 'destroy';
}

const CACHE_KEYS = {
  create: true,
  key: true,
  ttlMs: true,
  maxSize: true,
  onEvict: true,
} as const satisfies KeySet<EvictingClientCacheOptions>;

interface CacheEntry {
  client: OpenAI;
  agent: PoolDispatcher;
  createdAt: number;
}

export class EvictingClientCache implements ClientSource {
  readonly #options: Required<EvictingClientCacheOptions>;
  readonly #entries = new Map<string, CacheEntry>();
  readonly #evicted: PoolDispatcher[] = [];
  evictions = 0;

  constructor(options: EvictingClientCacheOptions) {
    rejectUnknownKeys(options, keysOf(CACHE_KEYS));
    if (typeof options.create !== 'function') {
      throw new InvalidOptionError('create', 'a function (key, transport) => OpenAI', options.create);
    }
    const maxSize = wholeNumber(options.maxSize, 'maxSize', { min: 1 }) ?? 200;
    if (options.onEvict !== undefined && options.onEvict !== 'close' && options.onEvict !== 'destroy') {
      throw new InvalidOptionError('onEvict', "'close' or 'destroy'", options.onEvict);
    }
    this.#options = {
      key: options.key ?? (() => 'default'),
      create: options.create,
      ttlMs: duration(options.ttlMs, 'ttlMs', { never: true }) ?? 600_000,
      maxSize,
      onEvict: options.onEvict ?? 'destroy',
    };
  }

  acquire(context?: Partial<AcquireContext>): OpenAI {
    const key = this.#options.key(context as AcquireContext);
    const entry = this.#entries.get(key);
    if (entry && Date.now() - entry.createdAt < this.#options.ttlMs) return entry.client;
    if (entry) this.evict(key);
    if (this.#entries.size >= this.#options.maxSize) this.evict();
    const { agent, transport } = createTransport(undici, DEFAULT_TRANSPORT);
    const client = this.#options.create(key, transport);
    this.#entries.set(key, { client, agent, createdAt: Date.now() });
    return client;
  }

  /** Evicts `key`, or the oldest entry, and kills its transport at once, as LiteLLM's cache did. */
  evict(key?: string): void {
    const victim = key ?? this.#entries.keys().next().value;
    const entry = victim === undefined ? undefined : this.#entries.get(victim);
    if (!entry || victim === undefined) return;
    this.#entries.delete(victim);
    this.evictions++;
    this.#evicted.push(entry.agent);
    void (this.#options.onEvict === 'close' ? entry.agent.close() : entry.agent.destroy()).catch(
      () => undefined,
    );
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Destroys every transport it made. */
  async close(): Promise<void> {
    const agents = [...this.#evicted, ...[...this.#entries.values()].map((e) => e.agent)];
    this.#entries.clear();
    await Promise.allSettled(agents.map((agent) => agent.destroy()));
  }
}
