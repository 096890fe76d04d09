/**
 * One `Idempotency-Key` per logical call, the same on every attempt, so a server that honours it can tell a
 * retry from a new request. openai-node sends none for chat completions by default; a key the caller set
 * (the `idempotencyKey` option or the header itself) wins.
 */
import { randomUUID } from 'node:crypto';

const HEADER = 'idempotency-key';

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
  if (headers == null) return { [HEADER]: idempotencyKey ?? `resilient-chat-${randomUUID()}` };
  const merged: Record<string, HeaderValue> = {};
  for (const [name, value] of entries(headers)) {
    if (value === undefined) continue;
    merged[name.toLowerCase()] =
      value === null ? null : Array.isArray(value) ? value.map(String) : String(value);
  }
  if (merged[HEADER] === undefined) merged[HEADER] = idempotencyKey ?? `resilient-chat-${randomUUID()}`;
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
