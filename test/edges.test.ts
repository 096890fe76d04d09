/** Edges found in review: aborts before the first chunk, throwing hooks, hostile headers, odd frames. */
import { createRequire } from 'node:module';
import { SpanStatusCode } from '@opentelemetry/api';
import OpenAI from 'openai';
import { describe, expect, test } from 'vitest';
import { classifyError, telemetryNames } from '../src/index.js';
import { giveUpEvents, onlySpan, retryEvents } from './support/assertions.js';
import { newClient, RecordingSource, TEST_API_KEY } from './support/clients.js';
import { useLoopback } from './support/loopback.js';

const env = useLoopback();
const params = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };

describe('streams before their first chunk', () => {
  test("the caller's abort rejects the call; it does not resolve to an empty stream", async () => {
    env.server.script({ type: 'stall', at: 'headers' });
    const controller = new AbortController();
    const call = env.chat().completions.create({ ...params, stream: true }, { signal: controller.signal });
    await env.server.stalled();
    controller.abort();

    await expect(call).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    const span = await onlySpan(env.harness);
    expect(giveUpEvents(span)[0]?.[telemetryNames.ATTR_GIVE_UP_REASON]).toBe('aborted');
  });

  test('without an attempt timeout, the client timeout bounds the wait for the first chunk', async () => {
    env.server.script({ type: 'stall', at: 'headers' });
    const stream = await env
      .chat({ retry: { baseDelayMs: 1 } })
      .completions.create({ ...params, stream: true }, { timeout: 200 });
    let chunks = 0;
    for await (const _ of stream) chunks++;

    expect(chunks).toBe(3);
    expect(retryEvents(await onlySpan(env.harness))[0]?.[telemetryNames.ATTR_RETRY_REASON]).toBe('timeout');
  });

  test('a role-only chunk before a closed-client frame does not stop the retry', async () => {
    env.server.script({ type: 'sse_error', afterChunks: 0, roleChunkFirst: true });
    const chunks = [];
    for await (const chunk of await env.chat().completions.create({ ...params, stream: true }))
      chunks.push(chunk);

    expect(chunks).toHaveLength(3);
    expect(env.server.requests.map((r) => r.step)).toEqual(['sse_error', 'ok']);
  });

  test('time to first chunk is measured from the attempt that produced it', async () => {
    env.server.script({ type: 'status', status: 429, headers: { 'retry-after-ms': '300' } });
    for await (const _ of await env.chat().completions.create({ ...params, stream: true })) {
      // consume
    }
    const span = await onlySpan(env.harness);
    const ttfc = span.attributes['gen_ai.response.time_to_first_chunk'] as number;
    const total = span.duration[0] + span.duration[1] / 1e9;
    expect(total).toBeGreaterThanOrEqual(0.3);
    expect(ttfc).toBeLessThan(0.25);
  });
});

describe('user code that throws', () => {
  test('a throwing logger neither breaks the call nor leaves the span open; Node is warned', async () => {
    env.server.script({ type: 'status', status: 503 });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const chat = env.chat({
      retry: { baseDelayMs: 1 },
      logger: {
        warn() {
          throw new Error('logger broke');
        },
      },
    });

    const completion = await chat.completions.create(params);
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);

    expect(completion.object).toBe('chat.completion');
    expect((await onlySpan(env.harness)).status.code).toBe(SpanStatusCode.UNSET);
    expect(warnings).toEqual(['resilient-chat: logger.warn() threw: logger broke']);
  });

  test('a closed client followed by a failing acquire counts as a failed recovery', async () => {
    const dead = newClient(env.server);
    await dead.agent.destroy();
    let calls = 0;
    const chat = env.chat({
      clients: {
        acquire() {
          if (calls++ === 0) return dead.client;
          throw new Error('pool exhausted');
        },
      },
    });

    await expect(chat.completions.create(params)).rejects.toThrow('pool exhausted');
    const { METRIC_CLOSED_CLIENT_RECOVERIES, ATTR_RECOVERY_OUTCOME } = telemetryNames;
    expect(
      await env.harness.counter(METRIC_CLOSED_CLIENT_RECOVERIES, { [ATTR_RECOVERY_OUTCOME]: 'failed' }),
    ).toBe(1);
    expect(
      await env.harness.counter(METRIC_CLOSED_CLIENT_RECOVERIES, { [ATTR_RECOVERY_OUTCOME]: 'recovered' }),
    ).toBe(0);
  });
});

