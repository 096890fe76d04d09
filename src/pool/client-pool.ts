/**
 * ClientPool: a cache of OpenAI clients that never closes a client still in use. Each client has its own undici
 * Agent; `acquire` leases a client, `release` returns it. Eviction (TTL, idle, size, `invalidate`, `close`)
 * stops handing the client out at once, and closes its transport when the last lease comes back: at once if
 * it is idle. Reference counts tell when that is, so nothing polls for busy connections (LiteLLM's approach).
 *
 * At exhaustion (every slot leased and a new key arrives) the least recently used client is evicted: it keeps
 * serving its leases and closes after them, and the new key is served at once. So open sockets stay under
 * (maxSize + draining clients) x connectionsPerClient, and no caller waits for a slot.
 */
import type { MeterProvider } from '@opentelemetry/api';
import { metrics } from '@opentelemetry/api';
import type OpenAI from 'openai';
import type { Agent } from 'undici';
import { userAbortError } from '../call/abort.js';
import { isOpenAIClient } from '../clients/client-source.js';
import { InvalidClientError, InvalidOptionError, PoolClosedError } from '../errors.js';
import { INSTRUMENTATION_SCOPE } from '../telemetry/semconv.js';
import type { AcquireContext, ClientSource } from '../types.js';
import { VERSION } from '../version.js';
import { registerPoolInstruments } from './pool-telemetry.js';
import {
  createTransport,
  DEFAULT_CONNECTIONS_PER_CLIENT,
  DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  type PoolTransport,
  type TransportOptions,
} from './transport.js';

export type EvictionCause = 'ttl' | 'idle' | 'size' | 'invalidated' | 'closed';

export interface ClientPoolOptions extends TransportOptions {
  /** Builds the client for a key. Spread `transport` into the OpenAI options so the pool owns its sockets. */
  create(key: string, transport: PoolTransport): OpenAI | Promise<OpenAI>;
  /** Which client a call uses (per API key, base URL, model group...). Default: one client for everything. */
  key?(context: AcquireContext): string;
  /** Age at which a client is evicted, in ms. Default 600000 (LiteLLM's 600 s). */
  ttlMs?: number;
  /** Most clients handed out at once (LiteLLM's 200). Default 200. */
  maxSize?: number;
  /** A client unleased for this long is closed, in ms. Default 60000. */
  idleTimeoutMs?: number;
  /** Defaults to the global meter provider, read when the pool is made. */
  meterProvider?: MeterProvider;
}

export interface ClosePoolOptions {
  /** How long to wait for leased clients to come back before destroying their transports. Default 10000. */
  timeoutMs?: number;
}

export interface PoolStats {
  active: number;
  draining: number;
  leases: number;
}

interface Entry {
  key: string;
  client: OpenAI;
  agent: Agent;
  leases: number;
  lastUsed: number;
  state: 'active' | 'draining' | 'closed';
  ttlTimer: NodeJS.Timeout;
  idleTimer: NodeJS.Timeout | undefined;
}

export class ClientPool implements ClientSource {
  readonly #options: Required<Omit<ClientPoolOptions, 'meterProvider'>>;
  readonly #active = new Map<string, Entry>();
  readonly #byClient = new Map<OpenAI, Entry>();
  readonly #creating = new Map<string, Promise<Entry>>();
  /** Transports closing gracefully, by the promise of their close. */
  readonly #closing = new Map<Promise<void>, Agent>();
  readonly #onChange = new Set<() => void>();
  readonly #onEvict: (cause: EvictionCause) => void;
  #closed = false;

