/**
 * The production race, on purpose: 200 concurrent calls through a LiteLLM-style cache that destroys a client's
 * dispatcher while a request on it is in flight. The server runs in its own process and tells the test when
 * it holds a request; the test destroys that client then, so the race happens on every run, however busy the
 * machine: driven by events, not by the age of clients.
 */
import type OpenAI from 'openai';
import { afterEach, beforeEach, expect, test } from 'vitest';
import type { ClientSource } from '../../src/index.js';
import { createResilientChat, createResilientClient, telemetryNames } from '../../src/index.js';
import { quietLogger, retryEvents } from '../support/assertions.js';
import { newClient, type TestClient } from '../support/clients.js';
import {
  CALL_HEADER,
  CLIENT_HEADER,
  type HeldRequest,
  type HoldingConfig,
} from '../support/holding-server.js';
import { params } from '../support/params.js';
import { type ServerProcess, startServerProcess } from '../support/server-process.js';
import { createTelemetryHarness, type TelemetryHarness } from '../support/telemetry.js';

const { ATTR_RETRY_REASON, ATTR_RECOVERY_OUTCOME, METRIC_CLOSED_CLIENT_RECOVERIES, METRIC_RETRIES } =
  telemetryNames;

interface CacheEntry {
  id: string;
  test: TestClient;
  /** Attempts that acquired this client, and those of them that have not released it. */
  handedOut: number;
  inFlight: number;
  /** The server holds a request sent on it: it goes as soon as that request is its only one in flight. */
  doomed: boolean;
  destroyed: boolean;
}

/**
 * Like LiteLLM's cache when it evicts a client that requests still hold, and destroys its transport. A fresh
 * client takes over every ROTATE_EVERY attempts, and at once when the server reports holding a request sent
 * on the current one. A client with a held request is destroyed once that request is the only one still in flight on it: each destruction kills exactly one
 * in-flight request, so the test can count recoveries exactly.
 */
class DestroyingCache implements ClientSource {
  readonly #server: { url: string };
  readonly #entries = new Map<OpenAI, CacheEntry>();
  readonly #byId = new Map<string, CacheEntry>();
  #current!: CacheEntry;
  held = 0;
  destroyed = 0;

  constructor(server: { url: string }) {
    this.#server = server;
    this.#rotate();
  }

