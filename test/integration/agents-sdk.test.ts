/**
 * The OpenAI Agents SDK (`@openai/agents`) over resilient clients, against the mock server scripted as a
 * model that asks for a tool and then answers with its result: runs with a tool on the Responses model and
 * the chat completions model, streamed and not, handed over both ways the Agents SDK takes a client
 * (`new OpenAIProvider({ openAIClient })`, `setDefaultOpenAIClient`); the same runs while the source's
 * clients have their undici dispatchers destroyed under in-flight requests (every run completes, every
 * recovery counted once); which layer owns the retries of a permanent 503, request by request; and what the
 * Agents SDK's reads of the client's settings (tracing without data, the websocket transport) get.
 */
import {
  Agent,
  type ModelRetrySettings,
  OpenAIProvider,
  Runner,
  retryPolicies,
  run,
  setDefaultOpenAIClient,
  setOpenAIAPI,
  setTraceProcessors,
  tool,
} from '@openai/agents';
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import {
  ClientSettingUnavailableError,
  type ClientSource,
  createResilientClient,
  type ResilientClientOptions,
  telemetryNames,
} from '../../src/index.js';
import {
  type MockOpenAI,
  type MockStep,
  type RecordedRequest,
  startMockOpenAI,
} from '../../src/testing/index.js';
import { quietLogger } from '../support/assertions.js';
import { newClient, TEST_API_KEY, type TestClient } from '../support/clients.js';
import { createTelemetryHarness, type TelemetryHarness } from '../support/telemetry.js';

const { METRIC_RETRIES, METRIC_CLOSED_CLIENT_RECOVERIES, ATTR_RETRY_REASON, ATTR_RECOVERY_OUTCOME } =
  telemetryNames;

const getWeather = tool({
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: z.object({ city: z.string() }),
  execute: async ({ city }) => `sunny in ${city}`,
});

function weatherAgent(retry?: ModelRetrySettings) {
  return new Agent({
    name: 'weather',
    instructions: 'Answer with the weather.',
    tools: [getWeather],
    model: 'gpt-4o-mini',
    modelSettings: retry ? { retry } : {},
  });
}

/** The model's side of the loop: ask for the tool until its result comes back, then answer with it. */
function modelTurn(request: RecordedRequest): MockStep {
  const result = request.toolOutputs[0];
  return result
    ? { type: 'ok', text: `It is ${result.output}.` }
    : { type: 'tool_call', name: 'get_weather', arguments: { city: 'Paris' } };
}

const ANSWER = 'It is sunny in Paris.';

type Api = 'responses' | 'chat_completions';
const combos: { api: Api; stream: boolean }[] = [
  { api: 'responses', stream: false },
  { api: 'responses', stream: true },
  { api: 'chat_completions', stream: false },
  { api: 'chat_completions', stream: true },
];

/** One run to its end (a streamed one read to its last event); its final output. */
async function runOnce(
  runner: Runner | undefined,
  agent: Agent,
  stream: boolean,
  input = 'Weather in Paris?',
) {
  if (!stream) return (runner ? await runner.run(agent, input) : await run(agent, input)).finalOutput;
  const result = runner
    ? await runner.run(agent, input, { stream: true })
    : await run(agent, input, { stream: true });
  for await (const _ of result) {
    // read every event
  }
  await result.completed;
  return result.finalOutput;
}

const providerOver = (openAIClient: OpenAI, api: Api) =>
  new OpenAIProvider({ openAIClient, useResponses: api === 'responses' });

/** The Agents SDK's own retries, with a fixed backoff (no jitter, so no Math.random in the test). */
const agentsRetry: ModelRetrySettings = {
  maxRetries: 2,
  backoff: { initialDelayMs: 1, jitter: false },
  policy: retryPolicies.any(retryPolicies.httpStatus([503]), retryPolicies.networkError()),
};

/** A fresh client takes over after this many attempts, so that requests overlap on several clients. */
const ROTATE_EVERY = 4;

/** The header that says which client of a source sent a request. */
const CLIENT_HEADER = 'x-test-client';

/**
 * A LiteLLM-style source that destroys clients under in-flight requests, driven by the server's events. A
 * fresh client takes over every ROTATE_EVERY attempts, and at once when the server holds a request sent on
 * the current one; the held one's dispatcher is destroyed as soon as that request is the only one in flight
 * on it, so each destruction kills exactly one in-flight request (as test/integration/concurrency.test.ts
 * does).
 */
