/**
 * startMockOpenAI: an OpenAI-compatible server on loopback, for tests, demos and benchmarks. It serves chat
 * completions and the Responses API (JSON and SSE), embeddings, models, and files (a cursor-paginated list,
 * multipart upload, delete). Each request takes the next scripted step (or `ok` when the script is empty), so
 * a test says exactly which attempt fails and how. Every answer carries an `x-request-id`. It counts the
 * requests and connections it saw.
 *
 * A step can also answer with a tool call (chat completions `tool_calls`, Responses `function_call` items,
 * JSON and streamed as OpenAI streams them) or a text of the test's own, and a step function sees the request
 * (its body, the tool results it carries), so an agent loop (the model asks for a tool, the client sends the
 * result, the model answers) can be scripted end to end.
 *
 * Written by hand because the point is a real HTTP peer on a real socket that can fail the way production
 * peers do (a LiteLLM proxy's 500 body, SSE error frames, resets, stalls); no library serves that.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  checkEntries,
  checkMockOptions,
  checkStep,
  type MockStep,
  type MockToolCall,
  type MockToolOutput,
  toolOutputsOf,
} from './mock-script.js';

/** The body a LiteLLM proxy answers when its cached httpx client was closed under a request. */
export const LITELLM_CLOSED_CLIENT_BODY = {
  error: {
    message: 'Cannot send a request, as the client has been closed.',
    type: 'None',
    param: 'None',
    code: '500',
  },
};

export type { MockStep, MockToolCall, MockToolOutput } from './mock-script.js';

/**
 * A step decided when its request arrives: it sees the request (its parsed body, the tool results it
 * carries) and its index, and returns the step to answer with (or a promise of one), checked as a scripted
 * step is. One that throws, or returns no valid step, is answered with HTTP 400 `mock_script_error` naming
 * what went wrong (a status no client retries), and the request is recorded with step `script_error`.
 */
export type MockStepFunction = (request: RecordedRequest, index: number) => MockStep | Promise<MockStep>;

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
  /** The JSON body, parsed (undefined when the request sent no JSON). */
  body: Record<string, unknown> | undefined;
  /**
   * The tool results the request carries back to the model, in order: chat completions `tool` messages and
   * Responses `function_call_output` input items.
   */
  toolOutputs: MockToolOutput[];
  /** The step the request was answered with (`script_error`: its step function failed, see MockStepFunction). */
  step: MockStep['type'] | 'script_error';
}

