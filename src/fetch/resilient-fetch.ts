/**
 * `resilientFetch(options)`: the second doorway into the attempt loop, for SDKs that take a `fetch` (the AI
 * SDK's providers, LangChain through openai-node's `fetch` option...). Each request is one call of the same
 * engine as `createResilientClient`: the same options and their validation, classifier, RetryPolicy with its
 * budget, breakers, deadlines, Idempotency-Key and telemetry (src/call/call-dependencies.ts). What differs is
 * only at the two ends:
 *
 * - in: the request is the SDK's, as it built it (URL, method, headers, body); its operation comes from the
 *   path (`/chat/completions`, `/responses`, `/embeddings` on any base URL) and its model from the JSON body;
 * - the transport: a ClientPool of attempt clients (src/fetch/fetch-attempt.ts), one per origin, each on a
 *   dispatcher the pool owns (an undici Agent, or one from the user's `dispatchers` factory), never closed under
 *   a request, replaced at once when found closed or destroyed, never Node's global dispatcher;
 * - out: a `Response` with the bytes the server sent; a stream is held back until its first event of
 *   substance, then relayed as its body. On give-up, the last HTTP answer as it was (or the fetch's own
 *   error), so the SDK makes its own error of it.
 */
import { APIConnectionTimeoutError } from 'openai';
import { callDependencies } from '../call/call-dependencies.js';
import { callData } from '../call/call-outcome.js';
import { Demand } from '../call/demand.js';
import { withIdempotencyKey } from '../call/idempotency.js';
import { isReplaySafe } from '../call/replay-safety.js';
import { type CallRequest, runCall } from '../call/resilient-call.js';
import { isPromiseLike, type NormalizedClientSource, toClientSource } from '../clients/client-source.js';
import { requestEndpoint } from '../clients/endpoint.js';
import { InvalidOptionError } from '../errors.js';
import {
  type APIResponseProps,
  type FinalRequestOptions,
  isReplayable,
  Stream,
} from '../openai-internals.js';
import { operationFor } from '../operations/index.js';
import { requestOperation } from '../operations/request.js';
import { type KeySet, keysOf } from '../option-checks.js';
import { ROOT_KEYS as CLIENT_ROOT_KEYS, type ResolvedOptions, resolveOptions } from '../options.js';
import { ClientPool } from '../pool/client-pool.js';
import { checkUndici, loadUndici, type PoolDispatcher, type UndiciModule } from '../pool/transport.js';
import type { GenAISpanMode } from '../telemetry/call-telemetry.js';
import type { AcquireContext, ResilientClientOptions } from '../types.js';
import {
  asLoopClient,
  FETCH_REQUEST,
  FetchAttemptClient,
  type FetchRequest,
  fetchOperation,
  frameBytesOf,
  type JsonBody,
  lastAnswerOf,
  type SseItem,
} from './fetch-attempt.js';

/**
 * The options of `resilientFetch`: those of `createResilientClient` without `clients` and `sharedSettings`
 * (there is no client object whose settings could be shown), and its transport's.
 */
export interface ResilientFetchOptions extends Omit<ResilientClientOptions, 'clients' | 'sharedSettings'> {
  /**
   * Makes a dispatcher for the requests (a `ProxyAgent`, an `Agent` with TLS client certificates, a `Pool`):
   * called for the first request to an origin, and again for a fresh one when one is found closed or
   * destroyed. resilientFetch owns what it returns: it closes it once no request uses it. The default's
   * Agent is of resilient-chat's `undici`, or of the `undici` option.
   * @defaultValue an undici `Agent` per origin
   */
  dispatchers?: () => PoolDispatcher;
  /**
   * The undici whose `fetch` sends the requests (and whose `Agent` is the default dispatcher): pass
   * `await import('undici')` so a dispatcher from your own copy of undici is used with its own fetch. The
   * default is imported at the first request.
   * @defaultValue resilient-chat's `undici`, loaded lazily
   */
  undici?: UndiciModule;
  /**
   * Where the GenAI span of a chat, Responses or embeddings request is: `own` starts ours (named
   * `chat {model}`...); `active` records our attributes and events on the active span instead, when one is
   * recording; `auto` does that only when the active span is a GenAI span itself (it has
   * `gen_ai.operation.name`, as the AI SDK's model-call span has), so one call has one GenAI span.
   * @defaultValue `'auto'`
   */
  genAISpan?: GenAISpanMode;
}