describe('headers', () => {
  test('a header value that fetch rejects fails the call as a rejected promise, and the span ends', async () => {
    const call = env.chat().completions.create(params, { headers: { 'X-Bad': 'a\nb' } });
    await expect(call).rejects.toThrow();
    expect((await onlySpan(env.harness)).status.code).toBe(SpanStatusCode.ERROR);
    expect(env.server.requests).toHaveLength(0);
  });

  test("null still removes a default header, as openai-node's own options do", async () => {
    await env.chat().completions.create(params, { headers: { 'X-Stainless-Lang': null } });
    expect(env.server.requests[0]?.headers['x-stainless-lang']).toBeUndefined();
    expect(env.server.requests[0]?.headers['idempotency-key']).toBeDefined();
  });
});

describe('classification edges', () => {
  test('the closed-client message in a 4xx body is not a closed client', async () => {
    const { client, agent } = newClient(env.server, { maxRetries: 0 });
    env.server.script({
      type: 'status',
      status: 400,
      body: { error: { message: 'Cannot send a request, as the client has been closed.' } },
    });
    const error = await client.chat.completions.create(params).catch((e: unknown) => e);
    await agent.destroy();
    expect(classifyError(error)).toMatchObject({ reason: 'not_retryable', status: 400 });
  });

  test("OpenAI's server_error SSE frame (no code) is a server error", async () => {
    env.server.script({
      type: 'sse_error',
      afterChunks: 0,
      error: { message: 'The server had an error', type: 'server_error' },
    });
    const { client, agent } = newClient(env.server, { maxRetries: 0 });
    const error = await (async () => {
      for await (const _ of await client.chat.completions.create({ ...params, stream: true })) {
        // consume
      }
    })().catch((e: unknown) => e);
    await agent.destroy();
    expect(classifyError(error)).toMatchObject({ reason: 'server_error', retryable: true, status: 500 });
  });

  test("errors from openai's CommonJS build (a CJS app) are classified like the ESM ones", async () => {
    const require = createRequire(import.meta.url);
    const OpenAICjs = require('openai') as typeof OpenAI;
    expect(OpenAICjs.APIError).not.toBe(OpenAI.APIError); // really another copy
    const client = new OpenAICjs({ apiKey: TEST_API_KEY, baseURL: env.server.url, maxRetries: 0 });
    env.server.script(
      { type: 'status', status: 429, headers: { 'retry-after': '1' } },
      { type: 'status', status: 503 },
    );
    const rateLimited = await client.chat.completions.create(params).catch((e: unknown) => e);
    const unavailable = await client.chat.completions.create(params).catch((e: unknown) => e);
    const timedOut = await (async () => {
      env.server.script({ type: 'stall', at: 'headers' });
      return client.chat.completions.create(params, { timeout: 50 }).catch((e: unknown) => e);
    })();

    expect(classifyError(rateLimited)).toMatchObject({ reason: 'rate_limited', retryAfterMs: 1000 });
    expect(classifyError(unavailable)).toMatchObject({ reason: 'server_error', status: 503 });
    expect(classifyError(timedOut)).toMatchObject({
      reason: 'timeout',
      errorType: 'APIConnectionTimeoutError',
    });
  });
});

test('a source whose release throws does not lose the completion', async () => {
  const entry = newClient(env.server);
  const source = new RecordingSource([entry]);
  source.release = () => {
    throw new Error('release broke');
  };
  const completion = await env.chat({ clients: source }).completions.create(params);
  expect(completion.object).toBe('chat.completion');
  await source.close();
});
