export { type Classification, classifyError, type FailureReason } from './call/classify.js';
export {
  type ChatRequestOptions,
  createResilientChat,
  type ResilientChat,
  type ResilientCompletions,
} from './create-resilient-chat.js';
export { createResilientClient } from './create-resilient-client.js';
export {
  attemptErrors,
  CircuitOpenError,
  ClientClosedError,
  ClientNotReplaceableError,
  ClientSettingMismatchError,
  ClientSettingUnavailableError,
  InvalidClientError,
  InvalidOptionError,
  InvalidRequestError,
  isResilientChatError,
  MissingPackageError,
  PoolClosedError,
  type ResilientChatError,
  type ResilientChatErrorCode,
  StreamConsumedError,
} from './errors.js';
export { type ResilientFetch, type ResilientFetchOptions, resilientFetch } from './fetch/resilient-fetch.js';
export type { CircuitBreakerOptions, CircuitState } from './policy/circuit-breaker.js';
export type { RetryBudgetOptions } from './policy/retry-budget.js';
export type { ClosedClientOptions, RetryOptions, StreamOptions } from './policy/retry-options.js';
export {
  ClientPool,
  type ClientPoolOptions,
  type ClosePoolOptions,
  type EvictionCause,
  type EvictOptions,
  type PoolKeyContext,
  type PoolStats,
} from './pool/client-pool.js';
export type { PoolDispatcher, PoolTransport, TransportOptions, UndiciModule } from './pool/transport.js';
export type { GenAISpanMode } from './telemetry/call-telemetry.js';
export * as telemetryNames from './telemetry/own-names.js';
export type {
  AcquireContext,
  ClientSource,
  ClientsOption,
  DispatcherFallbackLogFields,
  DuplicateInstrumentationLogFields,
  GiveUpReason,
  Logger,
  ResilientChatOptions,
  ResilientClientOptions,
  RetryLogFields,
  SharedSettings,
} from './types.js';
