/**
 * resilient-chat's own telemetry names: the instrumentation scope and everything under `resilient_chat.*`.
 * These, and only these, are public (`telemetryNames` in src/index.ts): the names of the conventions we follow
 * (src/telemetry/semconv.ts) are theirs to define, and published by `@opentelemetry/semantic-conventions`.
 */

/** The instrumentation scope (tracer and meter name) of everything this library records. */
export const INSTRUMENTATION_SCOPE = 'resilient-chat';

/** Span event `resilient_chat.retry`. */
export const EVENT_RETRY = 'resilient_chat.retry';
/** Span event `resilient_chat.give_up`. */
export const EVENT_GIVE_UP = 'resilient_chat.give_up';
/** Span event `resilient_chat.circuit.rejected`. */
export const EVENT_CIRCUIT_REJECTED = 'resilient_chat.circuit.rejected';
/** A closed client was replaced through Node's global dispatcher because the user opted in to that fallback. */
export const EVENT_DISPATCHER_FALLBACK = 'resilient_chat.dispatcher.fallback';

/** Attribute `resilient_chat.attempt`. */
export const ATTR_ATTEMPT = 'resilient_chat.attempt';
/** Attribute `resilient_chat.retry.reason`. */
export const ATTR_RETRY_REASON = 'resilient_chat.retry.reason';
/** Attribute `resilient_chat.retry.delay_ms`. */
export const ATTR_RETRY_DELAY_MS = 'resilient_chat.retry.delay_ms';
/** Attribute `resilient_chat.retry.maybe_sent`. */
export const ATTR_RETRY_MAYBE_SENT = 'resilient_chat.retry.maybe_sent';
/** Attribute `resilient_chat.client.replaced`. */
export const ATTR_CLIENT_REPLACED = 'resilient_chat.client.replaced';
/** Attribute `resilient_chat.give_up.reason`. */
export const ATTR_GIVE_UP_REASON = 'resilient_chat.give_up.reason';
/** Attribute `resilient_chat.attempts`. */
export const ATTR_ATTEMPTS = 'resilient_chat.attempts';
/** Attribute `resilient_chat.closed_client.recoveries`. */
export const ATTR_CLOSED_CLIENT_RECOVERIES = 'resilient_chat.closed_client.recoveries';
/** Attribute `resilient_chat.recovery.outcome`. */
export const ATTR_RECOVERY_OUTCOME = 'resilient_chat.recovery.outcome';
/** Attribute `resilient_chat.circuit.state`. */
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

/** Metric `resilient_chat.retries`. */
export const METRIC_RETRIES = 'resilient_chat.retries';
/** Metric `resilient_chat.closed_client.recoveries`. */
export const METRIC_CLOSED_CLIENT_RECOVERIES = 'resilient_chat.closed_client.recoveries';
/** Metric `resilient_chat.give_ups`. */
export const METRIC_GIVE_UPS = 'resilient_chat.give_ups';
/** Metric `resilient_chat.circuit.transitions`. */
export const METRIC_CIRCUIT_TRANSITIONS = 'resilient_chat.circuit.transitions';
/** Metric `resilient_chat.circuit.state`. */
export const METRIC_CIRCUIT_STATE = 'resilient_chat.circuit.state';
/** Metric `resilient_chat.retry_budget.exhausted`. */
export const METRIC_RETRY_BUDGET_EXHAUSTED = 'resilient_chat.retry_budget.exhausted';
/** Metric `resilient_chat.streams.abandoned`. */
export const METRIC_STREAMS_ABANDONED = 'resilient_chat.streams.abandoned';

// ClientPool's.
/** Metric `resilient_chat.pool.clients`. */
export const METRIC_POOL_CLIENTS = 'resilient_chat.pool.clients';
/** Metric `resilient_chat.pool.leases`. */
export const METRIC_POOL_LEASES = 'resilient_chat.pool.leases';
/** Metric `resilient_chat.pool.evictions`. */
export const METRIC_POOL_EVICTIONS = 'resilient_chat.pool.evictions';
/** Attribute `resilient_chat.pool.client.state`. */
export const ATTR_POOL_CLIENT_STATE = 'resilient_chat.pool.client.state';
/** Attribute `resilient_chat.pool.eviction.cause`. */
export const ATTR_POOL_EVICTION_CAUSE = 'resilient_chat.pool.eviction.cause';
/** Metric `resilient_chat.pool.connection.wait.duration` (s): a request's wait for a free connection. */
export const METRIC_POOL_CONNECTION_WAIT_DURATION = 'resilient_chat.pool.connection.wait.duration';
/** Span event `resilient_chat.pool.connection_wait`: the request waited for a free connection. */
export const EVENT_POOL_CONNECTION_WAIT = 'resilient_chat.pool.connection_wait';
/** Attribute `resilient_chat.pool.connection_wait.duration` (s) of that event. */
export const ATTR_POOL_CONNECTION_WAIT_DURATION = 'resilient_chat.pool.connection_wait.duration';

export type RecoveryOutcome = 'recovered' | 'failed';

/** Values of the `resilient_chat.circuit.state` gauge. */
export const CIRCUIT_STATE_VALUE = { closed: 0, half_open: 1, open: 2 } as const;
