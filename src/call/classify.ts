/**
 * The classifier: what kind of failure an error is, and whether another attempt could succeed.
 * It looks through the whole error (cause chains, AggregateError members, an APIError's JSON body), because
 * the evidence of a closed client is usually several wrappers deep: APIConnectionError -> TypeError('fetch
 * failed') -> ClientDestroyedError { code: 'UND_ERR_DESTROYED' }, or a proxy's HTTP 500 body.
 */
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { isResilientChatError, type ResilientChatError, type ResilientChatErrorCode } from '../errors.js';
import { retryAfterMs } from '../policy/retry-after.js';
import type { Classification, FailureReason } from '../types.js';

export type { Classification, FailureReason };

/**
 * undici's codes for a dispatcher that was closed or destroyed. Matched by code, never by `instanceof`:
 * Node's bundled undici (behind global fetch) and the npm `undici` package are separate copies.
 */
const CLOSED_CLIENT_CODES = new Set(['UND_ERR_CLOSED', 'UND_ERR_DESTROYED']);

/**
 * The same two errors after Node's bundled fetch met them from another realm: under jest, the npm `undici`
 * (an Agent in `fetchOptions.dispatcher`) is loaded into the test's VM context, its errors fail the fetch's
 * `instanceof Error`, and it reports `new Error(String(error))` instead: the code is lost, the class name
 * stays at the start of the message. Read as the code it stood for.
 */
const CLOSED_CLIENT_TEXT = /^(ClientClosedError|ClientDestroyedError): /;
const CLOSED_CLIENT_TEXT_CODES: Record<string, string> = {
  ClientClosedError: 'UND_ERR_CLOSED',
  ClientDestroyedError: 'UND_ERR_DESTROYED',
};

/** The httpx message family that Python proxies (LiteLLM) relay, in error messages or response bodies. */
const CLOSED_CLIENT_MESSAGE = /client has been closed/i;

const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

const CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_REQ_RETRY',
]);

/** Bounds that keep a hostile or cyclic error object from making classification expensive. */
const MAX_ERRORS_WALKED = 32;
const MAX_BODY_DEPTH = 4;
const MAX_BODY_STRINGS = 64;

/**
 * Programming and configuration errors: the same request fails the same way every time, and it never
 * reached the endpoint, so it is neither retried nor counted against the endpoint's breaker.
 */
const SETUP_CODES = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_INVALID_RETURN_VALUE',
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_ARG_VALUE',
  'ERR_INVALID_URL',
  'ERR_INVALID_THIS',
]);

/** A dispatcher or fetch option that is not what undici expects shows up as a TypeError naming a function. */
const SETUP_MESSAGE = /is not a function|is not a constructor/;

/**
 * The TypeErrors that fetch rejects with for a request it did try to send: undici's network error
 * (`fetch failed`, its cause the socket's error), a body cut off mid-read (`terminated`), and the browsers'
 * wording of a network error, for a custom fetch that copies it.
 */
const FETCH_NETWORK_MESSAGES = new Set([
  'fetch failed',
  'terminated',
  'Failed to fetch',
  'Load failed',
  'NetworkError when attempting to fetch resource.',
]);

/**
 * The causes undici's fetch gives a `fetch failed` when it refuses to make the request at all (the Fetch
 * standard's network errors for a scheme it cannot fetch or a port it blocks). Unlike every socket error
 * they have no `code`.
 */
const FETCH_REFUSED_REQUEST = new Set([
  'unknown scheme',
  'not implemented... yet...',
  'about scheme is not supported',
  'bad port',
  'local URLs only',
  'invalid method',
  'URL scheme must be a HTTP(S) scheme',
]);

/**
 * Error codes in OpenAI (and compatible) error bodies that say the request can never succeed as sent: a
 * billing state, an oversized prompt, a filtered prompt, a bad key. They are reported as `error.type`
 * (a bounded set), and none is retried, whatever the status (OpenAI sends insufficient_quota as a 429).
 */
const FINAL_BODY_CODES = new Set([
  'insufficient_quota',
  'billing_hard_limit_reached',
  'billing_not_active',
  'context_length_exceeded',
  'content_filter',
  'content_policy_violation',
  'invalid_api_key',
  'model_not_found',
]);

/**
 * What each of our own errors is, read from its code before anything else (as undici's codes are): our
 * errors are never `connection`, whatever class they extend, and `client_closed` only for ClientClosedError
 * (an attempt we did not make). Every code must be here.
 */
