/** `POST /responses`: the Responses API (JSON and streamed events). */
import type { Attributes } from '@opentelemetry/api';
import type {
  Response,
  ResponseCreateParams,
  ResponseStreamEvent,
} from 'openai/resources/responses/responses';
import {
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_REQUEST_TEMPERATURE,
  ATTR_GEN_AI_REQUEST_TOP_P,
  ATTR_OPENAI_REQUEST_SERVICE_TIER,
  GEN_AI_OPERATION_NAME_VALUE_CHAT,
  OPENAI_API_TYPE_VALUE_RESPONSES,
} from '../telemetry/semconv.js';
import {
  type GenAIOperation,
  type Operation,
  type ResponseSummary,
  type StreamAccumulator,
  setPrimitive,
} from './operation.js';

/**
 * Lifecycle events that carry no output: held back (and so still retryable) the way role-only chat chunks
 * are. Everything else, output deltas, output items, an error or a finished response, is substance.
 */
const LIFECYCLE_EVENTS = new Set(['response.created', 'response.in_progress', 'response.queued']);

/** The events whose `response` is the finished (or failed) response with its usage. */
const FINAL_EVENTS = new Set(['response.completed', 'response.incomplete', 'response.failed']);

function summarizeResponse(response: Response | null | undefined): ResponseSummary {
  if (!response || typeof response !== 'object') return { finishReasons: [] };
  const finish = response.incomplete_details?.reason ?? response.status;
  const usage = response.usage;
  return {
    id: response.id,
    model: response.model,
    finishReasons: typeof finish === 'string' ? [finish] : [],
    inputTokens: usage?.input_tokens,
    outputTokens: usage?.output_tokens,
    cachedInputTokens: usage?.input_tokens_details?.cached_tokens,
    reasoningTokens: usage?.output_tokens_details?.reasoning_tokens,
    serviceTier: response.service_tier,
  };
}

type Part = Record<string, unknown>;

/** `gen_ai.input.messages`: instructions as a system message, then the input (a string or items). */
function inputMessages(body: unknown): string {
  const params = body as ResponseCreateParams;
  const messages: { role: string; parts: Part[] }[] = [];
  if (typeof params.instructions === 'string')
    messages.push({ role: 'system', parts: [{ type: 'text', content: params.instructions }] });
  if (typeof params.input === 'string') {
    messages.push({ role: 'user', parts: [{ type: 'text', content: params.input }] });
  } else if (Array.isArray(params.input)) {
    for (const item of params.input as unknown[]) {
      const { role, content, type } = item as { role?: unknown; content?: unknown; type?: unknown };
      if (typeof role !== 'string') {
        messages.push({ role: 'user', parts: [{ type: String(type ?? 'item') }] });
        continue;
      }
      const parts: Part[] = [];
      if (typeof content === 'string') parts.push({ type: 'text', content });
      else if (Array.isArray(content)) {
        for (const part of content as { type?: unknown; text?: unknown }[]) {
          parts.push(
            typeof part.text === 'string'
              ? { type: 'text', content: part.text }
              : { type: String(part.type) },
          );
        }
      }
      messages.push({ role, parts });
    }
  }
  return JSON.stringify(messages);
}

/** `gen_ai.output.messages`: the assistant's text and function calls. */
function outputMessages(response: Response | null | undefined): string {
  const parts: Part[] = [];
  for (const item of response?.output ?? []) {
    if (item.type === 'message') {
      for (const part of item.content) {
        if (part.type === 'output_text') parts.push({ type: 'text', content: part.text });
        else if (part.type === 'refusal') parts.push({ type: 'refusal', content: part.refusal });
      }
    } else if (item.type === 'function_call') {
      parts.push({ type: 'tool_call', id: item.call_id, name: item.name, arguments: item.arguments });
    } else {
      parts.push({ type: item.type });
    }
  }
  const finish = response?.incomplete_details?.reason ?? response?.status;
  return JSON.stringify([{ role: 'assistant', parts, ...(finish ? { finish_reason: finish } : {}) }]);
}

const responsesGenAI: GenAIOperation = {
  operationName: GEN_AI_OPERATION_NAME_VALUE_CHAT,
  apiType: OPENAI_API_TYPE_VALUE_RESPONSES,
  requestAttributes(body) {
    const params = body as ResponseCreateParams;
    const attributes: Attributes = {};
    setPrimitive(attributes, ATTR_GEN_AI_REQUEST_MAX_TOKENS, params.max_output_tokens);
    setPrimitive(attributes, ATTR_GEN_AI_REQUEST_TEMPERATURE, params.temperature);
    setPrimitive(attributes, ATTR_GEN_AI_REQUEST_TOP_P, params.top_p);
    setPrimitive(attributes, ATTR_OPENAI_REQUEST_SERVICE_TIER, params.service_tier);
    attributes[ATTR_GEN_AI_REQUEST_STREAM] = params.stream === true;
    return attributes;
  },
  inputMessages,
  summarize: (result) => summarizeResponse(result as Response),
  outputMessages: (result) => outputMessages(result as Response),
  newAccumulator: () => new ResponseEventAccumulator(),
};

export const responsesOperation: Operation = {
  name: 'POST /responses',
  genAI: responsesGenAI,
  hasSubstance(event) {
    const type = (event as { type?: unknown } | null)?.type;
    return typeof type !== 'string' || !LIFECYCLE_EVENTS.has(type);
  },
};

/** Keeps the latest response a stream's lifecycle events carried; the final one has the usage. */
class ResponseEventAccumulator implements StreamAccumulator {
  #response: Response | undefined;
  #final = false;

  add(event: unknown): void {
    const { type, response } = event as ResponseStreamEvent & { response?: Response };
    if (!response || typeof response !== 'object' || this.#final) return;
    this.#response = response;
    this.#final = FINAL_EVENTS.has(type);
  }

  summary(): ResponseSummary {
    return summarizeResponse(this.#response);
  }

  outputMessages(): string {
    return outputMessages(this.#response);
  }
}
