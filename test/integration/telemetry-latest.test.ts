/**
 * OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental: the GenAI metrics in the names of the conventions'
 * own repository (GENAI_LATEST_CONVENTIONS) instead of those of semantic-conventions 1.45, and the exception
 * event, from the real SDK (metrics, traces and logs). The names themselves are checked against that
 * repository's model files in semconv-latest.test.ts.
 */
import { logs } from '@opentelemetry/api';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import * as names from '../../src/telemetry/semconv.js';
import { onlySpan } from '../support/assertions.js';
import { useLoopback } from '../support/loopback.js';
import { params } from '../support/params.js';

const env = useLoopback();

const logExporter = new InMemoryLogRecordExporter();
const loggerProvider = new LoggerProvider({
  processors: [new SimpleLogRecordProcessor({ exporter: logExporter })],
});
beforeAll(() => {
  logs.setGlobalLoggerProvider(loggerProvider);
});
afterAll(async () => {
  await loggerProvider.shutdown();
  logs.disable();
});
afterEach(() => logExporter.reset());

/** Runs `body` with clients made under the opt-in (the variable is read when a client is created). */
function withOptIn(value: string | undefined) {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.OTEL_SEMCONV_STABILITY_OPT_IN;
    if (value === undefined) delete process.env.OTEL_SEMCONV_STABILITY_OPT_IN;
    else process.env.OTEL_SEMCONV_STABILITY_OPT_IN = value;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.OTEL_SEMCONV_STABILITY_OPT_IN;
    else process.env.OTEL_SEMCONV_STABILITY_OPT_IN = saved;
  });
}

/** The GenAI metrics that have points, by name, sorted. */
const genAINames = (metrics: MetricData[]) =>
  metrics
    .filter((m) => m.dataPoints.length > 0 && m.descriptor.name.startsWith('gen_ai.'))
    .map((m) => m.descriptor.name)
    .sort();
const histogram = (metrics: MetricData[], name: string) =>
  (metrics.find((m) => m.descriptor.name === name)?.dataPoints ?? []) as DataPoint<Histogram>[];
const sums = (metrics: MetricData[], name: string) =>
  (metrics.find((m) => m.descriptor.name === name)?.dataPoints ?? []) as DataPoint<number>[];

async function readStream(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) {
    // to the end
  }
}

