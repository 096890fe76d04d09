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
 * Like LiteLLM's cache under pressure: every tick a fresh client becomes the one handed out, and the client
 * that was handed out `generations` ticks ago is evicted and its transport destroyed at once, whether or not
 * requests still hold it. So a client lives `generations x tick` ms, and requests that outlive it fail.
 */
class DestroyingCache implements ClientSource {
  readonly #server: MockOpenAI;
  readonly #generations: number;
  readonly #live: TestClient[] = [];
  readonly all: TestClient[] = [];
  evictions = 0;

  constructor(server: MockOpenAI, generations: number) {
    this.#server = server;
    this.#generations = generations;
    this.tick();
  }

  get #current(): TestClient {
    return this.#live[this.#live.length - 1] as TestClient;
  }

  acquire(): OpenAI {
    return this.#current.client;
  }

  tick(): void {
    const entry = newClient(this.#server);
    this.all.push(entry);
    this.#live.push(entry);
    if (this.#live.length > this.#generations) {
      this.evictions++;
      void this.#live.shift()?.agent.destroy();
    }
  }

  /** A dead client reported by the wrapper: a fresh one takes over at once. */
  invalidate(client: OpenAI): void {
    if (client === this.#current.client) this.tick();
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((c) => c.agent.destroy().catch(() => undefined)));
  }
}

let server: MockOpenAI;
let harness: TelemetryHarness;
let cache: DestroyingCache;

beforeEach(async () => {
  // Answers take 2-12 ms so that many requests are in flight at every eviction.
  server = await startMockOpenAI({
    fallback: () => ({ type: 'ok', delayMs: 2 + Math.floor(Math.random() * 10) }),
  });
  harness = createTelemetryHarness();
  cache = new DestroyingCache(server, 50);
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
    Array.from({ length: 200 }, async (_, i) => {
      if (i % 2 === 0) return (await chat.completions.create(params)).choices[0]?.message.content;
      let text = '';
      for await (const chunk of await chat.completions.create({ ...params, stream: true })) {
        text += chunk.choices[0]?.delta.content ?? '';
      }
      return text;
    }),
  );
  clearInterval(churn);

  const failures = results.filter((r) => r.status === 'rejected');
  expect(failures.map((f) => String(f.reason))).toEqual([]);
  expect(cache.evictions).toBeGreaterThan(10);

  const spans = await harness.spans();
  expect(spans).toHaveLength(200);
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