class DestroyingSource implements ClientSource {
  readonly #server: { url: string };
  readonly #entries = new Map<
    OpenAI,
    { id: string; test: TestClient; handedOut: number; inFlight: number; doomed: boolean }
  >();
  readonly #byId = new Map<string, OpenAI>();
  #current!: OpenAI;
  destroyed = 0;

  constructor(server: { url: string }) {
    this.#server = server;
    this.#rotate();
  }

  acquire(): OpenAI {
    if (this.#entry(this.#current).handedOut === ROTATE_EVERY) this.#rotate();
    const entry = this.#entry(this.#current);
    entry.handedOut++;
    entry.inFlight++;
    return this.#current;
  }

  release(client: OpenAI): void {
    const entry = this.#entry(client);
    entry.inFlight--;
    this.#destroyIfDue(client);
  }

  invalidate(client: OpenAI): void {
    if (client === this.#current) this.#rotate();
  }

  /** The server holds a request that `id` sent. */
  onHeld(id: string): void {
    const client = this.#byId.get(id);
    if (!client) throw new Error(`a held request from an unknown client ${id}`);
    this.#entry(client).doomed = true;
    if (client === this.#current) this.#rotate();
    this.#destroyIfDue(client);
  }

  #destroyIfDue(client: OpenAI): void {
    const entry = this.#entry(client);
    if (!entry.doomed || entry.inFlight !== 1) return;
    entry.doomed = false;
    this.destroyed++;
    void entry.test.agent.destroy();
  }

  #entry(client: OpenAI) {
    const entry = this.#entries.get(client);
    if (!entry) throw new Error('a client this source never handed out');
    return entry;
  }

  #rotate(): void {
    const id = String(this.#byId.size);
    const test = newClient(this.#server, { headers: { [CLIENT_HEADER]: id } });
    this.#entries.set(test.client, { id, test, handedOut: 0, inFlight: 0, doomed: false });
    this.#byId.set(id, test.client);
    this.#current = test.client;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#entries.values()].map((e) => e.test.agent.destroy().catch(() => undefined)));
  }
}

/**
 * The mock as the model of an agent loop that holds one first attempt in every `holdEvery` (no answer
 * until its client goes away; JSON before the headers or half-way through the body, in turn, streams before
 * their first event), at most one per client (a hold due on a client already holding one goes to the next
 * first attempt from another), and tells `onHeld` which client sent it. Retries (any
 * `x-stainless-retry-count` above 0) are never held: a model call meets the race once at most.
 */
async function startChurningModel(holdEvery: number, onHeld: (client: string) => void): Promise<MockOpenAI> {
  const holding = new Set<string>();
  const held = new Map<RecordedRequest, string>();
  let firstAttempts = 0;
  let due = 0;
  let heldJson = 0;
  return startMockOpenAI({
    fallback(request, index) {
      const client = String(request.headers[CLIENT_HEADER]);
      const first = request.headers['x-stainless-retry-count'] === '0';
      if (first && ++firstAttempts % holdEvery === 0) due++;
      // A hold that falls due on a client already holding one waits for the next first attempt elsewhere.
      if (first && due > 0 && !holding.has(client)) {
        due--;
        holding.add(client);
        held.set(request, client);
        return { type: 'stall', at: request.stream || heldJson++ % 2 === 0 ? 'headers' : 'body' };
      }
      // Answers take 1-4 ms, so that requests overlap on every client.
      return { ...modelTurn(request), delayMs: 1 + (index % 4) };
    },
    onRequest(request) {
      const client = held.get(request);
      if (client === undefined) return;
      held.delete(request);
      onHeld(client);
    },
  });
}

// Not useLoopback: each test starts its own mock models, with fallbacks of its own, so only the telemetry
// harness is shared; what a test starts goes on `cleanups`.
let harness: TelemetryHarness;
const cleanups: (() => Promise<unknown>)[] = [];

beforeEach(() => {
  harness = createTelemetryHarness();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await harness.shutdown();
});

async function mockModel(options: Parameters<typeof startMockOpenAI>[0] = { fallback: modelTurn }) {
  const server = await startMockOpenAI(options);
  cleanups.push(() => server.close());
  return server;
}

function resilientOver(
  clients: OpenAI | ClientSource | (() => OpenAI),
  retry = {},
  more: Partial<ResilientClientOptions> = {},
) {
  return createResilientClient({
    clients,
    ...more,
    retry: { baseDelayMs: 1, maxDelayMs: 2, ...retry },
    tracerProvider: harness.tracerProvider,
    meterProvider: harness.meterProvider,
    logger: quietLogger,
  });
}

function testClientOf(server: { url: string }) {
  const test = newClient(server);
  cleanups.push(() => test.agent.destroy());
  return test;
}

describe('setDefaultOpenAIClient(resilient), set before the first run', () => {
  test('every model and mode runs the tool loop through it; a client set after the first run is ignored', async () => {
    const server = await mockModel();
    const source = new DestroyingSource(server);
    cleanups.push(() => source.close());
    setDefaultOpenAIClient(resilientOver(source));
    try {
      for (const { api, stream } of combos) {
        setOpenAIAPI(api);
        expect(await runOnce(undefined, weatherAgent(), stream)).toBe(ANSWER);
      }
      expect(server.requests.map((r) => [r.path, r.stream, r.step])).toEqual(
        combos.flatMap(({ api, stream }) => {
          const path = api === 'responses' ? '/v1/responses' : '/v1/chat/completions';
          return [
            [path, stream, 'tool_call'],
            [path, stream, 'ok'],
          ];
        }),
      );
      expect(await harness.spans()).toHaveLength(8); // one GenAI span of ours per model call

      // The Agents SDK's default provider keeps the client it first chose: set yours before the first run.
      const later = await mockModel();
      setDefaultOpenAIClient(resilientOver(testClientOf(later).client));
      expect(await runOnce(undefined, weatherAgent(), false)).toBe(ANSWER);
      expect(later.requestCount).toBe(0);
      expect(server.requestCount).toBe(10);
    } finally {
      setOpenAIAPI('responses');
    }
  });
});

describe.each(combos)(
  '$api model, stream: $stream, through new OpenAIProvider({ openAIClient })',
  ({ api, stream }) => {
    test('a run with a tool: the model asks, the tool runs, its result goes back, the model answers', async () => {
      const server = await mockModel();
      const runner = new Runner({
        modelProvider: providerOver(resilientOver(testClientOf(server).client), api),
      });

      expect(await runOnce(runner, weatherAgent(), stream)).toBe(ANSWER);

      expect(server.requests.map((r) => r.step)).toEqual(['tool_call', 'ok']);
      expect(server.requests.every((r) => r.stream === stream)).toBe(true);
      const callId = server.requests[1]?.toolOutputs[0]?.callId;
      expect(callId).toMatch(/^call_mock_/);
      expect(server.requests[1]?.toolOutputs).toEqual([{ callId, output: 'sunny in Paris' }]);
      // Each model call is one GenAI span of ours.
      const spans = await harness.spans();
      expect(spans.map((s) => s.name)).toEqual(['chat gpt-4o-mini', 'chat gpt-4o-mini']);
    });

    test.each([
      ['resilient-chat owns the retries', undefined],
      ['the Agents SDK owns the retries (resilient maxRetries 0)', agentsRetry],
    ] as const)(
      'under closed-client churn (%s): every run completes, every recovery counted once',
      async (_name, retry) => {
        const RUNS = 40;
        const CONCURRENCY = 20;
        let source!: DestroyingSource;
        const server = await startChurningModel(5, (client) => source.onHeld(client));
        cleanups.push(() => server.close());
        source = new DestroyingSource(server);
        cleanups.push(() => source.close());
        const resilient = retry
          ? resilientOver(source).withOptions({ maxRetries: 0 })
          : resilientOver(source);
        const runner = new Runner({ modelProvider: providerOver(resilient, api) });
        const agent = weatherAgent(retry);

        const outputs: unknown[] = [];
        let next = 0;
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            for (let i = next++; i < RUNS; i = next++)
              outputs.push(await runOnce(runner, agent, stream, `run ${i}`));
          }),
        );

        expect(outputs).toEqual(Array.from({ length: RUNS }, () => ANSWER));
        // 80 first attempts, one in five held: 16 dispatchers destroyed (16 in every run here), each under
        // the one request the server held on it.
        expect(source.destroyed).toBeGreaterThanOrEqual(12);
        expect(server.requests.filter((r) => r.step === 'stall')).toHaveLength(source.destroyed);
        // Every destroyed request was sent again once, by resilient-chat, and by nobody else.
        expect(server.requestCount).toBe(RUNS * 2 + source.destroyed);
        expect(await harness.counter(METRIC_RETRIES)).toBe(source.destroyed);
        expect(await harness.counter(METRIC_RETRIES, { [ATTR_RETRY_REASON]: 'client_closed' })).toBe(
          source.destroyed,
        );
        expect(
          await harness.counter(METRIC_CLOSED_CLIENT_RECOVERIES, { [ATTR_RECOVERY_OUTCOME]: 'recovered' }),
        ).toBe(source.destroyed);
        expect(
          await harness.counter(METRIC_CLOSED_CLIENT_RECOVERIES, { [ATTR_RECOVERY_OUTCOME]: 'failed' }),
        ).toBe(0);
        const spans = await harness.spans();
        expect(spans).toHaveLength(RUNS * 2);
        const recoveries = spans.reduce(
          (n, s) => n + Number(s.attributes[telemetryNames.ATTR_CLOSED_CLIENT_RECOVERIES]),
          0,
        );
        expect(recoveries).toBe(source.destroyed);
      },
    );
  },
);

