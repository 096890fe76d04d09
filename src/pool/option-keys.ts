/**
 * Refuses option keys a class does not know (a misspelt `ttlMS` used to be ignored in silence), naming the key
 * and the nearest known one. Kept local to the pool until the shared check in src/options.ts covers it.
 */
import { InvalidOptionError } from '../errors.js';

export function rejectUnknownKeys(options: object, known: readonly string[], prefix = ''): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const nearest = nearestOf(key, known);
    throw new InvalidOptionError(
      `${prefix}${key}`,
      `one of the known options (did you mean \`${prefix}${nearest}\`?)`,
      (options as Record<string, unknown>)[key],
    );
  }
}

/** The known name with the smallest edit distance to `key`, ignoring case. */
function nearestOf(key: string, known: readonly string[]): string {
  let best = known[0] ?? '';
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of known) {
    const d = editDistance(key.toLowerCase(), name.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

/** Levenshtein distance, two rows; option names are short, so this is cheap. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] as number;
}
