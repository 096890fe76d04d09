/**
 * Every reach into openai-node's (and undici's) non-public parts, in one file: the only one allowed to make
 * them (`biome.json` refuses openai's deep imports elsewhere, and `test/unit/openai-internals-door.test.ts`
 * refuses the private names). Each has a contract test against the installed openai
 * (`test/integration/openai-internals.test.ts`), so an openai upgrade that moves one fails there, once, by
 * name, instead of somewhere in the attempt loop.
 *
 * Why each is needed is said where it is defined; in short: the attempt loop must see a response at its
 * headers and parse it later (an APIPromise's two parts), must know which bodies cannot be sent twice
 * (`__metadata.hasStreamingBody`), which transport a client brought (`_options.fetch`, a dispatcher's
 * `closed`/`destroyed`), whose credentials it carries (`_options.apiKey` as a function), and the resilient
 * client must be a true copy of the user's client (`withOptions` into our own class).
 */
import type OpenAI from 'openai';
import { APIPromise } from 'openai/core/api-promise';
import { type AbstractPage, PagePromise } from 'openai/core/pagination';
import { Stream } from 'openai/core/streaming';

export { type AbstractPage, APIPromise, PagePromise, Stream };

/** openai-node's resolved request options (not exported by name from the package). */
export type FinalRequestOptions = Awaited<Parameters<OpenAI['request']>[0]>;
/** What openai-node's APIPromise resolves its response to (not exported by name from the package). */
export type APIResponseProps = Parameters<Parameters<APIPromise<unknown>['_thenUnwrap']>[0]>[1];
/** What an APIPromise of `T` resolves to: `T` with `_request_id` on objects (openai's internal `WithRequestID`). */
export type WithRequestID<T> = Parameters<NonNullable<Parameters<APIPromise<T>['then']>[0]>>[0];
/** The constructor of a page class, as `requestAPIList` receives it. */
export type PageClass = new (
  client: OpenAI,
  response: Response,
  body: unknown,
  options: FinalRequestOptions,
) => AbstractPage<unknown>;

/** An APIPromise's two parts, which openai-node keeps in properties that its types call private. */
interface APIPromiseParts {
  responsePromise?: Promise<APIResponseProps>;
  parseResponse?: (client: OpenAI, props: APIResponseProps) => unknown;
}

/** One request as the attempt loop drives it: its response at the headers, and the parse of its body. */
export interface RequestParts {
  /** Resolves at the response's headers (or rejects with openai's error for the status or connection). */
  response: Promise<APIResponseProps>;
  /**
   * openai-node's own parse of that response (JSON, text, a `Stream`, a binary `Response`), with its body
   * timeout; called at most once, whenever the caller's demand says so.
   */
  parse(props: APIResponseProps): Promise<unknown>;
}

/**
 * Splits the APIPromise that a client's `request()` returned into its response and its parse. openai-node
 * itself parses only when the promise is awaited; so must we, to hand `.asResponse()` an unread body however
 * late it is called. Should the parts ever move, `_thenUnwrap` still gives both, parsed at once.
 */
export function requestParts(client: OpenAI, promise: APIPromise<unknown>): RequestParts {
  const { responsePromise, parseResponse } = promise as unknown as APIPromiseParts;
  if (responsePromise && typeof parseResponse === 'function') {
    return {
      response: responsePromise,
      // Not an async wrapper: openai's parse already returns a promise, and one more would cost a promise
      // and a microtask per attempt. A synchronous throw still becomes a rejection.
      parse: (props) => {
        try {
          return Promise.resolve(parseResponse.call(promise, client, props));
        } catch (error) {
          return Promise.reject(error);
        }
      },
    };
  }
  const both = promise._thenUnwrap((data, props) => ({ data, props }));
  return {
    response: both.then(({ props }) => props),
    parse: async () => (await both).data,
  };
}

/**
 * A body openai-node can send again: JSON, text, bytes, FormData of Files and Blobs. A stream (a
 * ReadableStream, an async iterable, a Node stream) is consumed by the first attempt that sends it; openai-node
 * marks such bodies `__metadata.hasStreamingBody` for its own retries, and so do we.
 */