export interface MockOpenAIOptions {
  /**
   * Steps for the first requests, in order (a function picks its step when its request arrives); later
   * requests get `ok` (or `fallback`'s). Checked at once: a malformed step throws InvalidOptionError naming it.
   */
  script?: (MockStep | MockStepFunction)[];
  /** Chooses a step for requests the script does not cover. Default: always `ok`. */
  fallback?: MockStepFunction;
  /** Content chunks in a streamed answer (and argument deltas of a streamed tool call). Default 3. */
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
  /** Appends steps to the script, checked as the script option's are. */
  script(...steps: (MockStep | MockStepFunction)[]): void;
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
  checkMockOptions(options);
  const queue: (MockStep | MockStepFunction)[] = [...(options.script ?? [])];
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
    const parsed = parseJson(req, raw);
    const body = parsed ?? {};
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
      body: parsed,
      toolOutputs: toolOutputsOf(parsed),
      step: 'ok',
    };
    const route = routeOf(request.method, request.path);
    const entry = queue.shift() ?? options.fallback;
    let step: MockStep = { type: 'ok' };
    let scriptError: string | undefined;
    if (typeof entry === 'function') {
      const origin = `the step function for request ${index + 1} (${request.method} ${request.path})`;
      const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
      let picked: unknown;
      try {
        picked = entry(request, index);
        if (picked instanceof Promise) picked = await picked;
      } catch (error) {
        scriptError = `${origin} threw: ${message(error)}`;
      }
      if (!scriptError) {
        try {
          step = checkStep(picked, 'step');
        } catch (error) {
          scriptError = `${origin} returned no valid step: ${message(error)}`;
        }
      }
    } else if (entry) {
      step = entry;
    }
    if (
      !scriptError &&
      (step.type === 'tool_call' || step.type === 'tool_calls') &&
      route !== 'chat' &&
      route !== 'responses'
    ) {
      scriptError = `a ${step.type} step answers chat completions and Responses requests only, not ${request.method} ${request.path}`;
    }
    request.step = scriptError ? 'script_error' : step.type;
    if (options.recordRequests !== false) requests.push(request);
    options.onRequest?.(request, index);
    if (scriptError) {
      return sendJson(res, 400, {
        error: {
          message: `startMockOpenAI: ${scriptError}`,
          type: 'mock_script_error',
          param: null,
          code: null,
        },
      });
    }
    if (!route) {
      return sendJson(res, 404, {
        error: { message: `No route for ${req.method} ${request.path}`, type: 'invalid_request_error' },
      });
    }
    const model = request.model ?? 'gpt-mock';
    switch (step.type) {
      case 'ok':
      case 'tool_call':
      case 'tool_calls':
        if (step.delayMs) await delay(step.delayMs, res);
        if (res.destroyed) return;
        return answer(route, res, request, body, replyOf(step, chunks), raw.length);
      case 'status':
        return sendJson(res, step.status, step.body ?? errorBody(step.status), step.headers);
      case 'litellm_closed_client':
        return sendJson(res, 500, LITELLM_CLOSED_CLIENT_BODY);
      case 'reset':
        req.socket.destroy();
        return;
      case 'sse_error': {
        const error = step.error ?? LITELLM_CLOSED_CLIENT_BODY.error;
        if (route === 'responses') return streamResponse(res, model, defaultDeltas(step.afterChunks), error);
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
    script(...steps) {
      checkEntries(steps, 'script()');
      queue.push(...steps);
    },
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

function parseJson(req: IncomingMessage, raw: Buffer): Record<string, unknown> | undefined {
  if (!req.headers['content-type']?.includes('json')) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw.toString('utf8') || '{}');
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
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
  reply: Reply,
  bodyBytes: number,
) {
  const model = request.model ?? 'gpt-mock';
  const url = new URL(request.path, 'http://mock');
  switch (route) {
    case 'chat': {
      const includeUsage =
        (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      if (reply.calls) {
        return request.stream
          ? streamToolCalls(res, model, reply.calls, includeUsage)
          : sendJson(res, 200, completion(model, reply));
      }
      return request.stream
        ? streamAnswer(res, model, reply.deltas.length, includeUsage, undefined, false, reply.deltas)
        : sendJson(res, 200, completion(model, reply));
    }
    case 'responses':
      if (!request.stream) return sendJson(res, 200, responseObject(model, undefined, reply));
      return reply.calls
        ? streamFunctionCalls(res, model, reply.calls)
        : streamResponse(res, model, reply.deltas);
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

/** What an `ok`, `tool_call` or `tool_calls` step answers: a text (and its stream deltas), or function calls. */
interface Reply {
  text: string;
  deltas: string[];
  calls?: ReplyCall[];
}

interface ReplyCall {
  callId: string;
  name: string;
  arguments: string;
  /** The arguments in stream deltas; they join to `arguments`. */
  deltas: string[];
}

function replyOf(step: MockStep & { type: 'ok' | 'tool_call' | 'tool_calls' }, chunks: number): Reply {
  if (step.type === 'ok') {
    if (step.text === undefined) return { text: CONTENT_WORDS.join(''), deltas: defaultDeltas(chunks) };
    return { text: step.text, deltas: split(step.text, chunks) };
  }
  const calls = step.type === 'tool_call' ? [step] : step.calls;
  return {
    text: '',
    deltas: [],
    calls: calls.map((call: MockToolCall) => {
      const args =
        call.arguments === undefined
          ? '{}'
          : typeof call.arguments === 'string'
            ? call.arguments
            : JSON.stringify(call.arguments);
      return {
        callId: call.callId ?? `call_mock_${++sequence}`,
        name: call.name,
        arguments: args,
        deltas: split(args, chunks),
      };
    }),
  };
}

/** The mock's own sentence as `count` stream deltas, one word each (cycling). */
function defaultDeltas(count: number): string[] {
  return Array.from({ length: count }, (_, i) => CONTENT_WORDS[i % CONTENT_WORDS.length] ?? '');
}

/** `text` in at most `parts` pieces of nearly equal length (whole code points); '' is one empty piece. */
function split(text: string, parts: number): string[] {
  const points = Array.from(text);
  if (points.length === 0) return [''];
  const size = Math.ceil(points.length / Math.min(parts, points.length));
  const pieces: string[] = [];
  for (let i = 0; i < points.length; i += size) pieces.push(points.slice(i, i + size).join(''));
  return pieces;
}

/** A Responses `function_call` output item. */
function functionCallItem(call: ReplyCall, index: number, id: string, status: string, args = call.arguments) {
  return {
    type: 'function_call',
    id: `fc_${id}_${index}`,
    call_id: call.callId,
    name: call.name,
    arguments: args,
    status,
  };
}

function responseObject(
  model: string,
  id = `resp_mock_${++sequence}`,
  reply: Pick<Reply, 'text' | 'calls'> = { text: CONTENT_WORDS.join('') },
) {
  const output = reply.calls
    ? reply.calls.map((call, i) => functionCallItem(call, i, id, 'completed'))
    : [
        {
          type: 'message',
          id: `msg_${id}`,
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: reply.text, annotations: [] }],
        },
      ];
  return {
    id,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status: 'completed',
    model,
    service_tier: 'default',
    output,
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

/** Writes `event:`/`data:` frames of one Responses stream, numbering them as OpenAI does. */
function responseEvents() {
  let sequenceNumber = 0;
  return (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequenceNumber++, ...data })}\n\n`;
}

/**
 * A Responses API event stream: `response.created` and `response.in_progress` (no output), the output item
 * and its content part, one text delta each of `deltas`, their `done` events, then `response.completed` with
 * usage (its text the deltas joined); or, with `error`, an error frame after the deltas (with none,
 * before the output item).
 */
function streamResponse(res: ServerResponse, model: string, deltas: string[], error?: unknown) {
  const id = `resp_mock_s${++sequence}`;
  const started = {
    ...responseObject(model, id, { text: '' }),
    status: 'in_progress',
    output: [],
    usage: null,
  };
  const event = responseEvents();
  res.writeHead(200, sseHeaders());
  res.write(event('response.created', { response: started }));
  res.write(event('response.in_progress', { response: started }));
  if (error !== undefined && deltas.length === 0) {
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
  for (const delta of deltas) {
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
  res.end(event('response.completed', { response: responseObject(model, id, { text }) }));
}

/**
 * A Responses API stream that asks for function calls, event for event as OpenAI sends them: per call,
 * `response.output_item.added` (a `function_call` item with empty arguments), one
 * `response.function_call_arguments.delta` per piece, `response.function_call_arguments.done` and
 * `response.output_item.done`; then `response.completed` with every item.
 */
function streamFunctionCalls(res: ServerResponse, model: string, calls: ReplyCall[]) {
  const id = `resp_mock_s${++sequence}`;
  const started = {
    ...responseObject(model, id, { text: '' }),
    status: 'in_progress',
    output: [],
    usage: null,
  };
  const event = responseEvents();
  res.writeHead(200, sseHeaders());
  res.write(event('response.created', { response: started }));
  res.write(event('response.in_progress', { response: started }));
  calls.forEach((call, output_index) => {
    const item = functionCallItem(call, output_index, id, 'in_progress', '');
    res.write(event('response.output_item.added', { output_index, item }));
    for (const delta of call.deltas) {
      res.write(event('response.function_call_arguments.delta', { item_id: item.id, output_index, delta }));
    }
    res.write(
      event('response.function_call_arguments.done', {
        item_id: item.id,
        output_index,
        arguments: call.arguments,
      }),
    );
    res.write(
      event('response.output_item.done', {
        output_index,
        item: functionCallItem(call, output_index, id, 'completed'),
      }),
    );
  });
  res.end(event('response.completed', { response: responseObject(model, id, { text: '', calls }) }));
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

function completion(model: string, reply: Pick<Reply, 'text' | 'calls'> = { text: CONTENT_WORDS.join('') }) {
  const message = reply.calls
    ? {
        role: 'assistant',
        content: null,
        refusal: null,
        tool_calls: reply.calls.map((call) => ({
          id: call.callId,
          type: 'function',
          function: { name: call.name, arguments: call.arguments },
        })),
      }
    : { role: 'assistant', content: reply.text, refusal: null };
  return {
    id: `chatcmpl-mock-${++sequence}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    system_fingerprint: 'fp_mock',
    choices: [
      {
        index: 0,
        message,
        logprobs: null,
        finish_reason: reply.calls ? 'tool_calls' : 'stop',
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
  deltas = defaultDeltas(count),
) {
  const id = `chatcmpl-mock-s${++sequence}`;
  res.writeHead(200, sseHeaders());
  if (roleChunkFirst) res.write(sse(chunk(model, 0, '', null, id)));
  for (let i = 0; i < count; i++) {
    const last = i === count - 1 && error === undefined;
    res.write(sse(chunk(model, i, deltas[i] ?? '', last ? 'stop' : null, id)));
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

/**
 * A chat completions stream that asks for function calls, chunk for chunk as OpenAI sends them: per call, a
 * chunk with its `index`, `id`, `type` and name (and empty arguments; the first also says the role, with no
 * content), then one chunk per argument piece carrying only `index` and `function.arguments`; then a chunk
 * with an empty delta and `finish_reason: 'tool_calls'`, and usage when asked for.
 */
function streamToolCalls(res: ServerResponse, model: string, calls: ReplyCall[], includeUsage: boolean) {
  const id = `chatcmpl-mock-s${++sequence}`;
  const frame = (delta: Record<string, unknown>, finish: string | null = null) =>
    sse({
      id,
      object: 'chat.completion.chunk',
      created: Math.floor(Date.now() / 1000),
      model,
      system_fingerprint: 'fp_mock',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
  res.writeHead(200, sseHeaders());
  calls.forEach((call, index) => {
    const opening = {
      index,
      id: call.callId,
      type: 'function',
      function: { name: call.name, arguments: '' },
    };
    res.write(
      frame(
        index === 0
          ? { role: 'assistant', content: null, refusal: null, tool_calls: [opening] }
          : { tool_calls: [opening] },
      ),
    );
    for (const piece of call.deltas) {
      res.write(frame({ tool_calls: [{ index, function: { arguments: piece } }] }));
    }
  });
  res.write(frame({}, 'tool_calls'));
  if (includeUsage) {
    const tokens = calls.reduce((sum, call) => sum + call.deltas.length, 0);
    res.write(
      sse({
        id,
        object: 'chat.completion.chunk',
        created: 0,
        model,
        choices: [],
        usage: { prompt_tokens: 12, completion_tokens: tokens, total_tokens: 12 + tokens },
      }),
    );
  }
  res.end(sse('[DONE]'));
}
