/**
 * A retry budget shared by every call of one resilient client, in the style of Finagle's RetryBudget and
 * the Google SRE book: over a sliding window, retries may not exceed `ratio` x calls plus a small floor of
 * `minRetriesPerSecond`. In an outage this caps the load retries add at about (1 + ratio)x instead of
 * (1 + maxRetries)x. Written by hand: no maintained npm package offers a plain ratio budget to ask.
 */
import { duration, type KeySet, nonNegative, optionalObject, ratio, TIMER } from '../option-checks.js';
import { SlidingCounts } from './sliding-window.js';

/** The retry budget shared by every call of one client: retries <= ratio x calls + a per-second floor. */
export interface RetryBudgetOptions {
  /**
   * Retries allowed per call over the window.
   * @defaultValue `0.1`
   */
  ratio?: number;
  /**
   * Retries always allowed per second, so a quiet service can still retry.
   * @defaultValue `1`
   */
  minRetriesPerSecond?: number;
  /**
   * Length of the window in ms.
   * @defaultValue `10000`
   */
  windowMs?: number;
}

export interface ResolvedBudgetOptions {
  ratio: number;
  minRetriesPerSecond: number;
  windowMs: number;
}

export const DEFAULT_BUDGET: ResolvedBudgetOptions = { ratio: 0.1, minRetriesPerSecond: 1, windowMs: 10_000 };

export const BUDGET_KEYS = {
  ratio: true,
  minRetriesPerSecond: true,
  windowMs: true,
} as const satisfies KeySet<RetryBudgetOptions>;

/**
 * The `retryBudget` option, checked, with the defaults filled in; `false` turns the budget off. A zero ratio
 * is allowed: the budget then allows only the per-second floor.
 */
export function resolveBudgetOptions(
  value: RetryBudgetOptions | false | undefined,
): ResolvedBudgetOptions | undefined {
  if (value === false) return undefined;
  const budget = optionalObject<RetryBudgetOptions>(value, 'retryBudget') ?? {};
  return {
    ratio: ratio(budget.ratio, 'retryBudget.ratio', true) ?? DEFAULT_BUDGET.ratio,
    minRetriesPerSecond:
      nonNegative(budget.minRetriesPerSecond, 'retryBudget.minRetriesPerSecond') ??
      DEFAULT_BUDGET.minRetriesPerSecond,
    windowMs: duration(budget.windowMs, 'retryBudget.windowMs', TIMER) ?? DEFAULT_BUDGET.windowMs,
  };
}

export class RetryBudget {
  readonly #options: ResolvedBudgetOptions;
  readonly #counts: SlidingCounts<'calls' | 'retries'>;

  constructor(options: ResolvedBudgetOptions, now = Date.now) {
    this.#options = options;
    this.#counts = new SlidingCounts(['calls', 'retries'], options.windowMs, now);
  }

  /** Every logical call earns `ratio` of a retry. */
  deposit(): void {
    this.#counts.add('calls');
  }

  /** Spends one retry if the budget allows it; false means the retry must not be made. */
  tryWithdraw(): boolean {
    const { calls, retries } = this.#counts.totals();
    const { ratio, minRetriesPerSecond, windowMs } = this.#options;
    if (retries + 1 > calls * ratio + (minRetriesPerSecond * windowMs) / 1000) return false;
    this.#counts.add('retries');
    return true;
  }
}
