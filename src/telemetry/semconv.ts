/**
 * Every telemetry name this library emits, in one place.
 *
 * The GenAI names are copied here rather than imported: the GenAI conventions moved out of
 * `@opentelemetry/semantic-conventions` into their own repository (every `gen_ai` constant there is deprecated
 * since 1.45, and no package of the new repository is published yet), and that package's README advises
 * copying unstable constants. They follow the GenAI conventions as published for semantic-conventions 1.45
 * (`GENAI_CONVENTIONS_VERSION`); a test checks each against that package so a rename cannot slip in unseen.
 * The names under `resilient_chat.*` are this library's own, defined in src/telemetry/own-names.ts (the public
 * `telemetryNames`) and re-exported here, so a module takes every name it emits from this one.
 */
// An endpoint's attributes (server.address, server.port, gen_ai.request.model) are defined in a leaf that
// src/clients/ may import.
export { ATTR_GEN_AI_REQUEST_MODEL, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '../endpoint-attributes.js';
export * from './own-names.js';

/** The version of the GenAI semantic conventions these names follow. */
export const GENAI_CONVENTIONS_VERSION = '1.45.0';

/**
 * Where the names under `LATEST_*` come from: `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`
 * switches the GenAI metrics (and the exception event) to the conventions' own repository, pinned to this
 * commit (in development there: no release is tagged). A test checks each name against that commit's model files.
 */
export const GENAI_LATEST_CONVENTIONS = Object.freeze({
  repository: 'open-telemetry/semantic-conventions-genai',
  commit: '88eccb155ca7d6984826da1f4b1c08ee916e0f49',
});

// General (stable) conventions.
/** Attribute `error.type`. */
export const ATTR_ERROR_TYPE = 'error.type';
/** Attribute `exception.type` (on the exception event of the latest GenAI conventions: the error's class or code). */
export const ATTR_EXCEPTION_TYPE = 'exception.type';
/** Attribute `http.request.resend_count`: on an HTTP attempt span, how many requests of the call came before. */
export const ATTR_HTTP_REQUEST_RESEND_COUNT = 'http.request.resend_count';

// GenAI conventions: attributes.
/** Attribute `gen_ai.operation.name`. */
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
/** Attribute `gen_ai.provider.name`. */
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
/** Deprecated by `gen_ai.provider.name`; still emitted unless OTEL_SEMCONV_STABILITY_OPT_IN asks for the latest only. */
export const ATTR_GEN_AI_SYSTEM = 'gen_ai.system';
/** Attribute `gen_ai.request.max_tokens`. */
export const ATTR_GEN_AI_REQUEST_MAX_TOKENS = 'gen_ai.request.max_tokens';
/** Attribute `gen_ai.request.temperature`. */
export const ATTR_GEN_AI_REQUEST_TEMPERATURE = 'gen_ai.request.temperature';
/** Attribute `gen_ai.request.top_p`. */
export const ATTR_GEN_AI_REQUEST_TOP_P = 'gen_ai.request.top_p';
/** Attribute `gen_ai.request.frequency_penalty`. */
export const ATTR_GEN_AI_REQUEST_FREQUENCY_PENALTY = 'gen_ai.request.frequency_penalty';
/** Attribute `gen_ai.request.presence_penalty`. */
export const ATTR_GEN_AI_REQUEST_PRESENCE_PENALTY = 'gen_ai.request.presence_penalty';
/** Attribute `gen_ai.request.seed`. */
export const ATTR_GEN_AI_REQUEST_SEED = 'gen_ai.request.seed';
/** Attribute `gen_ai.request.stream`. */
export const ATTR_GEN_AI_REQUEST_STREAM = 'gen_ai.request.stream';
/** Attribute `gen_ai.request.choice.count`. */
export const ATTR_GEN_AI_REQUEST_CHOICE_COUNT = 'gen_ai.request.choice.count';
/** Attribute `gen_ai.request.stop_sequences`. */
export const ATTR_GEN_AI_REQUEST_STOP_SEQUENCES = 'gen_ai.request.stop_sequences';
/** Attribute `gen_ai.request.encoding_formats`. */
export const ATTR_GEN_AI_REQUEST_ENCODING_FORMATS = 'gen_ai.request.encoding_formats';
/** Attribute `gen_ai.response.id`. */
export const ATTR_GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
/** Attribute `gen_ai.response.model`. */
export const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
/** Attribute `gen_ai.response.finish_reasons`. */
export const ATTR_GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons';
/** Attribute `gen_ai.response.time_to_first_chunk`. */
export const ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = 'gen_ai.response.time_to_first_chunk';
/** Attribute `gen_ai.usage.input_tokens`. */
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
/** Attribute `gen_ai.usage.output_tokens`. */
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
/** Attribute `gen_ai.usage.cache_read.input_tokens`. */
export const ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = 'gen_ai.usage.cache_read.input_tokens';
/** Attribute `gen_ai.usage.reasoning.output_tokens`. */
export const ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = 'gen_ai.usage.reasoning.output_tokens';
/** Attribute `gen_ai.embeddings.dimension.count`. */
export const ATTR_GEN_AI_EMBEDDINGS_DIMENSION_COUNT = 'gen_ai.embeddings.dimension.count';
/** Attribute `gen_ai.input.messages`. */
export const ATTR_GEN_AI_INPUT_MESSAGES = 'gen_ai.input.messages';
/** Attribute `gen_ai.output.messages`. */
export const ATTR_GEN_AI_OUTPUT_MESSAGES = 'gen_ai.output.messages';
/** Attribute `gen_ai.token.type`. */
export const ATTR_GEN_AI_TOKEN_TYPE = 'gen_ai.token.type';

/** The value `chat`. */
export const GEN_AI_OPERATION_NAME_VALUE_CHAT = 'chat';
/** The value `embeddings`. */
export const GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS = 'embeddings';
/** The value `openai`. */
export const GEN_AI_PROVIDER_NAME_VALUE_OPENAI = 'openai';
/** The value `input`. */
export const GEN_AI_TOKEN_TYPE_VALUE_INPUT = 'input';
/** The value `output`. */
export const GEN_AI_TOKEN_TYPE_VALUE_OUTPUT = 'output';

// OpenAI conventions (they extend the GenAI ones).
/** Attribute `openai.api.type`. */
export const ATTR_OPENAI_API_TYPE = 'openai.api.type';
/** Attribute `openai.request.service_tier`. */
export const ATTR_OPENAI_REQUEST_SERVICE_TIER = 'openai.request.service_tier';
/** Attribute `openai.response.service_tier`. */
export const ATTR_OPENAI_RESPONSE_SERVICE_TIER = 'openai.response.service_tier';
/** Attribute `openai.response.system_fingerprint`. */
export const ATTR_OPENAI_RESPONSE_SYSTEM_FINGERPRINT = 'openai.response.system_fingerprint';
/** The value `chat_completions`. */
export const OPENAI_API_TYPE_VALUE_CHAT_COMPLETIONS = 'chat_completions';
/** The value `responses`. */
export const OPENAI_API_TYPE_VALUE_RESPONSES = 'responses';

// GenAI conventions: metrics.
/** Metric `gen_ai.client.operation.duration`. */
export const METRIC_GEN_AI_CLIENT_OPERATION_DURATION = 'gen_ai.client.operation.duration';
/** Metric `gen_ai.client.token.usage`. */
export const METRIC_GEN_AI_CLIENT_TOKEN_USAGE = 'gen_ai.client.token.usage';
/** Metric `gen_ai.client.operation.time_to_first_chunk`. */
export const METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK =
  'gen_ai.client.operation.time_to_first_chunk';
/** Metric `gen_ai.client.operation.time_per_output_chunk`. */
export const METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK =
  'gen_ai.client.operation.time_per_output_chunk';
/** Log-record event `gen_ai.client.operation.exception` (latest conventions only: a call that ended failed). */
export const EVENT_GEN_AI_CLIENT_OPERATION_EXCEPTION = 'gen_ai.client.operation.exception';

// GenAI conventions as in their own repository (GENAI_LATEST_CONVENTIONS): emitted instead of the metrics
// above with OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental.
/** Histogram `gen_ai.client.inference.duration` (chat and Responses; replaces operation.duration for them). */
export const LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_DURATION = 'gen_ai.client.inference.duration';
/** Histogram `gen_ai.client.embeddings.duration` (replaces operation.duration for embeddings). */
export const LATEST_METRIC_GEN_AI_CLIENT_EMBEDDINGS_DURATION = 'gen_ai.client.embeddings.duration';
/** Histogram `gen_ai.client.inference.time_to_first_chunk`. */
export const LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK =
  'gen_ai.client.inference.time_to_first_chunk';
/** Histogram `gen_ai.client.inference.time_per_output_chunk`. */
export const LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK =
  'gen_ai.client.inference.time_per_output_chunk';
/** Counter `gen_ai.client.inference.usage.input_tokens` (cached tokens included). */
export const LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS =
  'gen_ai.client.inference.usage.input_tokens';
/** Counter `gen_ai.client.inference.usage.output_tokens` (reasoning tokens included). */
export const LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS =
  'gen_ai.client.inference.usage.output_tokens';
/** Counter `gen_ai.client.inference.usage.cache_read.input_tokens`. */
export const LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS =
  'gen_ai.client.inference.usage.cache_read.input_tokens';
/** Counter `gen_ai.client.inference.usage.reasoning.output_tokens`. */
export const LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS =
  'gen_ai.client.inference.usage.reasoning.output_tokens';
/** Histogram `gen_ai.client.inference.operation.input_tokens` (successful calls only). */
export const LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS =
  'gen_ai.client.inference.operation.input_tokens';
/** Histogram `gen_ai.client.inference.operation.output_tokens` (successful calls only). */
export const LATEST_METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS =
  'gen_ai.client.inference.operation.output_tokens';
/** Histogram `gen_ai.client.embeddings.operation.input_tokens` (successful calls only). */
export const LATEST_METRIC_GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS =
  'gen_ai.client.embeddings.operation.input_tokens';
/** Attribute `gen_ai.token.modality` of the usage counters. */
export const LATEST_ATTR_GEN_AI_TOKEN_MODALITY = 'gen_ai.token.modality';
/** The value `unknown`: OpenAI's usage reports no modality breakdown of its totals. */
export const LATEST_GEN_AI_TOKEN_MODALITY_VALUE_UNKNOWN = 'unknown';
