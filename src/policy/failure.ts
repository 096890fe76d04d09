/**
 * The vocabulary the policy decides on: why an attempt failed (as src/call/classify.ts reads an error) and why
 * a call stopped trying. Types only; public through src/types.ts, which re-exports them.
 */

/** Why an attempt failed, as the classifier reads the error (`resilient_chat.retry.reason`). */
export type FailureReason =
  /** Our own client's transport (its undici dispatcher) was closed or destroyed: retry on a fresh client. */
  | 'client_closed'
  /**
   * The server says *its* upstream client was closed (a LiteLLM proxy's 500 body or SSE error frame). Our
   * client is healthy: one immediate retry on the same client, then retried like any 5xx.
   */
  | 'upstream_client_closed'
  | 'rate_limited'
  | 'server_error'
  | 'timeout'
  | 'connection'
  | 'aborted'
  /**
   * The request could not be made as configured: a dispatcher that is not one, a base URL fetch cannot use,
   * a bad option, client or request field, a single client that cannot be replaced. Never retried.
   */
  | 'setup_error'
  /** A circuit breaker refused the attempt (`CircuitOpenError`): nothing was sent; retry after `retryAfterMs`. */
  | 'circuit_open'
  | 'not_retryable';

/** How `classifyError` reads an error: the reason, whether another attempt may succeed, and what to record. */
export interface Classification {
  reason: FailureReason;
  /** Whether another attempt may succeed. `client_closed` is retryable on a fresh client only. */
  retryable: boolean;
  /**
   * Low-cardinality identifier for `error.type`: an undici/Node error code, an error body's code from a
   * fixed list (`insufficient_quota`, `context_length_exceeded`...), or the error's class name.
   */
  errorType: string;
  /** HTTP status of the failed response, when there was one. */
  status?: number;
  /** Delay the server asked for (retry-after-ms / Retry-After) in ms, when present and not negative. */
  retryAfterMs?: number;
}

/** Why a call stopped trying (`resilient_chat.give_up.reason`). */
export type GiveUpReason =
  | 'not_retryable'
  | 'aborted'
  | 'attempts_exhausted'
  | 'recoveries_exhausted'
  | 'deadline'
  /** The retry budget shared by all calls was spent: the retry would have added load during an outage. */
  | 'budget_exhausted'
  /** The endpoint's circuit breaker refused the attempt. */
  | 'circuit_open'
  /** A stream failed after events had reached the caller; such failures are surfaced, not retried. */
  | 'stream_interrupted'
  /** A stream went silent for longer than `streams.idleTimeoutMs` after events had reached the caller. */
  | 'stream_stalled'
  /** The request's body was a stream that was (or may have been) sent already and cannot be sent again. */
  | 'body_not_replayable'
  /**
   * The request changes the server's state (a Responses call with `conversation`, an upload, a create) and may
   * have taken effect: sending it again could apply it twice (`retry.replayNonIdempotent` allows it).
   */
  | 'not_idempotent'
  /**
   * The single client's own transport (a custom dispatcher or fetch) is dead and nothing was given to build
   * a fresh one with the same transport policy: pass a factory, a source or a ClientPool as `clients`.
   */
  | 'client_not_replaceable';
