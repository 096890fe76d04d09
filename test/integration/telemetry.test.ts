/** The chat span, its attributes per the GenAI conventions, the metrics and the retry log, from the real SDK. */
import { context, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { describe, expect, test } from 'vitest';
import { type Logger, telemetryNames } from '../../src/index.js';
import { METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK } from '../../src/telemetry/semconv.js';
import { onlySpan } from '../support/assertions.js';
import { TEST_API_KEY } from '../support/clients.js';
import { useLoopback } from '../support/loopback.js';
import { params } from '../support/params.js';

const SECRET_PROMPT = 'my card number is 4111-1111-1111-1111';
const sampledSecretParams = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user' as const, content: SECRET_PROMPT }],
  temperature: 0.2,
  max_completion_tokens: 64,
  top_p: 0.9,
  seed: 7,
  stop: 'END',
};

const env = useLoopback();

function chat(options: { logger?: Logger; captureContent?: boolean } = {}) {
  return env.chat({ retry: { baseDelayMs: 1 }, ...options });
}

describe('the chat span', () => {
  test('follows the GenAI semantic conventions for a JSON call', async () => {
    const completion = await chat().completions.create(sampledSecretParams);

    const span = await onlySpan(env.harness);
    expect(span.name).toBe('chat gpt-4o-mini');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.instrumentationScope.name).toBe('resilient-chat');
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.request.temperature': 0.2,
      'gen_ai.request.max_tokens': 64,
      'gen_ai.request.top_p': 0.9,
      'gen_ai.request.seed': 7,
      'gen_ai.request.stop_sequences': ['END'],
      'gen_ai.request.stream': false,
      'gen_ai.response.id': completion.id,
      'gen_ai.response.model': 'gpt-4o-mini',
      'gen_ai.system': 'openai',
      'openai.api.type': 'chat_completions',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 6,
      'gen_ai.usage.cache_read.input_tokens': 4,
      'gen_ai.usage.reasoning.output_tokens': 2,
      'openai.response.system_fingerprint': 'fp_mock',
      'server.address': '127.0.0.1',
      'server.port': env.server.port,
      'resilient_chat.attempts': 1,
      'resilient_chat.closed_client.recoveries': 0,
    });
  });

  test('records a stream: finish reasons, usage when asked for, time to first chunk', async () => {
    const stream = await chat().completions.create({
      ...sampledSecretParams,
      stream: true,
      stream_options: { include_usage: true },
    });
    const ids = new Set<string>();
    for await (const chunk of stream) ids.add(chunk.id);

    const span = await onlySpan(env.harness);
    expect(span.attributes).toMatchObject({
      'gen_ai.request.stream': true,
      'gen_ai.response.id': [...ids][0],
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 3,
    });
    expect(span.attributes['gen_ai.response.time_to_first_chunk']).toBeGreaterThan(0);
  });

  test('nests under the caller’s active span', async () => {
    // What sdk-node sets up in a traced service: without a context manager there is no active span.
    const contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contextManager);
    const tracer = env.harness.tracerProvider.getTracer('test');
    await tracer.startActiveSpan('handler', async (parent) => {
      await chat().completions.create(sampledSecretParams);
      parent.end();
    });

    const spans = await env.harness.spans();
    const handler = spans.find((s) => s.name === 'handler');
    const chatSpan = spans.find((s) => s.name === 'chat gpt-4o-mini');
    expect(chatSpan?.parentSpanContext?.spanId).toBe(handler?.spanContext().spanId);
    expect(chatSpan?.spanContext().traceId).toBe(handler?.spanContext().traceId);
    context.disable();
  });
});

describe('streams the caller leaves', () => {
  test('a break ends the span without an error and closes the request', async () => {
    const stream = await chat().completions.create({ ...sampledSecretParams, stream: true });
    for await (const _ of stream) break;

    const span = await onlySpan(env.harness);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes['resilient_chat.attempts']).toBe(1);
  });

  test('controller.abort() before iterating ends the span', async () => {
    const stream = await chat().completions.create({ ...sampledSecretParams, stream: true });
    stream.controller.abort();

    expect((await env.harness.spans()).map((s) => s.name)).toEqual(['chat gpt-4o-mini']);
  });

  test('the returned stream keeps openai-node’s Stream API (tee)', async () => {
    const stream = await chat().completions.create({ ...sampledSecretParams, stream: true });
    const [left, right] = stream.tee();
    const read = async (s: AsyncIterable<{ id: string }>) => {
      let n = 0;
      for await (const _ of s) n++;
      return n;
    };
    expect(await Promise.all([read(left), read(right)])).toEqual([3, 3]);
    await onlySpan(env.harness);
  });
});

