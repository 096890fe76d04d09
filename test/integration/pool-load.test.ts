/**
 * The same churning load two ways: through EvictingClientCache (LiteLLM's hazard: evicted transports are
 * destroyed under in-flight requests) and through ClientPool (evicted clients drain first).
 */
import OpenAI from 'openai';
import { expect, test, vi } from 'vitest';
import { ClientPool, createResilientChat, telemetryNames } from '../../src/index.js';
import { EvictingClientCache } from '../../src/testing/index.js';
import { quietLogger } from '../support/assertions.js';
import { TEST_API_KEY } from '../support/clients.js';
import { useLoopback } from '../support/loopback.js';

const KEYS = 8;
const CONNECTIONS_PER_CLIENT = 32;
const env = useLoopback({ fallback: () => ({ type: 'ok', delayMs: 1 }) });

const create = (_key: string, transport: object) =>
  new OpenAI({ apiKey: TEST_API_KEY, baseURL: env.server.url, maxRetries: 0, ...transport });
const model = (i: number) => `model-${i % KEYS}`;

/**
 * Runs `calls` calls at `concurrency` while something evicts clients: every `everyMs` (a timer: the pool must
 * cope with any timing), or every `everyCalls` calls started (tied to progress, so a starved event loop slows
 * the churn with the calls and a cache that destroys clients stays survivable). Returns failures.
 */
async function drive(
  calls: number,
  concurrency: number,
  call: (i: number) => Promise<unknown>,
  churn: { run: () => void; everyMs?: number; everyCalls?: number },
  onTick?: () => void,
): Promise<unknown[]> {
  const failures: unknown[] = [];
  let next = 0;
  const churning = churn.everyMs ? setInterval(churn.run, churn.everyMs) : undefined;
  const sampling = onTick ? setInterval(onTick, 2) : undefined;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < calls; i = next++) {
        if (churn.everyCalls && i % churn.everyCalls === 0) churn.run();
        await call(i).catch((e: unknown) => failures.push(e));
      }
    }),
  );
  clearInterval(churning);
  clearInterval(sampling);
  return failures;
}

test('5,000 calls through ClientPool with eviction churn at concurrency 200: no closed-client failure at all', async () => {
  const pool = new ClientPool({
    create,
    key: ({ params }) => params.model ?? '',
    maxSize: KEYS,
    connectionsPerClient: CONNECTIONS_PER_CLIENT,
    meterProvider: env.harness.meterProvider,
  });
  const chat = createResilientChat({
    clients: pool, // no tracer provider: spans are not asserted here, and 10,000 of them only cost time
    meterProvider: env.harness.meterProvider,
    logger: quietLogger,
  });
  let peakSockets = 0;
  let peakBound = 0;
  let evictions = 0;

  const failures = await drive(
    5_000,
    200,
    (i) => chat.completions.create({ model: model(i), messages: [] }),
    {
      // Churn: invalidate a random key's client while requests hold it, every few ms.
      run: () => {
        const victim = [...Array(KEYS).keys()][Math.floor(Math.random() * KEYS)] as number;
        void pool.acquire({ params: { model: model(victim), messages: [] } }).then((client) => {
          pool.invalidate(client);
          pool.release(client);
          evictions++;
        });
      },
      everyMs: 5,
    },
    () => {
      const { active, draining } = pool.stats();
      peakSockets = Math.max(peakSockets, env.server.openConnections);
      peakBound = Math.max(peakBound, (active + draining) * CONNECTIONS_PER_CLIENT);
    },
  );

  expect(failures).toEqual([]);
  expect(evictions).toBeGreaterThan(50);
  expect(await env.harness.counter(telemetryNames.METRIC_RETRIES)).toBe(0); // no recovery was ever needed
  expect(await env.harness.counter(telemetryNames.METRIC_CLOSED_CLIENT_RECOVERIES)).toBe(0);
  expect(peakSockets).toBeGreaterThan(0);
  expect(peakSockets).toBeLessThanOrEqual(peakBound);

  await pool.close({ timeoutMs: 5_000 });
  await new Promise((r) => setTimeout(r, 50));
  expect(env.server.openConnections).toBe(0);
  expect(pool.stats()).toEqual({ active: 0, draining: 0, leases: 0 });
}, 120_000);