const OWN_ERRORS: Record<ResilientChatErrorCode, FailureReason> = {
  RESILIENT_CHAT_INVALID_OPTION: 'setup_error',
  RESILIENT_CHAT_INVALID_CLIENT: 'setup_error',
  RESILIENT_CHAT_INVALID_REQUEST: 'setup_error',
  RESILIENT_CHAT_MISSING_PACKAGE: 'setup_error',
  // A setting a resilient client over a source does not have: asked again, the answer is the same.
  RESILIENT_CHAT_SETTING_UNAVAILABLE: 'setup_error',
  // A source's client that differs from `sharedSettings`: the source would hand out the same one again.
  RESILIENT_CHAT_SETTING_MISMATCH: 'setup_error',
  // An attempt not made because its client's dispatcher was found dead: a fresh client can make it.
  RESILIENT_CHAT_CLIENT_CLOSED: 'client_closed',
  // An APIConnectionError whose cause is the closed-client failure; nothing may replace the client.
  RESILIENT_CHAT_CLIENT_NOT_REPLACEABLE: 'setup_error',
  RESILIENT_CHAT_CIRCUIT_OPEN: 'circuit_open',
  RESILIENT_CHAT_POOL_CLOSED: 'not_retryable',
  RESILIENT_CHAT_STREAM_CONSUMED: 'not_retryable',
};

const RETRYABLE: Record<FailureReason, boolean> = {
  client_closed: true,
  upstream_client_closed: true,
  setup_error: false,
  circuit_open: true,
  rate_limited: true,
  server_error: true,
  timeout: true,
  connection: true,
  aborted: false,
  not_retryable: false,
};

/**
 * What kind of failure `error` is, and whether another attempt could succeed, as the retry loop reads it.
 * Exported for code that wants the same reading (a fallback, a log line): the reason and a bounded
 * `errorType` fit a metric label.
 *
 * @example
 * catch (error) { if (classifyError(error).reason === 'rate_limited') queueForLater(job); else throw error; }
 */
export function classifyError(error: unknown): Classification {
  const chain = errorChain(error);
  const top = chain[0];

  // The caller's own cancellation wins over anything found deeper: it must never be retried.
  if (isA(top, APIUserAbortError) || isAbortError(top)) return result('aborted', className(top));
  const own = chain.find(isResilientChatError);
  if (own) return classifyOwn(own);

  const apiError = chain.find(
    (e): e is APIError => isA(e, APIError) && statusOf(e as APIError) !== undefined,
  );
  // Only a local error (no answer from a server anywhere in the chain) can say that *our* transport is dead:
  // a server may put any text or code in its body.
  if (!apiError) {
    const closedCode = findCode(chain, CLOSED_CLIENT_CODES) ?? findClosedClientText(chain);
    if (closedCode) return result('client_closed', closedCode);
  }
  if (chain.some(mentionsClosedClient) && closedMessageCounts(apiError)) {
    return withStatus(result('upstream_client_closed', className(apiError ?? top)), chain);
  }
  if (apiError) return classifyStatus(apiError);

  const setupCode = findCode(chain, SETUP_CODES);
  if (setupCode) return result('setup_error', setupCode);
  const setupError =
    chain.find((e) => isTypeError(e) && SETUP_MESSAGE.test(e.message)) ?? fetchSetupError(chain);
  if (setupError) return result('setup_error', className(setupError));

  const timeoutCode = findCode(chain, TIMEOUT_CODES);
  const timeoutError = chain.find((e) => isA(e, APIConnectionTimeoutError));
  if (timeoutError || timeoutCode) return result('timeout', timeoutCode ?? className(timeoutError));
  const connectionCode = findCode(chain, CONNECTION_CODES);
  const connectionError = chain.find((e) => isA(e, APIConnectionError) || isTerminated(e));
  if (connectionError || connectionCode) {
    return result('connection', connectionCode ?? className(connectionError));
  }
  return result('not_retryable', className(top));
}

function classifyOwn(error: ResilientChatError): Classification {
  const reason = OWN_ERRORS[error.code] ?? 'not_retryable';
  // A closed client's error type is a code, as undici's are (UND_ERR_DESTROYED...); the others, their class.
  const classification = result(reason, reason === 'client_closed' ? error.code : className(error));
  return error.code === 'RESILIENT_CHAT_CIRCUIT_OPEN'
    ? { ...classification, retryAfterMs: error.retryAfterMs }
    : classification;
}

