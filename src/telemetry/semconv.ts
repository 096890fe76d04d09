/**
 * Every telemetry name this library emits, in one place.
 *
 * The GenAI names are copied here rather than imported: the GenAI conventions moved out of
 * `@opentelemetry/semantic-conventions` into their own repository (every `gen_ai` constant there is deprecated
 * since 1.45, and no package of the new repository is published yet), and that package's README advises
 * copying unstable constants. They follow the GenAI conventions as published for semantic-conventions 1.45
 * (`GENAI_CONVENTIONS_VERSION`); a test checks each against that package so a rename cannot slip in unseen.
 * The names under `resilient_chat.*` are this library's own.
 */

/** The version of the GenAI semantic conventions these names follow. */
export const GENAI_CONVENTIONS_VERSION = '1.45.0';

export const INSTRUMENTATION_SCOPE = 'resilient-chat';

// General (stable) conventions.
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_SERVER_PORT = 'server.port';

// GenAI conventions: attributes.
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
/** Deprecated by `gen_ai.provider.name`; still emitted unless OTEL_SEMCONV_STABILITY_OPT_IN asks for the latest only. */
export const ATTR_GEN_AI_SYSTEM = 'gen_ai.system';
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
export const ATTR_GEN_AI_REQUEST_MAX_TOKENS = 'gen_ai.request.max_tokens';
export const ATTR_GEN_AI_REQUEST_TEMPERATURE = 'gen_ai.request.temperature';
export const ATTR_GEN_AI_REQUEST_TOP_P = 'gen_ai.request.top_p';
export const ATTR_GEN_AI_REQUEST_FREQUENCY_PENALTY = 'gen_ai.request.frequency_penalty';
export const ATTR_GEN_AI_REQUEST_PRESENCE_PENALTY = 'gen_ai.request.presence_penalty';
export const ATTR_GEN_AI_REQUEST_SEED = 'gen_ai.request.seed';
export const ATTR_GEN_AI_REQUEST_STREAM = 'gen_ai.request.stream';
export const ATTR_GEN_AI_REQUEST_CHOICE_COUNT = 'gen_ai.request.choice.count';
export const ATTR_GEN_AI_REQUEST_STOP_SEQUENCES = 'gen_ai.request.stop_sequences';
export const ATTR_GEN_AI_REQUEST_ENCODING_FORMATS = 'gen_ai.request.encoding_formats';
export const ATTR_GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
export const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
export const ATTR_GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons';
export const ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = 'gen_ai.response.time_to_first_chunk';
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
export const ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = 'gen_ai.usage.cache_read.input_tokens';
export const ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = 'gen_ai.usage.reasoning.output_tokens';
export const ATTR_GEN_AI_EMBEDDINGS_DIMENSION_COUNT = 'gen_ai.embeddings.dimension.count';
export const ATTR_GEN_AI_INPUT_MESSAGES = 'gen_ai.input.messages';
export const ATTR_GEN_AI_OUTPUT_MESSAGES = 'gen_ai.output.messages';
export const ATTR_GEN_AI_TOKEN_TYPE = 'gen_ai.token.type';

export const GEN_AI_OPERATION_NAME_VALUE_CHAT = 'chat';
export const GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS = 'embeddings';
export const GEN_AI_PROVIDER_NAME_VALUE_OPENAI = 'openai';
export const GEN_AI_TOKEN_TYPE_VALUE_INPUT = 'input';
export const GEN_AI_TOKEN_TYPE_VALUE_OUTPUT = 'output';

// OpenAI conventions (they extend the GenAI ones).
export const ATTR_OPENAI_API_TYPE = 'openai.api.type';
export const ATTR_OPENAI_REQUEST_SERVICE_TIER = 'openai.request.service_tier';
export const ATTR_OPENAI_RESPONSE_SERVICE_TIER = 'openai.response.service_tier';
export const ATTR_OPENAI_RESPONSE_SYSTEM_FINGERPRINT = 'openai.response.system_fingerprint';
export const OPENAI_API_TYPE_VALUE_CHAT_COMPLETIONS = 'chat_completions';
export const OPENAI_API_TYPE_VALUE_RESPONSES = 'responses';

