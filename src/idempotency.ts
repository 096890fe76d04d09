/**
 * One `Idempotency-Key` per logical call, the same on every attempt, so a server that honours it can tell a
 * retry from a new request. openai-node sends none for chat completions by default; a key the caller set
 * (the `idempotencyKey` option or the header itself) wins.
 */
import { randomUUID } from 'node:crypto';

const HEADER = 'Idempotency-Key';

type HeadersOption = Headers | readonly (readonly unknown[])[] | Record<string, unknown> | null | undefined;

/** The headers to send on every attempt of one call: the caller's, plus an idempotency key if they set none. */
export function withIdempotencyKey(headers: unknown, idempotencyKey: string | undefined): Headers {
  const merged = new Headers();
  for (const [name, value] of entries(headers as HeadersOption)) {
    if (value === null || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) merged.append(name, String(v));
    else merged.set(name, String(value));
  }
  if (!merged.has(HEADER)) merged.set(HEADER, idempotencyKey ?? `resilient-chat-${randomUUID()}`);
  return merged;
}

function entries(headers: HeadersOption): Iterable<readonly [string, unknown]> {
  if (!headers) return [];
  if (headers instanceof Headers) return headers.entries();
  if (Array.isArray(headers)) return headers.map((pair) => [String(pair[0]), pair[1]] as const);
  // openai-node's own NullableHeaders wraps a Headers in `values`.
  const values = (headers as { values?: unknown }).values;
  if (values instanceof Headers) return values.entries();
  return Object.entries(headers);
}
