/**
 * Recovery never adds evictions of its own: the calls that were on a client when it died share the one
 * replacement the first of them got from a source that takes nothing back (a factory, a cache), so a cache
 * that evicts on every lookup past its TTL is looked up once per dead client, not once per call.
 */
import { describe, expect, test } from 'vitest';
import type { ClientsOption } from '../../src/index.js';
import { newClient, type TestClient } from '../support/clients.js';
import { useLoopback } from '../support/loopback.js';

const env = useLoopback();
const IN_FLIGHT = 10;

/**
 * The harshest cache: it serves `first` to the first IN_FLIGHT lookups, and from then on every lookup
 * evicts, destroying the client it served last, as a TTL shorter than a request does.
 */
function evictingOnEveryLookup(first: TestClient, next: () => TestClient) {
  const state = { lookups: 0, lookupsAfterFirst: 0, current: first };
  const acquire = () => {
    state.lookups++;
    if (state.lookups <= IN_FLIGHT) return first.client;
    state.lookupsAfterFirst++;
    const previous = state.current;
    state.current = next();
    if (previous !== first) void previous.agent.destroy();
    return state.current.client;
  };
  return { state, acquire };
}

/** IN_FLIGHT calls over `clients`, held by the server until `first`, which they all got, is destroyed. */
async function holdAndKill(first: TestClient, clients: ClientsOption) {
  for (let i = 0; i < IN_FLIGHT; i++) env.server.script({ type: 'stall', at: 'headers' });
  const chat = env.chat({ clients });
  const calls = Array.from({ length: IN_FLIGHT }, () =>
    chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  );
  for (let i = 0; i < IN_FLIGHT; i++) await env.server.stalled();
  await first.agent.destroy();
  return Promise.allSettled(calls);
}

describe('calls recovering from one dead client', () => {
  test('share one replacement: one lookup for ten calls, and every call recovers', async () => {
    const first = newClient(env.server);
    const made: TestClient[] = [];
    const cache = evictingOnEveryLookup(first, () => {
      const fresh = newClient(env.server);
      made.push(fresh);
      return fresh;
    });
    const results = await holdAndKill(first, cache.acquire);
    expect(results.map((r) => r.status)).toEqual(Array(IN_FLIGHT).fill('fulfilled'));
    expect(cache.state.lookupsAfterFirst).toBe(1);
    await Promise.all(made.map((c) => c.agent.destroy()));
  });

  test('a shared replacement that is dead too is replaced once more, again for all of them', async () => {
    const first = newClient(env.server);
    const made: TestClient[] = [];
    const cache = evictingOnEveryLookup(first, () => {
      const fresh = newClient(env.server);
      // The first replacement comes with a transport already destroyed.
      if (made.length === 0) void fresh.agent.destroy();
      made.push(fresh);
      return fresh;
    });
    const results = await holdAndKill(first, cache.acquire);
    expect(results.map((r) => r.status)).toEqual(Array(IN_FLIGHT).fill('fulfilled'));
    expect(cache.state.lookupsAfterFirst).toBe(2);
    await Promise.all(made.map((c) => c.agent.destroy()));
  });

  test('a source that takes its clients back is asked once per recovering call: its leases stay its own', async () => {
    const first = newClient(env.server);
    const made: TestClient[] = [];
    const lookups = { afterFirst: 0, total: 0 };
    const source = {
      acquire: () => {
        if (++lookups.total <= IN_FLIGHT) return first.client;
        lookups.afterFirst++;
        const fresh = newClient(env.server);
        made.push(fresh);
        return fresh.client;
      },
      release: () => {},
    };
    const results = await holdAndKill(first, source);
    expect(results.map((r) => r.status)).toEqual(Array(IN_FLIGHT).fill('fulfilled'));
    expect(lookups.afterFirst).toBe(IN_FLIGHT);
    await Promise.all(made.map((c) => c.agent.destroy()));
  });
});
