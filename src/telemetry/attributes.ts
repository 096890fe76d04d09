/**
 * Attribute sets of a call: what every span, event and metric point of a call shares (made once per client,
 * operation and model, and shared read-only: every call of that shape has the same ones), and
 * what a response adds.
 */
import type { Attributes } from '@opentelemetry/api';
import type OpenAI from 'openai';
import { serverAttributes } from '../clients/endpoint.js';
import { type LruMap, lruFor } from '../lru-map.js';
import type { Operation, ResponseSummary } from '../operations/index.js';
import {
  ATTR_GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_TOKEN_TYPE,
  ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  ATTR_OPENAI_API_TYPE,
  ATTR_OPENAI_RESPONSE_SERVICE_TIER,
  ATTR_OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
  ATTR_OPERATION,
  GEN_AI_PROVIDER_NAME_VALUE_OPENAI,
  GEN_AI_TOKEN_TYPE_VALUE_INPUT,
  GEN_AI_TOKEN_TYPE_VALUE_OUTPUT,
  LATEST_ATTR_GEN_AI_TOKEN_MODALITY,
  LATEST_GEN_AI_TOKEN_MODALITY_VALUE_UNKNOWN,
} from './semconv.js';

/**
 * What a call of an operation and model starts with, made once per pair: its span name, and the attributes
 * it has before it knows its server (GenAI operations: the operation, provider, model and API type; other
 * requests: their bounded operation name).
 */
export interface CallShape {
  readonly spanName: string;
  readonly attributes: Readonly<Attributes>;
}

/** Models are user-supplied, so the shapes remembered per operation are bounded. */
const MAX_SHAPES_PER_OPERATION = 256;
const shapes = new WeakMap<Operation, LruMap<string, CallShape>>();
/** The last shape asked for: a service mostly calls one operation with one model, and a hit here is free. */
let last: CallShape | undefined;
let lastOperation: Operation | undefined;
let lastModel: string | undefined;

export function shapeOf(operation: Operation, model: string | undefined): CallShape {
  if (last && operation === lastOperation && model === lastModel) return last;
  const byModel = lruFor(shapes, operation, MAX_SHAPES_PER_OPERATION);
  const key = model ?? '';
  let shape = byModel.get(key);
  if (!shape) {
    shape = Object.freeze({
      spanName: spanName(operation, model),
      attributes: Object.freeze(newOperationAttributes(operation, model)),
    });
    byModel.set(key, shape);
  }
  last = shape;
  lastOperation = operation;
  lastModel = model;
  return shape;
}

function newOperationAttributes(operation: Operation, model: string | undefined): Attributes {
  const { genAI } = operation;
  if (!genAI) return { [ATTR_OPERATION]: operation.name };
  const attributes: Attributes = {
    [ATTR_GEN_AI_OPERATION_NAME]: genAI.operationName,
    [ATTR_GEN_AI_PROVIDER_NAME]: GEN_AI_PROVIDER_NAME_VALUE_OPENAI,
  };
  if (model !== undefined) attributes[ATTR_GEN_AI_REQUEST_MODEL] = model;
  if (genAI.apiType) attributes[ATTR_OPENAI_API_TYPE] = genAI.apiType;
  return attributes;
}

/**
 * The same attributes, keys in sorted order. The metrics SDK hashes a point's attributes on every record
 * (`Object.keys(attributes).sort()`, then `JSON.stringify`): keys already in order sort in one pass, which
 * counts on every metric point (per call, and per chunk for `time_per_output_chunk`). Used for the shared
 * metric attribute sets, which are made once.
 */
function sortedKeys(attributes: Attributes): Attributes {
  const sorted: Attributes = {};
  for (const key of Object.keys(attributes).sort()) sorted[key] = attributes[key];
  return sorted;
}

/** Per call shape (operation and model), per client: both keys are weak, so nothing here needs a bound. */
const callAttributesByShape = new WeakMap<CallShape, WeakMap<OpenAI, Readonly<Attributes>>>();

/**
 * Operation and server attributes of a call, made once per client, operation and model. Two WeakMap reads,
 * unbounded and without reordering (both keys are weak, so nothing here needs an LRU's bound).
 */