/**
 * The request could not be made as configured, which undici's fetch says without a code: openai-node wraps
 * what fetch rejected with in an APIConnectionError, and a TypeError there that is not one of fetch's network
 * errors was thrown while fetch built the request from its arguments (no scheme, credentials in the URL, a
 * bad `fetchOptions` value), before any I/O. So was a `fetch failed` whose cause says fetch refused the
 * request itself. Either fails the same way every time and never reached the endpoint.
 */
function fetchSetupError(chain: readonly unknown[]): Error | undefined {
  for (const error of chain) {
    if (!isA(error, APIConnectionError) || isA(error, APIConnectionTimeoutError)) continue;
    const { cause } = error as { cause?: unknown };
    if (!isTypeError(cause) || hasCode(cause)) continue;
    if (!FETCH_NETWORK_MESSAGES.has(cause.message)) return cause;
    const reason = (cause as { cause?: unknown }).cause;
    if (
      cause.message === 'fetch failed' &&
      isErrorOfAnyRealm(reason) &&
      !hasCode(reason) &&
      FETCH_REFUSED_REQUEST.has(reason.message)
    )
      return cause;
  }
  return undefined;
}

function hasCode(error: object): boolean {
  return (error as { code?: unknown }).code !== undefined;
}

/**
 * The httpx message is evidence of a closed client only where a server error could carry it: with no HTTP
 * status (a transport error, an SSE frame) or in a 5xx that the server did not mark `x-should-retry: false`.
 */
function closedMessageCounts(apiError: APIError | undefined): boolean {
  if (!apiError) return true;
  if (apiError.headers?.get?.('x-should-retry') === 'false') return false;
  return (statusOf(apiError) ?? 500) >= 500;
}

/**
 * `instanceof`, or else the same class name somewhere up the prototype chain: a CommonJS app that loads this
 * ESM package gets openai's errors from its CJS build, a different copy of the same classes.
 */
function isA(value: unknown, type: abstract new (...args: never[]) => unknown): boolean {
  if (value instanceof type) return true;
  if (typeof value !== 'object' || value === null) return false;
  for (
    let proto = Object.getPrototypeOf(value);
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    if (proto.constructor?.name === type.name) return true;
  }
  return false;
}

function result(reason: FailureReason, errorType: string): Classification {
  return { reason, retryable: RETRYABLE[reason], errorType };
}

function withStatus(classification: Classification, chain: readonly unknown[]): Classification {
  const status = chain
    .map((e) => (isA(e, APIError) ? statusOf(e as APIError) : undefined))
    .find((s) => s !== undefined);
  return status === undefined ? classification : { ...classification, status };
}

/** openai-node's own rule: `x-should-retry` first, then 408, 409, 429 and >= 500. */
function classifyStatus(error: APIError): Classification {
  const status = statusOf(error) as number;
  const bodyCode = finalBodyCode(error);
  if (bodyCode) return { ...result('not_retryable', bodyCode), status };
  const shouldRetry = error.headers?.get('x-should-retry');
  const errorType = className(error);
  const retryAfter = retryAfterMs(error.headers, Date.now(), Number.MAX_SAFE_INTEGER);
  let reason = reasonForStatus(status);
  if (shouldRetry === 'false') reason = 'not_retryable';
  // The server says retry even though the status alone would not: treat it as a server-side condition.
  if (shouldRetry === 'true' && reason === 'not_retryable') reason = 'server_error';
  const classification: Classification = { ...result(reason, errorType), status };
  return retryAfter === undefined ? classification : { ...classification, retryAfterMs: retryAfter };
}

function reasonForStatus(status: number): FailureReason {
  if (status === 408) return 'timeout';
  if (status === 429) return 'rate_limited';
  // 409 is how OpenAI reports lock timeouts; openai-node retries it as a server-side condition.
  if (status === 409 || status >= 500) return 'server_error';
  return 'not_retryable';
}

/** Error `type`s of SSE error frames that stand for an HTTP status (OpenAI sends no code in them). */
const FRAME_TYPE_STATUS: Record<string, number> = { server_error: 500, rate_limit_exceeded: 429 };

/**
 * An HTTP status, or for an error frame inside an SSE stream (no HTTP status: the 200 was already sent) the
 * numeric `code` that OpenAI-compatible proxies put in the frame (LiteLLM's `"code": "500"`), or the status
 * its `type` stands for (OpenAI's `"type": "server_error"`).
 */
