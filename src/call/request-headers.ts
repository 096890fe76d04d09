/**
 * The caller's request headers, in any of the shapes openai-node accepts (a record, a `Headers`, pairs, its
 * own NullableHeaders), as one record with lower-case names, and one header added to it unless the caller set
 * it. `null` values are kept: to openai-node they mean "remove this default header". Written by hand because
 * openai-node's own `buildHeaders` is internal.
 */
type HeaderValue = string | readonly string[] | null;

/** `headers` as a record with `name` added, unless the caller gave it (a `null` counts: it removes it). */
export function withHeader(headers: unknown, name: string, value: string): Record<string, HeaderValue> {
  // The usual case: no headers of the caller's to merge.
  if (headers == null) return { [name]: value };
  const merged = headerRecord(headers);
  if (merged[name] === undefined) merged[name] = value;
  return merged;
}

/** The caller's headers as one record with lower-case names; undefined values are left out. */
export function headerRecord(headers: unknown): Record<string, HeaderValue> {
  const merged: Record<string, HeaderValue> = {};
  for (const [name, value] of entries(headers)) {
    if (value === undefined) continue;
    merged[name.toLowerCase()] =
      value === null ? null : Array.isArray(value) ? value.map(String) : String(value);
  }
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
