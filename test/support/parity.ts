/**
 * Side by side: the same scenario run on the bare openai-node client and on resilient clients built from a
 * single instance, a factory and a ClientPool, each against a fresh loopback server that answers the same
 * scripted replies. What a caller observes (the scenario's own record of values, shapes, errors and where
 * they were thrown) and what the server observes (method, path, query, the headers openai-node sets, the
 * body) are compared as plain data.
 *
 * The server is written here rather than reusing `startMockOpenAI` because parity scenarios need replies
 * the mock has no step for: exact bodies, raw SSE lines (malformed ones too), pagination cursors.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import OpenAI from 'openai';
import { Agent } from 'undici';
import { expect } from 'vitest';
import { ClientPool, createResilientClient, type ResilientClientOptions } from '../../src/index.js';
import { quietLogger } from './assertions.js';
import { TEST_API_KEY } from './clients.js';

export interface SeenRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  /** A JSON body. */
  json?: unknown;
  /** A text body. */
  text?: string;
  /** Server-sent events, each written as `data: <string>\n\n` (a string is sent as is, an object as JSON). */
  sse?: (string | object)[];
  /** Raw SSE lines, written as they are (for malformed streams and named events). */
  sseRaw?: string;
}

export type Handler = (request: SeenRequest, index: number) => Reply;

export interface ParityServer {
  readonly url: string;
  readonly requests: SeenRequest[];
  close(): Promise<void>;
}

export async function startParityServer(handler: Handler): Promise<ParityServer> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    void answer(req, res).catch(() => res.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers))
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    const seen = { method: req.method ?? '', url: req.url ?? '', headers, body: Buffer.concat(chunks) };
    const index = requests.push(seen) - 1;
    const reply = handler(seen, index);
    const replyHeaders = { 'x-request-id': `req_${index + 1}`, ...reply.headers };
    if (reply.sse || reply.sseRaw !== undefined) {
      res.writeHead(reply.status ?? 200, { 'content-type': 'text/event-stream', ...replyHeaders });
      for (const event of reply.sse ?? [])
        res.write(`data: ${typeof event === 'string' ? event : JSON.stringify(event)}\n\n`);
      if (reply.sseRaw !== undefined) res.write(reply.sseRaw);
      res.end();
      return;
    }
    if (reply.json !== undefined) {
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...replyHeaders });
      res.end(JSON.stringify(reply.json));
      return;
    }
    res.writeHead(reply.status ?? 200, { 'content-type': 'text/plain', ...replyHeaders });
    res.end(reply.text ?? '');
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** How the client under test is made. */
export type Variant = 'bare' | 'single' | 'factory' | 'pool';
export const RESILIENT: readonly Variant[] = ['single', 'factory', 'pool'];
export const ALL: readonly Variant[] = ['bare', ...RESILIENT];

/** openai-node's options of the client under test (baseURL and the key are the harness's). */
export type ClientOptions = NonNullable<ConstructorParameters<typeof OpenAI>[0]>;

export interface Made<C extends OpenAI = OpenAI> {
  client: C;
  close(): Promise<void>;
}

/**
 * The client under test. Bare and resilient alike keep openai-node's default `maxRetries` (2), and the
 * resilient ones the default policy (2 transient retries): the same number of attempts, so the server sees
 * the same requests.
 */
export function makeClient<C extends OpenAI = OpenAI>(
  variant: Variant,
  server: { url: string },
  options: ClientOptions = {},
  resilient: Partial<ResilientClientOptions> = {},
  build: (options: ClientOptions) => C = (o) => new OpenAI(o) as C,
): Made<C> {
  const base: ClientOptions = { apiKey: TEST_API_KEY, baseURL: server.url, ...options };
  const wrap = (clients: ResilientClientOptions['clients']) =>
    createResilientClient({ clients, logger: quietLogger, ...resilient }) as C;
  if (variant === 'pool') {
    const pool = new ClientPool({ create: (_key, transport) => build({ ...base, ...transport }) });
    return { client: wrap(pool), close: () => pool.close({ timeoutMs: 0 }) };
  }
  const agent = new Agent({ keepAliveTimeout: 10_000 });
  const real = build({ ...base, fetchOptions: { dispatcher: agent } as ClientOptions['fetchOptions'] });
  const client = variant === 'bare' ? real : variant === 'single' ? wrap(real) : wrap(() => real);
  return { client, close: () => agent.destroy() };
}

