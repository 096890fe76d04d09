/**
 * What the attempt loop needs to know about one kind of request, and nothing about how it is retried. The
 * loop (src/call/) is the same for every request; an operation adds what differs: its GenAI telemetry
 * (attributes, the summary of a result, the accumulation of a stream) and, for streams, which event is the
 * first of substance (after it, a failure reaches the caller instead of being retried).
 */
import type { Attributes } from '@opentelemetry/api';
import type {
  GEN_AI_OPERATION_NAME_VALUE_CHAT,
  GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS,
  OPENAI_API_TYPE_VALUE_CHAT_COMPLETIONS,
  OPENAI_API_TYPE_VALUE_RESPONSES,
} from '../telemetry/semconv.js';

/** What the span and the metrics record of a result, or of a stream's events accumulated so far. */
export interface ResponseSummary {
  id?: string | undefined;
  model?: string | undefined;
  finishReasons: string[];
  inputTokens?: number | undefined;
  outputTokens?: number | undefined;
  cachedInputTokens?: number | undefined;
  reasoningTokens?: number | undefined;
  serviceTier?: string | null | undefined;
  systemFingerprint?: string | null | undefined;
  dimensionCount?: number | undefined;
}

/** Folds a stream's events into a summary (and, when content capture is on, the output messages). */
export interface StreamAccumulator {
  add(event: unknown): void;
  summary(): ResponseSummary;
  /** `gen_ai.output.messages` as JSON; only asked when content capture is on. */
  outputMessages(): string | undefined;
}

/** The GenAI telemetry of an operation: one CLIENT span per call, the GenAI histograms. */
export interface GenAIOperation {
  /** `gen_ai.operation.name`. */
  readonly operationName:
    | typeof GEN_AI_OPERATION_NAME_VALUE_CHAT
    | typeof GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS;
  /** `openai.api.type`, where the OpenAI conventions define one. */
  readonly apiType:
    | typeof OPENAI_API_TYPE_VALUE_CHAT_COMPLETIONS
    | typeof OPENAI_API_TYPE_VALUE_RESPONSES
    | undefined;
  /** Attributes from the request body that the conventions name (only those the caller set). */
  requestAttributes(body: unknown): Attributes;
  /** `gen_ai.input.messages` as JSON (content capture only); undefined where the operation has none. */
  inputMessages(body: unknown): string | undefined;
  summarize(result: unknown): ResponseSummary;
  /** `gen_ai.output.messages` as JSON for a whole result (content capture only). */
  outputMessages(result: unknown): string | undefined;
  newAccumulator(captureContent: boolean): StreamAccumulator;
}

export interface Operation {
  /** Bounded name for metrics (`resilient_chat.operation`): method and path template. */
  readonly name: string;
  /** GenAI telemetry, or undefined for requests that are not GenAI operations (counters only, no span). */
  readonly genAI: GenAIOperation | undefined;
  /** For streams: whether this event carries something the caller must see. */
  hasSubstance(event: unknown): boolean;
}

/** Sets `key` when `value` is a primitive an attribute can hold. */
export function setPrimitive(attributes: Attributes, key: string, value: unknown): void {
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean')
    attributes[key] = value;
}