  acquire(): OpenAI {
    if (this.#current.handedOut === ROTATE_EVERY) this.#rotate();
    this.#current.handedOut++;
    this.#current.inFlight++;
    return this.#current.test.client;
  }

  release(client: OpenAI): void {
    const entry = this.#entry(client);
    entry.inFlight--;
    this.#destroyIfDue(entry);
  }

  /** A dead client reported by the wrapper: a fresh one takes over at once. */
  invalidate(client: OpenAI): void {
    if (client === this.#current.test.client) this.#rotate();
  }

  /** The server holds a request sent on `client`. */
  onHeld({ client }: HeldRequest): void {
    const entry = this.#byId.get(client);
    if (!entry) throw new Error(`the server held a request from an unknown client ${client}`);
    this.held++;
    entry.doomed = true;
    if (entry === this.#current) this.#rotate();
    this.#destroyIfDue(entry);
  }

  #destroyIfDue(entry: CacheEntry): void {
    if (!entry.doomed || entry.destroyed || entry.inFlight !== 1) return;
    entry.destroyed = true;
    this.destroyed++;
    void entry.test.agent.destroy();
  }

  #entry(client: OpenAI): CacheEntry {
    const entry = this.#entries.get(client);
    if (!entry) throw new Error('a client this cache never handed out');
    return entry;
  }

  #rotate(): void {
    const id = String(this.#byId.size);
    const test = newClient(this.#server, { headers: { [CLIENT_HEADER]: id } });
    const entry: CacheEntry = { id, test, handedOut: 0, inFlight: 0, doomed: false, destroyed: false };
    this.#entries.set(test.client, entry);
    this.#byId.set(id, entry);
    this.#current = entry;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#entries.values()].map((e) => e.test.agent.destroy().catch(() => undefined)));
  }
}

const WORKERS = 200;
const CALLS_PER_WORKER = 3;
const HOLD_EVERY = 6; // about 100 of the 600 calls meet a destroyed client
const ROTATE_EVERY = 10;

let server: ServerProcess;
let harness: TelemetryHarness;
let cache: DestroyingCache;

beforeEach(async () => {
  let onHeld: (held: HeldRequest) => void = () => undefined;
  // Answers take 2-12 ms, so that requests overlap on every client.
  server = await startServerProcess({
    behaviour: new URL('../support/holding-server.ts', import.meta.url),
    config: { holdEvery: HOLD_EVERY, delayMs: [2, 12] } satisfies HoldingConfig,
    onReport: (held) => onHeld(held as HeldRequest),
  });
  harness = createTelemetryHarness();
  cache = new DestroyingCache(server);
  onHeld = (held) => cache.onHeld(held);
});

afterEach(async () => {
  await cache.close();
  await server.stop();
  await harness.shutdown();
});

test('200 concurrent calls while clients are destroyed under in-flight calls: all succeed, each recovery counted once', async () => {
  const chat = createResilientChat({
    clients: cache,
    retry: { baseDelayMs: 5 },
    closedClient: { maxRecoveries: 1 }, // a call meets the race once at most (see holding-server.ts)
    tracerProvider: harness.tracerProvider,
    meterProvider: harness.meterProvider,
    logger: quietLogger,
  });

  const results = await Promise.allSettled(
    // WORKERS calls in flight at once, each worker making CALLS_PER_WORKER calls in a row.
    Array.from({ length: WORKERS }, async (_, worker) => {
      for (let n = 0; n < CALLS_PER_WORKER; n++) {
        const options = { headers: { [CALL_HEADER]: `${worker}.${n}` } };
        if (worker % 2 === 0) {
          await chat.completions.create(params, options);
          continue;
        }
        for await (const _ of await chat.completions.create({ ...params, stream: true }, options)) {
          // read to the end
        }
      }
    }),
  );

  const failures = results.filter((r) => r.status === 'rejected');
  expect(failures.map((f) => String(f.reason))).toEqual([]);
  // Dozens of clients were destroyed, each under the one request the server held on it.
  expect(cache.destroyed).toBeGreaterThanOrEqual(24);
  expect(cache.destroyed).toBe(cache.held);

  const spans = await harness.spans();
  expect(spans).toHaveLength(WORKERS * CALLS_PER_WORKER);
  const closedRetries = spans
    .flatMap(retryEvents)
    .filter((e) => e[ATTR_RETRY_REASON] === 'client_closed').length;
  expect(closedRetries).toBe(cache.destroyed); // each destruction was met, and recovered, exactly once
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

test("the whole client and openai-node's helpers under the same race: every kind recovered, every retry counted once", async () => {
  const client = createResilientClient({
    clients: cache,
    retry: { baseDelayMs: 5 },
    closedClient: { maxRecoveries: 1 },
    tracerProvider: harness.tracerProvider,
    meterProvider: harness.meterProvider,
    logger: quietLogger,
  });
  const messages = [{ role: 'user' as const, content: 'hi' }];
  const noop = {
    type: 'function' as const,
    function: {
      name: 'noop',
      description: 'does nothing',
      parameters: { type: 'object', properties: {} },
      function: (_args: string) => 'ok',
    },
  };
  /** One call of each kind; the mock never asks for a tool, so runTools makes one request. */
  const kinds: ((options: { headers: Record<string, string> }) => Promise<unknown>)[] = [
    (o) => client.chat.completions.stream({ model: 'm', messages }, o).finalChatCompletion(),
    (o) => client.chat.completions.parse({ model: 'm', messages }, o),
    (o) => client.chat.completions.runTools({ model: 'm', messages, tools: [noop] }, o).finalContent(),
    (o) => client.responses.stream({ model: 'm', input: 'hi' }, o).finalResponse(),
    (o) => client.responses.parse({ model: 'm', input: 'hi' }, o),
    (o) => client.embeddings.create({ model: 'e', input: 'hi' }, o),
    async (o) => {
      const ids: string[] = [];
      for await (const model of client.models.list(o)) ids.push(model.id);
      return ids;
    },
  ];

  const results = await Promise.allSettled(
    Array.from({ length: WORKERS }, async (_, worker) => {
      for (let n = 0; n < CALLS_PER_WORKER; n++) {
        const kind = kinds[(worker + n) % kinds.length] as (typeof kinds)[number];
        await kind({ headers: { [CALL_HEADER]: `${worker}.${n}` } });
      }
    }),
  );

  expect(
    results.filter((r) => r.status === 'rejected').map((f) => String((f as PromiseRejectedResult).reason)),
  ).toEqual([]);
  expect(cache.destroyed).toBeGreaterThanOrEqual(24);
  expect(cache.destroyed).toBe(cache.held);
  // GenAI calls carry their recoveries on their spans; models.list is counted under its operation name.
  const onSpans = (await harness.spans())
    .flatMap(retryEvents)
    .filter((e) => e[ATTR_RETRY_REASON] === 'client_closed').length;
  const onModels = await harness.counter(METRIC_RETRIES, {
    [ATTR_RETRY_REASON]: 'client_closed',
    [telemetryNames.ATTR_OPERATION]: 'GET /models',
  });
  expect(onSpans + onModels).toBe(cache.destroyed);
  expect(onModels).toBeGreaterThan(0);
  expect(await harness.counter(METRIC_RETRIES, { [ATTR_RETRY_REASON]: 'client_closed' })).toBe(
    cache.destroyed,
  );
  expect(
    await harness.counter(METRIC_CLOSED_CLIENT_RECOVERIES, { [ATTR_RECOVERY_OUTCOME]: 'recovered' }),
  ).toBe(cache.destroyed);
});
