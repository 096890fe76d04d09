/**
 * The production race, on purpose: 200 concurrent calls through a LiteLLM-style cache that replaces its client
 * every few milliseconds and destroys the evicted one's dispatcher while requests still hold it.
 */
import type OpenAI from 'openai';
import { afterEach, beforeEach, expect, test } from 'vitest';
import type { ClientSource } from '../src/index.js';
import { createResilientChat, telemetryNames } from '../src/index.js';
import { type MockOpenAI, startMockOpenAI } from '../src/testing/index.js';
import { quietLogger, retryEvents } from './support/assertions.js';
import { newClient, type TestClient } from './support/clients.js';
import { createTelemetryHarness, type TelemetryHarness } from './support/telemetry.js';

const { ATTR_RETRY_REASON, ATTR_RECOVERY_OUTCOME, METRIC_CLOSED_CLIENT_RECOVERIES, METRIC_RETRIES } =
  telemetryNames;

/**
 * Like LiteLLM's cache under pressure: on every tick a fresh client becomes the one handed out (if the current
 * one is older than `rotateMs`), and every client older than `lifetimeMs` is evicted and its transport
 * destroyed at once, whether or not requests still hold it. Ages are real time, so a loaded machine whose
 * timers fire late still destroys clients under in-flight requests.
 */
class DestroyingCache implements ClientSource {
  readonly #server: MockOpenAI;
  readonly #lifetimeMs: number;
  readonly #rotateMs: number;
  readonly #live: { entry: TestClient; bornAt: number }[] = [];
  readonly all: TestClient[] = [];
  evictions = 0;

  constructor(server: MockOpenAI, lifetimeMs: number, rotateMs: number) {
    this.#server = server;
    this.#lifetimeMs = lifetimeMs;
    this.#rotateMs = rotateMs;
    this.#rotate();
  }

  get #current(): TestClient {
    return (this.#live[this.#live.length - 1] as { entry: TestClient }).entry;
  }

  acquire(): OpenAI {
    return this.#current.client;
  }

  tick(): void {
    const now = performance.now();
    const newest = this.#live[this.#live.length - 1];
    if (!newest || now - newest.bornAt >= this.#rotateMs) this.#rotate();
    while ((this.#live[0]?.bornAt ?? now) < now - this.#lifetimeMs && this.#live.length > 1) {
      this.evictions++;
      void this.#live.shift()?.entry.agent.destroy();
    }
  }

  #rotate(): void {
    const entry = newClient(this.#server);
    this.all.push(entry);
    this.#live.push({ entry, bornAt: performance.now() });
  }

  /** A dead client reported by the wrapper: a fresh one takes over at once. */
  invalidate(client: OpenAI): void {
    if (client === this.#current.client) this.#rotate();
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((c) => c.agent.destroy().catch(() => undefined)));
  }
}

const CALLS_PER_WORKER = 3;

let server: MockOpenAI;
let harness: TelemetryHarness;
let cache: DestroyingCache;

beforeEach(async () => {
  // Answers take 2-12 ms so that many requests are in flight at every eviction.
  server = await startMockOpenAI({
    fallback: () => ({ type: 'ok', delayMs: 2 + Math.floor(Math.random() * 10) }),
  });
  harness = createTelemetryHarness();
  cache = new DestroyingCache(server, 300, 10);
});

afterEach(async () => {
  await cache.close();
  await server.close();
  await harness.shutdown();
});

test('200 concurrent calls while clients are destroyed every few ms: all succeed, each recovery counted once', async () => {
  const chat = createResilientChat({
    clients: cache,
    retry: { baseDelayMs: 5 },
    closedClient: { maxRecoveries: 5 },
    tracerProvider: harness.tracerProvider,
    meterProvider: harness.meterProvider,
    logger: quietLogger,
  });
  const churn = setInterval(() => cache.tick(), 3);
  const params = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };

  const results = await Promise.allSettled(
    // 200 calls in flight at once, each worker making CALLS_PER_WORKER calls in a row: long enough for the
    // cache to evict clients under in-flight calls however slowly timers fire on a loaded machine.
    Array.from({ length: 200 }, async (_, i) => {
      for (let n = 0; n < CALLS_PER_WORKER; n++) {
        if (i % 2 === 0) {
          await chat.completions.create(params);
          continue;
        }
        for await (const _ of await chat.completions.create({ ...params, stream: true })) {
          // read to the end
        }
      }
    }),
  );
  clearInterval(churn);

  const failures = results.filter((r) => r.status === 'rejected');
  expect(failures.map((f) => String(f.reason))).toEqual([]);
  expect(cache.evictions).toBeGreaterThan(0);

  const spans = await harness.spans();
  expect(spans).toHaveLength(200 * CALLS_PER_WORKER);
  const closedRetries = spans
    .flatMap(retryEvents)
    .filter((e) => e[ATTR_RETRY_REASON] === 'client_closed').length;
  expect(closedRetries).toBeGreaterThan(0); // the race really happened
  expect(await harness.counter(METRIC_RETRIES, { [ATTR_RETRY_REASON]: 'client_closed' })).toBe(closedRetries);
  expect(
    await harness.counter(METRIC_CLOSED_CLIENT_RECOVERIES, { [ATTR_RECOVERY_OUTCOME]: 'recovered' }),
  ).toBe(closedRetries);
  expect(await harness.counter(METRIC_CLOSED_CLIENT_RECOVERIES, { [ATTR_RECOVERY_OUTCOME]: 'failed' })).toBe(
    0,
  );
  const recoveriesOnSpans = spans.reduce(
    (n, s) => n + (s.attributes[telemetryNames.ATTR_CLOSED_CLIENT_RECOVERIES] as number),
    0,
  );
  expect(recoveriesOnSpans).toBe(closedRetries);
});
