/**
 * A client's transport: an undici Agent with bounded connections and keep-alive, and the fetch from the same
 * copy of undici (Node's bundled undici behind global fetch is another copy, and dispatchers are not
 * guaranteed to work across copies). undici comes from the user (`undici` option) or is imported lazily at
 * the first client the pool builds, so importing resilient-chat alone never loads it.
 */
import type { Dispatcher } from 'undici'; // types only: erased from the build
import { InvalidOptionError, MissingPackageError } from '../errors.js';
import { duration, type KeySet, TIMER, wholeNumber } from '../option-checks.js';
import { type DispatchingAgent, type OnConnectionWait, watchConnectionWaits } from './connection-wait.js';

/** The transport of each pooled client: its undici Agent's limits. */
export interface TransportOptions {
  /**
   * Most sockets one client may open to an origin; past them, requests queue for a free one. Infinity: no
   * limit, like Node's global dispatcher that a bare openai client uses.
   * @defaultValue `Infinity`
   */
  connectionsPerClient?: number;
  /**
   * How long an idle socket is kept for reuse, in ms (undici's default).
   * @defaultValue `4000`
   */
  keepAliveTimeoutMs?: number;
}

/** What the pool needs of an undici dispatcher (undici 6, 7 and 8 Agents all fit). */
export interface PoolDispatcher {
  close(): Promise<void>;
  destroy(): Promise<void>;
  readonly closed?: boolean;
  readonly destroyed?: boolean;
}

/** The parts of an undici module the pool uses: pass `await import('undici')` to use your own copy. */
export interface UndiciModule {
  Agent: new (options: { connections?: number; keepAliveTimeout?: number }) => PoolDispatcher;
  // biome-ignore lint/suspicious/noExplicitAny: any undici major's fetch must fit; the pool only hands it on.
  fetch: (input: any, init?: any) => Promise<unknown>;
  /** That copy's FormData, for multipart bodies (see `fetchOf`); every undici since 5 exports it. */
  FormData?: new () => { append(name: string, value: unknown): void };
}

/** Spread into `new OpenAI({ ...transport, apiKey, baseURL })`. */
export interface PoolTransport {
  fetch: typeof globalThis.fetch;
  fetchOptions: { dispatcher: Dispatcher };
}

export const DEFAULT_TRANSPORT = {
  /**
   * No limit, as bare openai-node has on Node's global dispatcher: with 10 (the old default), 1,000 calls
   * held 200 ms by the server took 20 s instead of 1.6 s, queued in silence.
   */
  connectionsPerClient: Number.POSITIVE_INFINITY,
  keepAliveTimeoutMs: 4_000,
} as const satisfies Required<TransportOptions>;

export const TRANSPORT_KEYS = {
  connectionsPerClient: true,
  keepAliveTimeoutMs: true,
} as const satisfies KeySet<TransportOptions>;

/** The transport options of a pool, checked, with the defaults filled in. */
export function resolveTransportOptions(options: TransportOptions): Required<TransportOptions> {
  return {
    connectionsPerClient:
      wholeNumber(options.connectionsPerClient, 'connectionsPerClient', { min: 1, unlimited: true }) ??
      DEFAULT_TRANSPORT.connectionsPerClient,
    // undici arms its own timers with it, so it must fit setTimeout.
    keepAliveTimeoutMs:
      duration(options.keepAliveTimeoutMs, 'keepAliveTimeoutMs', TIMER) ??
      DEFAULT_TRANSPORT.keepAliveTimeoutMs,
  };
}

/** The `undici` option (of ClientPool and resilientFetch): undefined, or a module with `Agent` and `fetch`. */
export function checkUndici(value: unknown): UndiciModule | undefined {
  if (value === undefined) return undefined;
  const candidate = value as Partial<UndiciModule> | null;
  if (typeof candidate?.Agent !== 'function' || typeof candidate.fetch !== 'function') {
    throw new InvalidOptionError(
      'undici',
      "an undici module with `Agent` and `fetch` (await import('undici'))",
      value,
    );
  }
  return candidate as UndiciModule;
}

let bundled: Promise<UndiciModule> | undefined;

/** The `undici` dependency, imported once, on first use. */
export function loadUndici(): Promise<UndiciModule> {
  bundled ??= (import('undici') as Promise<UndiciModule>).catch((error: unknown) => {
    bundled = undefined;
    throw new MissingPackageError(
      'undici',
      'resilient-chat: ClientPool',
      error,
      "pass your own as `undici: await import('undici')`",
    );
  });
  return bundled;
}

/** `onWait`: told of each request that waited for a connection (only a limited Agent makes any wait). */
export function createTransport(
  undici: UndiciModule,
  options: Required<TransportOptions>,
  onWait?: OnConnectionWait,
): { agent: PoolDispatcher; transport: PoolTransport } {
  const limited = Number.isFinite(options.connectionsPerClient);
  const agent = new undici.Agent({
    ...(limited ? { connections: options.connectionsPerClient } : {}),
    keepAliveTimeout: options.keepAliveTimeoutMs,
  });
  if (limited && onWait) watchConnectionWaits(agent as unknown as DispatchingAgent, onWait);
  // undici's fetch and the DOM's are the same function in behaviour but differ in their TypeScript types.
  return {
    agent,
    transport: {
      fetch: fetchOf(undici),
      // Whichever undici built it, the Agent is a Dispatcher to the fetch from the same copy.
      fetchOptions: { dispatcher: agent as unknown as Dispatcher },
    },
  };
}

/**
 * The copy's fetch, taking the multipart bodies openai-node builds with the global FormData (Node's bundled
 * undici): another copy of undici does not recognise that class and would send the text "[object FormData]".
 * Such a body is copied into the copy's own FormData (its Blobs and Files are Node's own in both copies).
 */
function fetchOf(undici: UndiciModule): typeof globalThis.fetch {
  const { fetch, FormData: OwnFormData } = undici;
  if (!OwnFormData || OwnFormData === globalThis.FormData) return fetch as unknown as typeof globalThis.fetch;
  return ((input: unknown, init?: { body?: unknown }) => {
    const body = init?.body;
    if (!(body instanceof globalThis.FormData)) return fetch(input, init);
    const own = new OwnFormData();
    for (const [name, value] of body) own.append(name, value);
    return fetch(input, { ...init, body: own });
  }) as unknown as typeof globalThis.fetch;
}