function statusOf(error: APIError): number | undefined {
  if (typeof error.status === 'number') return error.status;
  const code =
    typeof error.code === 'string' || typeof error.code === 'number' ? Number(error.code) : Number.NaN;
  if (Number.isInteger(code) && code >= 400 && code <= 599) return code;
  return typeof error.type === 'string' ? FRAME_TYPE_STATUS[error.type] : undefined;
}

/** The error and everything reachable through `cause` and `AggregateError.errors`, breadth-first, cycle-safe. */
function errorChain(error: unknown): unknown[] {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  const chain: unknown[] = [];
  while (queue.length > 0 && chain.length < MAX_ERRORS_WALKED) {
    const current = queue.shift();
    if (current === undefined || current === null || seen.has(current)) continue;
    seen.add(current);
    chain.push(current);
    if (typeof current !== 'object') continue;
    const { cause, errors } = current as { cause?: unknown; errors?: unknown };
    if (cause !== undefined) queue.push(cause);
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return chain;
}

/** The body's `code` (or `type`) when it is one that says the request can never succeed as sent. */
function finalBodyCode(error: APIError): string | undefined {
  for (const value of [error.code, error.type]) {
    if (typeof value === 'string' && FINAL_BODY_CODES.has(value)) return value;
  }
  return undefined;
}

/** A code on a local error in the chain; never an APIError's, whose `code` is whatever the server sent. */
function findCode(chain: readonly unknown[], codes: ReadonlySet<string>): string | undefined {
  for (const e of chain) {
    if (isA(e, APIError)) continue;
    const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
    if (typeof code === 'string' && codes.has(code)) return code;
  }
  return undefined;
}

function mentionsClosedClient(error: unknown): boolean {
  if (typeof error === 'string') return CLOSED_CLIENT_MESSAGE.test(error);
  if (typeof error !== 'object' || error === null) return false;
  const { message } = error as { message?: unknown };
  if (typeof message === 'string' && CLOSED_CLIENT_MESSAGE.test(message)) return true;
  return (
    isA(error, APIError) && bodyStrings((error as APIError).error).some((s) => CLOSED_CLIENT_MESSAGE.test(s))
  );
}

/** String leaves of a JSON error body (message, detail.stacktrace[], ...), bounded in depth and count. */
function bodyStrings(body: unknown): string[] {
  const found: string[] = [];
  const visit = (value: unknown, depth: number): void => {
    if (found.length >= MAX_BODY_STRINGS || depth > MAX_BODY_DEPTH) return;
    if (typeof value === 'string') found.push(value);
    else if (Array.isArray(value)) for (const item of value) visit(item, depth + 1);
    else if (typeof value === 'object' && value !== null)
      for (const item of Object.values(value)) visit(item, depth + 1);
  };
  visit(body, 0);
  return found;
}

function isAbortError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}

/** undici's fetch reports a body cut off mid-read as `TypeError: terminated`. */
function isTerminated(error: unknown): boolean {
  return isTypeError(error) && error.message === 'terminated';
}

/**
 * A TypeError of any realm: Node's fetch throws its own realm's, which is not the TypeError of a jest test's
 * VM context, and openai-node recasts such an error as an `Error` that keeps its `name`.
 */
function isTypeError(error: unknown): error is Error {
  return (
    isA(error, TypeError) ||
    (Object.prototype.toString.call(error) === '[object Error]' &&
      (error as { name?: unknown }).name === 'TypeError' &&
      typeof (error as { message?: unknown }).message === 'string')
  );
}

/** An Error of any realm (Node's fetch makes its refusals' causes in its own). */
function isErrorOfAnyRealm(error: unknown): error is Error {
  return (
    error instanceof Error ||
    (Object.prototype.toString.call(error) === '[object Error]' &&
      typeof (error as { message?: unknown }).message === 'string')
  );
}

/** The code of a closed or destroyed undici client that reached us only as text (CLOSED_CLIENT_TEXT). */
function findClosedClientText(chain: readonly unknown[]): string | undefined {
  for (const e of chain) {
    if (isA(e, APIError)) continue;
    const message = typeof e === 'object' && e !== null ? (e as { message?: unknown }).message : undefined;
    const name = typeof message === 'string' ? CLOSED_CLIENT_TEXT.exec(message)?.[1] : undefined;
    if (name) return CLOSED_CLIENT_TEXT_CODES[name];
  }
  return undefined;
}

function className(error: unknown): string {
  if (typeof error !== 'object' || error === null) return typeof error;
  const name = error.constructor?.name;
  return name && name !== 'Object' ? name : 'Error';
}