/** Headers the fetch layer (not openai-node) sets, which differ between Node's bundled undici and npm's. */
const TRANSPORT_HEADERS = new Set([
  'host',
  'connection',
  'content-length',
  'transfer-encoding',
  'accept-encoding',
  'accept-language',
  'sec-fetch-mode',
  'keep-alive',
]);

/** What the server saw of a request, without what legitimately differs (see README "Differences"). */
export interface ServerView {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

export function serverView(request: SeenRequest, multipart = false): ServerView {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (TRANSPORT_HEADERS.has(name) || name === 'idempotency-key') continue;
    // Where openai-node sets no User-Agent (a browser-like environment), each fetch names itself.
    if (name === 'user-agent' && (value === 'node' || value === 'undici')) {
      headers[name] = '<the fetch layer>';
      continue;
    }
    // A multipart body's boundary is drawn at random per request.
    headers[name] = multipart && name === 'content-type' ? value.replace(/boundary=.*/, 'boundary=*') : value;
  }
  const body = request.body.toString('latin1');
  return {
    method: request.method,
    url: request.url,
    headers,
    body: multipart ? body.replace(/-{2,}[\w-]+/g, '--*') : body,
  };
}

/** A caller's record of an error: its class, openai's fields, and where the scenario caught it. */
export function errorRecord(error: unknown, where: string): Record<string, unknown> {
  const e = error as { constructor?: { name?: string }; message?: string; status?: unknown; code?: unknown };
  return {
    where,
    class: e?.constructor?.name,
    message: e?.message,
    status: e?.status,
    code: e?.code,
    openaiError: error instanceof OpenAI.OpenAIError,
    apiError: error instanceof OpenAI.APIError,
  };
}

export interface Observation {
  caller: unknown;
  server: ServerView[];
  /** Whether each request carried an Idempotency-Key (resilient clients add one to POST, PUT and PATCH). */
  idempotencyKeys: boolean[];
}

export interface Run<C extends OpenAI> {
  handler: Handler;
  scenario: (client: C, server: ParityServer) => Promise<unknown>;
  options?: ClientOptions;
  /** The resilient client's options, or a function of the variant's server (for one naming its URL). */
  resilient?: Partial<ResilientClientOptions> | ((server: ParityServer) => Partial<ResilientClientOptions>);
  build?: (options: ClientOptions) => C;
  multipart?: boolean;
}

/** Runs the scenario on one variant, against a server of its own. */
export async function observe<C extends OpenAI = OpenAI>(
  variant: Variant,
  run: Run<C>,
): Promise<Observation> {
  const server = await startParityServer(run.handler);
  const resilient = typeof run.resilient === 'function' ? run.resilient(server) : run.resilient;
  const made = makeClient<C>(variant, server, run.options, resilient, run.build);
  try {
    const caller = await run.scenario(made.client, server);
    return {
      caller,
      server: server.requests.map((r) => serverView(r, run.multipart)),
      idempotencyKeys: server.requests.map((r) => r.headers['idempotency-key'] !== undefined),
    };
  } finally {
    await made.close();
    await server.close();
  }
}

/**
 * Runs the scenario on the bare client and on each resilient variant, and asserts that the caller and the
 * server observed the same. Returns the bare observation, for assertions of the scenario's own.
 */
export async function expectParity<C extends OpenAI = OpenAI>(
  run: Run<C>,
  variants: readonly Variant[] = RESILIENT,
): Promise<Observation> {
  const bare = await observe('bare', run);
  for (const variant of variants) {
    const ours = await observe(variant, run);
    expect(ours.caller, `${variant}: what the caller observed`).toEqual(bare.caller);
    expect(ours.server, `${variant}: what the server observed`).toEqual(bare.server);
  }
  return bare;
}

/** Replies of openai's shape, for scenarios that need a valid one. */
export const completion = (id = 'chatcmpl-1', content = 'Hello') => ({
  id,
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }],
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
});

export const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
});

export const modelList = (ids: string[]) => ({
  object: 'list',
  data: ids.map((id) => ({ id, object: 'model', created: 1, owned_by: 'openai' })),
});

export const chatParams = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user' as const, content: 'hi' }],
};

/** One macrotask: long enough for a loopback answer to have reached the client in most runs, never relied on. */
export const nextMacrotask = () => new Promise((resolve) => setTimeout(resolve, 0));
