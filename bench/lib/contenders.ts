/**
 * The clients the overhead suite compares, each built in a process of its own (see contender-main.ts): bare
 * openai-node 7 and 6, openai 6 with the official @opentelemetry/instrumentation-openai (the peer: it supports
 * only openai < 7), the same instrumentation patched onto openai 7 by hand (the same SDK as ours), and
 * resilient-chat lean and with every feature on.
 *
 * Two transports: the loopback server, and `memory`, a fetch that replays the server's own answers without a
 * socket. Without the network's and the server's work on the same two cores, the memory figures show each
 * layer's own CPU with a spread of about a microsecond.
 */
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import OpenAI from 'openai';
import { APIPromise } from 'openai/core/api-promise';
import type { APIResponseProps, FinalRequestOptions } from '../../src/call/resilient-call.js';
import { ClientPool, createResilientClient } from '../../src/index.js';
import { tracedServiceSdk } from './sdk.js';

export const BARE_7 = 'openai 7 (bare)';
export const BARE_6 = 'openai 6 (bare)';
export const PEER = 'openai 6 + instrumentation-openai';
export const PEER_ON_7 = 'openai 7 + instrumentation-openai (patched by hand)';
export const OURS = 'resilient-chat (tracing + metrics)';
export const OURS_FULL = 'resilient-chat (+ breaker, budget)';
export const CONTENDERS = [BARE_7, BARE_6, PEER, PEER_ON_7, OURS, OURS_FULL] as const;
/**
 * Every feature that costs per call turned on: the defaults (breaker, budget, Idempotency-Key), content
 * capture, a whole-call deadline (a timer per call) and a ClientPool as the client source (a lease per call).
 */
export const OURS_EVERYTHING = 'resilient-chat (every feature: + content, deadline, ClientPool)';

// The breakdown suite's steps between bare openai-node and the lean contender, and the peer's.
export const FACADE_FLOOR = 'openai 7 behind a minimal request() override';
export const OURS_NO_SDK = 'resilient-chat (no OpenTelemetry SDK)';
export const OURS_TRACING = 'resilient-chat (tracing only)';
export const OURS_METRICS = 'resilient-chat (metrics only)';
export const PEER_METRICS = 'openai 6 + instrumentation-openai (metrics only)';
export const BREAKDOWN_CONTENDERS = [
  BARE_7,
  FACADE_FLOOR,
  OURS_NO_SDK,
  OURS_TRACING,
  OURS_METRICS,
  OURS,
  BARE_6,
  PEER_METRICS,
  PEER,
] as const;

export type ContenderName =
  | (typeof CONTENDERS)[number]
  | (typeof BREAKDOWN_CONTENDERS)[number]
  | typeof OURS_EVERYTHING;

/** What the overhead and breakdown suites measure (and every contender process warms up). */
export const REQUESTS = ['chat', 'responses', 'models.list'] as const;
/**
 * What the instruction-count suite adds: embeddings, and streams whose content chunks are counted apart
 * (each stream also comes short, with `STREAM_CHUNKS_DROPPED` fewer content chunks: the difference of the
 * two is what the chunks cost).
 */
export const MORE_REQUESTS = [
  'embeddings',
  'chat stream',
  'chat stream (short)',
  'responses stream',
  'responses stream (short)',
] as const;
export type RequestName = (typeof REQUESTS)[number] | (typeof MORE_REQUESTS)[number];

/** Content chunks in a streamed answer (the server is started with it), and how many the short one lacks. */
export const STREAM_CHUNKS = 1_000;
export const STREAM_CHUNKS_DROPPED = 990;

const CHAT = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };
const RESPONSES = { model: 'gpt-4o-mini', input: 'hi' };
const EMBEDDINGS = { model: 'text-embedding-3-small', input: 'hi' };
/** The memory transport answers a model ending in SHORT with the short stream. */
const SHORT = '-short';

interface AnyStream {
  [Symbol.asyncIterator](): AsyncIterator<unknown>;
}

/** The requests both openai majors share, on a client of either. */
interface AnyOpenAI {
  chat: {
    completions: {
      create(params: typeof CHAT): PromiseLike<unknown>;
      create(params: typeof CHAT & { stream: true }): PromiseLike<AnyStream>;
    };
  };
  responses: {
    create(params: typeof RESPONSES): PromiseLike<unknown>;
    create(params: typeof RESPONSES & { stream: true }): PromiseLike<AnyStream>;
  };
  embeddings: { create(params: typeof EMBEDDINGS): PromiseLike<unknown> };
  models: { list(): PromiseLike<unknown> };
}

export interface Contender {
  call: Record<RequestName, () => Promise<unknown>>;
  /** Spans the contender's own SDK exported (0 for the bare SDKs). */
  spans(): number;
  shutdown(): Promise<void>;
}

