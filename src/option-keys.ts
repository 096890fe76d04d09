/**
 * Refuses option keys a function or class does not know: a misspelt `retry.totalTimeoutMS` or `ttlMS` used to
 * be ignored in silence. The error names the key and, when one is close enough to be a typo, the nearest
 * known one. Shared by the client's options and ClientPool's.
 */
import { InvalidOptionError } from './errors.js';

export function rejectUnknownKeys(options: object, known: readonly string[], prefix = ''): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const nearest = nearestKey(key, known);
    throw new InvalidOptionError(
      `${prefix}${key}`,
      nearest ? `a known option; did you mean \`${prefix}${nearest}\`?` : `one of: ${known.join(', ')}`,
      (options as Record<string, unknown>)[key],
      'is not an option',
    );
  }
}

/** The known key closest to `key` by edit distance (case-insensitive), when it is close enough to be a typo. */
function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.ceil(key.length / 3)) ? best : undefined;
}

/** Levenshtein distance, two rows; option names are short, so the plain dynamic programme is plenty. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