export function isReplayable(options: FinalRequestOptions): boolean {
  const metadata = (options as { __metadata?: Record<string, unknown> }).__metadata;
  if (metadata?.hasStreamingBody) return false;
  const { body } = options;
  if (typeof body !== 'object' || body === null) return true;
  if (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) return false;
  if (Symbol.asyncIterator in body) return false;
  return !(Symbol.iterator in body && typeof (body as { next?: unknown }).next === 'function');
}

/** The transport a client brought: its own dispatcher, its own fetch, or neither (Node's global dispatcher). */
export function ownTransport(client: OpenAI): 'dispatcher' | 'fetch' | undefined {
  if (dispatcherOf(client) !== undefined) return 'dispatcher';
  // `_options` is protected in openai's types; it is where a custom fetch given to the constructor lives.
  if ((client as unknown as { _options?: { fetch?: unknown } })._options?.fetch !== undefined) return 'fetch';
  return undefined;
}

/**
 * What the client's constructor was given (openai-node keeps it in the protected `_options`): an `apiKey`
 * function, which `client.apiKey` does not show, a workload identity, a credential, a provider. The breaker's
 * key tells credentials apart by it (src/clients/endpoint.ts).
 */
export function constructorOptions(client: OpenAI): Readonly<Record<string, unknown>> {
  return (client as unknown as { _options?: Record<string, unknown> })._options ?? {};
}

/** The undici dispatcher a client sends through (`fetchOptions.dispatcher`), if it brought one. */
export function dispatcherOf(client: OpenAI): unknown {
  return (client.fetchOptions as { dispatcher?: unknown } | undefined)?.dispatcher;
}

/**
 * An undici dispatcher (Agent, Pool, Client) reports `closed` / `destroyed` (getters of undici's
 * DispatcherBase, not in its documented API); a dead one sends nothing.
 */
export function isDispatcherDead(dispatcher: unknown): boolean {
  const state = dispatcher as { closed?: unknown; destroyed?: unknown } | undefined;
  return state?.closed === true || isDispatcherDestroyed(dispatcher);
}

/** Destroyed (not only closed): such a dispatcher has nothing left to close, and its close() only rejects. */
export function isDispatcherDestroyed(dispatcher: unknown): boolean {
  return (dispatcher as { destroyed?: unknown } | undefined)?.destroyed === true;
}

/**
 * A copy of `client` made by openai-node's own `withOptions(overrides)`, but as an object of `As` (a subclass
 * of the client's class): every setting, the credentials' function, data residency, a provider, Azure's
 * deployment and API version come across exactly as openai-node copies them, private state included, which no
 * constructor call of ours could reproduce. `withOptions` builds the copy with `new this.constructor(...)`,
 * so for the length of that one synchronous call the client's `constructor` is `As`.
 */
export function copyClientAs<T extends OpenAI>(
  client: OpenAI,
  As: abstract new (...args: never[]) => T,
  overrides: Parameters<OpenAI['withOptions']>[0] = {},
): T {
  Object.defineProperty(client, 'constructor', { value: As, configurable: true, writable: true });
  try {
    return client.withOptions({ ...azureOptionsOf(client), ...overrides }) as unknown as T;
  } finally {
    delete (client as { constructor?: unknown }).constructor;
  }
}

/**
 * AzureOpenAI's own construction options, which its `withOptions` dropped before openai 7.x (the copy then
 * threw for want of an `apiVersion`); later versions carry them across themselves, and take them again the
 * same. Read from its fields, so a CommonJS copy of openai's class is recognised too.
 */
function azureOptionsOf(client: OpenAI): Record<string, unknown> {
  const azure = client as unknown as { apiVersion?: unknown; deploymentName?: unknown };
  if (typeof azure.apiVersion !== 'string' || !('deploymentName' in azure)) return {};
  return { apiVersion: azure.apiVersion, deployment: azure.deploymentName };
}

/**
 * openai-node's `_request_id` on an object result (non-enumerable, as its `addRequestID` sets it), for results
 * a caller's transform (`_thenUnwrap`) made.
 */
export function withRequestId<U>(value: U, response: Response): U {
  if (!value || typeof value !== 'object' || Array.isArray(value) || Object.hasOwn(value, '_request_id'))
    return value;
  return Object.defineProperty(value, '_request_id', {
    value: response.headers.get('x-request-id'),
    enumerable: false,
  });
}