/** A function with `fetch`'s signature, as SDKs take it. */
export type ResilientFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** The options resilientFetch has of its own, beside the client's. */
type OwnFetchOptions = Omit<ResilientFetchOptions, keyof ResilientClientOptions>;

export const DEFAULT_FETCH_OPTIONS = { genAISpan: 'auto' } as const satisfies Partial<OwnFetchOptions>;

export const FETCH_KEYS = {
  dispatchers: true,
  undici: true,
  genAISpan: true,
} as const satisfies KeySet<OwnFetchOptions>;
const ROOT_KEYS: readonly string[] = [
  ...keysOf(CLIENT_ROOT_KEYS).filter((key) => key !== 'clients' && key !== 'sharedSettings'),
  ...keysOf(FETCH_KEYS),
];
const SPAN_MODES: readonly string[] = ['auto', 'own', 'active'] satisfies GenAISpanMode[];

/** resilientFetch's options, checked, with the defaults filled in: its own, and the client's as `shared`. */
export interface ResolvedFetchOptions {
  dispatchers: (() => PoolDispatcher) | undefined;
  undici: UndiciModule | undefined;
  genAISpan: GenAISpanMode;
  shared: ResolvedOptions;
}

export function resolveFetchOptions(
  options: ResilientFetchOptions,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedFetchOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object (or nothing)', options);
  }
  if ('clients' in options) {
    throw new InvalidOptionError(
      'clients',
      'no `clients`: resilientFetch makes its own transport (pass `dispatchers` for a proxy or TLS settings)',
      (options as { clients?: unknown }).clients,
      'is not an option of resilientFetch',
    );
  }
  const { dispatchers, undici, genAISpan, ...shared } = options;
  if (dispatchers !== undefined && typeof dispatchers !== 'function') {
    throw new InvalidOptionError('dispatchers', 'a function () => an undici Dispatcher', dispatchers);
  }
  checkUndici(undici);
  if (genAISpan !== undefined && !SPAN_MODES.includes(genAISpan)) {
    throw new InvalidOptionError('genAISpan', "'auto', 'own' or 'active'", genAISpan);
  }
  return {
    dispatchers,
    undici,
    genAISpan: genAISpan ?? DEFAULT_FETCH_OPTIONS.genAISpan,
    // Checked as the client's options are; the fetch's own keys were taken out above.
    shared: resolveOptions(shared as ResilientClientOptions, env, ROOT_KEYS),
  };
}

/**
 * A `fetch` whose every request goes through resilient-chat's engine: closed-transport recovery, the retry
 * policy, deadlines, the breaker and budget, an Idempotency-Key, and for the OpenAI wire protocol the GenAI
 * span, events and metrics. Set the SDK's own retries to 0 so one layer owns them.
 *
 * @example
 * const openai = createOpenAI({ fetch: resilientFetch(), maxRetries: 0 }); // AI SDK
 * const llm = new ChatOpenAI({ model, maxRetries: 0, configuration: { fetch: resilientFetch() } }); // LangChain
 */
export function resilientFetch(options: ResilientFetchOptions = {}): ResilientFetch {
  const { dispatchers, undici, genAISpan, shared: resolved } = resolveFetchOptions(options);
  const source = poolSource(dispatchers, undici, resolved.meterProvider);
  const deps = callDependencies(resolved, source, { genAISpan });
  const { idempotencyKeys } = resolved;

  return async function fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const request = await requestOf(input, init);
    const call = prepareFetchCall(request, idempotencyKeys);
    let props: APIResponseProps;
    try {
      props = await runCall(deps, call);
    } catch (error) {
      return giveUp(error, request.signal);
    }
    return responseOf(props, request.url);
  };
}

/**
 * A ClientPool of attempt clients, one per origin, built at the first request (when undici is loaded): the
 * pool leases, replaces a dead dispatcher at once, and closes one only after its last request.
 */
