/**
 * The same churning load two ways: through EvictingClientCache (LiteLLM's hazard: evicted transports are
 * destroyed under in-flight requests) and through ClientPool (evicted clients drain first).
 */
import OpenAI from 'openai';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { ClientPool, createResilientChat, telemetryNames } from '../../src/index.js';
import { EvictingClientCache, type MockOpenAI, startMockOpenAI } from '../../src/testing/index.js';
import { quietLogger } from '../support/assertions.js';
import { TEST_API_KEY } from '../support/clients.js';
import { createTelemetryHarness, type TelemetryHarness } from '../support/telemetry.js';

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

/** Runs `calls` calls at `concurrency`; every `churnMs` (if given) something evicts a client. Returns failures. */
async function drive(
  calls: number,
  concurrency: number,
  call: (i: number) => Promise<unknown>,
  churn?: () => void,
  churnMs?: number,
  onTick?: () => void,
): Promise<unknown[]> {
  const failures: unknown[] = [];
  let next = 0;
  const churning = churn && setInterval(churn, churnMs);
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
    key: ({ params }) => params.model ?? '',
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

test('the same churn through EvictingClientCache: bare openai-node fails, the wrapper recovers every call', async () => {
  const calls = 2_000;
  // The oldest client is destroyed every 100 calls started, not every so many ms: on a busy machine an attempt
  // outlived a timed client's life, so every retry died too. Counted in calls, a fresh client outlives the
  // ~200 calls that start while an attempt on it runs (8 keys: it is the oldest after 700 more), on any machine.
  const evictionDue = (i: number) => i > 0 && i % 100 === 0;
  const bareCache = new EvictingClientCache({ create, key: ({ params }) => params.model ?? '' });
  const bareFailures = await drive(calls, 200, async (i) => {
    if (evictionDue(i)) bareCache.evict();
    const params = { model: model(i), messages: [] };
    return bareCache.acquire({ params }).chat.completions.create(params);
  });
  await bareCache.close();

  const cache = new EvictingClientCache({ create, key: ({ params }) => params.model ?? '' });
  const chat = createResilientChat({
    clients: cache,
    closedClient: { maxRecoveries: 5 },
    tracerProvider: harness.tracerProvider,
    meterProvider: harness.meterProvider,
    logger: quietLogger,
  });
  const wrappedFailures = await drive(calls, 200, (i) => {
    if (evictionDue(i)) cache.evict();
    return chat.completions.create({ model: model(i), messages: [] });
  });
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
