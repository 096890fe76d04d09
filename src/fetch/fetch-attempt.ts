/**
 * The attempt client of `resilientFetch`: what the attempt loop (src/call/resilient-call.ts) gets from the
 * source in place of an openai-node client. It has what the loop reads of a client (`baseURL` for the
 * endpoint and the span, `fetchOptions.dispatcher` to see a dead transport before sending, `timeout`) and sends
 * an attempt itself through the seam (src/call/attempt-sender.ts), with undici's fetch on the pool's own
 * dispatcher, exactly as the SDK built the request: no header, body or URL of openai-node's is added. Its
 * failures take the shapes openai-node's take (APIError with the status, headers and error body;
 * APIConnectionError around a transport error; APIConnectionTimeoutError; APIUserAbortError), so the
 * classifier reads them the same way; each remembers what the SDK itself would have got, for the give-up
 * (`lastAnswerOf`).
 */
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  type OpenAI,
} from 'openai';
import { type AttemptSender, SEND_ATTEMPT } from '../call/attempt-sender.js';
import { InvalidRequestError } from '../errors.js';
import type { APIResponseProps, FinalRequestOptions, RequestParts } from '../openai-internals.js';
import { Stream } from '../openai-internals.js';
import type { GenAIOperation, Operation, StreamAccumulator } from '../operations/index.js';
import { MAX_TIMER_MS } from '../option-checks.js';
import type { PoolTransport } from '../pool/transport.js';
import { SseSplitter } from './sse.js';

/** What the front end put on the request options for the attempt client (copied by the loop's spreads). */
export const FETCH_REQUEST = Symbol('resilient-chat.fetchRequest');

export interface FetchRequest {
  url: string;
  /** Upper case, as sent. */
  method: string;
  /** What the response is read as: `sse` (an OpenAI stream), `json` (a GenAI answer), `raw` (anything else). */
  read: 'sse' | 'json' | 'raw';
}

/** One server-sent event as the loop sees it: its bytes, and its JSON data when it has some. */
export interface SseItem {
  raw: Uint8Array;
  data: unknown;
}

/** A GenAI JSON answer: its bytes as the server sent them, and what they parse to. */
export interface JsonBody {
  bytes: Uint8Array;
  json: unknown;
}

/**
 * What the SDK would have got without us, by the error of the attempt that ended with it: an HTTP answer
 * (a copy of the Response, body unread) or the fetch's own error. Read on the give-up.
 */
const lastAnswers = new WeakMap<object, { response: Response } | { error: unknown }>();
/** The bytes of an SSE error frame, by the APIError made of it: the SDK gets the frame itself. */
const frameBytes = new WeakMap<object, Uint8Array>();

export function lastAnswerOf(error: unknown): { response: Response } | { error: unknown } | undefined {
  return typeof error === 'object' && error !== null ? lastAnswers.get(error) : undefined;
}

export function frameBytesOf(error: unknown): Uint8Array | undefined {
  return typeof error === 'object' && error !== null ? frameBytes.get(error) : undefined;
}

export class FetchAttemptClient implements AttemptSender {
  /** The origin of the requests this client sends: the endpoint (server.address, server.port) and the span's. */
  readonly baseURL: string;
  readonly fetchOptions: PoolTransport['fetchOptions'];
  /**
   * No limit of its own: the SDK's signal, `retry.attemptTimeoutMs`, `retry.totalTimeoutMs` and `streams.*`
   * bound an attempt. A finite number, because the loop arms timers with it.
   */
  readonly timeout = MAX_TIMER_MS;
  readonly #fetch: PoolTransport['fetch'];

  constructor(origin: string, transport: PoolTransport) {
    this.baseURL = origin;
    this.fetchOptions = transport.fetchOptions;
    this.#fetch = transport.fetch;
  }

  // The pool checks that `create` gave a client by these; the loop never calls them on this one.
  request(): never {
    throw notAFetchRequest(undefined);
  }
  requestAPIList(): never {
    return this.request();
  }
  withOptions(): never {
    return this.request();
  }

  [SEND_ATTEMPT](options: FinalRequestOptions): RequestParts {
    const request = (options as { [FETCH_REQUEST]?: FetchRequest })[FETCH_REQUEST];
    if (!request) throw notAFetchRequest(options.path);
    const controller = new AbortController();
    const callerSignal = options.signal ?? undefined;
    // The caller's abort reaches the request for as long as it lives, its body included.
    const signal = callerSignal ? AbortSignal.any([callerSignal, controller.signal]) : controller.signal;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    if (options.timeout !== undefined && options.timeout < MAX_TIMER_MS) {
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, options.timeout);
    }
    const stopTimer = () => clearTimeout(timer);
    const failure = (error: unknown): unknown => {
      stopTimer();
      if (callerSignal?.aborted) return new APIUserAbortError();
      if (timedOut) return new APIConnectionTimeoutError();
      const wrapped = new APIConnectionError({ cause: error instanceof Error ? error : undefined });
      lastAnswers.set(wrapped, { error });
      return wrapped;
    };

