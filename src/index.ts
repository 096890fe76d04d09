export type { ChatRequestOptions } from './chat-call.js';
export type { CircuitBreakerOptions, CircuitState } from './circuit-breaker.js';
export { type Classification, classifyError, type FailureReason } from './classify.js';
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
export {
  ClientPool,
  type ClientPoolOptions,
  type ClosePoolOptions,
  type EvictionCause,
  type PoolStats,
} from './pool/client-pool.js';
export type { PoolTransport, TransportOptions } from './pool/transport.js';
export type { RetryBudgetOptions } from './retry-budget.js';
export type { GiveUpReason } from './retry-policy.js';
export * as telemetryNames from './telemetry/names.js';
