/**
 * ClientPool: a cache of OpenAI clients that never closes a client still in use. `acquire` leases a client,
 * `release` returns it. Eviction (TTL, idle, size, `evict`, `invalidate`, `close`) stops handing the client
 * out at once; the client is dropped when its last lease comes back (at once if it is idle). Lease counts say
 * when that is, so nothing polls for busy connections (LiteLLM's approach).
 *
 * Transports (undici Agents) are counted apart from clients, because a client object and its sockets age for
 * different reasons. A TTL or an explicit `evict(key)` replaces the client (new credentials, new options) but
 * the connection pool is fine: the key's next client inherits it, so sockets stay warm across churn.
 * `invalidate` means the transport itself is dead: it is never handed on. An Agent is closed only when no
 * client that uses it is leased or current, and no successor is waiting for it.
 *
 * At exhaustion (every slot leased and a new key arrives) the least recently used client is evicted: it keeps
 * serving its leases and closes after them, and the new key is served at once, so no caller waits for a slot.
 * A client's sockets are not limited unless `connectionsPerClient` says so (bare openai-node's are not
 * either); with a limit, open sockets stay under (maxSize + draining clients) x connectionsPerClient, and a
 * request that waits for one is measured (resilient_chat.pool.connection.wait.duration, a span event).
 */
import { metrics } from '@opentelemetry/api';
import type OpenAI from 'openai';
import { boundedWait, userAbortError } from '../bounded-wait.js';
import { isOpenAIClient } from '../clients/client-source.js';
import { InvalidClientError, PoolClosedError } from '../errors.js';
import { awaitHook } from '../hook-errors.js';
import { isDispatcherDead, isDispatcherDestroyed } from '../openai-internals.js';
import { duration, rejectUnknownKeys } from '../option-checks.js';
import { INSTRUMENTATION_SCOPE } from '../telemetry/semconv.js';
import { after, type Timer } from '../timers.js';
import type { AcquireContext, ClientSource } from '../types.js';
import { VERSION } from '../version.js';
import { type ClientPoolOptions, type ResolvedPoolOptions, resolvePoolOptions } from './pool-options.js';
import { type PoolInstruments, registerPoolInstruments } from './pool-telemetry.js';
import { createTransport, loadUndici, type PoolDispatcher, type PoolTransport } from './transport.js';

export type { ClientPoolOptions, PoolKeyContext } from './pool-options.js';

/** Why a pooled client was evicted (`resilient_chat.pool.eviction.cause`). */
export type EvictionCause = 'ttl' | 'idle' | 'size' | 'evicted' | 'invalidated' | 'closed';

/** The options of `pool.close()`. */
export interface ClosePoolOptions {
  /**
   * How long to wait for leased clients to come back before destroying their transports, in ms; 0 destroys at
   * once, Infinity waits as long as it takes. Default 10000.
   */
  timeoutMs?: number;
}

/** The options of `pool.evict(key)`. */
export interface EvictOptions {
  /**
   * Hand the client's connections on to the key's next client (default true). False closes them once idle,
   * so the next client connects afresh (to re-resolve DNS or rebalance across servers, say).
   */
  keepConnections?: boolean;
}

/** What the pool holds now: active clients, draining ones (evicted, waiting for their last lease), leases out. */
export interface PoolStats {
  /** Clients handed out now. */
  active: number;
  /** Evicted clients waiting for their last lease before they close. */
  draining: number;
  /** Leases out now, over all clients. */
  leases: number;
}

/** One undici Agent and who holds it: clients not yet dropped, and a successor slot while parked. */
interface Transport {
  agent: PoolDispatcher;
  /** What `create` spreads into the client's options: the fetch and the dispatcher of this Agent. */
  clientOptions: PoolTransport;
  holders: number;
  /** Never handed to another client: found dead (`invalidate`) or `evict(key, { keepConnections: false })`. */
  retired: boolean;
}

interface Entry {
  key: string;
  client: OpenAI;
  transport: Transport;
  leases: number;
  lastUsed: number;
  state: 'active' | 'draining' | 'closed';
  ttlTimer: Timer;
  idleTimer: Timer | undefined;
}

/** A transport kept for the key's next client after its client was replaced. */
interface Parked {
  transport: Transport;
  timer: Timer;
}

/** Causes after which the evicted client's connections are still good for its key's next client. */
const HANDS_ON: ReadonlySet<EvictionCause> = new Set<EvictionCause>(['ttl', 'evicted']);

/**
 * A cache of OpenAI clients that never closes a client still in use: pass it as `clients`. Each `acquire`
 * leases a client for a key; eviction (TTL, idle, size, `evict(key)`, `invalidate`) stops handing it out and
 * closes its transport only after its last lease comes back.
 *
 * @example
 * const pool = new ClientPool({ create: (key, transport) => new OpenAI({ apiKey: keys[key], ...transport }) });
 * const openai = createResilientClient({ clients: pool });
 */
