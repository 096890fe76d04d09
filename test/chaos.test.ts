/**
 * Chaos: 5,000 calls (half streaming) against a server that fails at random in every way it can. Every call
 * must end in a result or a documented error, nothing may be left running, and every retry must be counted
 * exactly once: span events = counter = extra attempts the server saw.
 */
import OpenAI from 'openai';
import { Agent } from 'undici';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { classifyError, createResilientChat, type ResilientChat, telemetryNames } from '../src/index.js';
import { type MockStep, startMockOpenAI } from '../src/testing/index.js';
import { quietLogger, retryEvents } from './support/assertions.js';
import { TEST_API_KEY } from './support/clients.js';
import { createTelemetryHarness } from './support/telemetry.js';

const CALLS = 5_000;
const CONCURRENCY = 100;

/** Faults by weight; whatever is left is a normal answer after 0-10 ms. */
const FAULTS: [number, (stream: boolean) => MockStep][] = [
  [0.05, () => ({ type: 'litellm_closed_client' })],
  [0.05, () => ({ type: 'status', status: 503 })],
  [0.02, () => ({ type: 'status', status: 500 })],
  [0.03, () => ({ type: 'status', status: 429, headers: { 'retry-after-ms': '5' } })],
  [0.03, () => ({ type: 'reset' })],
  [0.01, () => ({ type: 'status', status: 400 })],
  [0.01, () => ({ type: 'stall', at: 'body' })],
  [0.01, () => ({ type: 'stall', at: 'headers' })],
  [0.03, (stream) => (stream ? { type: 'sse_error', afterChunks: 0 } : { type: 'ok' })],
  [0.02, (stream) => (stream ? { type: 'sse_error', afterChunks: 1 } : { type: 'ok' })],
];

function randomStep(stream: boolean): MockStep {
  let draw = Math.random();
  for (const [weight, step] of FAULTS) {
    if (draw < weight) return step(stream);
    draw -= weight;
  }
  return { type: 'ok', delayMs: Math.floor(Math.random() * 10) };
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => process.on('unhandledRejection', onUnhandled));
afterAll(() => process.off('unhandledRejection', onUnhandled));

test(`${CALLS} calls under random faults: every call accounted for, every retry counted once`, async () => {
  const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const server = await startMockOpenAI({ fallback: (request) => randomStep(request.stream) });
  const harness = createTelemetryHarness();
  const agent = new Agent();
  const client = new OpenAI({
    apiKey: TEST_API_KEY,
    baseURL: server.url,
    fetchOptions: { dispatcher: agent } as object,
  });
  const chat: ResilientChat = createResilientChat({
    clients: client,
    retry: { maxRetries: 3, baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 2_000 },
    closedClient: { maxRecoveries: 2 },
    // The breaker is tested on its own; here it would refuse retries after their events, muddying the count.
    circuitBreaker: false,
    retryBudget: false,
    tracerProvider: harness.tracerProvider,
    meterProvider: harness.meterProvider,
    logger: quietLogger,
  });

  const outcomes = { ok: 0, failed: 0 };
  const undocumented: unknown[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < CALLS; i = next++) {
        const params = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: `call ${i}` }] };
        try {
          if (i % 2 === 0) {
            await chat.completions.create(params);
          } else {
            for await (const _ of await chat.completions.create({ ...params, stream: true })) {
              // read to the end
            }
          }
          outcomes.ok++;
        } catch (error) {
          outcomes.failed++;
          // Documented: openai-node's own errors, rethrown unchanged (mid-stream ones included).
          if (!(error instanceof OpenAI.OpenAIError)) undocumented.push(error);
        }
      }
    }),
  );

  expect(outcomes.ok + outcomes.failed).toBe(CALLS);
  expect(outcomes.ok).toBeGreaterThan(CALLS * 0.9);
  expect(undocumented.map(String)).toEqual([]);

  const spans = await harness.spans();
  expect(spans).toHaveLength(CALLS); // every span ended, streams included
  const events = spans.flatMap(retryEvents);
  const attempts = spans.reduce((n, s) => n + (s.attributes[telemetryNames.ATTR_ATTEMPTS] as number), 0);
  expect(events.length).toBeGreaterThan(500);
  expect(await harness.counter(telemetryNames.METRIC_RETRIES)).toBe(events.length);
  expect(attempts - CALLS).toBe(events.length); // each retry is one more attempt
  expect(server.requests.length).toBe(attempts); // and the server saw every attempt
  const failedSpans = spans.filter((s) => s.status.code === 2).length;
  expect(failedSpans).toBe(outcomes.failed);
  expect(await harness.counter(telemetryNames.METRIC_GIVE_UPS)).toBe(outcomes.failed);
  for (const reason of ['upstream_client_closed', 'server_error', 'rate_limited', 'connection', 'timeout']) {
    expect(
      events.some((e) => e[telemetryNames.ATTR_RETRY_REASON] === reason),
      reason,
    ).toBe(true);
  }
  expect(classifyError(undefined).reason).toBe('not_retryable');

  await agent.close();
  await server.close();
  await harness.shutdown();
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(unhandled).toEqual([]);
  expect(server.openConnections).toBe(0);
  const timersAfter = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  expect(timersAfter).toBeLessThanOrEqual(timersBefore); // no retry sleep, attempt timer or pool timer left
}, 90_000);