function poolSource(
  dispatchers: (() => PoolDispatcher) | undefined,
  undici: UndiciModule | undefined,
  meterProvider: ResilientClientOptions['meterProvider'],
): NormalizedClientSource {
  let ready: Promise<NormalizedClientSource> | undefined;
  let source: NormalizedClientSource | undefined;
  const build = async () => {
    const module = undici ?? (await loadUndici());
    const own: UndiciModule = dispatchers
      ? { Agent: dispatcherClass(dispatchers), fetch: module.fetch, FormData: module.FormData }
      : module;
    const pool = new ClientPool({
      create: (origin, transport) => asLoopClient(new FetchAttemptClient(origin, transport)),
      // Only the attempt loop acquires from this pool, and it always names the request.
      key: ({ request }) => originOf(request?.path ?? ''),
      undici: own,
      ...(meterProvider ? { meterProvider } : {}),
    });
    source = toClientSource(pool, { fallbackToGlobalDispatcher: false });
    return source;
  };
  return {
    acquire(context: AcquireContext, replacing) {
      if (source) return source.acquire(context, replacing);
      ready ??= build().catch((error: unknown) => {
        ready = undefined;
        throw error;
      });
      return ready.then((built) => {
        const acquired = built.acquire(context, replacing);
        return isPromiseLike(acquired) ? acquired : Promise.resolve(acquired);
      });
    },
    release: (client) => source?.release(client),
    retire: (client, error) => (source ? source.retire(client, error) : { kind: 'replaced' }),
    single: undefined,
    sharedSettings: undefined,
    // Only a resilient client's withOptions() asks for this; a resilientFetch has none, but is made again.
    withOptions: (options) => {
      throw new InvalidOptionError(
        'withOptions',
        'resilientFetch(options) called again with the options wanted',
        options,
        'has no client options to copy on a resilientFetch',
      );
    },
  };
}

/** An `Agent` class for the pool whose instances are the user's dispatchers. */
function dispatcherClass(make: () => PoolDispatcher): UndiciModule['Agent'] {
  return function UserDispatcher() {
    const dispatcher = make();
    if (typeof dispatcher?.close !== 'function' || typeof dispatcher.destroy !== 'function') {
      throw new InvalidOptionError('dispatchers', 'a function returning an undici Dispatcher', dispatcher);
    }
    return dispatcher;
  } as unknown as UndiciModule['Agent'];
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/** The SDK's request, as fetch would read `input` and `init` (init's fields win). */
interface SdkRequest {
  url: string;
  method: string;
  headers: Headers;
  body: unknown;
  signal: AbortSignal | undefined;
}

async function requestOf(input: string | URL | Request, init: RequestInit | undefined): Promise<SdkRequest> {
  const given = typeof input === 'string' || input instanceof URL ? undefined : input;
  const url = given ? given.url : String(input);
  const method = (init?.method ?? given?.method ?? 'GET').toUpperCase();
  const headers = new Headers(init?.headers ?? given?.headers);
  let body: unknown = init?.body;
  // A Request's own body is read once here, so that it can be sent again.
  if (body === undefined && given?.body) body = new Uint8Array(await given.arrayBuffer());
  const signal = init?.signal ?? given?.signal ?? undefined;
  return { url, method, headers, body, signal };
}

/** What the OpenAI wire protocol's paths end in, on any base URL (`/v1`, Azure's deployments, a proxy's prefix). */
const GENAI_PATHS = ['/chat/completions', '/responses', '/embeddings'];

/** The path an operation is known by: a GenAI endpoint's, or the path after an API version (`/v1`). */
function apiPath(pathname: string): string {
  const bare = pathname.replace(/\/+$/, '');
  const genAI = GENAI_PATHS.find((path) => bare.endsWith(path));
  if (genAI) return genAI;
  return /\/v\d+[a-z0-9]*(\/.*)$/.exec(bare)?.[1] ?? bare;
}

/**
 * The base URL a request was made on: its URL up to the operation's path (`https://gw.example/route-a/v1` for
 * `.../route-a/v1/chat/completions`), with its query and user info, which the breaker fingerprints. A URL
 * that does not parse, or is not http(s), is kept whole (its breaker's identity is a fingerprint of it).
 */
function baseURLOf(url: URL | undefined, raw: string, path: string): string {
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return raw;
  const bare = url.pathname.replace(/\/+$/, '');
  const base = bare.endsWith(path) ? bare.slice(0, bare.length - path.length) : '';
  const userInfo = url.username || url.password ? `${url.username}:${url.password}@` : '';
  return `${url.protocol}//${userInfo}${url.host}${base}${url.search}`;
}

function prepareFetchCall(request: SdkRequest, idempotencyKeys: boolean): CallRequest {
  const method = request.method.toLowerCase();
  let url: URL | undefined;
  try {
    url = new URL(request.url);
  } catch {
    // A URL that does not parse is the fetch's to report.
  }
  const path = apiPath(url?.pathname ?? '/');
  let operation = operationFor(method, path);
  const params = jsonParams(request.body);
  const model = typeof params.model === 'string' && params.model !== '' ? params.model : undefined;
  // Without a model it is no GenAI call we can name: it goes through as a plain request.
  if (operation.genAI && model === undefined) operation = requestOperation(method, path);
  const read: FetchRequest['read'] = !operation.genAI ? 'raw' : params.stream === true ? 'sse' : 'json';
  let headers: Record<string, unknown> = Object.fromEntries(request.headers);
  const keyed =
    method !== 'get' &&
    method !== 'head' &&
    method !== 'delete' &&
    (idempotencyKeys || request.headers.has('idempotency-key'));
  if (keyed) headers = withIdempotencyKey(headers, undefined);
  const fetchRequest: FetchRequest = { url: request.url, method: request.method, read };
  const options = {
    method,
    path: request.url,
    headers,
    body: request.body,
    signal: request.signal,
    stream: read === 'sse',
    [FETCH_REQUEST]: fetchRequest,
  } as unknown as FinalRequestOptions;
  const demand = new Demand({});
  demand.ask('parsed');
  return {
    options,
    operation: fetchOperation(operation),
    model: operation.genAI ? model : undefined,
    params,
    replayable: isReplayable(options),
    idempotent: isReplaySafe(method, path, params),
    demand,
    maxRetries: undefined,
    // One attempt client serves a whole origin: the breaker's upstream is the request's own.
    endpoint: requestEndpoint(
      baseURLOf(url, request.url, path),
      request.headers,
      operation.genAI ? model : undefined,
    ),
  };
}

/** The JSON object a body holds (as text or bytes), or none. */
function jsonParams(body: unknown): AcquireContext['params'] {
  let text: string | undefined;
  if (typeof body === 'string') text = body;
  else if (body instanceof Uint8Array) text = new TextDecoder().decode(body);
  else if (body instanceof ArrayBuffer) text = new TextDecoder().decode(new Uint8Array(body));
  if (text === undefined || !/^\s*\{/.test(text)) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as AcquireContext['params'])
      : {};
  } catch {
    return {};
  }
}