  constructor(options: ClientPoolOptions) {
    if (typeof options?.create !== 'function') {
      throw new InvalidOptionError('create', 'a function (key, transport) => OpenAI', options?.create);
    }
    if (options.key !== undefined && typeof options.key !== 'function') {
      throw new InvalidOptionError('key', 'a function (context) => string', options.key);
    }
    this.#options = {
      create: options.create,
      key: options.key ?? (() => 'default'),
      ttlMs: positive(options.ttlMs, 'ttlMs') ?? 600_000,
      maxSize: positive(options.maxSize, 'maxSize', true) ?? 200,
      idleTimeoutMs: positive(options.idleTimeoutMs, 'idleTimeoutMs') ?? 60_000,
      connectionsPerClient:
        positive(options.connectionsPerClient, 'connectionsPerClient', true) ??
        DEFAULT_CONNECTIONS_PER_CLIENT,
      keepAliveTimeoutMs:
        positive(options.keepAliveTimeoutMs, 'keepAliveTimeoutMs') ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    };
    const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(
      INSTRUMENTATION_SCOPE,
      VERSION,
    );
    this.#onEvict = registerPoolInstruments(meter, () => this.stats());
  }

  /**
   * Leases the client for the call's key, creating it if needed. Rejects with PoolClosedError after
   * `close()`, and with openai's APIUserAbortError when `signal` is aborted before a client is ready.
   */
  async acquire(context?: Partial<AcquireContext>): Promise<OpenAI> {
    const signal = context?.signal;
    if (this.#closed) throw new PoolClosedError();
    if (signal?.aborted) throw userAbortError(signal);
    const key = this.#options.key({
      params: context?.params ?? {},
      signal,
      request: context?.request ?? { method: 'post', path: '/chat/completions' },
    });
    const entry = this.#active.get(key) ?? (await this.#create(key, signal));
    if (entry.state !== 'active') return this.acquire(context); // evicted while being created
    entry.leases++;
    clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    return entry.client;
  }

  /** Returns a lease. The last lease of an evicted client closes its transport. */
  release(client: OpenAI): void {
    const entry = this.#byClient.get(client);
    if (!entry || entry.leases === 0) return; // not ours, or already returned
    entry.leases--;
    entry.lastUsed = Date.now();
    if (entry.leases > 0) return;
    if (entry.state === 'draining') this.#closeEntry(entry);
    else entry.idleTimer = unref(setTimeout(() => this.#evict(entry, 'idle'), this.#options.idleTimeoutMs));
  }

  /** A client found dead: stop handing it out (only this one); a fresh one is made for its key on demand. */
  invalidate(client: OpenAI): void {
    const entry = this.#byClient.get(client);
    if (entry) this.#evict(entry, 'invalidated');
  }

  /** Evicts the client of `key` (after a key rotation, say), draining it first. False if there was none. */
  evict(key: string): boolean {
    const entry = this.#active.get(key);
    if (entry) this.#evict(entry, 'invalidated');
    return entry !== undefined;
  }

  stats(): PoolStats {
    let active = 0;
    let draining = 0;
    let leases = 0;
    for (const entry of this.#byClient.values()) {
      if (entry.state === 'active') active++;
      else draining++;
      leases += entry.leases;
    }
    return { active, draining, leases };
  }

  /**
   * Stops leasing, closes idle clients at once, waits for leased ones to come back (up to `timeoutMs`), then
   * destroys whatever is left. Resolves when every transport is closed; no socket or timer outlives it.
   */
  async close({ timeoutMs = 10_000 }: ClosePoolOptions = {}): Promise<void> {
    this.#closed = true;
    await Promise.allSettled(this.#creating.values());
    for (const entry of [...this.#active.values()]) this.#evict(entry, 'closed');
    const drained = (async () => {
      while (this.#byClient.size > 0 || this.#closing.size > 0) {
        // Wakes when a transport finishes closing or a leased client is released and starts to close.
        await Promise.race([
          ...this.#closing.keys(),
          new Promise<void>((resolve) => this.#onChange.add(resolve)),
        ]);
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([drained, deadline]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      const leftOver = [
        ...[...this.#byClient.values()].map((entry) => entry.agent),
        ...this.#closing.values(),
      ];
      for (const entry of [...this.#byClient.values()]) this.#forget(entry);
      await Promise.allSettled(leftOver.map((agent) => agent.destroy()));
    }
  }

  #create(key: string, signal: AbortSignal | undefined): Promise<Entry> {
    let pending = this.#creating.get(key);
    if (!pending) {
      pending = this.#build(key).finally(() => this.#creating.delete(key));
      this.#creating.set(key, pending);
    }
    if (!signal) return pending;
    return new Promise<Entry>((resolve, reject) => {
      const onAbort = () => reject(userAbortError(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  async #build(key: string): Promise<Entry> {
    const { agent, transport } = createTransport(this.#options);
    let client: OpenAI;
    try {
      client = await this.#options.create(key, transport);
      if (!isOpenAIClient(client)) throw new InvalidClientError('ClientPool `create`', client);
    } catch (error) {
      await agent.destroy();
      throw error;
    }
    if (this.#active.size >= this.#options.maxSize) this.#evictLeastRecentlyUsed();
    const entry: Entry = {
      key,
      client,
      agent,
      leases: 0,
      lastUsed: Date.now(),
      state: 'active',
      ttlTimer: unref(setTimeout(() => this.#evict(entry, 'ttl'), this.#options.ttlMs)),
      idleTimer: undefined,
    };
    this.#active.set(key, entry);
    this.#byClient.set(client, entry);
    if (this.#closed) this.#evict(entry, 'closed');
    return entry;
  }

  #evictLeastRecentlyUsed(): void {
    let oldest: Entry | undefined;
    for (const entry of this.#active.values()) {
      if (!oldest || entry.lastUsed < oldest.lastUsed) oldest = entry;
    }
    if (oldest) this.#evict(oldest, 'size');
  }

  #evict(entry: Entry, cause: EvictionCause): void {
    if (entry.state !== 'active') return;
    entry.state = 'draining';
    if (this.#active.get(entry.key) === entry) this.#active.delete(entry.key);
    clearTimeout(entry.ttlTimer);
    clearTimeout(entry.idleTimer);
    this.#onEvict(cause);
    if (entry.leases === 0) this.#closeEntry(entry);
  }

  /** Only ever called with no lease out, so `close()` (graceful) has no request of ours to wait for. */
  #closeEntry(entry: Entry): void {
    if (entry.state === 'closed') return;
    entry.state = 'closed';
    const closing: Promise<void> = entry.agent.close().finally(() => {
      this.#closing.delete(closing);
    });
    this.#closing.set(closing, entry.agent);
    this.#forget(entry);
  }

  #forget(entry: Entry): void {
    clearTimeout(entry.ttlTimer);
    clearTimeout(entry.idleTimer);
    this.#byClient.delete(entry.client);
    if (this.#active.get(entry.key) === entry) this.#active.delete(entry.key);
    for (const wake of this.#onChange) wake();
    this.#onChange.clear();
  }
}

function positive(value: unknown, name: string, integer = false): number | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value <= 0 ||
    (integer && !Number.isInteger(value))
  ) {
    throw new InvalidOptionError(name, integer ? 'a whole number above 0' : 'a number above 0', value);
  }
  return value;
}

function unref(timer: NodeJS.Timeout): NodeJS.Timeout {
  timer.unref();
  return timer;
}
