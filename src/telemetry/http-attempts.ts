/**
 * Which HTTP attempt of a GenAI call an HTTP span is. The GenAI span covers the logical operation with all
 * its retries; the HTTP spans under it (an HTTP instrumentation's, e.g. undici's) are the attempts, and the
 * HTTP conventions mark each one after the first with `http.request.resend_count`. The call telemetry keeps
 * one `HttpAttempts` per call in the call's context (attempts run in it); an HTTP instrumentation's hook reads
 * it when a request starts, through `httpAttemptAttributes()`.
 *
 * Attempts of one call are sequential, so one mutable record per call says which attempt is under way. Only
 * requests started while an attempt is sending count: an HTTP request a client source makes from `acquire`
 * (a token, a discovery call) runs in the same context, between attempts, and is not a resend.
 */
import { type Attributes, type Context, context, createContextKey } from '@opentelemetry/api';
import { ATTR_ATTEMPT, ATTR_HTTP_REQUEST_RESEND_COUNT, ATTR_RETRY_REASON } from './semconv.js';

/** Registered (Symbol.for), so two copies of this module read each other's records. */
const HTTP_ATTEMPTS = createContextKey('resilient-chat.http-attempts');

export class HttpAttempts {
  /** The attempt under way (from 1, as `resilient_chat.attempt` counts), or 0 between attempts. */
  #sending = 0;
  /** The attempt the next `attemptStarted` begins: one after the attempt the last retry followed. */
  #next = 1;
  /** Why the attempt under way was made, when it is a retry. */
  #retryReason: string | undefined;
  /** HTTP requests started by this call's attempts so far. */
  #requests = 0;

  /** An attempt has its client and is about to send. */
  attemptStarted(): void {
    this.#sending = this.#next;
  }

  /** Attempt `attempt` failed and will be retried for `reason`. */
  retrying(attempt: number, reason: string): void {
    this.#sending = 0;
    this.#next = attempt + 1;
    this.#retryReason = reason;
  }

  /** The call is over: nothing after this is one of its attempts. */
  ended(): void {
    this.#sending = 0;
  }

  /** The attributes of an HTTP request starting now, counted as one request of the attempt under way. */
  requestStarted(): Attributes | undefined {
    const attempt = this.#sending;
    if (attempt === 0) return undefined;
    const resends = this.#requests++;
    const attributes: Attributes = { [ATTR_ATTEMPT]: attempt };
    if (resends > 0) attributes[ATTR_HTTP_REQUEST_RESEND_COUNT] = resends;
    if (attempt > 1 && this.#retryReason !== undefined) attributes[ATTR_RETRY_REASON] = this.#retryReason;
    return attributes;
  }
}

export function withHttpAttempts(parent: Context, attempts: HttpAttempts): Context {
  return parent.setValue(HTTP_ATTEMPTS, attempts);
}

const NONE: Attributes = Object.freeze({});

/**
 * The attributes of the HTTP request starting now in the active context, for an HTTP instrumentation's
 * span-start hook: inside a resilient-chat GenAI call, `resilient_chat.attempt` (from 1), and on every
 * request after the call's first, `http.request.resend_count` (1, 2, ...) and `resilient_chat.retry.reason`
 * (the reason on the `resilient_chat.retry` event that led to it). Outside one, nothing. Each call counts one
 * request, so give it to one instrumentation only.
 *
 * @example
 * new UndiciInstrumentation({ startSpanHook: () => httpAttemptAttributes() });
 */
export function httpAttemptAttributes(): Attributes {
  // Read by shape, not class: the record may come from another copy of this module.
  const attempts = context.active().getValue(HTTP_ATTEMPTS) as Partial<HttpAttempts> | undefined;
  return attempts?.requestStarted?.() ?? NONE;
}