test("5,000 calls with a key's client replaced every 5 ms (evict): one Agent per key all along, sockets stay warm", async () => {
  const agents = new Set<unknown>();
  let clientsMade = 0;
  const pool = new ClientPool({
    create: (key, transport) => {
      agents.add(transport.fetchOptions.dispatcher);
      clientsMade++;
      return create(key, transport);
    },
    key: ({ params }) => params.model ?? '',
    maxSize: KEYS,
    connectionsPerClient: CONNECTIONS_PER_CLIENT,
    keepAliveTimeoutMs: 30_000, // a parked Agent outlives any stall of a loaded machine
    meterProvider: env.harness.meterProvider,
  });
  const chat = createResilientChat({
    clients: pool,
    meterProvider: env.harness.meterProvider,
    logger: quietLogger,
  });
  let victim = 0;
  let replaced = 0;
  const failures = await drive(
    5_000,
    200,
    (i) => chat.completions.create({ model: model(i), messages: [] }),
    {
      run: () => {
        if (pool.evict(model(victim++))) replaced++;
      },
      everyMs: 5,
    },
  );

  expect(failures).toEqual([]);
  expect(replaced).toBeGreaterThan(20);
  expect(await env.harness.counter(telemetryNames.METRIC_CLOSED_CLIENT_RECOVERIES)).toBe(0);
  // Each key's successive clients share one Agent, however many clients were replaced (a cold Agent per client
  // opened one connection per call here). Its sockets are bounded by what one Agent per key may open, whenever
  // neither side closed an idle one (a run that lasts past keep-alive, on a loaded machine, may reopen some).
  expect(clientsMade).toBeGreaterThan(KEYS + 20);
  expect(agents.size).toBe(KEYS);
  expect(env.server.connections).toBeLessThan(5_000 / 4);
  await pool.close({ timeoutMs: 5_000 });
  await vi.waitFor(() => expect(env.server.openConnections).toBe(0));
}, 120_000);

test('the same churn through EvictingClientCache: bare openai-node fails, the wrapper recovers every call', async () => {
  const calls = 2_000;
  const bareCache = new EvictingClientCache({ create, key: ({ params }) => params.model ?? '' });
  const bareFailures = await drive(
    calls,
    200,
    async (i) => {
      const params = { model: model(i), messages: [] };
      return bareCache.acquire({ params }).chat.completions.create(params);
    },
    { run: () => bareCache.evict(), everyCalls: 100 },
  );
  await bareCache.close();

  const cache = new EvictingClientCache({ create, key: ({ params }) => params.model ?? '' });
  const chat = createResilientChat({
    clients: cache,
    closedClient: { maxRecoveries: 5 },
    tracerProvider: env.harness.tracerProvider,
    meterProvider: env.harness.meterProvider,
    logger: quietLogger,
  });
  const wrappedFailures = await drive(
    calls,
    200,
    (i) => chat.completions.create({ model: model(i), messages: [] }),
    { run: () => cache.evict(), everyCalls: 100 },
  );
  await cache.close();

  expect(bareFailures.length).toBeGreaterThan(0);
  expect(bareFailures.every((e) => e instanceof OpenAI.APIConnectionError)).toBe(true);
  expect(wrappedFailures).toEqual([]);
  expect(
    await env.harness.counter(telemetryNames.METRIC_CLOSED_CLIENT_RECOVERIES, {
      'resilient_chat.recovery.outcome': 'recovered',
    }),
  ).toBeGreaterThan(0);
}, 120_000);
