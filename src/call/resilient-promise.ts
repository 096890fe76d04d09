/**
 * openai's promise semantics on every request of the resilient client: an `APIPromise` (a `PagePromise` for
 * lists) whose response is the one of the attempt that succeeded, read as openai-node's is: `then`,
 * `asResponse()`, `withResponse()` and `_request_id` in any order, any number of times, on the promise and on
 * everything derived from it (`_thenUnwrap`, pages).
 *
 * The call starts one microtask after the method is called (its options are a promise, as openai-node's are),
 * and each read says what it wants through the call's Demand: the first read decides whether the attempt
 * parses (and retries) the body, or hands the raw response over with its body unread. A read that comes later
 * is served from that: a raw response is parsed on a late `await`, a parsed one is still there for
 * `asResponse()`.
 */
import type OpenAI from 'openai';
import {
  type AbstractPage,
  APIPromise,
  type APIResponseProps,
  type PageClass,
  PagePromise,
  type WithRequestID,
  withRequestId,
} from '../openai-internals.js';
import { callData } from './call-outcome.js';
import { Demand } from './demand.js';

type Parse = (client: OpenAI, props: APIResponseProps) => unknown;

/** The one run of a call that a promise and everything derived from it share. */
export class CallHandle {
  readonly demand: Demand;
  /** The props of the attempt that succeeded (its data on them, see call-outcome.ts), or the call's error. */
  readonly settled: Promise<APIResponseProps>;

  /**
   * `start` runs in a later microtask (an `await` always yields, even on a value), after the code that
   * called the method has had its chance to read the promise. It is given the Demand, never the handle: a
   * call waiting for its first read must not keep its own promises alive.
   */
  constructor(options: unknown, start: (options: never, demand: Demand) => Promise<APIResponseProps>) {
    const demand = new Demand(this);
    this.demand = demand;
    this.settled = startWhenResolved(options, start, demand);
  }
}

/**
 * `start` once `options` resolve. The call's promise is returned, not awaited: resolving with it costs two
 * more microtasks per call (counted: no more instructions), and `return await` would keep this function's
 * generator, promise and reaction alive for as long as the call is in flight.
 */
async function startWhenResolved(
  options: unknown,
  start: (options: never, demand: Demand) => Promise<APIResponseProps>,
  demand: Demand,
): Promise<APIResponseProps> {
  return start((await options) as never, demand);
}

/** The reads of one promise over a call; each promise parses at most once, as openai-node's does. */
class CallReads<T> {
  readonly #handle: CallHandle;
  readonly #client: OpenAI;
  readonly #parse: Parse;
  #parsed: Promise<T> | undefined;

  constructor(client: OpenAI, handle: CallHandle, parse: Parse) {
    this.#client = client;
    this.#handle = handle;
    this.#parse = parse;
  }

  value(): Promise<T> {
    this.#handle.demand.ask('parsed');
    this.#parsed ??= this.#handle.settled.then((props) => this.#parse(this.#client, props) as T);
    return this.#parsed;
  }

  response(): Promise<Response> {
    this.#handle.demand.ask('raw');
    return this.#handle.settled.then((props) => props.response);
  }

  async withResponse(): Promise<{ data: T; response: Response; request_id: string | null }> {
    const data = await this.value();
    const { response } = await this.#handle.settled;
    return { data, response, request_id: response.headers.get('x-request-id') };
  }

  derive<U>(transform: (data: T, props: APIResponseProps) => U): ResilientAPIPromise<U> {
    const parse = this.#parse;
    return new ResilientAPIPromise<U>(this.#client, this.#handle, async (client, props) =>
      withRequestId(transform((await parse(client, props)) as T, props), props.response),
    );
  }
}

export class ResilientAPIPromise<T> extends APIPromise<T> {
  readonly #reads: CallReads<WithRequestID<T>>;

  constructor(client: OpenAI, handle: CallHandle, parse: Parse = callData) {
    super(client, handle.settled, parse as ConstructorParameters<typeof APIPromise<T>>[2]);
    this.#reads = new CallReads(client, handle, parse);
  }

  // biome-ignore lint/suspicious/noThenProperty: an APIPromise is a promise; its reads go through the call.
  override then<R1 = WithRequestID<T>, R2 = never>(
    onfulfilled?: ((value: WithRequestID<T>) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#reads.value().then(onfulfilled, onrejected);
  }

  override catch<R = never>(
    onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null,
  ): Promise<WithRequestID<T> | R> {
    return this.#reads.value().catch(onrejected);
  }

  override finally(onfinally?: (() => void) | null): Promise<WithRequestID<T>> {
    return this.#reads.value().finally(onfinally);
  }

  override asResponse(): Promise<Response> {
    return this.#reads.response();
  }

  override withResponse(): Promise<{ data: T; response: Response; request_id: string | null }> {
    return this.#reads.withResponse() as Promise<{ data: T; response: Response; request_id: string | null }>;
  }

  override _thenUnwrap<U>(transform: (data: T, props: APIResponseProps) => U): APIPromise<U> {
    return this.#reads.derive(transform as (data: WithRequestID<T>, props: APIResponseProps) => U);
  }
}

/** A list's promise: a `PagePromise` (so `for await` pages through the resilient client) over the call. */
export class ResilientPagePromise extends PagePromise<AbstractPage<unknown>, unknown> {
  readonly #reads: CallReads<AbstractPage<unknown>>;

  constructor(client: OpenAI, handle: CallHandle, Page: PageClass) {
    super(client, handle.settled, Page);
    this.#reads = new CallReads(
      client,
      handle,
      async (client, props) => new Page(client, props.response, await callData(client, props), props.options),
    );
  }

  // biome-ignore lint/suspicious/noThenProperty: a PagePromise is a promise; its reads go through the call.
  override then<R1 = AbstractPage<unknown>, R2 = never>(
    onfulfilled?: ((value: AbstractPage<unknown>) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#reads.value().then(onfulfilled, onrejected);
  }

  override catch<R = never>(
    onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null,
  ): Promise<AbstractPage<unknown> | R> {
    return this.#reads.value().catch(onrejected);
  }

  override finally(onfinally?: (() => void) | null): Promise<AbstractPage<unknown>> {
    return this.#reads.value().finally(onfinally);
  }

  override asResponse(): Promise<Response> {
    return this.#reads.response();
  }

  override withResponse(): Promise<{
    data: AbstractPage<unknown>;
    response: Response;
    request_id: string | null;
  }> {
    return this.#reads.withResponse();
  }

  override _thenUnwrap<U>(
    transform: (data: AbstractPage<unknown>, props: APIResponseProps) => U,
  ): APIPromise<U> {
    return this.#reads.derive(transform);
  }
}
