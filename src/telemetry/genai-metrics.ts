/**
 * The GenAI metrics of a call, in one of two sets of names: the conventions as published in
 * `@opentelemetry/semantic-conventions` 1.45 (the default: what dashboards built so far read), or the latest of
 * their own repository (GENAI_LATEST_CONVENTIONS), with OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental.
 * Each set is made once per meter provider, when a client first records with it.
 *
 * | what                   | default (1.45)                                   | latest                                                                                  |
 * | ---------------------- | ------------------------------------------------ | --------------------------------------------------------------------------------------- |
 * | duration               | `gen_ai.client.operation.duration`               | `gen_ai.client.inference.duration`, `gen_ai.client.embeddings.duration`                 |
 * | tokens per call        | `gen_ai.client.token.usage` by `gen_ai.token.type` | `gen_ai.client.inference.operation.{input,output}_tokens`, `gen_ai.client.embeddings.operation.input_tokens` (successful calls) |
 * | tokens spent           |                                                  | counters `gen_ai.client.inference.usage.*` with `gen_ai.token.modality` (failed calls too) |
 * | streams                | `gen_ai.client.operation.time_to_first_chunk`, `.time_per_output_chunk` | `gen_ai.client.inference.time_to_first_chunk`, `.time_per_output_chunk` |
 */
import type { Attributes, Histogram, Meter } from '@opentelemetry/api';
import type { GenAIOperation, ResponseSummary } from '../operations/index.js';
import { modalityAttributes, tokenAttributes } from './attributes.js';
import {
  GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS,
  LATEST_METRIC_GEN_AI_CLIENT_EMBEDDINGS_DURATION,
  LATEST_METRIC_GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS,
  LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_DURATION,
  LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
  LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS,
  LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK,
  LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK,
  LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS,
  LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS,
  LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS,
  LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS,
  METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
  METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
  METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
  METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
} from './semconv.js';

/** Bucket boundaries the GenAI conventions give for the duration and chunk-time histograms (seconds). */
export const OPERATION_DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/** Bucket boundaries the GenAI conventions give for the token histograms. */
export const TOKEN_USAGE_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];

/** How a GenAI call ended, as its metrics need it. */
export interface CallEnd {
  readonly operationName: GenAIOperation['operationName'];
  /**
   * `succeeded`; `failed` (gave up, or a stream failed after its first chunk); `abandoned` (a stream
   * garbage-collected unended: no duration, as the time until a collection says nothing of the operation).
   */
  readonly outcome: 'succeeded' | 'failed' | 'abandoned';
  readonly seconds: number;
  /** The end's metric attributes: the call's, the response model on success, `error.type` on failure. */
  readonly attributes: Readonly<Attributes>;
  /** The call's attributes without `error.type`, for what is counted whatever the outcome. */
  readonly callAttributes: Readonly<Attributes>;
  /** What the response reported (on failure, what a stream had delivered). */
  readonly summary: ResponseSummary | undefined;
}

export interface GenAIMetrics {
  ended(end: CallEnd): void;
  /** A stream's first chunk of substance, `seconds` after the attempt that produced it started. */
  firstChunk(seconds: number, attributes: Readonly<Attributes>): void;
  /** A stream's chunk after the first, `seconds` after the one before it. */
  chunk(seconds: number, attributes: Readonly<Attributes>): void;
}

function secondsHistogram(meter: Meter, name: string, description: string): Histogram {
  return meter.createHistogram(name, {
    unit: 's',
    description,
    advice: { explicitBucketBoundaries: OPERATION_DURATION_BUCKETS },
  });
}

function tokenHistogram(meter: Meter, name: string, description: string): Histogram {
  return meter.createHistogram(name, {
    unit: '{token}',
    description,
    advice: { explicitBucketBoundaries: TOKEN_USAGE_BUCKETS },
  });
}

const FIRST_CHUNK =
  'Time to the first chunk of a streamed GenAI operation, from the attempt that produced it.';
const NEXT_CHUNK = 'Time per output chunk of a stream after its first, from the end of the chunk before.';

