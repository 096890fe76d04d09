/**
 * One `Idempotency-Key` per logical call, the same on every attempt, so a server that honours it can tell a
 * retry from a new request. openai-node sends none for chat completions by default; a key the caller set
 * (the `idempotencyKey` option or the header itself) wins.
 */
import { randomUUID } from 'node:crypto';

const HEADER = 'idempotency-key';

/**
 * A new key: unique without a random UUID per call (one showed in the overhead profile). The first 24
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

type HeaderValue = string | readonly string[] | null;

/**
 * The caller's headers in openai-node's record form, plus an idempotency key if they set none. `null` values
 * are kept: to openai-node they mean "remove this default header".
 */
export function withIdempotencyKey(
  headers: unknown,
  idempotencyKey: string | undefined,
): Record<string, HeaderValue> {
  // The usual case: no headers of the caller's to merge.
  if (headers == null) return { 'idempotency-key': idempotencyKey ?? newIdempotencyKey() };
  const merged: Record<string, HeaderValue> = {};
  for (const [name, value] of entries(headers)) {
    if (value === undefined) continue;
    merged[name.toLowerCase()] =
      value === null ? null : Array.isArray(value) ? value.map(String) : String(value);
  }
  if (merged[HEADER] === undefined) merged[HEADER] = idempotencyKey ?? newIdempotencyKey();
  return merged;
}

function entries(headers: unknown): Iterable<readonly [string, unknown]> {
  if (!headers || typeof headers !== 'object') return [];
  if (headers instanceof Headers) return headers.entries();
  if (Array.isArray(headers)) return headers.map((pair: unknown[]) => [String(pair[0]), pair[1]] as const);
  // openai-node's own NullableHeaders: a Headers in `values` and the names to remove in `nulls`.
  const { values, nulls } = headers as { values?: unknown; nulls?: unknown };
  if (values instanceof Headers) {
    const removed = nulls instanceof Set ? [...nulls].map((n) => [String(n), null] as const) : [];
    return [...values.entries(), ...removed];
  }
  return Object.entries(headers);
}