describe('metrics', () => {
  test('operation duration and token usage with the conventions’ units and buckets', async () => {
    await chat().completions.create(sampledSecretParams);

    const metrics = await env.harness.metrics();
    const duration = metrics.find((m) => m.descriptor.name === 'gen_ai.client.operation.duration');
    const tokens = metrics.find((m) => m.descriptor.name === 'gen_ai.client.token.usage');
    expect(duration?.descriptor.unit).toBe('s');
    expect(tokens?.descriptor.unit).toBe('{token}');
    const [point] = await env.harness.histogram('gen_ai.client.operation.duration');
    expect(point?.value.buckets.boundaries).toEqual([
      0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
    ]);
    expect(point?.value.count).toBe(1);
    expect(point?.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini',
      'openai.api.type': 'chat_completions',
      'server.address': '127.0.0.1',
      'server.port': env.server.port,
    });
    const tokenPoints = await env.harness.histogram('gen_ai.client.token.usage');
    expect(tokenPoints.map((p) => [p.attributes['gen_ai.token.type'], p.value.sum])).toEqual([
      ['input', 12],
      ['output', 6],
    ]);
    expect(tokenPoints[0]?.value.buckets.boundaries[0]).toBe(1);
  });

  test('a failed call records error.type on the duration and counts the give-up', async () => {
    env.server.script({ type: 'status', status: 400 });
    await chat()
      .completions.create(sampledSecretParams)
      .catch(() => undefined);

    const [point] = await env.harness.histogram('gen_ai.client.operation.duration');
    expect(point?.attributes['error.type']).toBe('BadRequestError');
    expect(
      await env.harness.counter(telemetryNames.METRIC_GIVE_UPS, {
        'resilient_chat.give_up.reason': 'not_retryable',
      }),
    ).toBe(1);
  });
});

describe('the retry log', () => {
  test('one warning per retry with reason, attempt, delay, model and the trace id', async () => {
    env.server.script({ type: 'status', status: 503 }, { type: 'litellm_closed_client' });
    const records: { message: string; fields: Parameters<Logger['warn']>[1] }[] = [];

    await chat({
      logger: { warn: (message, fields) => records.push({ message, fields }) },
    }).completions.create(sampledSecretParams);

    const span = await onlySpan(env.harness);
    expect(records.map((r) => r.fields)).toEqual([
      {
        reason: 'server_error',
        attempt: 1,
        delayMs: expect.any(Number),
        model: 'gpt-4o-mini',
        operation: 'POST /chat/completions',
        errorType: 'InternalServerError',
        clientReplaced: false,
        traceId: span.spanContext().traceId,
      },
      {
        reason: 'upstream_client_closed',
        attempt: 2,
        delayMs: 0,
        model: 'gpt-4o-mini',
        operation: 'POST /chat/completions',
        errorType: 'InternalServerError',
        clientReplaced: false,
        traceId: span.spanContext().traceId,
      },
    ]);
    expect(records[1]?.message).toContain('client_closed');
  });
});

