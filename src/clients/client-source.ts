/**
 * Turns the `clients` option into one shape, a NormalizedClientSource, so the attempt loop has a single way
 * to get, hand back and retire clients whatever the caller passed.
 */
import OpenAI from 'openai';
import { InvalidClientError, InvalidOptionError } from '../errors.js';
import { callHook } from '../hook-errors.js';
import { dispatcherOf, isDispatcherDead, ownTransport } from '../openai-internals.js';
import type { AcquireContext, ClientSource, ClientsOption, SharedSettings } from '../types.js';

/** What `withOptions()` takes: openai-node's client options. */
export type ClientOptions = Parameters<OpenAI['withOptions']>[0];

/** What retiring a dead client did. */
export type Retirement =
  /** The source was told; its next `acquire` makes or picks a fresh client. */
  | { kind: 'replaced' }
  /** A single instance's own transport was dropped for Node's global dispatcher, as the user opted in to. */
  | { kind: 'fallback'; transport: 'dispatcher' | 'fetch' }
  /** A single instance's own transport is dead and nothing may replace it. */
  | { kind: 'not_replaceable'; transport: 'dispatcher' | 'fetch' };

export interface NormalizedClientSource {
  /**
   * A client at once when the source has one at hand (no promise hop on every call), else its promise.
   * `replacing`: the dead client the call is recovering from, if it is.
   */
  acquire(context: AcquireContext, replacing?: OpenAI): OpenAI | Promise<OpenAI>;
  release(client: OpenAI): void;
  /** A client whose own transport was found closed (never for a server's word that its client closed). */
  retire(client: OpenAI, error: unknown): Retirement;
  /**
   * For a single instance, the client it serves now (whose settings the resilient client shows as its own);
   * undefined for a factory, a source or a pool, whose clients each have their own.
   */
  readonly single: (() => OpenAI) | undefined;
  /**
   * The settings every client of this source has, as `sharedSettings` declared them (and checked at each
   * acquire, src/clients/shared-settings.ts): the resilient client shows them. Undefined when none are.
   */
  readonly sharedSettings: SharedSettings | undefined;
  /**
   * The same source whose clients are `client.withOptions(options)`: for a single instance made at once (so
   * openai-node's checks of the options throw here, as from its own `withOptions`), for the others once per
   * source client, when it is first acquired.
   */
  withOptions(options: ClientOptions): NormalizedClientSource;
}

/**
 * An OpenAI client: an instance of openai's class, or (for a CommonJS copy of openai loaded beside the ESM
 * one) an object with its request methods.
 */
export function isOpenAIClient(value: unknown): value is OpenAI {
  if (value instanceof OpenAI) return true;
  const candidate = value as { request?: unknown; requestAPIList?: unknown; withOptions?: unknown } | null;
  return (
    typeof candidate?.request === 'function' &&
    typeof candidate.requestAPIList === 'function' &&
    typeof candidate.withOptions === 'function'
  );
}

export function toClientSource(
  clients: ClientsOption | undefined,
  options: { fallbackToGlobalDispatcher: boolean },
): NormalizedClientSource {
  if (isOpenAIClient(clients)) return singleClientSource(clients, options.fallbackToGlobalDispatcher);
  if (typeof clients === 'function') return fromSource({ acquire: clients }, 'the `clients` factory');
  if (
    typeof clients === 'object' &&
    clients !== null &&
    typeof (clients as ClientSource).acquire === 'function'
  ) {
    const source = clients as ClientSource;
    for (const hook of ['release', 'invalidate'] as const) {
      if (source[hook] !== undefined && typeof source[hook] !== 'function') {
        throw new InvalidOptionError(`clients.${hook}`, 'a function when given', source[hook]);
      }
    }
    return fromSource(source, '`clients.acquire()`');
  }
  throw new InvalidOptionError(
    'clients',
    'an OpenAI client, a factory () => OpenAI, or a source { acquire, release?, invalidate? }',
    clients,
  );
}

function fromSource(source: ClientSource, origin: string): NormalizedClientSource {
  const checked = (client: unknown): OpenAI => {
    if (!isOpenAIClient(client)) throw new InvalidClientError(origin, client);
    return client;
  };
  const acquire = (context: AcquireContext) => {
    const acquired = source.acquire(context);
    return isPromiseLike(acquired) ? Promise.resolve(acquired).then(checked) : checked(acquired);
  };
  // A source that takes nothing back cannot tell one holder of a client from two, so the calls recovering
  // from one dead client share the one replacement the first of them got.
  const shared = source.release === undefined ? new SharedReplacements(acquire) : undefined;
  const normalized: NormalizedClientSource = {
    acquire: shared ? (context, replacing) => shared.acquire(context, replacing) : acquire,
    release: (client) => callHook('clients.release()', () => source.release?.(client)),
    retire(client, error) {
      shared?.retired(client);
      callHook('clients.invalidate()', () => source.invalidate?.(client, error));
      return { kind: 'replaced' };
    },
    single: undefined,
    sharedSettings: undefined,
    withOptions: (options) => derivedSource(normalized, options),
  };
  return normalized;
}