/** The names of `@opentelemetry/semantic-conventions` 1.45: what this library has always emitted. */
export function publishedGenAIMetrics(meter: Meter): GenAIMetrics {
  const duration = secondsHistogram(
    meter,
    METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
    'GenAI operation duration, over all attempts and backoff sleeps.',
  );
  const tokens = tokenHistogram(
    meter,
    METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
    'Number of input and output tokens used.',
  );
  const firstChunk = secondsHistogram(meter, METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK, FIRST_CHUNK);
  const nextChunk = secondsHistogram(meter, METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK, NEXT_CHUNK);
  return {
    ended({ outcome, seconds, attributes, summary }) {
      if (outcome === 'abandoned') return;
      duration.record(seconds, attributes);
      if (outcome !== 'succeeded' || !summary) return;
      const sets = tokenAttributes(attributes);
      if (summary.inputTokens !== undefined) tokens.record(summary.inputTokens, sets.input);
      if (summary.outputTokens !== undefined) tokens.record(summary.outputTokens, sets.output);
    },
    firstChunk: (seconds, attributes) => firstChunk.record(seconds, attributes),
    chunk: (seconds, attributes) => nextChunk.record(seconds, attributes),
  };
}

/** The names of the conventions' own repository at GENAI_LATEST_CONVENTIONS. */
export function latestGenAIMetrics(meter: Meter): GenAIMetrics {
  const inferenceDuration = secondsHistogram(
    meter,
    LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_DURATION,
    'GenAI client inference operation duration, over all attempts and backoff sleeps.',
  );
  const embeddingsDuration = secondsHistogram(
    meter,
    LATEST_METRIC_GEN_AI_CLIENT_EMBEDDINGS_DURATION,
    'GenAI client embeddings operation duration, over all attempts and backoff sleeps.',
  );
  const firstChunk = secondsHistogram(
    meter,
    LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK,
    FIRST_CHUNK,
  );
  const nextChunk = secondsHistogram(
    meter,
    LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK,
    NEXT_CHUNK,
  );
  const counter = (name: string, description: string) =>
    meter.createCounter(name, { unit: '{token}', description });
  const spent = {
    input: counter(
      LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS,
      'The number of input (prompt) tokens used, including cached tokens.',
    ),
    output: counter(
      LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS,
      'The number of output (completion) tokens used, including reasoning tokens.',
    ),
    cacheRead: counter(
      LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS,
      'The number of input tokens served from a provider-managed cache.',
    ),
    reasoning: counter(
      LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS,
      'The number of output tokens used for reasoning.',
    ),
  };
  const perCall = {
    input: tokenHistogram(
      meter,
      LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
      'The number of input (prompt) tokens used per inference operation.',
    ),
    output: tokenHistogram(
      meter,
      LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS,
      'The number of output (completion) tokens used per inference operation.',
    ),
    embeddings: tokenHistogram(
      meter,
      LATEST_METRIC_GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS,
      'The number of input tokens used per embeddings operation.',
    ),
  };
  return {
    ended({ operationName, outcome, seconds, attributes, callAttributes, summary }) {
      const embeddings = operationName === GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS;
      if (outcome !== 'abandoned')
        (embeddings ? embeddingsDuration : inferenceDuration).record(seconds, attributes);
      if (!summary) return;
      const { inputTokens, outputTokens } = summary;
      // The per-call histograms describe successful calls only; what a failed one spent is still counted.
      if (outcome === 'succeeded') {
        if (embeddings) {
          if (inputTokens !== undefined) perCall.embeddings.record(inputTokens, attributes);
        } else {
          if (inputTokens !== undefined) perCall.input.record(inputTokens, attributes);
          if (outputTokens !== undefined) perCall.output.record(outputTokens, attributes);
        }
      }
      if (embeddings) return;
      const counted = modalityAttributes(outcome === 'succeeded' ? attributes : callAttributes);
      if (inputTokens !== undefined) spent.input.add(inputTokens, counted);
      if (outputTokens !== undefined) spent.output.add(outputTokens, counted);
      if (summary.cachedInputTokens !== undefined) spent.cacheRead.add(summary.cachedInputTokens, counted);
      if (summary.reasoningTokens !== undefined) spent.reasoning.add(summary.reasoningTokens, counted);
    },
    firstChunk: (seconds, attributes) => firstChunk.record(seconds, attributes),
    chunk: (seconds, attributes) => nextChunk.record(seconds, attributes),
  };
}
