/**
 * The same churning load two ways: through EvictingClientCache (LiteLLM's hazard: evicted transports are
 * destroyed under in-flight requests) and through ClientPool (evicted clients drain first).
 */
import OpenAI from 'openai';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { ClientPool, createResilientChat, telemetryNames } from '../src/index.js';
import { EvictingClientCache, type MockOpenAI, startMockOpenAI } from '../src/testing/index.js';
import { quietLogger } from './support/assertions.js';
import { TEST_API_KEY } from './support/clients.js';
import { createTelemetryHarness, type TelemetryHarness } from './support/telemetry.js';

const KEYS = 8;
const CONNECTIONS_PER_CLIENT = 32;
let server: MockOpenAI;
let harness: TelemetryHarness;

beforeEach(async () => {
  server = await startMockOpenAI({ fallback: () => ({ type: 'ok', delayMs: 1 }) });
  harness = createTelemetryHarness();
});

afterEach(async () => {
  await server.close();
  await harness.shutdown();
});

const create = (_key: string, transport: object) =>
  new OpenAI({ apiKey: TEST_API_KEY, baseURL: server.url, maxRetries: 0, ...transport });
const model = (i: number) => `model-${i % KEYS}`;

/** Runs `calls` calls at `concurrency`; every `churnMs` something evicts a client. Returns failures. */
async function drive(
  calls: number,
  concurrency: number,
  call: (i: number) => Promise<unknown>,
  churn: () => void,
  churnMs: number,
  onTick?: () => void,
): Promise<unknown[]> {
  const failures: unknown[] = [];
  let next = 0;
  const churning = setInterval(churn, churnMs);
  const sampling = onTick ? setInterval(onTick, 2) : undefined;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < calls; i = next++) await call(i).catch((e: unknown) => failures.push(e));
    }),
  );
  clearInterval(churning);
  clearInterval(sampling);
  return failures;
}

test('10,000 calls through ClientPool with eviction churn at concurrency 200: no closed-client failure at all', async () => {
  const pool = new ClientPool({
    create,
    key: ({ params }) => params.model,
    maxSize: KEYS,
    connectionsPerClient: CONNECTIONS_PER_CLIENT,
    meterProvider: harness.meterProvider,
  });
  const chat = createResilientChat({
    clients: pool, // no tracer provider: spans are not asserted here, and 10,000 of them only cost time
    meterProvider: harness.meterProvider,
    logger: quietLogger,
  });
  let peakSockets = 0;
  let peakBound = 0;
  let evictions = 0;

  const failures = await drive(
    10_000,
    200,
    (i) => chat.completions.create({ model: model(i), messages: [] }),
    () => {
      // Churn: evict a random key's client while requests hold it, every few ms.
      const victim = [...Array(KEYS).keys()][Math.floor(Math.random() * KEYS)] as number;
      void pool.acquire({ params: { model: model(victim), messages: [] } }).then((client) => {
        pool.invalidate(client);
        pool.release(client);
        evictions++;
      });
    },
    5,
    () => {
      const { active, draining } = pool.stats();
      peakSockets = Math.max(peakSockets, server.openConnections);
      peakBound = Math.max(peakBound, (active + draining) * CONNECTIONS_PER_CLIENT);
    },
  );

  expect(failures).toEqual([]);
  expect(evictions).toBeGreaterThan(50);
  expect(await harness.counter(telemetryNames.METRIC_RETRIES)).toBe(0); // no recovery was ever needed
  expect(await harness.counter(telemetryNames.METRIC_CLOSED_CLIENT_RECOVERIES)).toBe(0);
  expect(peakSockets).toBeGreaterThan(0);
  expect(peakSockets).toBeLessThanOrEqual(peakBound);

  await pool.close({ timeoutMs: 5_000 });
  await new Promise((r) => setTimeout(r, 50));
  expect(server.openConnections).toBe(0);
  expect(pool.stats()).toEqual({ active: 0, draining: 0, leases: 0 });
}, 60_000);

test("5,000 calls with a key's client replaced every 5 ms (evict): sockets stay warm, never more than one Agent's worth per key", async () => {
  const pool = new ClientPool({
    create,
    key: ({ params }) => params.model,
    maxSize: KEYS,
    connectionsPerClient: CONNECTIONS_PER_CLIENT,
    meterProvider: harness.meterProvider,
  });
  const chat = createResilientChat({
    clients: pool,
    meterProvider: harness.meterProvider,
    logger: quietLogger,
  });
  let victim = 0;
  let replaced = 0;
  const failures = await drive(
    5_000,
    200,
    (i) => chat.completions.create({ model: model(i), messages: [] }),
    () => {
      if (pool.evict(model(victim++))) replaced++;
    },
    5,
  );

  expect(failures).toEqual([]);
  expect(replaced).toBeGreaterThan(20);
  expect(await harness.counter(telemetryNames.METRIC_CLOSED_CLIENT_RECOVERIES)).toBe(0);
  // Each key's successive clients share one Agent, so the server never sees more sockets than one Agent per
  // key may open, however many clients were replaced (a cold Agent per client opened hundreds here).
  expect(server.connections).toBeLessThanOrEqual(KEYS * CONNECTIONS_PER_CLIENT);
  await pool.close({ timeoutMs: 5_000 });
  await vi.waitFor(() => expect(server.openConnections).toBe(0));
}, 60_000);

test('the same churn through EvictingClientCache: bare openai-node fails, the wrapper recovers every call', async () => {
  const calls = 2_000;
  const bareCache = new EvictingClientCache({ create, key: ({ params }) => params.model });
  const bareFailures = await drive(
    calls,
    200,
    async (i) => {
      const params = { model: model(i), messages: [] };
      return bareCache.acquire({ params }).chat.completions.create(params);
    },
    () => bareCache.evict(),
    50,
  );
  await bareCache.close();

  const cache = new EvictingClientCache({ create, key: ({ params }) => params.model });
  const chat = createResilientChat({
    clients: cache,
    closedClient: { maxRecoveries: 5 },
    tracerProvider: harness.tracerProvider,
    meterProvider: harness.meterProvider,
    logger: quietLogger,
  });
  const wrappedFailures = await drive(
    calls,
    200,
    (i) => chat.completions.create({ model: model(i), messages: [] }),
    () => cache.evict(),
    50,
  );
  await cache.close();

  expect(bareFailures.length).toBeGreaterThan(0);
  expect(bareFailures.every((e) => e instanceof OpenAI.APIConnectionError)).toBe(true);
  expect(wrappedFailures).toEqual([]);
  expect(
    await harness.counter(telemetryNames.METRIC_CLOSED_CLIENT_RECOVERIES, {
      'resilient_chat.recovery.outcome': 'recovered',
    }),
  ).toBeGreaterThan(0);
}, 60_000);