/**
 * The replacement of each dead client, for a source without `release` (a factory, a cache). Every call that
 * was on a client when it died would otherwise ask the source for a fresh one, and a cache that evicts on
 * lookup (a TTL shorter than a request) evicts, on each of those lookups, the client the calls before it
 * just recovered onto: recovery then kills more calls than the dead client did. One lookup per dead client
 * keeps recovery from adding evictions of its own. The source gave the dead client to each of these calls,
 * so the client it gives in its place is theirs as much as the first caller's.
 */
class SharedReplacements {
  readonly #acquire: (context: AcquireContext) => OpenAI | Promise<OpenAI>;
  readonly #replacements = new WeakMap<OpenAI, OpenAI | Promise<OpenAI>>();
  readonly #retired = new WeakSet<OpenAI>();

  constructor(acquire: (context: AcquireContext) => OpenAI | Promise<OpenAI>) {
    this.#acquire = acquire;
  }

  acquire(context: AcquireContext, replacing: OpenAI | undefined): OpenAI | Promise<OpenAI> {
    if (replacing === undefined) return this.#acquire(context);
    const known = this.#replacements.get(replacing);
    if (known !== undefined) {
      if (isPromiseLike(known)) return known.then((client) => this.#reuse(client, context));
      return this.#reuse(known, context);
    }
    const acquired = this.#acquire(context);
    this.#replacements.set(replacing, acquired);
    if (isPromiseLike(acquired)) {
      acquired.then(
        (client) => this.#settle(replacing, client),
        () => this.#replacements.delete(replacing),
      );
      return acquired;
    }
    this.#settle(replacing, acquired);
    return acquired;
  }

  retired(client: OpenAI): void {
    this.#retired.add(client);
  }

  #settle(replacing: OpenAI, client: OpenAI): void {
    // The source gave the dead client back (it replaces nothing): nothing to share.
    if (client === replacing) this.#replacements.delete(replacing);
    else this.#replacements.set(replacing, client);
  }

  /** The shared replacement while it lives; once it died too, the replacement of that one, and so on. */
  #reuse(client: OpenAI, context: AcquireContext): OpenAI | Promise<OpenAI> {
    if (!this.#retired.has(client) && !isDispatcherDead(dispatcherOf(client))) return client;
    return this.acquire(context, client);
  }
}

/**
 * A source's clients, each as `client.withOptions(options)`: made once per source client, when first
 * acquired, and handed back to the source as the client it gave.
 */
function derivedSource(source: NormalizedClientSource, options: ClientOptions): NormalizedClientSource {
  const derived = new WeakMap<OpenAI, OpenAI>();
  const original = new WeakMap<OpenAI, OpenAI>();
  const unwrap = (client: OpenAI) => original.get(client) ?? client;
  const derive = (client: OpenAI): OpenAI => {
    let copy = derived.get(client);
    if (!copy) {
      copy = client.withOptions(options);
      derived.set(client, copy);
      original.set(copy, client);
    }
    return copy;
  };
  const normalized: NormalizedClientSource = {
    acquire(context, replacing) {
      const acquired = source.acquire(context, replacing && unwrap(replacing));
      return isPromiseLike(acquired) ? Promise.resolve(acquired).then(derive) : derive(acquired);
    },
    release: (client) => source.release(unwrap(client)),
    retire: (client, error) => source.retire(unwrap(client), error),
    single: undefined,
    sharedSettings: undefined,
    withOptions: (more) => derivedSource(normalized, more),
  };
  return normalized;
}

/**
 * One long-lived client. Its transport (a ProxyAgent, a socket path, TLS certificates, connection limits) is
 * the user's policy: we cannot know how to build another like it, and must never route around it. So a dead
 * one is not replaced unless the user opted in to Node's global dispatcher; the call fails with
 * ClientNotReplaceableError instead. Pass a factory, a source or a ClientPool to control how fresh clients
 * are made.
 */
function singleClientSource(initial: OpenAI, fallbackToGlobalDispatcher: boolean): NormalizedClientSource {
  let current = initial;
  return {
    acquire: () => current,
    single: () => current,
    sharedSettings: undefined,
    withOptions: (options) => singleClientSource(current.withOptions(options), fallbackToGlobalDispatcher),
    release: () => {},
    retire(client) {
      const transport = ownTransport(client) ?? 'dispatcher';
      if (client !== current) return { kind: 'replaced' }; // another call already replaced it
      if (!fallbackToGlobalDispatcher) return { kind: 'not_replaceable', transport };
      const { dispatcher: _dead, ...fetchOptions } = (client.fetchOptions ?? {}) as Record<string, unknown>;
      // withOptions() alone would copy the dead dispatcher and the custom fetch.
      current = client.withOptions({ fetchOptions, fetch: undefined });
      return { kind: 'fallback', transport };
    },
  };
}

/** A promise or another thenable (a source may return either); an OpenAI client has no `then`. */
export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
