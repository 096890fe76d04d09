/**
 * From one request as openai-node built it to the call the attempt loop runs: which operation it is, its
 * model, its abort signal, one Idempotency-Key for the whole call, whether its body can be sent twice, and its
 * own `maxRetries`. Bad input fails here, before a span is started.
 */
import { InvalidRequestError } from '../errors.js';
import { type FinalRequestOptions, isReplayable } from '../openai-internals.js';
import { chatOperation, embeddingsOperation, operationFor } from '../operations/index.js';
import type { AcquireContext } from '../types.js';
import { isAbortSignal } from './abort.js';
import type { Demand } from './demand.js';
import { withIdempotencyKey } from './idempotency.js';
import { isReplaySafe } from './replay-safety.js';
import type { CallRequest } from './resilient-call.js';

/** What the resilient client adds to every request it prepares. */
export interface RequestDefaults {
  /** Send one Idempotency-Key per call on POST, PUT and PATCH (the `idempotencyKeys` option). */
  idempotencyKeys: boolean;
  /** The resilient client's own `maxRetries` (set through `withOptions` or assigned): for requests that give none. */
  maxRetries: number | undefined;
}

export function prepareCall(
  options: FinalRequestOptions,
  demand: Demand,
  defaults: RequestDefaults,
): CallRequest {
  const { method, path, body } = options;
  const operation = operationFor(method, path);
  const params = isPlainObject(body) ? (body as AcquireContext['params']) : {};
  const model = typeof params.model === 'string' ? params.model : undefined;
  // The span is named after the model; chat and embeddings cannot be served without one.
  if ((operation === chatOperation || operation === embeddingsOperation) && !model) {
    throw new InvalidRequestError('body.model', 'a non-empty string', params.model, operation.name);
  }
  if (options.signal != null && !isAbortSignal(options.signal)) {
    throw new InvalidRequestError('signal', 'an AbortSignal', options.signal);
  }
  // One Idempotency-Key for the whole call, so every attempt carries the same one. GET and DELETE are
  // idempotent by definition and need none. With `idempotencyKeys: false` only a key the caller gave is sent.
  const keyed =
    method !== 'get' &&
    method !== 'delete' &&
    (defaults.idempotencyKeys || options.idempotencyKey !== undefined);
  const sent = keyed
    ? { ...options, headers: withIdempotencyKey(options.headers, options.idempotencyKey) }
    : options;
  return {
    options: sent,
    operation,
    model,
    params,
    replayable: isReplayable(options),
    idempotent: isReplaySafe(method, path, params),
    demand,
    maxRetries: retriesOf(options.maxRetries) ?? defaults.maxRetries,
  };
}

/** A `maxRetries` openai-node would use: a whole number from 0 (it takes anything else as not given). */
export function retriesOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/**
 * A plain object, of this realm or another: a body built in a `node:vm` context or a jest environment has
 * that realm's `Object.prototype`, and openai-node sends it alike. FormData, typed arrays and streams are not.
 */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return true;
  // Another realm's Object.prototype: the end of its chain, whose constructor is that realm's Object.
  return Object.getPrototypeOf(proto) === null && proto.constructor?.name === 'Object';
}
