/**
 * One `Idempotency-Key` per logical call, the same on every attempt, so a server that honours it can tell a
 * retry from a new request. openai-node sends none for chat completions by default; a key the caller set
 * (the `idempotencyKey` option or the header itself) wins.
 */
import { randomUUID } from 'node:crypto';
import { withHeader } from './request-headers.js';

const HEADER = 'idempotency-key';

/**
 * A new key: unique without drawing a random UUID per call (a draw costs more than the rest of the key). The first 24
 * characters are a random UUID's, drawn once per 2^32 keys; the last 12 count in hex. Keys from other
 * processes differ in the random part, keys of this one in the count. Same shape as a UUID, 36 characters.
 */
let prefix = '';
let count = 0;
export function newIdempotencyKey(): string {
  if (count === 0) prefix = `resilient-chat-${randomUUID().slice(0, 24)}`;
  const key = prefix + count.toString(16).padStart(12, '0');
  count = (count + 1) % 2 ** 32;
  return key;
}

/**
 * The caller's headers in openai-node's record form, plus an idempotency key if they set none (a key given as
 * the `idempotencyKey` request option is used when the header is not).
 */
export function withIdempotencyKey(
  headers: unknown,
  idempotencyKey: string | undefined,
): ReturnType<typeof withHeader> {
  return withHeader(headers, HEADER, idempotencyKey ?? newIdempotencyKey());
}
