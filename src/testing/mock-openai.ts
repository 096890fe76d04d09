/**
 * startMockOpenAI: an OpenAI-compatible server on loopback, for tests, demos and benchmarks. It serves chat
 * completions and the Responses API (JSON and SSE), embeddings, models, and files (a cursor-paginated list,
 * multipart upload, delete). Each request takes the next scripted step (or `ok` when the script is empty), so
 * a test says exactly which attempt fails and how. Every answer carries an `x-request-id`. It counts the
 * requests and connections it saw.
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
   * after the headers and half of a JSON body, after the first SSE chunk, or after a role-only first chunk
   * (as OpenAI opens its streams: nothing of substance yet). `stalled()` resolves when it is reached.
   */
  | { type: 'stall'; at: 'headers' | 'body' | 'chunk' | 'role_chunk' };

export interface RecordedRequest {
  /** HTTP method, upper case. */
  method: string;
  /** Path and query, as sent (`/v1/chat/completions`). */
  path: string;
  /** The request id this answer carried (`x-request-id`). */
  requestId: string;
  /** Bytes of the request body. */
  bodyBytes: number;
  /** The JSON body's `model`, when there was one. */
  model: string | undefined;
  /** Whether the JSON body asked for a stream. */
  stream: boolean;
  /** The request's headers, lower-cased names. */
  headers: Record<string, string | string[] | undefined>;
  /** The scripted step the request was answered with. */
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

/**
 * Starts the mock server on a loopback port the kernel picks. Close it with `close()`.
 *
 * @example
 * const server = await startMockOpenAI({ script: [{ type: 'litellm_closed_client' }] });
 * const client = new OpenAI({ apiKey: 'test', baseURL: server.url });
 * // ... the first request gets LiteLLM's closed-client 500, later ones a normal answer
 * await server.close();
 */
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
    const raw = await readBody(req);
    const body = parseJson(req, raw);
    const index = requestCount++;
    const requestId = `req_mock_${index + 1}`;
    res.setHeader('x-request-id', requestId);
    const request: RecordedRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '',
      requestId,
      bodyBytes: raw.length,
      model: typeof body.model === 'string' ? body.model : undefined,
      stream: body.stream === true,
      headers: { ...req.headers },
      step: 'ok',
    };
    const step = queue.shift() ?? options.fallback?.(request, index) ?? { type: 'ok' };
    request.step = step.type;
    if (options.recordRequests !== false) requests.push(request);
    options.onRequest?.(request, index);
    const route = routeOf(request.method, request.path);
    if (!route) {
      return sendJson(res, 404, {
        error: { message: `No route for ${req.method} ${request.path}`, type: 'invalid_request_error' },
      });
    }
    const model = request.model ?? 'gpt-mock';
    switch (step.type) {
      case 'ok':
        if (step.delayMs) await delay(step.delayMs, res);
        if (res.destroyed) return;
        return answer(route, res, request, body, chunks, raw.length);
      case 'status':
        return sendJson(res, step.status, step.body ?? errorBody(step.status), step.headers);
      case 'litellm_closed_client':
        return sendJson(res, 500, LITELLM_CLOSED_CLIENT_BODY);
      case 'reset':
        req.socket.destroy();
        return;
      case 'sse_error': {
        const error = step.error ?? LITELLM_CLOSED_CLIENT_BODY.error;
        if (route === 'responses') return streamResponse(res, model, step.afterChunks, error);
        return streamAnswer(res, model, step.afterChunks, false, error, step.roleChunkFirst);
      }
      case 'stall':
        return stall(res, step.at, model, request.stream);
    }
  }

  async function stall(
    res: ServerResponse,
    at: 'headers' | 'body' | 'chunk' | 'role_chunk',
    model: string,
    stream: boolean,
  ) {
    if (at === 'body') {
      const text = JSON.stringify(completion(model));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.write(text.slice(0, Math.floor(text.length / 2)));
    } else if (at === 'chunk' || at === 'role_chunk') {
      res.writeHead(200, sseHeaders());
      res.write(sse(chunk(model, 0, at === 'chunk' ? (CONTENT_WORDS[0] ?? '') : '', null)));
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

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

function parseJson(req: IncomingMessage, raw: Buffer): Record<string, unknown> {
  if (!req.headers['content-type']?.includes('json')) return {};
  try {
    const parsed: unknown = JSON.parse(raw.toString('utf8') || '{}');
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

type Route =
  | 'chat'
  | 'responses'
  | 'embeddings'
  | 'models'
  | 'model'
  | 'files'
  | 'file_upload'
  | 'file_delete';

function routeOf(method: string, url: string): Route | undefined {
  const path = url.replace(/\?.*$/, '').replace(/^\/v1/, '');
  if (method === 'POST' && path === '/chat/completions') return 'chat';
  if (method === 'POST' && path === '/responses') return 'responses';
  if (method === 'POST' && path === '/embeddings') return 'embeddings';
  if (method === 'GET' && path === '/models') return 'models';
  if (method === 'GET' && path.startsWith('/models/')) return 'model';
  if (method === 'GET' && path === '/files') return 'files';
  if (method === 'POST' && path === '/files') return 'file_upload';
  if (method === 'DELETE' && path.startsWith('/files/')) return 'file_delete';
  return undefined;
}

/** The files the mock lists, in pages of `limit` (default 2), so a list spans several pages. */
const MOCK_FILES = ['file-a', 'file-b', 'file-c', 'file-d', 'file-e'];

function answer(
  route: Route,
  res: ServerResponse,
  request: RecordedRequest,
  body: Record<string, unknown>,
  chunks: number,
  bodyBytes: number,
) {
  const model = request.model ?? 'gpt-mock';
  const url = new URL(request.path, 'http://mock');
  switch (route) {
    case 'chat': {
      const includeUsage =
        (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      return request.stream
        ? streamAnswer(res, model, chunks, includeUsage)
        : sendJson(res, 200, completion(model));
    }
    case 'responses':
      return request.stream ? streamResponse(res, model, chunks) : sendJson(res, 200, responseObject(model));
    case 'embeddings':
      return sendJson(res, 200, embeddings(model, body));
    case 'models':
      return sendJson(res, 200, {
        object: 'list',
        data: [modelObject('gpt-mock'), modelObject('gpt-mock-mini')],
      });
    case 'model':
      return sendJson(res, 200, modelObject(decodeURIComponent(url.pathname.split('/').pop() ?? '')));
    case 'files': {
      const limit = Number(url.searchParams.get('limit') ?? 2);
      const after = url.searchParams.get('after');
      const start = after ? MOCK_FILES.indexOf(after) + 1 : 0;
      const page = MOCK_FILES.slice(start, start + limit);
      return sendJson(res, 200, {
        object: 'list',
        data: page.map((id) => fileObject(id, 100)),
        has_more: start + limit < MOCK_FILES.length,
      });
    }
    case 'file_upload':
      return sendJson(res, 200, fileObject(`file-mock-${++sequence}`, bodyBytes));
    case 'file_delete':
      return sendJson(res, 200, { id: url.pathname.split('/').pop(), object: 'file', deleted: true });
  }
}

function modelObject(id: string) {
  return { id, object: 'model', created: 1_700_000_000, owned_by: 'mock' };
}

function fileObject(id: string, bytes: number) {
  return {
    id,
    object: 'file',
    bytes,
    created_at: 1_700_000_000,
    filename: `${id}.jsonl`,
    purpose: 'batch',
    status: 'processed',
  };
}

const EMBEDDING_DIMENSIONS = 8;

/** Embeddings as the request asks: floats, or base64 float32s (openai-node's default). */
function embeddings(model: string, body: Record<string, unknown>) {
  const dimensions = typeof body.dimensions === 'number' ? body.dimensions : EMBEDDING_DIMENSIONS;
  const inputs = Array.isArray(body.input) ? body.input.length : 1;
  const vector = Float32Array.from({ length: dimensions }, (_, i) => (i + 1) / dimensions);
  const embedding =
    body.encoding_format === 'base64' ? Buffer.from(vector.buffer).toString('base64') : Array.from(vector);
  return {
    object: 'list',
    model,
    data: Array.from({ length: inputs }, (_, index) => ({ object: 'embedding', index, embedding })),
    usage: { prompt_tokens: 8 * inputs, total_tokens: 8 * inputs },
  };
}

function responseObject(model: string, id = `resp_mock_${++sequence}`, text = CONTENT_WORDS.join('')) {
  return {
    id,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status: 'completed',
    model,
    service_tier: 'default',
    output: [
      {
        type: 'message',
        id: `msg_${id}`,
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text, annotations: [] }],
      },
    ],
    usage: {
      input_tokens: 12,
      input_tokens_details: { cached_tokens: 4 },
      output_tokens: CONTENT_WORDS.length,
      output_tokens_details: { reasoning_tokens: 2 },
      total_tokens: 12 + CONTENT_WORDS.length,
    },
    error: null,
    incomplete_details: null,
  };
}

/**
 * A Responses API event stream: `response.created` and `response.in_progress` (no output), the output item
 * and its content part, `count` text deltas, their `done` events, then `response.completed` with usage; or,
 * with `error`, an error frame after `count` deltas (with 0, before the output item).
 */
function streamResponse(res: ServerResponse, model: string, count: number, error?: unknown) {
  const id = `resp_mock_s${++sequence}`;
  const started = { ...responseObject(model, id, ''), status: 'in_progress', output: [], usage: null };
  let sequenceNumber = 0;
  const event = (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequenceNumber++, ...data })}\n\n`;
  res.writeHead(200, sseHeaders());
  res.write(event('response.created', { response: started }));
  res.write(event('response.in_progress', { response: started }));
  if (error !== undefined && count === 0) {
    res.end(sse({ error }));
    return;
  }
  const item = { type: 'message', id: `msg_${id}`, status: 'in_progress', role: 'assistant', content: [] };
  const at = { item_id: item.id, output_index: 0, content_index: 0 };
  res.write(event('response.output_item.added', { output_index: 0, item }));
  res.write(
    event('response.content_part.added', { ...at, part: { type: 'output_text', text: '', annotations: [] } }),
  );
  let text = '';
  for (let i = 0; i < count; i++) {
    const delta = CONTENT_WORDS[i % CONTENT_WORDS.length] ?? '';
    text += delta;
    res.write(event('response.output_text.delta', { ...at, delta }));
  }
  if (error !== undefined) {
    res.end(sse({ error }));
    return;
  }
  const part = { type: 'output_text', text, annotations: [] };
  res.write(event('response.output_text.done', { ...at, text }));
  res.write(event('response.content_part.done', { ...at, part }));
  res.write(
    event('response.output_item.done', {
      output_index: 0,
      item: { ...item, status: 'completed', content: [part] },
    }),
  );
  res.end(event('response.completed', { response: responseObject(model, id, text) }));
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
      prompt_tokens_details: { cached_tokens: 4 },
      completion_tokens_details: { reasoning_tokens: 2 },
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
