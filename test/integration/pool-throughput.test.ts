/**
 * ClientPool under many calls in flight: its default does not throttle a service below what bare openai-node
 * (Node's global dispatcher, no connection limit) does, and a pool with a connection limit says when a
 * request waited for a connection, and how long. The server holds each answer a while, in a process of its
 * own (test/support/server-process.ts), so this process's event loop cannot make it late.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { ClientPool, createResilientClient, telemetryNames } from '../../src/index.js';
import { ANSWERING_SERVER } from '../support/answering-server.js';
import { quietLogger } from '../support/assertions.js';
import { TEST_API_KEY } from '../support/clients.js';
import { params } from '../support/params.js';
import { type ServerProcess, startServerProcess } from '../support/server-process.js';
import { createTelemetryHarness, type TelemetryHarness } from '../support/telemetry.js';

const HOLD_MS = 200;
let server: ServerProcess;
let harness: TelemetryHarness;
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(async () => {
  server = await startServerProcess({ behaviour: ANSWERING_SERVER, config: { delayMs: HOLD_MS } });
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(async () => {
  context.disable();
  trace.disable();
  await server?.stop();
});
afterEach(async () => {
  await harness?.shutdown();
});

/** Milliseconds for `calls` calls all started at once. */
async function allAtOnce(calls: number, call: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await Promise.all(Array.from({ length: calls }, call));
  return performance.now() - started;
}

test('a default ClientPool completes 1,000 concurrent calls within twice the time of bare openai-node, none waiting for a connection', async () => {
  harness = createTelemetryHarness();
  const bare = new OpenAI({ apiKey: TEST_API_KEY, baseURL: server.url, maxRetries: 0 });
  const pool = new ClientPool({
    create: (_key, transport) =>
      new OpenAI({ apiKey: TEST_API_KEY, baseURL: server.url, maxRetries: 0, ...transport }),
    meterProvider: harness.meterProvider,
  });
  const ours = createResilientClient({
    clients: pool,
    meterProvider: harness.meterProvider,
    logger: quietLogger,
  });
  try {
    const bareMs = await allAtOnce(1_000, () => bare.chat.completions.create(params));
    const poolMs = await allAtOnce(1_000, () => ours.chat.completions.create(params));
    // The old default (10 connections) queued them: 1,000 / 10 x 200 ms = 20 s, against about 2 s.
    expect(poolMs).toBeLessThan(2 * bareMs);
    expect(await harness.histogram(telemetryNames.METRIC_POOL_CONNECTION_WAIT_DURATION)).toEqual([]);
  } finally {
    await pool.close();
  }
}, 120_000);

test('with connectionsPerClient, every request that waits for a connection is measured and marked on its span', async () => {
  harness = createTelemetryHarness();
  const limit = 2;
  const calls = 10;
  const pool = new ClientPool({
    create: (_key, transport) =>
      new OpenAI({ apiKey: TEST_API_KEY, baseURL: server.url, maxRetries: 0, ...transport }),
    connectionsPerClient: limit,
    meterProvider: harness.meterProvider,
  });
  const ours = createResilientClient({
    clients: pool,
    tracerProvider: harness.tracerProvider,
    meterProvider: harness.meterProvider,
    logger: quietLogger,
  });
  try {
    await allAtOnce(calls, () => ours.chat.completions.create(params));
  } finally {
    await pool.close();
  }
  const [point, ...others] = await harness.histogram(telemetryNames.METRIC_POOL_CONNECTION_WAIT_DURATION);
  expect(others).toEqual([]);
  const port = Number(new URL(server.url).port);
  expect(point?.attributes).toEqual({ 'server.address': '127.0.0.1', 'server.port': port });
  // Two sockets for ten calls: the two that got one at once never wait; the others do (fewer only if an answer
  // came back before every call was sent).
  const waits = point?.value.count ?? 0;
  expect(waits).toBeGreaterThan(0);
  expect(waits).toBeLessThanOrEqual(calls - limit);
  const events = (await harness.spans()).flatMap((span) =>
    span.events.filter((e) => e.name === telemetryNames.EVENT_POOL_CONNECTION_WAIT),
  );
  expect(events).toHaveLength(waits);
  for (const event of events) {
    const seconds = event.attributes?.[telemetryNames.ATTR_POOL_CONNECTION_WAIT_DURATION];
    expect(seconds).toBeGreaterThan(0);
  }
  // Waiting behind a 200 ms answer: the longest wait is at least most of one.
  expect(point?.value.max).toBeGreaterThan((HOLD_MS / 1000) * 0.5);
}, 60_000);
