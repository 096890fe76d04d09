/**
 * The checks every options object shares (the client's, ClientPool's, EvictingClientCache's): unknown keys
 * refused with the nearest known one (a misspelt `retry.totalTimeoutMS` or `ttlMS` used to be ignored in
 * silence), and durations. setTimeout keeps delays in a signed 32-bit int: anything above 2^31-1 ms (about
 * 24.8 days) fires after 1 ms, so every duration is bounded, or (where the owner waits it out in steps) may
 * be longer, with Infinity for "never".
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

/** The longest delay setTimeout honours. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

interface DurationRule {
  /** 0 is allowed (e.g. "do not wait"); otherwise the duration must be above 0. */
  zero?: boolean;
  /** Infinity is allowed and means "never" (or "wait forever"). */
  never?: boolean;
  /** Largest finite value; default unbounded (waited out in steps). */
  max?: number;
}

/** A duration in ms, checked: undefined stays undefined, anything else valid or InvalidOptionError naming it. */
export function duration(value: unknown, name: string, rule: DurationRule = {}): number | undefined {
  if (value === undefined) return undefined;
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    (rule.zero ? value >= 0 : value > 0) &&
    (value === Number.POSITIVE_INFINITY ? rule.never === true : value <= (rule.max ?? Number.MAX_VALUE));
  if (!ok) throw new InvalidOptionError(name, expectation(rule), value);
  return value;
}

function expectation({ zero, never, max }: DurationRule): string {
  const low = zero ? 'a number of ms, 0 or more' : 'a number of ms above 0';
  const high = max === undefined ? '' : ` and at most ${max}`;
  return `${low}${high}${never ? ', or Infinity for never' : ' (finite)'}`;
}
