/**
 * GenAI semantic-convention attributes for a chat completion: from the request parameters, the response,
 * and the client's base URL. Names come from the pinned @opentelemetry/semantic-conventions package.
 */
import type { Attributes } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '@opentelemetry/semantic-conventions';
import {
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_CHOICE_COUNT,
  ATTR_GEN_AI_REQUEST_FREQUENCY_PENALTY,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_PRESENCE_PENALTY,
  ATTR_GEN_AI_REQUEST_SEED,
  ATTR_GEN_AI_REQUEST_STOP_SEQUENCES,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_REQUEST_TEMPERATURE,
  ATTR_GEN_AI_REQUEST_TOP_P,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_OPENAI_RESPONSE_SERVICE_TIER,
  ATTR_OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
  GEN_AI_OPERATION_NAME_VALUE_CHAT,
  GEN_AI_PROVIDER_NAME_VALUE_OPENAI,
} from '@opentelemetry/semantic-conventions/incubating';
import type OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionCreateParams } from 'openai/resources/chat/completions';

export {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
};

/** Attributes every span, event and metric point of a call shares. */
export function operationAttributes(model: string): Attributes {
  return {
    [ATTR_GEN_AI_OPERATION_NAME]: GEN_AI_OPERATION_NAME_VALUE_CHAT,
    [ATTR_GEN_AI_PROVIDER_NAME]: GEN_AI_PROVIDER_NAME_VALUE_OPENAI,
    [ATTR_GEN_AI_REQUEST_MODEL]: model,
  };
}

const extended = new WeakMap<Attributes, Map<string, Readonly<Attributes>>>();
const MAX_CACHED_VARIANTS = 64;

/**
 * `base` plus one attribute, made once per base set and value and shared read-only (metric points of every
 * call reuse them: building fresh objects per call showed in the overhead profile). Values here are
 * low-cardinality by design: response models, token types.
 */
export function withAttribute(base: Readonly<Attributes>, key: string, value: string): Readonly<Attributes> {
  let byValue = extended.get(base);
  if (!byValue) {
    byValue = new Map();
    extended.set(base, byValue);
  }
  const id = `${key}=${value}`;
  let attributes = byValue.get(id);
  if (!attributes) {
    attributes = Object.freeze({ ...base, [key]: value });
    // A server names the response model: never let what it sends grow this cache without bound.
    if (byValue.size < MAX_CACHED_VARIANTS) byValue.set(id, attributes);
  }
  return attributes;
}

const callAttributesByClient = new WeakMap<OpenAI, Map<string, Readonly<Attributes>>>();

/**
 * Operation and server attributes of a call, made once per client and model and shared read-only: they go on
 * every span and metric point of the call, and building them per call showed in the overhead profile.
 */
export function callAttributes(client: OpenAI, model: string): Readonly<Attributes> {
  let byModel = callAttributesByClient.get(client);
  if (!byModel) {
    byModel = new Map();
    callAttributesByClient.set(client, byModel);
  }
  let attributes = byModel.get(model);
  if (!attributes) {
    attributes = Object.freeze({ ...operationAttributes(model), ...serverAttributes(client) });
    byModel.set(model, attributes);
  }
  return attributes;
}

export function spanName(model: string): string {
  return `${GEN_AI_OPERATION_NAME_VALUE_CHAT} ${model}`;
}

/** Request parameters the conventions name; only those the caller set. */
export function requestAttributes(params: ChatCompletionCreateParams): Attributes {
  const attributes: Attributes = {};
  const set = (key: string, value: unknown) => {
    if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean')
      attributes[key] = value;
  };
  set(ATTR_GEN_AI_REQUEST_MAX_TOKENS, params.max_completion_tokens ?? params.max_tokens);
  set(ATTR_GEN_AI_REQUEST_TEMPERATURE, params.temperature);
  set(ATTR_GEN_AI_REQUEST_TOP_P, params.top_p);
  set(ATTR_GEN_AI_REQUEST_FREQUENCY_PENALTY, params.frequency_penalty);
  set(ATTR_GEN_AI_REQUEST_PRESENCE_PENALTY, params.presence_penalty);
  set(ATTR_GEN_AI_REQUEST_SEED, params.seed);
  set(ATTR_GEN_AI_REQUEST_STREAM, params.stream === true);
  if (typeof params.n === 'number' && params.n !== 1) attributes[ATTR_GEN_AI_REQUEST_CHOICE_COUNT] = params.n;
  if (typeof params.stop === 'string') attributes[ATTR_GEN_AI_REQUEST_STOP_SEQUENCES] = [params.stop];
  else if (Array.isArray(params.stop)) attributes[ATTR_GEN_AI_REQUEST_STOP_SEQUENCES] = params.stop;
  return attributes;
}

/** The parts of a completion (or of the accumulated chunks of a stream) that the conventions record. */
export interface ResponseSummary {
  id?: string | undefined;
  model?: string | undefined;
  finishReasons: string[];
  inputTokens?: number | undefined;
  outputTokens?: number | undefined;
  serviceTier?: string | null | undefined;
  systemFingerprint?: string | null | undefined;
}

export function summarizeCompletion(completion: ChatCompletion | null | undefined): ResponseSummary {
  // A proxy may answer 200 with a body that is not a completion; record what there is.
  if (!completion || typeof completion !== 'object') return { finishReasons: [] };
  return {
    id: completion.id,
    model: completion.model,
    finishReasons: (completion.choices ?? [])
      .map((c) => c.finish_reason)
      .filter((r): r is NonNullable<typeof r> => !!r),
    inputTokens: completion.usage?.prompt_tokens,
    outputTokens: completion.usage?.completion_tokens,
    serviceTier: completion.service_tier,
    systemFingerprint: completion.system_fingerprint,
  };
}

export function responseAttributes(summary: ResponseSummary): Attributes {
  const attributes: Attributes = {};
  if (summary.id) attributes[ATTR_GEN_AI_RESPONSE_ID] = summary.id;
  if (summary.model) attributes[ATTR_GEN_AI_RESPONSE_MODEL] = summary.model;
  if (summary.finishReasons.length > 0)
    attributes[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = summary.finishReasons;
  if (summary.inputTokens !== undefined) attributes[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = summary.inputTokens;
  if (summary.outputTokens !== undefined) attributes[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = summary.outputTokens;
  if (summary.serviceTier) attributes[ATTR_OPENAI_RESPONSE_SERVICE_TIER] = summary.serviceTier;
  if (summary.systemFingerprint)
    attributes[ATTR_OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = summary.systemFingerprint;
  return attributes;
}

const serverByClient = new WeakMap<OpenAI, Attributes>();

/** `server.address` and `server.port` of a client's base URL (port made explicit, as the conventions ask). */
export function serverAttributes(client: OpenAI): Attributes {
  let attributes = serverByClient.get(client);
  if (!attributes) {
    attributes = {};
    try {
      const url = new URL(client.baseURL);
      attributes[ATTR_SERVER_ADDRESS] = url.hostname.replace(/^\[(.*)\]$/, '$1');
      attributes[ATTR_SERVER_PORT] = url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
    } catch {
      // A base URL that does not parse is openai-node's to report; the span just lacks server.*.
    }
    serverByClient.set(client, attributes);
  }
  return attributes;
}
