/**
 * The Vercel AI SDK (ai 7, @ai-sdk/openai 4) over resilientFetch, as README sets it up: its OpenAI provider's
 * `fetch`, the AI SDK's own retries off (`maxRetries: 0`). Real loopback servers, real undici Agents destroyed
 * under in-flight requests, the real OpenTelemetry SDK with in-memory exporters.
 */
import { createOpenAI } from '@ai-sdk/openai';
import { OpenTelemetry } from '@ai-sdk/otel';
import { context, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  APICallError,
  embed,
  embedMany,
  generateObject,
  generateText,
  registerTelemetry,
  streamText,
} from 'ai';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { type ResilientFetchOptions, resilientFetch, telemetryNames } from '../../src/index.js';
import { type MockOpenAI, startMockOpenAI } from '../../src/testing/index.js';
import { quietLogger, retryEvents } from '../support/assertions.js';
import { startJsonAnswerServer, trackedDispatchers } from '../support/frameworks.js';
import { createTelemetryHarness, type TelemetryHarness } from '../support/telemetry.js';

const { METRIC_CLOSED_CLIENT_RECOVERIES, ATTR_RECOVERY_OUTCOME, INSTRUMENTATION_SCOPE } = telemetryNames;

// Not useLoopback: each test starts the server with a script or onRequest hook of its own, and the AI SDK
// sends through trackedDispatchers rather than one test client.
let server: MockOpenAI;
let harness: TelemetryHarness;
let transport: ReturnType<typeof trackedDispatchers>;

beforeEach(async () => {
  harness = createTelemetryHarness();
  transport = trackedDispatchers();
});

afterEach(async () => {
  await server?.close();
  await transport.close();
  await harness.shutdown();
});

function provider(baseURL: string, options: ResilientFetchOptions = {}) {
  const fetch = resilientFetch({
    dispatchers: transport.dispatchers,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
    tracerProvider: harness.tracerProvider,
    meterProvider: harness.meterProvider,
    logger: quietLogger,
    ...options,
  });
  return createOpenAI({ baseURL, apiKey: 'sk-test', fetch });
}

describe('AI SDK calls under a dispatcher destroyed under each first attempt', () => {
  test('generateText, streamText (chat and Responses), embed, embedMany: every call succeeds, each on a fresh Agent', async () => {
    // Every even request is held by the server while the Agent that sent it is destroyed.
    server = await startMockOpenAI({
      onRequest: (_, index) => index % 2 === 0 && transport.destroyCurrent(),
    });
    const openai = provider(server.url);

    const chat = await generateText({ model: openai.chat('gpt-4o-mini'), prompt: 'hi', maxRetries: 0 });
    expect(chat.text).toBe('Resilient chat answers every time.');
    const responses = await generateText({
      model: openai.responses('gpt-4o-mini'),
      prompt: 'hi',
      maxRetries: 0,
    });
    expect(responses.text).toContain('Resilient');
    for (const model of [openai.chat('gpt-4o-mini'), openai.responses('gpt-4o-mini')]) {
      const stream = streamText({ model, prompt: 'hi', maxRetries: 0 });
      let text = '';
      for await (const delta of stream.textStream) text += delta;
      expect(text).toContain('Resilient chat');
      expect((await stream.usage).outputTokens).toBeGreaterThan(0);
    }
    const one = await embed({ model: openai.embedding('text-embedding-3-small'), value: 'a', maxRetries: 0 });
    expect(one.embedding.length).toBeGreaterThan(0);
    const many = await embedMany({
      model: openai.embedding('text-embedding-3-small'),
      values: ['a', 'b'],
      maxRetries: 0,
    });
    expect(many.embeddings).toHaveLength(2);

    // 6 calls, each: one attempt on a destroyed Agent, one on its replacement.
    expect(server.requestCount).toBe(12);
    expect(transport.agents.length).toBe(7);
    expect(transport.agents.slice(0, 6).every((a) => a.destroyed)).toBe(true);
    expect(
      await harness.counter(METRIC_CLOSED_CLIENT_RECOVERIES, { [ATTR_RECOVERY_OUTCOME]: 'recovered' }),
    ).toBe(6);
  });

  test('generateObject with a chat model, under the same churn', async () => {
    const json = await startJsonAnswerServer(
      JSON.stringify({ city: 'Paris', days: 3 }),
      (index) => index === 0 && transport.destroyCurrent(),
    );
    try {
      const openai = provider(json.url);
      const { object } = await generateObject({
        model: openai.chat('gpt-4o-mini'),
        schema: z.object({ city: z.string(), days: z.number() }),
        prompt: 'plan',
        maxRetries: 0,
      });
      expect(object).toEqual({ city: 'Paris', days: 3 });
      expect(json.requests).toBe(2);
    } finally {
      await json.close();
    }
  });

  test('40 concurrent calls, two Agents destroyed in turn under their 15th request: none lost', async () => {
    // Two deaths within one burst: every call recovers within closedClient.maxRecoveries (2, the default).
    server = await startMockOpenAI({ onRequest: () => transport.sawRequest(15, 2) });
    const openai = provider(server.url);
    const calls = Array.from({ length: 40 }, (_, i) =>
      i % 2 === 0
        ? generateText({ model: openai.chat('gpt-4o-mini'), prompt: 'hi', maxRetries: 0 }).then((r) => r.text)
        : (async () => {
            let text = '';
            let failure: unknown;
            const stream = streamText({
              model: openai.responses('gpt-4o-mini'),
              prompt: 'hi',
              maxRetries: 0,
              onError: ({ error }) => {
                failure = error;
              },
            });
            for await (const delta of stream.textStream) text += delta;
            if (failure) throw failure;
            return text;
          })(),
    );
    const results = await Promise.allSettled(calls);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(results.every((r) => r.status === 'fulfilled' && r.value.startsWith('Resilient chat'))).toBe(true);
    expect(transport.agents.length).toBe(3);
    expect(transport.agents.slice(0, -1).every((a) => a.destroyed)).toBe(true);
    const recovered = await harness.counter(METRIC_CLOSED_CLIENT_RECOVERIES, {
      [ATTR_RECOVERY_OUTCOME]: 'recovered',
    });
    expect(recovered).toBeGreaterThan(0);
    expect(server.requestCount).toBe(40 + recovered);
  });
});

