export { type Classification, classifyError, type FailureReason } from './call/classify.js';
export type { ChatRequestOptions } from './call/resilient-call.js';
export {
  createResilientChat,
  type ResilientChat,
  type ResilientCompletions,
} from './create-resilient-chat.js';
export {
  attemptErrors,
  CircuitOpenError,
  InvalidClientError,
  InvalidOptionError,
  PoolClosedError,
  type ResilientChatErrorCode,
} from './errors.js';
export type { Logger, RetryLogFields } from './logger.js';
export type {
  AcquireContext,
  ClientSource,
  ClientsOption,
  ClosedClientOptions,
  ResilientChatOptions,
  RetryOptions,
} from './options.js';
export type { CircuitBreakerOptions, CircuitState } from './policy/circuit-breaker.js';
export type { RetryBudgetOptions } from './policy/retry-budget.js';
export type { GiveUpReason } from './policy/retry-policy.js';
export {
  ClientPool,
  type ClientPoolOptions,
  type ClosePoolOptions,
  type EvictionCause,
  type PoolStats,
} from './pool/client-pool.js';
export type { PoolTransport, TransportOptions } from './pool/transport.js';
export * as telemetryNames from './telemetry/semconv.js';
