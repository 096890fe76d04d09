/** Streams up to their first chunk: the caller's abort, the client timeout, held-back chunks, time to first chunk. */
import { SpanStatusCode } from '@opentelemetry/api';
import OpenAI from 'openai';
import { describe, expect, test } from 'vitest';
import { telemetryNames } from '../../src/index.js';
import { giveUpEvents, onlySpan, retryEvents } from '../support/assertions.js';
import { TEST_API_KEY } from '../support/clients.js';
import { useLoopback } from '../support/loopback.js';
import { params } from '../support/params.js';

const env = useLoopback();

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

  test("the caller's abort after a role-only first chunk rejects too: an abort is never a success", async () => {
    env.server.script({ type: 'stall', at: 'role_chunk' });
    const controller = new AbortController();
    // A fetch that lets the caller abort once the body's first bytes (the role-only chunk) have been handed
    // on: openai-node then ends its stream quietly, with that chunk held back and nothing of substance sent.
    const abortAfterFirstBytes: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const body = response.body?.pipeThrough(
        new TransformStream({
          transform(bytes, stream) {
            stream.enqueue(bytes);
            setImmediate(() => controller.abort());
          },
        }),
      );
      return new Response(body, response);
    };
    const client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: env.server.url, fetch: abortAfterFirstBytes });
    const call = env
      .chat({ clients: client })
      .completions.create({ ...params, stream: true }, { signal: controller.signal });

    await expect(call).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    const span = await onlySpan(env.harness);
    expect(giveUpEvents(span)[0]?.[telemetryNames.ATTR_GIVE_UP_REASON]).toBe('aborted');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
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

describe('streams that stall', () => {
  /** A source over the test's client that counts what it lends and gets back. */
  function countingSource(client: OpenAI) {
    const leases = { acquired: 0, released: 0 };
    return {
      leases,
      source: {
        acquire: () => {
          leases.acquired++;
          return client;
        },
        release: () => {
          leases.released++;
        },
      },
    };
  }

  test('a stall before the first event of substance is retried like any failure before it', async () => {
    env.server.script({ type: 'stall', at: 'role_chunk' });
    const chunks = [];
    const stream = await env
      .chat({ retry: { baseDelayMs: 1 }, streams: { firstEventTimeoutMs: 100 } })
      .completions.create({ ...params, stream: true });
    for await (const chunk of stream) chunks.push(chunk);

    expect(chunks).toHaveLength(3);
    expect(env.server.requests.map((r) => r.step)).toEqual(['stall', 'ok']);
    const retry = retryEvents(await onlySpan(env.harness))[0];
    expect(retry?.[telemetryNames.ATTR_RETRY_REASON]).toBe('timeout');
  });

  test('a stall after it ends the stream with a timeout: its own give-up reason, span ended, lease back', async () => {
    env.server.script({ type: 'stall', at: 'chunk' });
    const { source, leases } = countingSource(env.testClient.client);
    const stream = await env
      .chat({ clients: source, streams: { idleTimeoutMs: 100 } })
      .completions.create({ ...params, stream: true });
    const chunks: unknown[] = [];
    const iterating = (async () => {
      for await (const chunk of stream) chunks.push(chunk);
    })();

    const error = await iterating.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect((error as Error).message).toContain('streams.idleTimeoutMs');
    expect(chunks).toHaveLength(1);
    expect(env.server.requestCount).toBe(1); // surfaced, never retried: a chunk reached the caller
    const span = await onlySpan(env.harness);
    expect(giveUpEvents(span)[0]?.[telemetryNames.ATTR_GIVE_UP_REASON]).toBe('stream_stalled');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(leases).toEqual({ acquired: 1, released: 1 });
  });

  test('a caller that reads slowly is not a stall: only the wait on the server counts', async () => {
    const stream = await env
      .chat({ streams: { idleTimeoutMs: 50 } })
      .completions.create({ ...params, stream: true });
    const chunks = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      // Three times the idle limit between reads, with every event already sent by the server.
      if (chunks.length === 1) await new Promise((resolve) => setTimeout(resolve, 150));
    }

    expect(chunks).toHaveLength(3);
    const span = await onlySpan(env.harness);
    expect(giveUpEvents(span)).toHaveLength(0);
    expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
  });
});