/** Statuses whose Response may not have a body. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** The call's outcome as the SDK's Response: the server's status and headers, its bytes as they came. */
function responseOf(props: APIResponseProps, url: string): Response {
  const data = callData(undefined as never, props);
  const upstream = props.response;
  let body: ReadableStream<Uint8Array> | Uint8Array | null;
  if (data instanceof Stream) body = streamBody(data as Stream<SseItem>);
  else if (isJsonBody(data)) body = data.bytes;
  else body = upstream.body;
  return asResponse(upstream, NULL_BODY_STATUSES.has(upstream.status) ? null : body, url);
}

function asResponse(upstream: Response, body: ReadableStream<Uint8Array> | Uint8Array | null, url: string) {
  const response = new Response(body as ConstructorParameters<typeof Response>[0], {
    status: upstream.status,
    statusText: upstream.statusText,
    headers: upstream.headers,
  });
  Object.defineProperty(response, 'url', { value: upstream.url || url });
  return response;
}

function isJsonBody(data: unknown): data is JsonBody {
  return typeof data === 'object' && data !== null && (data as JsonBody).bytes instanceof Uint8Array;
}

/**
 * The relayed stream as a byte stream, read as the SDK reads (nothing is read ahead). An SSE error frame is
 * passed on as the frame it was and ends the body, as the server ended it; any other failure errors the body.
 * The SDK cancelling the body stops the stream (and its request).
 */
function streamBody(stream: Stream<SseItem>): ReadableStream<Uint8Array> {
  const events = stream[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await events.next();
          if (next.done) controller.close();
          else controller.enqueue(next.value.raw);
        } catch (error) {
          const frame = frameBytesOf(error);
          if (!frame) return controller.error(error);
          controller.enqueue(frame);
          controller.close();
        }
      },
      async cancel() {
        await events.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * The give-up, as the SDK would have seen it without us: the last HTTP answer (status, headers, body unread),
 * the caller's abort as fetch rejects with it, the fetch's own error, a timeout as fetch's `TimeoutError`.
 */
function giveUp(error: unknown, signal: AbortSignal | undefined): Response {
  const answer = lastAnswerOf(error);
  if (answer && 'response' in answer)
    return asResponse(answer.response, answer.response.body, answer.response.url);
  if (signal?.aborted) throw signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
  if (answer) throw answer.error;
  if (error instanceof APIConnectionTimeoutError) {
    const timeout = new DOMException(error.message, 'TimeoutError');
    Object.defineProperty(timeout, 'cause', { value: error });
    throw timeout;
  }
  throw error;
}