test('without resilient-chat, the same destroyed dispatcher fails the run', async () => {
  let held!: () => void;
  const reached = new Promise<void>((resolve) => {
    held = resolve;
  });
  const server = await mockModel({
    script: [{ type: 'stall', at: 'headers' }],
    fallback: modelTurn,
    onRequest: () => held(),
  });
  const bare = newClient(server, { maxRetries: 2 });
  cleanups.push(() => bare.agent.destroy());
  const runner = new Runner({ modelProvider: providerOver(bare.client, 'responses') });

  const outcome = runOnce(runner, weatherAgent(), false).catch((e: unknown) => e);
  await reached;
  await bare.agent.destroy();

  expect(await outcome).toBeInstanceOf(OpenAI.APIConnectionError);
  expect(server.requestCount).toBe(1); // openai-node's retries went to the dead dispatcher, not to the server
});

/**
 * A permanent 503: how many requests one model call sends, per configuration. resilient-chat's
 * `retry.maxRetries` is 2 (its default), the Agents SDK's `modelSettings.retry.maxRetries` 2. The Agents
 * SDK passes `maxRetries: 0` with each of its own retries, and resilient-chat honours it.
 */
describe.each(combos)('$api model, stream: $stream, a permanent 503: one retry layer', ({ api, stream }) => {
  async function measure(client: (server: MockOpenAI) => OpenAI, retry?: ModelRetrySettings) {
    const server = await mockModel({ fallback: () => ({ type: 'status', status: 503 }) });
    const runner = new Runner({ modelProvider: providerOver(client(server), api) });
    const error = await runOnce(runner, weatherAgent(retry), stream).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    return {
      requests: server.requestCount,
      retryCounts: server.requests.map((r) => r.headers['x-stainless-retry-count']),
      ours: await harness.counter(METRIC_RETRIES),
    };
  }

  test('resilient-chat owns them (no modelSettings.retry): 3 requests, 2 retries of ours', async () => {
    expect(await measure((s) => resilientOver(testClientOf(s).client))).toEqual({
      requests: 3,
      retryCounts: ['0', '1', '2'],
      ours: 2,
    });
  });

  test('the Agents SDK owns them (modelSettings.retry, resilient maxRetries 0): 3 requests, none of ours', async () => {
    const own = await measure(
      (s) => resilientOver(testClientOf(s).client).withOptions({ maxRetries: 0 }),
      agentsRetry,
    );
    expect(own).toEqual({ requests: 3, retryCounts: ['0', '0', '0'], ours: 0 });
    // The same with `openai.maxRetries = 0` on the resilient client.
    const set = await measure((s) => {
      const client = resilientOver(testClientOf(s).client);
      client.maxRetries = 0;
      return client;
    }, agentsRetry);
    expect(set.requests).toBe(3);
  });

  test("both on: 5 requests, not 9: the Agents SDK's retries carry maxRetries 0 and get no retries of ours", async () => {
    expect(await measure((s) => resilientOver(testClientOf(s).client), agentsRetry)).toEqual({
      requests: 5,
      retryCounts: ['0', '1', '2', '0', '0'],
      ours: 2,
    });
  });
});

