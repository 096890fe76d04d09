/**
 * startMockOpenAI: an OpenAI-compatible chat-completions server on loopback, for tests, demos and
 * benchmarks. Each request takes the next scripted step (or `ok` when the script is empty), so a test says
 * exactly which attempt fails and how. It counts the requests and connections it saw.
 *
 * Written by hand because the point is a real HTTP peer on a real socket that can fail the way production
 * peers do (a LiteLLM proxy's 500 body, SSE error frames, resets, stalls); no library serves that.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** The body a LiteLLM proxy answers when its cached httpx client was closed under a request. */
export const LITELLM_CLOSED_CLIENT_BODY = {
  error: {
    message: 'Cannot send a request, as the client has been closed.',
    type: 'None',
    param: 'None',
    code: '500',
  },
};

export type MockStep =
  /** A normal completion (JSON or SSE, as the request asks), after an optional delay before the headers. */
  | { type: 'ok'; delayMs?: number }
  /** An HTTP error status with a JSON body (default: an OpenAI-style error object) and extra headers. */
  | { type: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  /** HTTP 500 with LiteLLM's closed-client body. */
  | { type: 'litellm_closed_client' }
  /** The connection is destroyed without a response. */
  | { type: 'reset' }
  /**
   * A streamed response with an SSE error frame after `afterChunks` content chunks (0: before the first),
   * optionally preceded by a role-only chunk with no content, as some proxies send.
   */
  | { type: 'sse_error'; afterChunks: number; error?: unknown; roleChunkFirst?: boolean }
  /**
   * The response stops and waits until the client goes away (or the server closes): before the headers,
   * after the headers and half of a JSON body, or after the first SSE chunk. `stalled()` resolves when it
   * is reached.
   */
  | { type: 'stall'; at: 'headers' | 'body' | 'chunk' };

export interface RecordedRequest {
  path: string;
  model: string | undefined;
  stream: boolean;
  headers: Record<string, string | string[] | undefined>;
  step: MockStep['type'];
}

export interface MockOpenAIOptions {
  /** Steps for the first requests, in order; later requests get `ok` (or `fallback`). */
  script?: MockStep[];
  /** Chooses a step for requests the script does not cover. Default: always `ok`. */
  fallback?: (request: RecordedRequest, index: number) => MockStep;
  /** Content chunks in a streamed answer. Default 3. */
  chunks?: number;
  /** Keep every request in `requests` (default true); false keeps only `requestCount`, for long runs. */
  recordRequests?: boolean;
  /**
   * Called as each request arrives, once its step is chosen and before the step runs: the moment a test
   * knows the server holds that request (say, to destroy the client that sent it while it is in flight).
   */
  onRequest?: (request: RecordedRequest, index: number) => void;
}

export interface MockOpenAI {
  /** Base URL for `new OpenAI({ baseURL })`, ending in /v1. */
  readonly url: string;
  readonly port: number;
  /** Requests received, in order. */
  readonly requests: readonly RecordedRequest[];
  /** Requests received, whether or not they are recorded. */
  readonly requestCount: number;
  /** TCP connections accepted so far. */
  readonly connections: number;
  /** Connections open now. */
  readonly openConnections: number;
  /** Appends steps to the script. */
  script(...steps: MockStep[]): void;
  /** Resolves when a `stall` step has been reached (one per call, in order). */
  stalled(): Promise<void>;
  close(): Promise<void>;
}

const CONTENT_WORDS = ['Resilient', ' chat', ' answers', ' every', ' time', '.'];

export async function startMockOpenAI(options: MockOpenAIOptions = {}): Promise<MockOpenAI> {
  const queue: MockStep[] = [...(options.script ?? [])];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const stallWaiters: (() => void)[] = [];
  let stallsReached = 0;
  let stallsTaken = 0;
  let connections = 0;
  let requestCount = 0;
  const chunks = options.chunks ?? 3;

  const reachStall = () => {
    stallsReached++;
    stallWaiters.shift()?.();
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (socket) => {
    connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    const request: RecordedRequest = {
      path: req.url ?? '',
      model: typeof body.model === 'string' ? body.model : undefined,
      stream: body.stream === true,
      headers: { ...req.headers },
      step: 'ok',
    };
    const index = requestCount++;
    const step = queue.shift() ?? options.fallback?.(request, index) ?? { type: 'ok' };
    request.step = step.type;
    if (options.recordRequests !== false) requests.push(request);
    options.onRequest?.(request, index);
    if (req.method !== 'POST' || !request.path.endsWith('/chat/completions')) {
      return sendJson(res, 404, {
        error: { message: `No route for ${req.method} ${request.path}`, type: 'invalid_request_error' },
      });
    }
    const model = request.model ?? 'gpt-mock';
    const includeUsage =
      (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    switch (step.type) {
      case 'ok':
        if (step.delayMs) await delay(step.delayMs, res);
        if (res.destroyed) return;
        return request.stream
          ? streamAnswer(res, model, chunks, includeUsage)
          : sendJson(res, 200, completion(model));
      case 'status':
        return sendJson(res, step.status, step.body ?? errorBody(step.status), step.headers);
      case 'litellm_closed_client':
        return sendJson(res, 500, LITELLM_CLOSED_CLIENT_BODY);
      case 'reset':
        req.socket.destroy();
        return;
      case 'sse_error':
        return streamAnswer(
          res,
          model,
          step.afterChunks,
          false,
          step.error ?? LITELLM_CLOSED_CLIENT_BODY.error,
          step.roleChunkFirst,
        );
      case 'stall':
        return stall(res, step.at, model, request.stream);
    }
  }

  async function stall(
    res: ServerResponse,
    at: 'headers' | 'body' | 'chunk',
    model: string,
    stream: boolean,
  ) {
    if (at === 'body') {
      const text = JSON.stringify(completion(model));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.write(text.slice(0, Math.floor(text.length / 2)));
    } else if (at === 'chunk') {
      res.writeHead(200, sseHeaders());
      res.write(sse(chunk(model, 0, CONTENT_WORDS[0] ?? '', null)));
    } else if (stream) {
      res.flushHeaders?.();
    }
    reachStall();
    await once(res, 'close');
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    get requestCount() {
      return requestCount;
    },
    get connections() {
      return connections;
    },
    get openConnections() {
      return sockets.size;
    },
    script: (...steps) => void queue.push(...steps),
    stalled() {
      stallsTaken++;
      return stallsTaken <= stallsReached
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            stallWaiters.push(resolve);
          });
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(parts).toString('utf8') || '{}');
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function delay(ms: number, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    res.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function errorBody(status: number) {
  const type =
    status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return { error: { message: `Mock error ${status}`, type, param: null, code: null } };
}

let sequence = 0;

function completion(model: string) {
  const content = CONTENT_WORDS.join('');
  return {
    id: `chatcmpl-mock-${++sequence}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    system_fingerprint: 'fp_mock',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: 12,
      completion_tokens: CONTENT_WORDS.length,
      total_tokens: 12 + CONTENT_WORDS.length,
    },
  };
}

function chunk(
  model: string,
  index: number,
  content: string,
  finish: string | null,
  id = `chatcmpl-mock-s${sequence}`,
) {
  return {
    id,
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model,
    system_fingerprint: 'fp_mock',
    choices: [
      {
        index: 0,
        delta: index === 0 ? { role: 'assistant', content } : { content },
        logprobs: null,
        finish_reason: finish,
      },
    ],
  };
}

function sseHeaders() {
  return { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' };
}

function sse(data: unknown): string {
  return `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

function streamAnswer(
  res: ServerResponse,
  model: string,
  count: number,
  includeUsage: boolean,
  error?: unknown,
  roleChunkFirst = false,
) {
  const id = `chatcmpl-mock-s${++sequence}`;
  res.writeHead(200, sseHeaders());
  if (roleChunkFirst) res.write(sse(chunk(model, 0, '', null, id)));
  for (let i = 0; i < count; i++) {
    const last = i === count - 1 && error === undefined;
    res.write(sse(chunk(model, i, CONTENT_WORDS[i % CONTENT_WORDS.length] ?? '', last ? 'stop' : null, id)));
  }
  if (error !== undefined) {
    res.end(sse({ error }));
    return;
  }
  if (includeUsage) {
    res.write(
      sse({
        id,
        object: 'chat.completion.chunk',
        created: 0,
        model,
        choices: [],
        usage: { prompt_tokens: 12, completion_tokens: count, total_tokens: 12 + count },
      }),
    );
  }
  res.end(sse('[DONE]'));
}