export function callAttributes(
  client: OpenAI,
  operation: Operation,
  model: string | undefined,
): Readonly<Attributes> {
  const shape = shapeOf(operation, model);
  let byClient = callAttributesByShape.get(shape);
  if (!byClient) {
    byClient = new WeakMap();
    callAttributesByShape.set(shape, byClient);
  }
  let attributes = byClient.get(client);
  if (!attributes) {
    attributes = Object.freeze(sortedKeys({ ...shape.attributes, ...serverAttributes(client) }));
    byClient.set(client, attributes);
  }
  return attributes;
}

const withModel = new WeakMap<Attributes, Map<string, Readonly<Attributes>>>();
const MAX_CACHED_RESPONSE_MODELS = 64;

/**
 * A call's metric attributes once the response named its model: `base` plus `gen_ai.response.model`, made
 * once per base set and model and shared read-only, one WeakMap and one Map read per call.
 */
export function responseMetricAttributes(
  base: Readonly<Attributes>,
  model: string | undefined,
): Readonly<Attributes> {
  if (!model) return base;
  let byModel = withModel.get(base);
  if (!byModel) {
    byModel = new Map();
    withModel.set(base, byModel);
  }
  let found = byModel.get(model);
  if (!found) {
    found = Object.freeze(sortedKeys({ ...base, [ATTR_GEN_AI_RESPONSE_MODEL]: model }));
    // A server names the response model: never let what it sends grow this cache without bound.
    if (byModel.size < MAX_CACHED_RESPONSE_MODELS) byModel.set(model, found);
  }
  return found;
}

export function spanName(operation: Operation, model: string | undefined): string {
  const name = operation.genAI?.operationName ?? operation.name;
  return model === undefined ? name : `${name} ${model}`;
}

/** The two token-usage sets of a metric attribute set (`gen_ai.token.type` input and output), made once. */
export interface TokenAttributes {
  readonly input: Readonly<Attributes>;
  readonly output: Readonly<Attributes>;
}

const tokenSets = new WeakMap<Attributes, TokenAttributes>();

export function tokenAttributes(base: Readonly<Attributes>): TokenAttributes {
  let sets = tokenSets.get(base);
  if (!sets) {
    sets = Object.freeze({
      input: Object.freeze(sortedKeys({ ...base, [ATTR_GEN_AI_TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_INPUT })),
      output: Object.freeze(
        sortedKeys({ ...base, [ATTR_GEN_AI_TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_OUTPUT }),
      ),
    });
    tokenSets.set(base, sets);
  }
  return sets;
}

const modalitySets = new WeakMap<Attributes, Readonly<Attributes>>();

/** A metric attribute set with `gen_ai.token.modality` (the latest conventions' usage counters), made once. */
export function modalityAttributes(base: Readonly<Attributes>): Readonly<Attributes> {
  let set = modalitySets.get(base);
  if (!set) {
    set = Object.freeze(
      sortedKeys({
        ...base,
        [LATEST_ATTR_GEN_AI_TOKEN_MODALITY]: LATEST_GEN_AI_TOKEN_MODALITY_VALUE_UNKNOWN,
      }),
    );
    modalitySets.set(base, set);
  }
  return set;
}

/** The response's span attributes, written into `attributes` (one object per call, set on the span at once). */
export function responseAttributes(summary: ResponseSummary, attributes: Attributes = {}): Attributes {
  if (summary.id) attributes[ATTR_GEN_AI_RESPONSE_ID] = summary.id;
  if (summary.model) attributes[ATTR_GEN_AI_RESPONSE_MODEL] = summary.model;
  if (summary.finishReasons.length > 0)
    attributes[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = summary.finishReasons;
  if (summary.inputTokens !== undefined) attributes[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = summary.inputTokens;
  if (summary.outputTokens !== undefined) attributes[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = summary.outputTokens;
  if (summary.cachedInputTokens !== undefined)
    attributes[ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = summary.cachedInputTokens;
  if (summary.reasoningTokens !== undefined)
    attributes[ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = summary.reasoningTokens;
  if (summary.dimensionCount !== undefined)
    attributes[ATTR_GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = summary.dimensionCount;
  if (summary.serviceTier) attributes[ATTR_OPENAI_RESPONSE_SERVICE_TIER] = summary.serviceTier;
  if (summary.systemFingerprint)
    attributes[ATTR_OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = summary.systemFingerprint;
  return attributes;
}
