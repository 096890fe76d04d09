/**
 * The `gen_ai_latest_experimental` names against the model files of the conventions' own repository at the
 * commit GENAI_LATEST_CONVENTIONS pins (fetched at test time, test/support/genai-model.ts): every name we
 * copied is defined there, and what a real run records (metrics from the real SDK, spans) has the instrument,
 * unit and attributes the model gives it. A rename or a changed instrument at the pinned commit fails here.
 */
import { logs } from '@opentelemetry/api';
import { DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import * as names from '../../src/telemetry/semconv.js';
import { genAIModel } from '../support/genai-model.js';
import { useLoopback } from '../support/loopback.js';

const { model, unavailable } = genAIModel;
if (unavailable) console.warn(`semconv-latest checks skipped: ${unavailable}`);

/**
 * Attributes we record that the model does not list for that signal, each for a reason: `openai.api.type`
 * tells chat completions from Responses (both `chat`), on the metrics as on the 1.45 names.
 */
const OUR_EXTRA_METRIC_ATTRIBUTES = new Set(['openai.api.type']);

const env = useLoopback();
let saved: string | undefined;
beforeEach(() => {
  saved = process.env.OTEL_SEMCONV_STABILITY_OPT_IN;
  process.env.OTEL_SEMCONV_STABILITY_OPT_IN = 'gen_ai_latest_experimental';
});
afterEach(() => {
  if (saved === undefined) delete process.env.OTEL_SEMCONV_STABILITY_OPT_IN;
  else process.env.OTEL_SEMCONV_STABILITY_OPT_IN = saved;
  logs.disable();
});

const latestNames = Object.entries(names).filter(([key]) => key.startsWith('LATEST_'));

describe.skipIf(unavailable !== undefined)(`against the model files (${model?.source})`, () => {
  test('every name copied for the latest conventions is defined there', () => {
    const m = model as NonNullable<typeof model>;
    expect(latestNames.length).toBeGreaterThan(10);
    for (const [key, value] of latestNames) {
      if (key.startsWith('LATEST_METRIC_'))
        expect({ [key]: m.metrics.has(String(value)) }).toEqual({ [key]: true });
    }
    const modality = m.registry.get(names.LATEST_ATTR_GEN_AI_TOKEN_MODALITY);
    expect(modality?.has(names.LATEST_GEN_AI_TOKEN_MODALITY_VALUE_UNKNOWN)).toBe(true);
    expect(m.events.get(names.EVENT_GEN_AI_CLIENT_OPERATION_EXCEPTION)?.has(names.ATTR_EXCEPTION_TYPE)).toBe(
      true,
    );
    // The 1.45 histogram the latest replace is gone there (operation.duration stays, for other operations).
    expect(m.metrics.has(names.METRIC_GEN_AI_CLIENT_TOKEN_USAGE)).toBe(false);
  });

  test('what a real run records has the model’s instrument, unit and attributes', async () => {
    const m = model as NonNullable<typeof model>;
    const chat = env.chat({ retry: { baseDelayMs: 1 } });
    await chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    const stream = await chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const _ of stream) {
      // to the end
    }
    await env.client().responses.create({ model: 'gpt-4o-mini', input: 'hi' });
    await env.client().embeddings.create({ model: 'text-embedding-3-small', input: 'hi' });
    env.server.script({ type: 'status', status: 400 });
    await expect(chat.completions.create({ model: 'gpt-4o-mini', messages: [] })).rejects.toThrow();

    const recorded = (await env.harness.metrics()).filter(
      (metric) => metric.descriptor.name.startsWith('gen_ai.') && metric.dataPoints.length > 0,
    );
    expect(recorded.length).toBeGreaterThanOrEqual(11);
    const problems: string[] = [];
    for (const metric of recorded) problems.push(...differences(m.metrics, metric));
    expect(problems).toEqual([]);

    // The spans: every gen_ai.* attribute is one the model gives that span type.
    for (const span of await env.harness.spans()) {
      const type = span.name.startsWith('embeddings')
        ? 'gen_ai.client.embeddings'
        : 'gen_ai.client.inference';
      const allowed = m.spans.get(type) ?? new Set<string>();
      const unknown = Object.keys(span.attributes).filter((k) => k.startsWith('gen_ai.') && !allowed.has(k));
      expect({ [span.name]: unknown }).toEqual({ [span.name]: [] });
    }
  });
});

function differences(
  defined: Map<string, { instrument: string; unit: string; attributes: Set<string> }>,
  metric: MetricData,
): string[] {
  const { name, unit } = metric.descriptor;
  const expected = defined.get(name);
  if (!expected) return [`${name}: not in the model`];
  const problems: string[] = [];
  const instrument =
    metric.dataPointType === DataPointType.HISTOGRAM
      ? 'histogram'
      : metric.dataPointType === DataPointType.SUM && metric.isMonotonic
        ? 'counter'
        : 'other';
  if (instrument !== expected.instrument)
    problems.push(`${name}: a ${instrument}, the model says ${expected.instrument}`);
  if (unit !== expected.unit) problems.push(`${name}: unit ${unit}, the model says ${expected.unit}`);
  for (const point of metric.dataPoints) {
    for (const key of Object.keys(point.attributes)) {
      if (!expected.attributes.has(key) && !OUR_EXTRA_METRIC_ATTRIBUTES.has(key))
        problems.push(`${name}: attribute ${key} is not among the model's`);
    }
  }
  return [...new Set(problems)];
}
