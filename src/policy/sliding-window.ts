/**
 * Counts over a sliding time window, kept as ten buckets so old counts age out a tenth of a window at a time
 * without storing every event. Shared by the circuit breaker and the retry budget.
 */
const BUCKETS = 10;

export class SlidingCounts<K extends string> {
  readonly #windowMs: number;
  readonly #bucketMs: number;
  readonly #now: () => number;
  readonly #keys: readonly K[];
  #buckets: { start: number; counts: Record<K, number> }[] = [];

  constructor(keys: readonly K[], windowMs: number, now: () => number) {
    this.#keys = keys;
    this.#windowMs = windowMs;
    this.#bucketMs = windowMs / BUCKETS;
    this.#now = now;
  }

  add(key: K, n = 1): void {
    const now = this.#now();
    this.#expire(now);
    let last = this.#buckets[this.#buckets.length - 1];
    if (!last || now - last.start >= this.#bucketMs) {
      last = { start: now, counts: Object.fromEntries(this.#keys.map((k) => [k, 0])) as Record<K, number> };
      this.#buckets.push(last);
    }
    last.counts[key] += n;
  }

  totals(): Record<K, number> {
    this.#expire(this.#now());
    const totals = Object.fromEntries(this.#keys.map((k) => [k, 0])) as Record<K, number>;
    for (const bucket of this.#buckets) for (const k of this.#keys) totals[k] += bucket.counts[k];
    return totals;
  }

  clear(): void {
    this.#buckets = [];
  }

  #expire(now: number): void {
    const horizon = now - this.#windowMs;
    while (this.#buckets.length > 0 && (this.#buckets[0]?.start ?? 0) <= horizon) this.#buckets.shift();
  }
}
