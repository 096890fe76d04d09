/** `POST /chat/completions`: the Chat Completions API (JSON and streamed chunks). */
import type { Attributes } from '@opentelemetry/api';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
} from 'openai/resources/chat/completions';
import { choicesOf, inputMessages, type OutputChoice, outputMessages } from '../telemetry/content.js';
import {
  ATTR_GEN_AI_REQUEST_CHOICE_COUNT,
  ATTR_GEN_AI_REQUEST_FREQUENCY_PENALTY,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_PRESENCE_PENALTY,
  ATTR_GEN_AI_REQUEST_SEED,
  ATTR_GEN_AI_REQUEST_STOP_SEQUENCES,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_REQUEST_TEMPERATURE,
  ATTR_GEN_AI_REQUEST_TOP_P,
  ATTR_OPENAI_REQUEST_SERVICE_TIER,
  GEN_AI_OPERATION_NAME_VALUE_CHAT,
  OPENAI_API_TYPE_VALUE_CHAT_COMPLETIONS,
} from '../telemetry/semconv.js';
import {
  type GenAIOperation,
  type Operation,
  type ResponseSummary,
  type StreamAccumulator,
  setPrimitive,
} from './operation.js';

type Usage = ChatCompletion['usage'];

function usageSummary(usage: Usage | null | undefined): Partial<ResponseSummary> {
  if (!usage) return {};
  return {
    inputTokens: usage.prompt_tokens,
    outputTokens: usage.completion_tokens,
    cachedInputTokens: usage.prompt_tokens_details?.cached_tokens,
    reasoningTokens: usage.completion_tokens_details?.reasoning_tokens,
  };
}

const chatGenAI: GenAIOperation = {
  operationName: GEN_AI_OPERATION_NAME_VALUE_CHAT,
  apiType: OPENAI_API_TYPE_VALUE_CHAT_COMPLETIONS,
  requestAttributes(body) {
    const params = body as ChatCompletionCreateParams;
    const attributes: Attributes = {};
    setPrimitive(
      attributes,
      ATTR_GEN_AI_REQUEST_MAX_TOKENS,
      params.max_completion_tokens ?? params.max_tokens,
    );
    setPrimitive(attributes, ATTR_GEN_AI_REQUEST_TEMPERATURE, params.temperature);
    setPrimitive(attributes, ATTR_GEN_AI_REQUEST_TOP_P, params.top_p);
    setPrimitive(attributes, ATTR_GEN_AI_REQUEST_FREQUENCY_PENALTY, params.frequency_penalty);
    setPrimitive(attributes, ATTR_GEN_AI_REQUEST_PRESENCE_PENALTY, params.presence_penalty);
    setPrimitive(attributes, ATTR_GEN_AI_REQUEST_SEED, params.seed);
    setPrimitive(attributes, ATTR_OPENAI_REQUEST_SERVICE_TIER, params.service_tier);
    attributes[ATTR_GEN_AI_REQUEST_STREAM] = params.stream === true;
    if (typeof params.n === 'number' && params.n !== 1)
      attributes[ATTR_GEN_AI_REQUEST_CHOICE_COUNT] = params.n;
    if (typeof params.stop === 'string') attributes[ATTR_GEN_AI_REQUEST_STOP_SEQUENCES] = [params.stop];
    else if (Array.isArray(params.stop)) attributes[ATTR_GEN_AI_REQUEST_STOP_SEQUENCES] = params.stop;
    return attributes;
  },
  inputMessages: (body) => inputMessages((body as ChatCompletionCreateParams).messages),
  summarize(result) {
    const completion = result as ChatCompletion | null | undefined;
    // A proxy may answer 200 with a body that is not a completion; record what there is.
    if (!completion || typeof completion !== 'object') return { finishReasons: [] };
    const finishReasons: string[] = [];
    for (const choice of completion.choices ?? [])
      if (choice.finish_reason) finishReasons.push(choice.finish_reason);
    const { usage } = completion;
    // Written out rather than spread from usageSummary(): this runs on every call.
    return {
      id: completion.id,
      model: completion.model,
      finishReasons,
      inputTokens: usage?.prompt_tokens,
      outputTokens: usage?.completion_tokens,
      cachedInputTokens: usage?.prompt_tokens_details?.cached_tokens,
      reasoningTokens: usage?.completion_tokens_details?.reasoning_tokens,
      serviceTier: completion.service_tier,
      systemFingerprint: completion.system_fingerprint,
    };
  },
  outputMessages: (result) => outputMessages(choicesOf(result as ChatCompletion)),
  newAccumulator: (captureContent) => new ChunkAccumulator(captureContent),
};

export const chatOperation: Operation = {
  name: 'POST /chat/completions',
  genAI: chatGenAI,
  hasSubstance(event) {
    const chunk = event as ChatCompletionChunk;
    if (chunk?.usage) return true;
    return (chunk?.choices ?? []).some(
      (c) =>
        !!c.delta?.content ||
        !!c.delta?.refusal ||
        (c.delta?.tool_calls?.length ?? 0) > 0 ||
        !!c.finish_reason,
    );
  },
};

/** Folds chunks into what the span records: id, model, finish reasons, usage and (opt-in) content. */
class ChunkAccumulator implements StreamAccumulator {
  #id: string | undefined;
  #model: string | undefined;
  #usage: Usage | undefined;
  #serviceTier: string | null | undefined;
  #fingerprint: string | undefined;
  readonly #choices = new Map<number, OutputChoice>();
  readonly #captureOutput: boolean;

  constructor(captureOutput: boolean) {
    this.#captureOutput = captureOutput;
  }

  add(event: unknown): void {
    const chunk = event as ChatCompletionChunk;
    this.#id ??= chunk.id;
    this.#model ??= chunk.model;
    if (chunk.usage) this.#usage = chunk.usage;
    if (chunk.service_tier) this.#serviceTier = chunk.service_tier;
    if (chunk.system_fingerprint) this.#fingerprint = chunk.system_fingerprint;
    for (const choice of chunk.choices ?? []) {
      let out = this.#choices.get(choice.index);
      if (!out) {
        out = { text: '', toolCalls: [] };
        this.#choices.set(choice.index, out);
      }
      if (choice.finish_reason) out.finishReason = choice.finish_reason;
      if (!this.#captureOutput) continue;
      if (choice.delta?.content) out.text += choice.delta.content;
      for (const call of choice.delta?.tool_calls ?? []) {
        const existing = out.toolCalls[call.index] ?? {};
        out.toolCalls[call.index] = existing;
        if (call.id) existing.id = call.id;
        if (call.function?.name) existing.name = call.function.name;
        if (call.function?.arguments)
          existing.arguments = (existing.arguments ?? '') + call.function.arguments;
      }
    }
  }

  summary(): ResponseSummary {
    return {
      id: this.#id,
      model: this.#model,
      finishReasons: this.#ordered()
        .map((c) => c.finishReason)
        .filter((r): r is string => !!r),
      ...usageSummary(this.#usage),
      serviceTier: this.#serviceTier,
      systemFingerprint: this.#fingerprint,
    };
  }

  outputMessages(): string {
    return outputMessages(this.#ordered());
  }

  #ordered(): OutputChoice[] {
    return [...this.#choices.entries()].sort(([a], [b]) => a - b).map(([, c]) => c);
  }
}
