/**
 * Every telemetry name this library emits that is its own. GenAI and general names come from the pinned
 * `@opentelemetry/semantic-conventions` (see attributes.ts); these extend them under `resilient_chat.*`.
 */
export const INSTRUMENTATION_SCOPE = 'resilient-chat';

export const EVENT_RETRY = 'resilient_chat.retry';
export const EVENT_GIVE_UP = 'resilient_chat.give_up';

export const ATTR_ATTEMPT = 'resilient_chat.attempt';
export const ATTR_RETRY_REASON = 'resilient_chat.retry.reason';
export const ATTR_RETRY_DELAY_MS = 'resilient_chat.retry.delay_ms';
export const ATTR_CLIENT_REPLACED = 'resilient_chat.client.replaced';
export const ATTR_GIVE_UP_REASON = 'resilient_chat.give_up.reason';
export const ATTR_ATTEMPTS = 'resilient_chat.attempts';
export const ATTR_CLOSED_CLIENT_RECOVERIES = 'resilient_chat.closed_client.recoveries';
export const ATTR_RECOVERY_OUTCOME = 'resilient_chat.recovery.outcome';

export const METRIC_RETRIES = 'resilient_chat.retries';
export const METRIC_CLOSED_CLIENT_RECOVERIES = 'resilient_chat.closed_client.recoveries';
export const METRIC_GIVE_UPS = 'resilient_chat.give_ups';

export type RecoveryOutcome = 'recovered' | 'failed';

export const ATTR_RETRY_MAYBE_SENT = 'resilient_chat.retry.maybe_sent';
export const EVENT_CIRCUIT_REJECTED = 'resilient_chat.circuit.rejected';
export const ATTR_CIRCUIT_STATE = 'resilient_chat.circuit.state';
export const METRIC_CIRCUIT_TRANSITIONS = 'resilient_chat.circuit.transitions';
export const METRIC_CIRCUIT_STATE = 'resilient_chat.circuit.state';
export const METRIC_RETRY_BUDGET_EXHAUSTED = 'resilient_chat.retry_budget.exhausted';

/** Values of the `resilient_chat.circuit.state` gauge. */
export const CIRCUIT_STATE_VALUE = { closed: 0, half_open: 1, open: 2 } as const;