export class ClientPool implements ClientSource {
  readonly #options: ResolvedPoolOptions;
  readonly #active = new Map<string, Entry>();
  readonly #byClient = new Map<OpenAI, Entry>();
  readonly #creating = new Map<string, Promise<Entry>>();
  readonly #parked = new Map<string, Parked>();
  /** Transports closing gracefully, by the promise of their close. */
  readonly #closing = new Map<Promise<void>, PoolDispatcher>();
  readonly #onChange = new Set<() => void>();
  readonly #instruments: PoolInstruments;
  #closed = false;

  constructor(options: ClientPoolOptions) {
    this.#options = resolvePoolOptions(options);
    const meter = (this.#options.meterProvider ?? metrics.getMeterProvider()).getMeter(
      INSTRUMENTATION_SCOPE,
      VERSION,
    );
    this.#instruments = registerPoolInstruments(meter, () => this.stats());
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
      request: context?.request,
    });
    let entry = this.#active.get(key);
    if (entry && isDead(entry.transport)) {
      this.invalidate(entry.client); // closed or destroyed by someone else: no call should find out by failing
      entry = undefined;
    }
    entry ??= await this.#create(key, signal);
    if (entry.state !== 'active') return this.acquire(context); // evicted while being created
    entry.leases++;
    entry.idleTimer?.cancel();
    entry.idleTimer = undefined;
    return entry.client;
  }

  /** Returns a lease. The last lease of an evicted client drops it (and its transport, if no one else holds it). */
  release(client: OpenAI): void {
    const entry = this.#byClient.get(client);
    if (!entry || entry.leases === 0) return; // not ours, or already returned
    entry.leases--;
    entry.lastUsed = Date.now();
    if (entry.leases > 0) return;
    if (entry.state === 'draining') this.#closeEntry(entry);
    else entry.idleTimer = after(this.#options.idleTimeoutMs, () => this.#evict(entry, 'idle'));
  }

  /**
   * A client found dead: stop handing it out, and never hand its transport to another client (any client
   * sharing that transport goes too). A fresh client with a fresh transport is made for its key on demand.
   */
  invalidate(client: OpenAI): void {
    const entry = this.#byClient.get(client);
    if (!entry) return;
    const { transport } = entry;
    transport.retired = true;
    const parked = this.#parked.get(entry.key);
    if (parked?.transport === transport) this.#unpark(entry.key);
    const current = this.#active.get(entry.key);
    if (current?.transport === transport && current !== entry) this.#evict(current, 'invalidated');
    this.#evict(entry, 'invalidated');
  }

  /**
   * Replaces the client of `key` (after a key rotation, say): it drains, and the key's next client is built
   * afresh by `create`. Its connections go on to that next client unless `keepConnections` is false.
   * False if there was no client for `key`.
   */
  evict(key: string, options: EvictOptions = {}): boolean {
    rejectUnknownKeys(options, ['keepConnections'], 'evict.');
    const entry = this.#active.get(key);
    if (entry && options.keepConnections === false) entry.transport.retired = true; // not handed on
    if (entry) this.#evict(entry, 'evicted');
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
  async close(options: ClosePoolOptions = {}): Promise<void> {
    rejectUnknownKeys(options, ['timeoutMs'], 'close.');
    const timeoutMs = duration(options.timeoutMs, 'close.timeoutMs', { zero: true, never: true }) ?? 10_000;
    this.#closed = true;
    await Promise.allSettled(this.#creating.values());
    for (const entry of [...this.#active.values()]) this.#evict(entry, 'closed');
    for (const key of [...this.#parked.keys()]) this.#unpark(key);
    const drained = async (): Promise<'drained'> => {
      while (this.#byClient.size > 0 || this.#closing.size > 0) {
        // Wakes when a transport finishes closing or a leased client is released and starts to close.
        await Promise.race([
          ...this.#closing.keys(),
          new Promise<void>((resolve) => this.#onChange.add(resolve)),
        ]);
      }
      return 'drained';
    };
    const outcome = await boundedWait(drained, { timeoutMs, onTimeout: () => 'timeout' });
    if (outcome === 'timeout') {
      const leftOver = new Set([
        ...[...this.#byClient.values()].map((entry) => entry.transport.agent),
        ...this.#closing.values(),
      ]);
      for (const entry of [...this.#byClient.values()]) this.#forget(entry);
      await Promise.all([...leftOver].map((agent) => retireDispatcher(agent, 'destroy')));
    }
  }

  #create(key: string, signal: AbortSignal | undefined): Promise<Entry> {
    let pending = this.#creating.get(key);
    if (!pending) {
      pending = this.#build(key).finally(() => this.#creating.delete(key));
      // Every waiter gets the failure through its own handler; when all of them stopped waiting (aborted),
      // none is left, and a failed build must not be an unhandled rejection.
      pending.catch(() => undefined);
      this.#creating.set(key, pending);
    }
    // The client is built for the key whoever stops waiting: an aborted caller only stops waiting for it.
    return signal ? boundedWait(() => pending, { signal }) : pending;
  }

  async #build(key: string): Promise<Entry> {
    // A parked transport comes with its hold, which passes to the new client.
    const transport = this.#takeParked(key) ?? (await this.#newTransport());
    let client: OpenAI;
    try {
      client = await this.#options.create(key, transport.clientOptions);
      if (!isOpenAIClient(client)) throw new InvalidClientError('ClientPool `create`', client);
    } catch (error) {
      this.#letGo(transport);
      throw error;
    }
    if (this.#active.size >= this.#options.maxSize) this.#evictLeastRecentlyUsed();
    const entry: Entry = {
      key,
      client,
      transport,
      leases: 0,
      lastUsed: Date.now(),
      state: 'active',
      ttlTimer: after(this.#options.ttlMs, () => this.#evict(entry, 'ttl')),
      idleTimer: undefined,
    };
    this.#active.set(key, entry);
    this.#byClient.set(client, entry);
    if (this.#closed) this.#evict(entry, 'closed');
    else if (transport.retired) this.#evict(entry, 'invalidated'); // found dead while `create` ran
    return entry;
  }

  async #newTransport(): Promise<Transport> {
    const undici = this.#options.undici ?? (await loadUndici());
    const { agent, transport } = createTransport(undici, this.#options, this.#instruments.waited);
    return { agent, clientOptions: transport, holders: 1, retired: false };
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
    entry.ttlTimer.cancel();
    entry.idleTimer?.cancel();
    this.#instruments.evicted(cause);
    if (HANDS_ON.has(cause) && !isDead(entry.transport) && !this.#closed)
      this.#park(entry.key, entry.transport);
    if (entry.leases === 0) this.#closeEntry(entry);
  }

  /**
   * Keeps a transport for the key's next client. Undici drops idle sockets after keepAliveTimeoutMs, so a
   * transport nobody picks up by then has nothing warm left and is let go.
   */
  #park(key: string, transport: Transport): void {
    if (this.#parked.get(key)?.transport === transport) return;
    this.#unpark(key);
    transport.holders++;
    const timer = after(this.#options.keepAliveTimeoutMs, () => this.#unpark(key));
    this.#parked.set(key, { transport, timer });
  }

  #takeParked(key: string): Transport | undefined {
    const parked = this.#parked.get(key);
    if (!parked) return undefined;
    this.#parked.delete(key);
    parked.timer.cancel();
    if (!isDead(parked.transport)) return parked.transport;
    this.#letGo(parked.transport);
    return undefined;
  }

  #unpark(key: string): void {
    const parked = this.#parked.get(key);
    if (!parked) return;
    this.#parked.delete(key);
    parked.timer.cancel();
    this.#letGo(parked.transport);
  }

  /** Only ever called with no lease out, so the transport has no request of this client's in flight. */
  #closeEntry(entry: Entry): void {
    if (entry.state === 'closed') return;
    entry.state = 'closed';
    this.#forget(entry);
    this.#letGo(entry.transport);
  }

  /** Drops one hold on a transport; the last one closes it (gracefully: nothing of ours is in flight). */
  #letGo(transport: Transport): void {
    if (--transport.holders > 0) return;
    const closing: Promise<void> = retireDispatcher(transport.agent, 'close').finally(() => {
      this.#closing.delete(closing);
      this.#wake();
    });
    this.#closing.set(closing, transport.agent);
    this.#wake();
  }

  #forget(entry: Entry): void {
    entry.ttlTimer.cancel();
    entry.idleTimer?.cancel();
    this.#byClient.delete(entry.client);
    if (this.#active.get(entry.key) === entry) this.#active.delete(entry.key);
    this.#wake();
  }

  #wake(): void {
    for (const wake of this.#onChange) wake();
    this.#onChange.clear();
  }
}

/** Retired by the pool, or closed / destroyed behind its back (undici dispatchers report both). */
function isDead(transport: Transport): boolean {
  return transport.retired || isDispatcherDead(transport.agent);
}

/**
 * Runs a dispatcher's close() or destroy() and settles whatever it does: a user's dispatcher (a `dispatchers`
 * factory, an `undici` option) may throw at once or return no promise, and retiring it must still not throw
 * into the release or close that asked; its failure is a process warning, as a failing hook's is. One that
 * was destroyed already (behind the pool's back, the race this library exists for) has nothing left to close,
 * and undici would only reject with ClientDestroyedError. Called synchronously, so an Agent is closed when
 * release() returns.
 */
function retireDispatcher(agent: PoolDispatcher, how: 'close' | 'destroy'): Promise<void> {
  if (isDispatcherDestroyed(agent)) return Promise.resolve();
  return awaitHook(`ClientPool: a dispatcher's ${how}()`, () => agent[how]());
}
