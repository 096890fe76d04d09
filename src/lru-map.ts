/**
 * A Map that keeps at most `limit` entries, dropping the least recently used. Per-model state (breakers,
 * attribute sets) is keyed by user-supplied model names; without a bound, a service that passes arbitrary
 * names through would grow it for the life of the process. Written by hand: a Map's insertion order already
 * is the recency order, so the whole policy is a delete-and-set on read, smaller than any dependency.
 */
export class LruMap<K, V> {
  readonly #entries = new Map<K, V>();
  readonly #limit: number;
  /** The most recently used key: already last in order, so reading it again needs no reordering (the hot path). */
  #newest: K | undefined;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined && key !== this.#newest) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
      this.#newest = key;
    }
    return value;
  }

  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    this.#newest = key;
    if (this.#entries.size > this.#limit) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }

  values(): IterableIterator<V> {
    return this.#entries.values();
  }
}

/** The bounded map `cache` keeps for `owner` (a client, an operation), made on first use. */
export function lruFor<K extends object, V>(
  cache: WeakMap<K, LruMap<string, V>>,
  owner: K,
  limit: number,
): LruMap<string, V> {
  let map = cache.get(owner);
  if (!map) {
    map = new LruMap(limit);
    cache.set(owner, map);
  }
  return map;
}