    const response = (async (): Promise<APIResponseProps> => {
      if (callerSignal?.aborted) throw new APIUserAbortError();
      let answer: Response;
      try {
        answer = await this.#fetch(request.url, {
          method: request.method,
          headers: headersOf(options.headers),
          body: options.body as RequestInit['body'],
          signal,
          ...(isStreamBody(options.body) ? { duplex: 'half' } : {}),
          ...this.fetchOptions,
        } as RequestInit);
      } catch (error) {
        throw failure(error);
      }
      if (!answer.ok) {
        const kept = answer.clone();
        let text: string;
        try {
          text = await answer.text();
        } catch (error) {
          throw failure(error);
        }
        stopTimer();
        const json = safeJson(text);
        // As openai-node makes its status errors, so the classifier reads the status, headers and body alike.
        const body =
          json && typeof json === 'object' && (json as { error?: unknown }).error == null
            ? { error: json }
            : json;
        const error = APIError.generate(
          answer.status,
          body as object | undefined,
          json === undefined ? text : undefined,
          answer.headers,
        );
        lastAnswers.set(error, { response: kept });
        throw error;
      }
      if (request.read !== 'json') stopTimer(); // a stream's first event and a raw body are timed elsewhere
      return {
        response: answer,
        options,
        controller,
        requestLogID: '',
        retryOfRequestLogID: undefined,
        startTime: Date.now(),
      };
    })();

    return {
      response,
      parse: async (props) => {
        if (request.read === 'raw') return props.response;
        if (request.read === 'sse') return sseStream(props.response, controller);
        let bytes: Uint8Array;
        try {
          bytes = new Uint8Array(await props.response.arrayBuffer());
        } catch (error) {
          throw failure(error);
        }
        stopTimer();
        return { bytes, json: safeJson(new TextDecoder().decode(bytes)) } satisfies JsonBody;
      },
    };
  }
}

/**
 * A request the attempt client cannot send: it sends only what resilientFetch's front end prepared (the SDK's
 * request as it built it), never one of openai-node's. The loop never asks it to; if anything did, it would
 * fail as a request that cannot be sent (setup_error), not as a transport failure.
 */
function notAFetchRequest(path: unknown): InvalidRequestError {
  return new InvalidRequestError(
    'path',
    'a request made through resilientFetch (its attempt clients send only those, through its fetch)',
    path,
  );
}

/**
 * The response body as openai-node's Stream of SseItems. As openai-node's own stream: an `error` event or
 * data with an `error` throws an APIError (so a proxy's error frame before the first event of substance is
 * retried), and the stream ends quietly when its request was aborted. Unlike it, every block is passed on
 * (comments, `[DONE]`, data that is not JSON): the SDK reads the bytes.
 */
function sseStream(response: Response, controller: AbortController): Stream<SseItem> {
  async function* events(): AsyncGenerator<SseItem> {
    const body = response.body;
    if (!body) return;
    const reader = body.getReader();
    const splitter = new SseSplitter();
    let done = false;
    try {
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (error) {
          if (controller.signal.aborted) return;
          throw error;
        }
        if (chunk.done) break;
        for (const block of splitter.push(chunk.value)) {
          const data = block.data === undefined || block.data === '[DONE]' ? undefined : safeJson(block.data);
          if (data !== undefined) {
            const error =
              block.event === 'error'
                ? ((data as { error?: unknown }).error ?? data)
                : (data as { error?: unknown } | null)?.error;
            if (error) {
              const frameError = new APIError(undefined, error as object, undefined, response.headers);
              frameBytes.set(frameError, block.raw);
              throw frameError;
            }
          }
          yield { raw: block.raw, data };
        }
      }
      const rest = splitter.flush();
      if (rest) yield { raw: rest, data: undefined };
      done = true;
    } finally {
      if (!done) {
        controller.abort();
        reader.cancel().catch(() => undefined);
      }
    }
  }
  return new Stream(() => events(), controller);
}

/**
 * An operation as the loop sees it on the fetch path, where results are JsonBody and stream events are
 * SseItem: the same operation (its name, its GenAI telemetry, its idea of substance) over their data.
 */
const fetchOperations = new WeakMap<Operation, Operation>();

export function fetchOperation(operation: Operation): Operation {
  let wrapped = fetchOperations.get(operation);
  if (!wrapped) {
    const { genAI } = operation;
    wrapped = {
      name: operation.name,
      genAI: genAI && fetchGenAI(genAI),
      hasSubstance: (event) => {
        const data = (event as SseItem).data;
        return data !== undefined && operation.hasSubstance(data);
      },
    };
    fetchOperations.set(operation, wrapped);
  }
  return wrapped;
}

function fetchGenAI(genAI: GenAIOperation): GenAIOperation {
  const json = (result: unknown) => (result as JsonBody).json ?? {};
  return {
    operationName: genAI.operationName,
    apiType: genAI.apiType,
    requestAttributes: (body) => genAI.requestAttributes(body),
    inputMessages: (body) => genAI.inputMessages(body),
    summarize: (result) => genAI.summarize(json(result)),
    outputMessages: (result) => genAI.outputMessages(json(result)),
    newAccumulator(captureContent): StreamAccumulator {
      const accumulator = genAI.newAccumulator(captureContent);
      return {
        add: (event) => {
          const data = (event as SseItem).data;
          if (data !== undefined) accumulator.add(data);
        },
        summary: () => accumulator.summary(),
        outputMessages: () => accumulator.outputMessages(),
      };
    },
  };
}

/** The loop's header record (lower-case names; `null` means not sent) as fetch headers. */
function headersOf(headers: unknown): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries((headers ?? {}) as Record<string, unknown>)) {
    if (value == null) continue;
    if (Array.isArray(value)) for (const v of value) out.append(name, String(v));
    else out.set(name, String(value));
  }
  return out;
}

function isStreamBody(body: unknown): boolean {
  return (
    (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) ||
    (typeof body === 'object' && body !== null && Symbol.asyncIterator in body)
  );
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Typed as the loop's clients are: it reads only what FetchAttemptClient has. */
export function asLoopClient(client: FetchAttemptClient): OpenAI {
  return client as unknown as OpenAI;
}