describe("the Agents SDK's reads of the client's settings", () => {
  test('tracing without data (traceIncludeSensitiveData: false) reads baseURL: a single instance gives its own', async () => {
    setTraceProcessors([]); // nothing exported
    const server = await mockModel();
    const runner = new Runner({
      modelProvider: providerOver(resilientOver(testClientOf(server).client), 'responses'),
      tracingDisabled: false,
      traceIncludeSensitiveData: false,
    });
    expect(await runOnce(runner, weatherAgent(), false)).toBe(ANSWER);
  });

  test('over a source, the Responses model with tracing without data throws ClientSettingUnavailableError (baseURL)', async () => {
    setTraceProcessors([]);
    const server = await mockModel();
    const source = () => testClientOf(server).client;
    for (const stream of [false, true]) {
      const runner = new Runner({
        modelProvider: providerOver(resilientOver(source), 'responses'),
        tracingDisabled: false,
        traceIncludeSensitiveData: false,
      });
      const error = await runOnce(runner, weatherAgent(), stream).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClientSettingUnavailableError);
      expect((error as Error).message).toContain('`client.baseURL` is not known');
    }
    expect(server.requestCount).toBe(0);
    // The chat completions model, and tracing with data (the Agents SDK's default), do not read it.
    for (const [api, traceIncludeSensitiveData] of [
      ['chat_completions', false],
      ['responses', true],
    ] as const) {
      const runner = new Runner({
        modelProvider: providerOver(resilientOver(source), api),
        tracingDisabled: false,
        traceIncludeSensitiveData,
      });
      expect(await runOnce(runner, weatherAgent(), false)).toBe(ANSWER);
    }
  });

  test('over a source with sharedSettings.baseURL, the Responses model with tracing without data runs through it', async () => {
    setTraceProcessors([]);
    const server = await mockModel();
    const clients = () => testClientOf(server).client;
    for (const stream of [false, true]) {
      const runner = new Runner({
        modelProvider: providerOver(
          resilientOver(clients, {}, { sharedSettings: { baseURL: server.url } }),
          'responses',
        ),
        tracingDisabled: false,
        traceIncludeSensitiveData: false,
      });
      expect(await runOnce(runner, weatherAgent(), stream)).toBe(ANSWER);
    }
    // Two model calls per run (the tool call, then the answer), each one request and one span of ours.
    expect(server.requests.map((r) => [r.method, r.path])).toEqual(
      Array.from({ length: 4 }, () => ['POST', '/v1/responses']),
    );
    expect(await harness.spans()).toHaveLength(4);
  });

  test("the websocket transport: a single instance's key and base URL reach the handshake; a source throws first", async () => {
    const server = await mockModel();
    const single = resilientOver(testClientOf(server).client);
    const overSingle = new Runner({
      modelProvider: new OpenAIProvider({
        openAIClient: single,
        useResponses: true,
        useResponsesWebSocket: true,
      }),
    });
    // The mock speaks no websocket: the handshake is answered 404 and the run fails, with no retry of ours.
    await expect(runOnce(overSingle, weatherAgent(), false)).rejects.toThrow();
    expect(
      server.requests.map((r) => [r.method, r.path, r.headers.upgrade, r.headers.authorization]),
    ).toEqual([['GET', '/v1/responses', 'websocket', `Bearer ${TEST_API_KEY}`]]);
    expect(await harness.spans()).toHaveLength(0); // websocket traffic does not go through resilient-chat

    const overSource = new Runner({
      modelProvider: new OpenAIProvider({
        openAIClient: resilientOver(() => testClientOf(server).client),
        useResponses: true,
        useResponsesWebSocket: true,
      }),
    });
    await expect(runOnce(overSource, weatherAgent(), false)).rejects.toBeInstanceOf(
      ClientSettingUnavailableError,
    );
    expect(server.requestCount).toBe(1); // nothing more was sent
  });
});
