/**
 * Duration options of ClientPool, and timers that honour them. setTimeout keeps delays in a signed 32-bit
 * int: anything above 2^31-1 ms (about 24.8 days) fires after 1 ms, so a 30-day TTL used to evict every
 * client at once. Here a long delay is waited out in steps, and Infinity means "never".
 */
import { InvalidOptionError } from '../errors.js';

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

export interface Timer {
  cancel(): void;
}

const NEVER: Timer = { cancel() {} };

/**
 * Calls `fn` after `ms` (any length; Infinity never fires). Unref'd unless `ref` is set, so a pool's timers
 * never hold a process open. Written by hand: Node has no long timer, and the one-function npm packages for
 * it are unmaintained.
 */
export function after(ms: number, fn: () => void, ref = false): Timer {
  if (ms === Number.POSITIVE_INFINITY) return NEVER;
  let timer: NodeJS.Timeout;
  const deadline = Date.now() + ms;
  const arm = (left: number) => {
    timer = setTimeout(
      () => {
        const rest = deadline - Date.now();
        if (left > MAX_TIMER_MS && rest > 0) arm(rest);
        else fn();
      },
      Math.min(left, MAX_TIMER_MS),
    );
    if (!ref) timer.unref();
  };
  arm(ms);
  return { cancel: () => clearTimeout(timer) };
}