describe('streams', () => {
  test('an SSE error frame before the first event of substance is retried; the SDK sees a clean stream', async () => {
    server = await startMockOpenAI({ script: [{ type: 'sse_error', afterChunks: 0, roleChunkFirst: true }] });
    const openai = provider(server.url);
    const stream = streamText({ model: openai.chat('gpt-4o-mini'), prompt: 'hi', maxRetries: 0 });
    let text = '';
    for await (const delta of stream.textStream) text += delta;
    expect(text).toBe('Resilient chat answers');
    expect(server.requestCount).toBe(2);
  });

  test('after the first event of substance a failure reaches the SDK as a stream error, not retried', async () => {
    server = await startMockOpenAI({ script: [{ type: 'sse_error', afterChunks: 2 }] });
    const openai = provider(server.url);
    const errors: unknown[] = [];
    const stream = streamText({
      model: openai.chat('gpt-4o-mini'),
      prompt: 'hi',
      maxRetries: 0,
      onError: ({ error }) => void errors.push(error),
    });
    let text = '';
    for await (const delta of stream.textStream) text += delta;
    expect(text).toBe('Resilient chat');
    expect(errors).toHaveLength(1);
    expect(server.requestCount).toBe(1);
  });
});

describe('giving up', () => {
  /** A chat call with the AI SDK's own retries off; what it rejects with is the SDK's APICallError. */
  async function givenUp(openai: ReturnType<typeof provider>): Promise<unknown> {
    const error = await generateText({
      model: openai.chat('gpt-4o-mini'),
      prompt: 'hi',
      maxRetries: 0,
    }).catch((e: unknown) => e);
    expect(APICallError.isInstance(error)).toBe(true);
    return error;
  }

  test('a permanent 503: the SDK builds its own APICallError from our last response; one layer of retries', async () => {
    server = await startMockOpenAI({ fallback: () => ({ type: 'status', status: 503 }) });
    const openai = provider(server.url, { retryBudget: false, circuitBreaker: false });
    const error = await givenUp(openai);
    expect((error as APICallError).statusCode).toBe(503);
    // retry.maxRetries 2 (the default): 3 requests, the same as openai-node's own retries would send.
    expect(server.requestCount).toBe(3);
  });

  test('a server that refuses connections: the fetch error reaches the SDK (APICallError)', async () => {
    server = await startMockOpenAI();
    const url = server.url;
    await server.close();
    const openai = provider(url, { retry: { maxRetries: 1, baseDelayMs: 1 } });
    await givenUp(openai);
  });

  test('the caller’s abort during a backoff rejects at once with its reason', async () => {
    server = await startMockOpenAI({ fallback: () => ({ type: 'status', status: 503 }) });
    const openai = provider(server.url, { retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 } });
    const controller = new AbortController();
    const call = generateText({
      model: openai.chat('gpt-4o-mini'),
      prompt: 'hi',
      maxRetries: 0,
      abortSignal: controller.signal,
    });
    while (server.requestCount === 0) await new Promise((r) => setImmediate(r));
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    expect(server.requestCount).toBe(1);
  });
});

describe('one coherent trace', () => {
  test('without the AI SDK’s telemetry: our GenAI span, named for the model, on the real host', async () => {
    server = await startMockOpenAI({ script: [{ type: 'status', status: 503 }] });
    const openai = provider(server.url);
    await generateText({ model: openai.chat('gpt-4o-mini'), prompt: 'hi', maxRetries: 0 });
    const spans = await harness.spans();
    expect(spans.map((s) => s.name)).toEqual(['chat gpt-4o-mini']);
    const [span] = spans;
    expect(span?.attributes['server.address']).toBe('127.0.0.1');
    expect(span?.attributes['server.port']).toBe(server.port);
    expect(span?.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    expect(span && retryEvents(span)).toHaveLength(1);
  });

  test('with the AI SDK’s OpenTelemetry: our retry events on its model-call span, no GenAI span of ours', async () => {
    const contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contextManager);
    registerTelemetry(new OpenTelemetry({ tracer: harness.tracerProvider.getTracer('ai') }));
    try {
      server = await startMockOpenAI({ script: [{ type: 'status', status: 503 }] });
      const openai = provider(server.url);
      await generateText({ model: openai.chat('gpt-4o-mini'), prompt: 'hi', maxRetries: 0 });
      const spans = await harness.spans();
      const ours = spans.filter((s) => s.instrumentationScope.name === INSTRUMENTATION_SCOPE);
      expect(ours).toEqual([]);
      const genAI = spans.filter((s) => s.attributes['gen_ai.operation.name'] === 'chat');
      expect(genAI).toHaveLength(1);
      const [modelCall] = genAI;
      expect(modelCall && retryEvents(modelCall)).toHaveLength(1);
      expect(modelCall?.attributes[telemetryNames.ATTR_ATTEMPTS]).toBe(2);
      expect(modelCall?.status.code).not.toBe(SpanStatusCode.ERROR);
    } finally {
      registerTelemetry();
      context.disable();
    }
  });
});