// GenAI conventions: metrics.
export const METRIC_GEN_AI_CLIENT_OPERATION_DURATION = 'gen_ai.client.operation.duration';
export const METRIC_GEN_AI_CLIENT_TOKEN_USAGE = 'gen_ai.client.token.usage';
export const METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK =
  'gen_ai.client.operation.time_to_first_chunk';

// resilient-chat's own names.
export const EVENT_RETRY = 'resilient_chat.retry';
export const EVENT_GIVE_UP = 'resilient_chat.give_up';
export const EVENT_CIRCUIT_REJECTED = 'resilient_chat.circuit.rejected';
/** A closed client was replaced through Node's global dispatcher because the user opted in to that fallback. */
export const EVENT_DISPATCHER_FALLBACK = 'resilient_chat.dispatcher.fallback';

export const ATTR_ATTEMPT = 'resilient_chat.attempt';
export const ATTR_RETRY_REASON = 'resilient_chat.retry.reason';
export const ATTR_RETRY_DELAY_MS = 'resilient_chat.retry.delay_ms';
export const ATTR_RETRY_MAYBE_SENT = 'resilient_chat.retry.maybe_sent';
export const ATTR_CLIENT_REPLACED = 'resilient_chat.client.replaced';
export const ATTR_GIVE_UP_REASON = 'resilient_chat.give_up.reason';
export const ATTR_ATTEMPTS = 'resilient_chat.attempts';
export const ATTR_CLOSED_CLIENT_RECOVERIES = 'resilient_chat.closed_client.recoveries';
export const ATTR_RECOVERY_OUTCOME = 'resilient_chat.recovery.outcome';
export const ATTR_CIRCUIT_STATE = 'resilient_chat.circuit.state';
/**
 * Which request a retry or give-up belongs to, for requests that are not GenAI operations: the HTTP method
 * and path template (`GET /models`, `DELETE /files/{id}`). Bounded: ids become `{id}`, and past
 * MAX_OPERATION_NAMES distinct values everything else is `other`.
 */
export const ATTR_OPERATION = 'resilient_chat.operation';
/** How an abandoned stream was found: collected by the garbage collector while still open. */
export const ATTR_STREAM_END = 'resilient_chat.stream.end';
/** What a dispatcher fallback replaced: the client's own `dispatcher` or its custom `fetch`. */
export const ATTR_DISPATCHER_REPLACED = 'resilient_chat.dispatcher.replaced';

export const METRIC_RETRIES = 'resilient_chat.retries';
export const METRIC_CLOSED_CLIENT_RECOVERIES = 'resilient_chat.closed_client.recoveries';
export const METRIC_GIVE_UPS = 'resilient_chat.give_ups';
export const METRIC_CIRCUIT_TRANSITIONS = 'resilient_chat.circuit.transitions';
export const METRIC_CIRCUIT_STATE = 'resilient_chat.circuit.state';
export const METRIC_RETRY_BUDGET_EXHAUSTED = 'resilient_chat.retry_budget.exhausted';
export const METRIC_STREAMS_ABANDONED = 'resilient_chat.streams.abandoned';

// ClientPool's.
export const METRIC_POOL_CLIENTS = 'resilient_chat.pool.clients';
export const METRIC_POOL_LEASES = 'resilient_chat.pool.leases';
export const METRIC_POOL_EVICTIONS = 'resilient_chat.pool.evictions';
export const ATTR_POOL_CLIENT_STATE = 'resilient_chat.pool.client.state';
export const ATTR_POOL_EVICTION_CAUSE = 'resilient_chat.pool.eviction.cause';

export type RecoveryOutcome = 'recovered' | 'failed';

/** Values of the `resilient_chat.circuit.state` gauge. */
export const CIRCUIT_STATE_VALUE = { closed: 0, half_open: 1, open: 2 } as const;