describe('secrets and content', () => {
  async function everythingRecorded(logged: unknown[]): Promise<string> {
    return JSON.stringify({
      spans: (await env.harness.spans()).map((s) => ({
        name: s.name,
        attributes: s.attributes,
        events: s.events,
      })),
      metrics: (await env.harness.metrics()).map((m) => ({ name: m.descriptor.name, points: m.dataPoints })),
      logged,
    });
  }

  test('no API key, Authorization header or message content by default', async () => {
    env.server.script({ type: 'status', status: 503 }, { type: 'litellm_closed_client' });
    const logged: unknown[] = [];
    await chat({ logger: { warn: (...args) => logged.push(args) } }).completions.create(sampledSecretParams);

    const recorded = await everythingRecorded(logged);
    expect(env.server.requests[0]?.headers.authorization).toBe(`Bearer ${TEST_API_KEY}`); // it was sent...
    expect(recorded).not.toContain(TEST_API_KEY); // ...and never recorded
    expect(recorded.toLowerCase()).not.toContain('bearer');
    expect(recorded).not.toContain(SECRET_PROMPT);
    expect(recorded).not.toContain('Resilient chat answers');
  });

  test('captureContent records input and output messages in the conventions’ structure', async () => {
    await chat({ captureContent: true }).completions.create(sampledSecretParams);

    const span = await onlySpan(env.harness);
    expect(JSON.parse(span.attributes['gen_ai.input.messages'] as string)).toEqual([
      { role: 'user', parts: [{ type: 'text', content: SECRET_PROMPT }] },
    ]);
    expect(JSON.parse(span.attributes['gen_ai.output.messages'] as string)).toEqual([
      {
        role: 'assistant',
        parts: [{ type: 'text', content: 'Resilient chat answers every time.' }],
        finish_reason: 'stop',
      },
    ]);
    expect(JSON.stringify(span.attributes)).not.toContain(TEST_API_KEY);
  });

  test('captureContent on a stream records the streamed text', async () => {
    for await (const _ of await chat({ captureContent: true }).completions.create({
      ...sampledSecretParams,
      stream: true,
    })) {
      // consume
    }
    const span = await onlySpan(env.harness);
    expect(JSON.parse(span.attributes['gen_ai.output.messages'] as string)).toEqual([
      {
        role: 'assistant',
        parts: [{ type: 'text', content: 'Resilient chat answers' }],
        finish_reason: 'stop',
      },
    ]);
  });
});

describe('a logger that throws', () => {
  test('a throwing logger neither breaks the call nor leaves the span open; Node is warned', async () => {
    env.server.script({ type: 'status', status: 503 });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const chat = env.chat({
      retry: { baseDelayMs: 1 },
      logger: {
        warn() {
          throw new Error('logger broke');
        },
      },
    });

    const completion = await chat.completions.create(params);
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);

    expect(completion.object).toBe('chat.completion');
    expect((await onlySpan(env.harness)).status.code).toBe(SpanStatusCode.UNSET);
    expect(warnings).toEqual(['resilient-chat: logger.warn() threw: logger broke']);
  });
});

describe('the standard environment variables', () => {
  const contentParams = {
    model: 'gpt-4o-mini',
    messages: [{ role: 'user' as const, content: 'hello there' }],
  };

  async function withEnv(vars: Record<string, string>, run: () => Promise<void>): Promise<void> {
    const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
    Object.assign(process.env, vars);
    try {
      await run();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }

  test('OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true turns content capture on; the option in code wins', async () => {
    await withEnv({ OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true' }, async () => {
      await env.chat().completions.create(contentParams);
      await env.chat({ captureContent: false }).completions.create(contentParams);
    });
    const [fromEnv, fromCode] = await env.harness.spans();
    expect(fromEnv?.attributes['gen_ai.input.messages']).toContain('hello there');
    expect(fromCode?.attributes['gen_ai.input.messages']).toBeUndefined();
  });

  test('OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental drops the deprecated gen_ai.system', async () => {
    await env.chat().completions.create(contentParams);
    await withEnv({ OTEL_SEMCONV_STABILITY_OPT_IN: 'http,gen_ai_latest_experimental' }, async () => {
      await env.chat().completions.create(contentParams);
    });
    const [legacy, latest] = await env.harness.spans();
    expect(legacy?.attributes['gen_ai.system']).toBe('openai');
    expect(latest?.attributes['gen_ai.system']).toBeUndefined();
    expect(latest?.attributes['gen_ai.provider.name']).toBe('openai');
  });

  test('streams record the time-to-first-chunk histogram; JSON calls do not', async () => {
    await env.chat().completions.create(contentParams);
    for await (const _ of await env.chat().completions.create({ ...contentParams, stream: true })) {
      // read to the end
    }
    const points = await env.harness.histogram(METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK);
    expect(points.map((p) => p.value.count)).toEqual([1]);
    expect(points[0]?.attributes['gen_ai.operation.name']).toBe('chat');
  });
});
