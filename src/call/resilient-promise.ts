/**
 * openai's promise semantics on every request of the resilient client: an `APIPromise` (`.withResponse()`,
 * `.asResponse()`, `_request_id`) whose response is the one of the attempt that succeeded.
 *
 * The call starts one microtask after the method is called, as openai's own request does (its options are a
 * promise), so `.asResponse()` called on the promise as returned is seen in time: the call then hands over
 * the raw response with its body unread, retrying only up to the headers. Called later, it still returns the
 * response, whose body the call has read already.
 */
import type OpenAI from 'openai';
import { APIPromise } from 'openai/core/api-promise';
import type { APIResponseProps } from './resilient-call.js';

/**
 * The data of a call's outcome, on the props of the attempt that succeeded (openai-node made them for that one
 * request and is done with them; the loop has already put the caller's options on them): a property under a
 * private symbol is cheaper than a WeakMap entry per call.
 */
const DATA = Symbol('resilient-chat.data');
type PropsWithData = APIResponseProps & { [DATA]?: unknown };

/** The call's result: its props (made by the call), carrying its data for the parse step below. */
export function outcome(data: unknown, props: APIResponseProps): APIResponseProps {
  (props as PropsWithData)[DATA] = data;
  return props;
}

type Parse = (client: OpenAI, props: APIResponseProps) => unknown;

/** The one run of a call that a promise and everything derived from it (`_thenUnwrap`, pages) share. */
export class CallHandle {
  raw = false;
  readonly responsePromise: Promise<APIResponseProps>;

  /**
   * `start` runs in a later microtask (a `then` callback always does), after the code that called the
   * method has had its chance to call `.asResponse()`.
   */
  constructor(options: unknown, start: (options: never, raw: boolean) => Promise<APIResponseProps>) {
    this.responsePromise = Promise.resolve(options).then((resolved) => start(resolved as never, this.raw));
  }
}

/** The parse step of a call: the data was parsed (and retried) inside the attempt loop already. */
export const storedData: Parse = (_client, props) => (props as PropsWithData)[DATA];

export class ResilientAPIPromise<T> extends APIPromise<T> {
  readonly #handle: CallHandle;
  readonly #client: OpenAI;
  readonly #parse: Parse;

  constructor(client: OpenAI, handle: CallHandle, parse: Parse = storedData) {
    super(client, handle.responsePromise, parse as ConstructorParameters<typeof APIPromise<T>>[2]);
    this.#client = client;
    this.#handle = handle;
    this.#parse = parse;
  }

  override _thenUnwrap<U>(transform: (data: T, props: APIResponseProps) => U): APIPromise<U> {
    const parse = this.#parse;
    return new ResilientAPIPromise<U>(this.#client, this.#handle, async (client, props) =>
      withRequestId(transform((await parse(client, props)) as T, props), props.response),
    );
  }

  override asResponse(): Promise<Response> {
    this.#handle.raw = true;
    return super.asResponse();
  }

  override async withResponse(): Promise<{ data: T; response: Response; request_id: string | null }> {
    const data = (await this) as T;
    const { response } = await this.#handle.responsePromise;
    return { data, response, request_id: response.headers.get('x-request-id') };
  }
}

/** openai-node's `_request_id` on an object result (non-enumerable, as openai-node sets it). */
function withRequestId<U>(value: U, response: Response): U {
  if (!value || typeof value !== 'object' || Array.isArray(value) || Object.hasOwn(value, '_request_id'))
    return value;
  return Object.defineProperty(value, '_request_id', {
    value: response.headers.get('x-request-id'),
    enumerable: false,
  });
}
