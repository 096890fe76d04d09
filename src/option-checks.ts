/**
 * The checks every options object shares (the client's, its policies', ClientPool's, resilientFetch's,
 * EvictingClientCache's): unknown keys refused with the nearest known one (a misspelt `retry.totalTimeoutMS`
 * or `ttlMS` would otherwise be ignored in silence), durations, whole numbers, ratios, flags and nested
 * objects. Each returns undefined for undefined, so a resolver reads `check(value, name) ?? DEFAULT.value`.
 * setTimeout keeps delays in a signed 32-bit int: anything above 2^31-1 ms (about 24.8 days) fires after 1 ms, so every duration is bounded, or (where the owner waits it out in steps) may
 * be longer, with Infinity for "never".
 */
import { InvalidOptionError } from './errors.js';

/**
 * The keys of an options type, one `true` each: written `{ ... } as const satisfies KeySet<Options>`, the
 * compiler refuses a missing key and an extra one, so the list of known keys cannot drift from the type.
 */
export type KeySet<Options> = Record<keyof Options, true>;

/** The keys of a KeySet, for `rejectUnknownKeys`. */
export function keysOf(set: Readonly<Record<string, true>>): readonly string[] {
  return Object.keys(set);
}

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

/** A duration setTimeout can wait in one go, above 0. */
export const TIMER: DurationRule = { max: MAX_TIMER_MS };
/** A duration setTimeout can wait in one go, 0 allowed ("do not wait"). */
export const TIMER_OR_ZERO: DurationRule = { zero: true, max: MAX_TIMER_MS };

interface WholeNumberRule {
  /** The smallest value allowed: 0, or 1 for "above 0". */
  min: 0 | 1;
  /** Largest value; default Number.MAX_SAFE_INTEGER. */
  max?: number;
  /** Infinity is allowed and means "no limit". */
  unlimited?: boolean;
}

/** A whole number within the rule, checked: undefined stays undefined, anything else valid or InvalidOptionError. */
export function wholeNumber(value: unknown, name: string, rule: WholeNumberRule): number | undefined {
  if (value === undefined) return undefined;
  if (rule.unlimited && value === Number.POSITIVE_INFINITY) return value;
  const max = rule.max ?? Number.MAX_SAFE_INTEGER;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < rule.min || value > max) {
    throw new InvalidOptionError(name, wholeNumberExpected(rule), value);
  }
  return value;
}

function wholeNumberExpected({ min, max, unlimited }: WholeNumberRule): string {
  let range = `a whole number from ${min} to ${max}`;
  if (max === undefined) range = min === 0 ? 'a whole number, 0 or more' : 'a whole number above 0';
  return unlimited ? `${range}, or Infinity` : range;
}

/** A ratio in (0, 1]; with `zeroAllowed`, [0, 1]. */
export function ratio(value: unknown, name: string, zeroAllowed: boolean): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !(zeroAllowed ? value >= 0 : value > 0) || value > 1) {
    throw new InvalidOptionError(name, `a number ${zeroAllowed ? 'from 0' : 'above 0 and'} up to 1`, value);
  }
  return value;
}

/** A finite number, 0 or more. */
export function nonNegative(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError(name, 'a finite number of at least 0', value);
  }
  return value;
}

export function flag(value: unknown, name: string): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean')
    throw new InvalidOptionError(name, 'a boolean', value);
  return value;
}

/** A nested options object (`retry`, `circuitBreaker`...): an object that is not an array, or undefined. */
export function optionalObject<T>(value: unknown, name: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(name, 'an object', value);
  }
  return value as T;
}
