/** Streams up to their first chunk: the caller's abort, the client timeout, held-back chunks, time to first chunk. */
import { SpanStatusCode } from '@opentelemetry/api';
import OpenAI from 'openai';
import { describe, expect, test } from 'vitest';
import { telemetryNames } from '../../src/index.js';
import { giveUpEvents, onlySpan, retryEvents } from '../support/assertions.js';
import { TEST_API_KEY } from '../support/clients.js';
import { useLoopback } from '../support/loopback.js';

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
