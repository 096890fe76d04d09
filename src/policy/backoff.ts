/**
 * Backoff delays for transient failures: exponential ceilings from the `retry` package, full jitter on top
 * (AWS "Exponential Backoff And Jitter": a uniform draw in [0, ceiling] spreads retries the most).
 *
 * The `retry` package's pitfalls, guarded here: `randomize` only ever lengthens delays (x1 to x2), so it stays
 * off and jitter is ours; `maxTimeout: undefined` yields NaN, so it is always a finite number; `retries:
 * Infinity` never returns, so the count is bounded by option validation; `minTimeout: 0` is silently raised to
 * 1 ms, so a zero base delay is handled before asking it.
 */
import retry from 'retry';

export type Random = () => number;

export class BackoffSchedule {
  readonly #ceilings: readonly number[];
  readonly #random: Random;

  constructor(maxRetries: number, baseDelayMs: number, maxDelayMs: number, random: Random = Math.random) {
    this.#random = random;
    this.#ceilings =
      baseDelayMs === 0
        ? Array.from({ length: maxRetries }, () => 0)
        : retry.timeouts({
            retries: maxRetries,
            factor: 2,
            minTimeout: baseDelayMs,
            maxTimeout: maxDelayMs,
            randomize: false,
          });
  }

  /** The longest delay before retry number `retryIndex` (from 0). */
  ceiling(retryIndex: number): number {
    return this.#ceilings[Math.min(retryIndex, this.#ceilings.length - 1)] ?? 0;
  }

  /**
   * A jittered delay before retry number `retryIndex` (from 0), in [0, ceiling]. A draw outside [0, 1] is
   * clamped and one that is not a number counts as 1, so a user's random source cannot make a NaN, negative
   * or longer-than-the-ceiling sleep.
   */
  delay(retryIndex: number): number {
    const drawn = this.#random();
    const fraction = typeof drawn === 'number' && !Number.isNaN(drawn) ? Math.min(1, Math.max(0, drawn)) : 1;
    return Math.round(fraction * this.ceiling(retryIndex));
  }
}
