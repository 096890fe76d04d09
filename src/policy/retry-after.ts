/**
 * Server-requested retry delay, read as openai-node reads it: `retry-after-ms` first, then `Retry-After` in
 * seconds or as an HTTP date. Only values within [0, maxMs] are honoured; anything else falls back to backoff.
 */
export const MAX_HONOURED_RETRY_AFTER_MS = 60_000;

interface HeaderSource {
  get(name: string): string | null;
}

export function retryAfterMs(
  headers: HeaderSource | undefined,
  now = Date.now(),
  maxMs = MAX_HONOURED_RETRY_AFTER_MS,
): number | undefined {
  if (!headers || typeof headers.get !== 'function') return undefined;
  const ms =
    fromMilliseconds(headers.get('retry-after-ms')) ?? fromRetryAfter(headers.get('retry-after'), now);
  return ms !== undefined && ms >= 0 && ms <= maxMs ? ms : undefined;
}

function fromMilliseconds(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const ms = Number(value);
  return Number.isFinite(ms) ? ms : undefined;
}

function fromRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : date - now;
}
