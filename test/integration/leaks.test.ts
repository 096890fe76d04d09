/**
 * Nothing a caller drops or creates is leaked: a stream dropped unread gives back its lease and ends its span
 * when it is collected; a client made per request is collectable; per-model state is bounded.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SpanStatusCode } from '@opentelemetry/api';
import OpenAI from 'openai';
import { describe, expect, test } from 'vitest';
import { ClientPool, createResilientChat, telemetryNames } from '../../src/index.js';
import { MAX_BREAKERS } from '../../src/policy/circuit-breakers.js';
import { quietLogger } from '../support/assertions.js';
import { TEST_API_KEY } from '../support/clients.js';
import { useLoopback } from '../support/loopback.js';
import { params } from '../support/params.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const env = useLoopback();

/** Collects garbage until `done()` holds; finalizers run between turns of the event loop. */
async function collectUntil(done: () => boolean | Promise<boolean>, turns = 50): Promise<boolean> {
  for (let i = 0; i < turns; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    if (await done()) return true;
  }
  return false;
}

describe('streams dropped unread', () => {
  test('give back their pool lease, end their span as abandoned, and are counted', async () => {
    const pool = new ClientPool({
      create: (_key, transport) =>
        new OpenAI({ apiKey: TEST_API_KEY, baseURL: env.server.url, ...transport }),
      meterProvider: env.harness.meterProvider,
    });
    const chat = createResilientChat({
      clients: pool,
      tracerProvider: env.harness.tracerProvider,
      meterProvider: env.harness.meterProvider,
      logger: quietLogger,
    });
    const DROPPED = 7;
    await (async () => {
      for (let i = 0; i < DROPPED; i++) {
        // Opened (the first chunk is in), then dropped: neither read to the end nor stopped.
        await chat.completions.create({ ...params, stream: true });
      }
    })();
    expect(pool.stats().leases).toBe(DROPPED);

    const released = await collectUntil(() => pool.stats().leases === 0);

    expect(released).toBe(true);
    const spans = await env.harness.spans();
    expect(spans).toHaveLength(DROPPED);
    for (const span of spans) {
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.attributes[telemetryNames.ATTR_STREAM_END]).toBe('abandoned');
    }
    expect(await env.harness.counter(telemetryNames.METRIC_STREAMS_ABANDONED)).toBe(DROPPED);
    expect(await env.harness.counter(telemetryNames.METRIC_GIVE_UPS)).toBe(0); // not a failure of the call
    await pool.close();
    expect(env.server.openConnections).toBe(0);
  });

  test('a stream read to its end is not reported abandoned when it is collected later', async () => {
    const chat = env.chat();
    await (async () => {
      for await (const _ of await chat.completions.create({ ...params, stream: true })) {
        // read it all
      }
    })();
    await collectUntil(() => false, 5);
    expect(await env.harness.counter(telemetryNames.METRIC_STREAMS_ABANDONED)).toBe(0);
    expect((await env.harness.spans())[0]?.status.code).toBe(SpanStatusCode.UNSET);
  });
});

describe('clients made per request', () => {
  test('are collected once dropped: the meter provider keeps none of them alive', async () => {
    const collected = new Set<number>();
    const registry = new FinalizationRegistry<number>((id) => collected.add(id));
    const MADE = 50;
    await (async () => {
      for (let i = 0; i < MADE; i++) {
        const chat = createResilientChat({
          clients: env.testClient.client,
          meterProvider: env.harness.meterProvider,
          tracerProvider: env.harness.tracerProvider,
          logger: quietLogger,
        });
        await chat.completions.create(params);
        registry.register(chat, i);
      }
    })();
    // The circuit-state gauge reads every live client's breakers; collecting it must not need them.
    await env.harness.metrics();

    expect(await collectUntil(() => collected.size === MADE)).toBe(true);
    await env.harness.metrics(); // and the gauge's callback copes with the ones that are gone
  });
});

describe('per-model state', () => {
  test(`breakers are bounded (${MAX_BREAKERS}) however many model names callers pass`, async () => {
    const chat = env.chat();
    const MODELS = MAX_BREAKERS + 200;
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        for (let i = next++; i < MODELS; i = next++)
          await chat.completions.create({ ...params, model: `m-${i}` });
      }),
    );
    const metrics = await env.harness.metrics();
    const gauge = metrics.find((m) => m.descriptor.name === telemetryNames.METRIC_CIRCUIT_STATE);
    expect(gauge?.dataPoints.length).toBe(MAX_BREAKERS);
  });
});