describe('with gen_ai_latest_experimental', () => {
  withOptIn('http,gen_ai_latest_experimental');

  test('a chat call: inference duration, usage counters by modality, per-call token histograms; no 1.45 names', async () => {
    await env.chat().completions.create(params);
    const metrics = await env.harness.metrics();

    expect(genAINames(metrics)).toEqual(
      [
        names.LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_DURATION,
        names.LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
        names.LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS,
        names.LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS,
        names.LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS,
        names.LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS,
        names.LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS,
      ].sort(),
    );
    const [duration] = histogram(metrics, names.LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_DURATION);
    expect(duration?.value.count).toBe(1);
    expect(duration?.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini',
    });
    const counted = (name: string) =>
      sums(metrics, name).map((p) => [p.value, p.attributes['gen_ai.token.modality']]);
    expect(counted(names.LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS)).toEqual([
      [12, 'unknown'],
    ]);
    expect(counted(names.LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS)).toEqual([
      [6, 'unknown'],
    ]);
    expect(counted(names.LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS)).toEqual([
      [4, 'unknown'],
    ]);
    expect(counted(names.LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS)).toEqual([
      [2, 'unknown'],
    ]);
    const perCall = (name: string) => histogram(metrics, name).map((p) => [p.value.sum, p.attributes]);
    expect(perCall(names.LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS)).toEqual([
      [12, duration?.attributes],
    ]);
    expect(perCall(names.LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS)).toEqual([
      [6, duration?.attributes],
    ]);
    expect(logExporter.getFinishedLogRecords()).toEqual([]); // no exception: the call succeeded
  });

  test('embeddings: their own duration and per-call input tokens, no inference metric', async () => {
    await env.client().embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
    const metrics = await env.harness.metrics();
    expect(genAINames(metrics)).toEqual(
      [
        names.LATEST_METRIC_GEN_AI_CLIENT_EMBEDDINGS_DURATION,
        names.LATEST_METRIC_GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS,
      ].sort(),
    );
    const [tokens] = histogram(metrics, names.LATEST_METRIC_GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS);
    expect(tokens?.value.sum).toBe(16);
    expect(tokens?.attributes['gen_ai.operation.name']).toBe('embeddings');
  });

  test('a stream: time to first chunk and per output chunk under gen_ai.client.inference', async () => {
    await readStream(
      await env
        .chat()
        .completions.create({ ...params, stream: true, stream_options: { include_usage: true } }),
    );
    const metrics = await env.harness.metrics();
    expect(histogram(metrics, names.LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK)).toHaveLength(
      1,
    );
    const [perChunk] = histogram(metrics, names.LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK);
    expect(perChunk?.value.count).toBeGreaterThan(0);
    expect(histogram(metrics, names.METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK)).toEqual([]);
    expect(histogram(metrics, names.METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK)).toEqual([]);
  });

  test('a failed call: duration with error.type, no per-call token histogram, one exception event in its trace', async () => {
    env.server.script({ type: 'status', status: 400 });
    await expect(env.chat().completions.create(params)).rejects.toThrow();
    const metrics = await env.harness.metrics();
    const [duration] = histogram(metrics, names.LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_DURATION);
    expect(duration?.attributes['error.type']).toBe('BadRequestError');
    expect(histogram(metrics, names.LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS)).toEqual(
      [],
    );

    const span = await onlySpan(env.harness);
    const records = logExporter.getFinishedLogRecords();
    expect(records).toHaveLength(1);
    const [record] = records;
    expect(record?.eventName).toBe(names.EVENT_GEN_AI_CLIENT_OPERATION_EXCEPTION);
    expect(record?.severityNumber).toBe(13); // WARN, as the conventions say
    expect(record?.attributes).toEqual({ 'exception.type': 'BadRequestError' });
    expect(record?.spanContext?.traceId).toBe(span.spanContext().traceId);
    expect(record?.spanContext?.spanId).toBe(span.spanContext().spanId);
  });

  test('a recovered failure is no exception: retried and answered, nothing logged', async () => {
    env.server.script({ type: 'status', status: 503 });
    await env.chat({ retry: { baseDelayMs: 1 } }).completions.create(params);
    expect(logExporter.getFinishedLogRecords()).toEqual([]);
  });
});

describe('by default (semantic-conventions 1.45 names)', () => {
  withOptIn(undefined);

  test('a chat call: operation duration and token usage by type, nothing of the latest set, no event', async () => {
    env.server.script({ type: 'status', status: 400 });
    await expect(env.chat().completions.create(params)).rejects.toThrow();
    await env.chat().completions.create(params);
    const metrics = await env.harness.metrics();
    expect(genAINames(metrics)).toEqual(
      [names.METRIC_GEN_AI_CLIENT_OPERATION_DURATION, names.METRIC_GEN_AI_CLIENT_TOKEN_USAGE].sort(),
    );
    const types = histogram(metrics, names.METRIC_GEN_AI_CLIENT_TOKEN_USAGE).map((p) => [
      p.attributes['gen_ai.token.type'],
      p.value.sum,
    ]);
    expect(types.sort()).toEqual([
      ['input', 12],
      ['output', 6],
    ]);
    expect(logExporter.getFinishedLogRecords()).toEqual([]);
  });

  test('a stream: time per output chunk, one point per chunk after the first', async () => {
    await readStream(await env.chat().completions.create({ ...params, stream: true }));
    const metrics = await env.harness.metrics();
    const [perChunk] = histogram(metrics, names.METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK);
    // The mock streams a role chunk (held back), then content chunks, then the finish chunk: every chunk after
    // the first of substance is timed.
    expect(perChunk?.value.count).toBeGreaterThan(0);
    expect(perChunk?.attributes['gen_ai.operation.name']).toBe('chat');
  });
});
