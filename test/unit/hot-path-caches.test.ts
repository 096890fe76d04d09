/**
 * What the overhead work changed under the hot path keeps its contract: the LRU map still evicts the least
 * recently used entry when the newest one is read again without reordering, and Idempotency-Keys drawn from
 * a counter stay unique and keep their shape.
 */
import { expect, test } from 'vitest';
import { newIdempotencyKey } from '../../src/call/idempotency.js';
import { LruMap } from '../../src/lru-map.js';

test('reading the newest key keeps it newest; reading an older one makes it newest', () => {
  const map = new LruMap<string, number>(2);
  map.set('a', 1);
  map.set('b', 2);
  expect(map.get('b')).toBe(2); // newest already: no reorder needed
  expect(map.get('a')).toBe(1); // now 'a' is newest, 'b' the oldest
  map.set('c', 3);
  expect([map.get('b'), map.get('a'), map.get('c')]).toEqual([undefined, 1, 3]);
  map.get('c');
  map.get('c');
  map.set('d', 4); // 'a' is the oldest now
  expect([map.get('a'), map.get('c'), map.get('d')]).toEqual([undefined, 3, 4]);
});

test('a key dropped as the oldest is gone even if it was the newest before', () => {
  const map = new LruMap<string, number>(1);
  map.set('a', 1);
  expect(map.get('a')).toBe(1);
  map.set('b', 2);
  expect(map.get('a')).toBeUndefined();
  expect(map.get('b')).toBe(2);
});

test('Idempotency-Keys are unique and shaped like the random ones before them', () => {
  const keys = Array.from({ length: 10_000 }, () => newIdempotencyKey());
  expect(new Set(keys).size).toBe(keys.length);
  for (const key of [keys[0], keys[9_999]]) expect(key).toMatch(/^resilient-chat-[0-9a-f-]{36}$/);
});
