/** ClientPool against a real server: leases, eviction without killing in-flight requests, close, churn. */
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  ClientPool,
  type ClientPoolOptions,
  InvalidOptionError,
  PoolClosedError,
  telemetryNames,
} from '../../src/index.js';
import { ATTR_POOL_EVICTION_CAUSE, METRIC_POOL_EVICTIONS } from '../../src/pool/pool-telemetry.js';
import { type MockOpenAI, startMockOpenAI } from '../../src/testing/index.js';
import { TEST_API_KEY } from '../support/clients.js';
import { createTelemetryHarness, type TelemetryHarness } from '../support/telemetry.js';

let server: MockOpenAI;
let harness: TelemetryHarness;
let pool: ClientPool | undefined;
const params = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };

beforeEach(async () => {
  server = await startMockOpenAI();
  harness = createTelemetryHarness();
});

afterEach(async () => {
  await pool?.close({ timeoutMs: 100 });
  pool = undefined;
  await server.close();
  await harness.shutdown();
});

function makePool(options: Partial<ClientPoolOptions> = {}): ClientPool {
  pool = new ClientPool({
    create: (_key, transport) =>
      new OpenAI({ apiKey: TEST_API_KEY, baseURL: server.url, maxRetries: 0, ...transport }),
    meterProvider: harness.meterProvider,
    ...options,
  });
  return pool;
}

const dispatcherOf = (client: OpenAI) =>
  (client.fetchOptions as { dispatcher: { closed: boolean; destroyed: boolean } }).dispatcher;

describe('leases', () => {
  test('one client per key, each with its own Agent', async () => {
    const p = makePool({ key: ({ params }) => params.model ?? '' });
    const a = await p.acquire({ params: { ...params, model: 'a' } });
    const a2 = await p.acquire({ params: { ...params, model: 'a' } });
    const b = await p.acquire({ params: { ...params, model: 'b' } });
    expect(a2).toBe(a);
    expect(b).not.toBe(a);
    expect(dispatcherOf(b)).not.toBe(dispatcherOf(a));
    expect(p.stats()).toEqual({ active: 2, draining: 0, leases: 3 });
  });

  test('an evicted client stays open while leased, and closes at its last release', async () => {
    const p = makePool();
    const client = await p.acquire();
    await p.acquire(); // a second lease on the same client

    p.invalidate(client);
    const fresh = await p.acquire();

    expect(fresh).not.toBe(client);
    expect(p.stats()).toEqual({ active: 1, draining: 1, leases: 3 });
    p.release(client);
    expect(dispatcherOf(client).closed).toBe(false); // one lease still out
    p.release(client);
    expect(dispatcherOf(client).closed).toBe(true); // closed at the last release, no timer involved
    p.release(client); // an extra release is ignored
    expect(p.stats()).toEqual({ active: 1, draining: 0, leases: 1 });
  });

  test('a request that completes after its client was evicted is not killed', async () => {
    const p = makePool();
    const client = await p.acquire();
    server.script({ type: 'ok', delayMs: 100 });
    const inFlight = client.chat.completions.create(params);
    await new Promise((r) => setTimeout(r, 20));
    p.invalidate(client);
    expect((await inFlight).object).toBe('chat.completion');
    p.release(client);
    expect(dispatcherOf(client).closed).toBe(true);
  });

  test('an idle client is closed when its idle time runs out', async () => {
    const p = makePool({ idleTimeoutMs: 30 });
    const client = await p.acquire();
    p.release(client);
    await new Promise((r) => setTimeout(r, 80));
    expect(dispatcherOf(client).closed).toBe(true);
    expect(p.stats()).toEqual({ active: 0, draining: 0, leases: 0 });
  });

  test('TTL evicts; an idle client that is evicted closes at once', async () => {
    const p = makePool({ ttlMs: 30 });
    const client = await p.acquire();
    p.release(client);
    await new Promise((r) => setTimeout(r, 60));
    expect(dispatcherOf(client).closed).toBe(true);
    expect(await p.acquire()).not.toBe(client);
  });

  test('at exhaustion the least recently used client drains and the new key is served at once', async () => {
    const p = makePool({ maxSize: 2, key: ({ params }) => params.model ?? '' });
    const a = await p.acquire({ params: { ...params, model: 'a' } });
    await new Promise((r) => setTimeout(r, 2));
    const b = await p.acquire({ params: { ...params, model: 'b' } });
    const c = await p.acquire({ params: { ...params, model: 'c' } });
    expect(c).not.toBe(a);
    expect(p.stats()).toEqual({ active: 2, draining: 1, leases: 3 });
    expect(dispatcherOf(a).closed).toBe(false);
    p.release(a);
    expect(dispatcherOf(a).closed).toBe(true);
    expect(dispatcherOf(b).closed).toBe(false);
    expect(await harness.counter(METRIC_POOL_EVICTIONS, { [ATTR_POOL_EVICTION_CAUSE]: 'size' })).toBe(1);
  });

  test('acquire after close, or with an aborted signal, is refused', async () => {
    const p = makePool();
    await expect(p.acquire({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    await p.close();
    await expect(p.acquire()).rejects.toBeInstanceOf(PoolClosedError);
  });

  test('close() waits for leased clients up to its deadline, then destroys them; nothing stays open', async () => {
    const p = makePool();
    const client = await p.acquire();
    server.script({ type: 'stall', at: 'headers' });
    const inFlight = client.chat.completions.create(params).catch((e: unknown) => e);
    await server.stalled();
    expect(server.openConnections).toBe(1);

    const started = performance.now();
    await p.close({ timeoutMs: 100 });

    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
    expect(dispatcherOf(client).destroyed).toBe(true);
    expect(await inFlight).toBeInstanceOf(OpenAI.APIConnectionError);
    await new Promise((r) => setTimeout(r, 20));
    expect(server.openConnections).toBe(0);
  });

  test('bad options name themselves', () => {
    expect(() => new ClientPool({} as ClientPoolOptions)).toThrow(InvalidOptionError);
    expect(() => makePool({ maxSize: 0 })).toThrow(/`maxSize`/);
    expect(() => makePool({ ttlMs: -1 })).toThrow(/`ttlMs`/);
    expect(() => makePool({ connectionsPerClient: 1.5 })).toThrow(/`connectionsPerClient`/);
  });

  test('gauges report clients by state and leases', async () => {
    const p = makePool();
    await p.acquire();
    const metrics = await harness.metrics();
    const clients = metrics.find((m) => m.descriptor.name === 'resilient_chat.pool.clients');
    const leases = metrics.find((m) => m.descriptor.name === 'resilient_chat.pool.leases');
    expect(
      clients?.dataPoints.map((d) => [d.attributes['resilient_chat.pool.client.state'], d.value]),
    ).toEqual([
      ['active', 1],
      ['draining', 0],
    ]);
    expect(leases?.dataPoints.map((d) => d.value)).toEqual([1]);
    expect(telemetryNames).toBeDefined();
  });
});