/** Reads a stream to its end, as a caller would. */
async function drain(stream: PromiseLike<AnyStream>): Promise<void> {
  for await (const _ of await stream) {
    // every event
  }
}

const callsOf = (client: AnyOpenAI): Contender['call'] => ({
  chat: async () => client.chat.completions.create(CHAT),
  responses: async () => client.responses.create(RESPONSES),
  'models.list': async () => client.models.list(),
  embeddings: async () => client.embeddings.create(EMBEDDINGS),
  'chat stream': () => drain(client.chat.completions.create({ ...CHAT, stream: true })),
  'chat stream (short)': () =>
    drain(client.chat.completions.create({ ...CHAT, model: CHAT.model + SHORT, stream: true })),
  'responses stream': () => drain(client.responses.create({ ...RESPONSES, stream: true })),
  'responses stream (short)': () =>
    drain(client.responses.create({ ...RESPONSES, model: RESPONSES.model + SHORT, stream: true })),
});

export type Transport = 'loopback' | 'memory';
export const TRANSPORTS: readonly Transport[] = ['loopback', 'memory'];

/** The official instrumentation, recording into `sdk` (its metrics only, when asked), patched onto the openai module given. */
function instrument(
  openai: object,
  version: string,
  sdk: ReturnType<typeof tracedServiceSdk>,
  signals: 'all' | 'metrics' = 'all',
): void {
  const instrumentation = new OpenAIInstrumentation({ enabled: false });
  if (signals === 'all') instrumentation.setTracerProvider(sdk.tracerProvider);
  instrumentation.setMeterProvider(sdk.meterProvider);
  // Patched by hand: openai 6 is installed as `openai6`, which the require hook would not see, and openai 7 is
  // outside the instrumentation's supported range (its chat and Responses methods are the same).
  for (const definition of instrumentation.getModuleDefinitions()) definition.patch?.(openai, version);
  instrumentation.enable(); // its patched methods record only while enabled
}

/** `clock`: see tracedServiceSdk (the instruction counts leave the clock's work out). */
export async function buildContender(
  name: ContenderName,
  serverUrl: string,
  transport: Transport,
  clock: 'wall' | 'none' = 'wall',
): Promise<Contender> {
  const apiKey = 'sk-bench';
  const fetch = transport === 'memory' ? await replayingFetch(serverUrl) : undefined;
  const baseURL = serverUrl;
  const sdk = tracedServiceSdk(clock);
  const contender = (client: AnyOpenAI): Contender => ({
    call: callsOf(client),
    spans: () => sdk.spanExporter.exported,
    shutdown: () => sdk.shutdown(),
  });
  const openai6 = async (instrumented?: 'all' | 'metrics') => {
    const module = await import('openai6');
    if (instrumented) instrument(module, '6.30.1', sdk, instrumented);
    return contender(new module.default({ apiKey, baseURL, fetch }));
  };
  const ours = (
    signals: { tracing: boolean; metrics: boolean },
    features: 'lean' | 'defaults' | 'everything' = 'lean',
  ) => {
    // Everything: the pool's own transport is left unused, so the calls still come from memory.
    const pool =
      features === 'everything'
        ? new ClientPool({
            create: () => new OpenAI({ apiKey, baseURL, fetch }),
            meterProvider: sdk.meterProvider,
          })
        : undefined;
    const built = contender(
      createResilientClient({
        clients: pool ?? new OpenAI({ apiKey, baseURL, fetch }),
        tracerProvider: signals.tracing ? sdk.tracerProvider : undefined,
        meterProvider: signals.metrics ? sdk.meterProvider : undefined,
        // Lean: nothing else that costs per call, no breaker, no budget, no Idempotency-Key. Defaults: as
        // the defaults have them. Everything: the defaults, content capture and a deadline.
        ...(features === 'lean' ? { circuitBreaker: false, retryBudget: false, idempotencyKeys: false } : {}),
        ...(features === 'everything' ? { captureContent: true, retry: { totalTimeoutMs: 60_000 } } : {}),
        logger: false,
      }),
    );
    if (!pool) return built;
    return {
      ...built,
      async shutdown() {
        await pool.close();
        await built.shutdown();
      },
    };
  };
  switch (name) {
    case BARE_7:
      return contender(new OpenAI({ apiKey, baseURL, fetch }));
    case BARE_6:
      return openai6();
    case PEER:
      return openai6('all');
    case PEER_METRICS:
      return openai6('metrics');
    case PEER_ON_7: {
      const openai7 = await import('openai');
      instrument(openai7, '7.57.0', sdk);
      return contender(new openai7.default({ apiKey, baseURL, fetch }));
    }
    case FACADE_FLOOR:
      return contender(new MinimalFacade(new OpenAI({ apiKey, baseURL, fetch })));
    case OURS_NO_SDK:
      return ours({ tracing: false, metrics: false });
    case OURS_TRACING:
      return ours({ tracing: true, metrics: false });
    case OURS_METRICS:
      return ours({ tracing: false, metrics: true });
    case OURS:
      return ours({ tracing: true, metrics: true });
    case OURS_FULL:
      return ours({ tracing: true, metrics: true }, 'defaults');
    case OURS_EVERYTHING:
      return ours({ tracing: true, metrics: true }, 'everything');
  }
}

/**
 * A fetch that answers each request from memory with what the mock server answered to the same request once
 * (status, headers, body), so every contender parses the same bytes as over the loopback. A stream is replayed
 * one SSE event per read, as a socket delivers them; its short form (a model ending in `-short`) lacks
 * `STREAM_CHUNKS_DROPPED` content chunks from the middle and keeps every other event.
 */
async function replayingFetch(serverUrl: string): Promise<typeof fetch> {
  interface Recorded {
    status: number;
    headers: [string, string][];
    body: string;
  }
  const recorded = new Map<string, Recorded>();
  /** Each stream's SSE events, encoded once: long and short. */
  const streams = new Map<string, Uint8Array[]>();
  const record = async (key: string, path: string, init: RequestInit) => {
    const response = await fetch(`${serverUrl}${path}`, init);
    const answer = { status: response.status, headers: [...response.headers], body: await response.text() };
    recorded.set(key, answer);
    return answer;
  };
  const post = (body: unknown): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
    body: JSON.stringify(body),
  });
  const recordStream = async (path: string, body: object) => {
    const { body: text } = await record(`${path} stream`, path, post({ ...body, stream: true }));
    const encoder = new TextEncoder();
    const events = text.split(/(?<=\n\n)/).map((event) => encoder.encode(event));
    // A server started without `chunks: STREAM_CHUNKS` (the overhead suite's) serves no stream to replay.
    if (events.length < STREAM_CHUNKS) return;
    streams.set(`${path} stream`, events);
    // Five content chunks in, so the first (a role, a lifecycle event) and the last (finish, done) stay.
    streams.set(`${path} stream${SHORT}`, events.toSpliced(5, STREAM_CHUNKS_DROPPED));
  };
  await record('/chat/completions', '/chat/completions', post(CHAT));
  await record('/responses', '/responses', post(RESPONSES));
  await record('/embeddings', '/embeddings', post(EMBEDDINGS));
  await record('/models', '/models', { headers: { authorization: 'Bearer sk-bench' } });
  await recordStream('/chat/completions', CHAT);
  await recordStream('/responses', RESPONSES);
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const path = new URL(url).pathname.replace(/^\/v1/, '').split('?')[0] ?? '';
    const body = typeof init?.body === 'string' ? init.body : '';
    if (body.includes('"stream":true')) {
      const events = streams.get(`${path} stream${body.includes(`${SHORT}"`) ? SHORT : ''}`);
      const answer = recorded.get(`${path} stream`);
      if (!events || !answer)
        throw new Error(`overhead: no stream for ${path}: start the server with chunks: ${STREAM_CHUNKS}`);
      let next = 0;
      const replay = new ReadableStream<Uint8Array>({
        pull(controller) {
          const event = events[next++];
          if (event) controller.enqueue(event);
          else controller.close();
        },
      });
      return new Response(replay, { status: answer.status, headers: answer.headers });
    }
    const answer = recorded.get(path);
    if (!answer) throw new Error(`overhead: the memory transport has no answer for ${path}`);
    return new Response(answer.body, { status: answer.status, headers: answer.headers });
  };
}

/** An APIPromise's two parts, which openai-node keeps in properties its types call private. */
interface APIPromiseParts {
  responsePromise: Promise<APIResponseProps>;
  parseResponse: (client: OpenAI, props: APIResponseProps) => unknown;
}

/**
 * The least any wrapper that owns the promise pays per call over openai 7: `request()` overridden to send
 * through another client with its retries off, its data handed back in openai's own promise type. No loop,
 * no policy, no telemetry: the floor under resilient-chat's facade.
 */
class MinimalFacade extends OpenAI {
  readonly #inner: OpenAI;

  constructor(inner: OpenAI) {
    super({ apiKey: 'sk-bench', baseURL: inner.baseURL });
    this.#inner = inner;
  }

  override request<Rsp>(options: FinalRequestOptions | Promise<FinalRequestOptions>): APIPromise<Rsp> {
    const inner = this.#inner;
    const answered = Promise.resolve(options).then(async (resolved) => {
      const promise = inner.request<Rsp>({ ...resolved, maxRetries: 0 }) as unknown as APIPromiseParts;
      const props = await promise.responsePromise;
      return { ...props, data: await promise.parseResponse.call(promise, inner, props) };
    });
    const parse = (_client: OpenAI, props: APIResponseProps & { data?: unknown }) => props.data;
    return new APIPromise<Rsp>(this, answered, parse as ConstructorParameters<typeof APIPromise<Rsp>>[2]);
  }
}
