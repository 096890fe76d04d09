/**
 * No input can crash the process or hang a call past its deadline: a source that never answers, a stream
 * that drips past `totalTimeoutMs`, a `signal` that is not one.
 */
import { SpanStatusCode } from '@opentelemetry/api';
import OpenAI from 'openai';
import { describe, expect, test } from 'vitest';
import { sleep } from '../../src/call/abort.js';
import { createResilientChat, telemetryNames } from '../../src/index.js';
import { giveUpEvents, onlySpan, quietLogger } from '../support/assertions.js';
import { useLoopback } from '../support/loopback.js';
import { params } from '../support/params.js';

const env = useLoopback();

function chatOverHangingSource(retry = {}) {
  const released: OpenAI[] = [];
  let answer: ((client: OpenAI) => void) | undefined;
  const chat = createResilientChat({
    clients: {
      acquire: () =>
        new Promise<OpenAI>((resolve) => {
          answer = resolve;
        }),
      release: (client) => released.push(client),
    },
    retry,
    tracerProvider: env.harness.tracerProvider,
    meterProvider: env.harness.meterProvider,
    logger: quietLogger,
  });
  return { chat, released, answerLate: () => answer?.(env.testClient.client) };
}

describe('acquiring a client', () => {
  test('a source that never answers is bounded by totalTimeoutMs; the span ends', async () => {
    const { chat, released, answerLate } = chatOverHangingSource({ totalTimeoutMs: 100 });

    const error = await chat.completions.create(params).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    const span = await onlySpan(env.harness);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(giveUpEvents(span)[0]?.[telemetryNames.ATTR_GIVE_UP_REASON]).toBe('deadline');
    answerLate(); // a client that arrives after the call stopped waiting goes straight back
    await new Promise((resolve) => setImmediate(resolve));
    expect(released).toEqual([env.testClient.client]);
    expect(env.server.requests).toHaveLength(0);
  });

  test("a source that never answers is bounded by the caller's abort", async () => {
    const { chat } = chatOverHangingSource();
    const controller = new AbortController();
    const call = chat.completions.create(params, { signal: controller.signal });
    setImmediate(() => controller.abort());

    await expect(call).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    expect(giveUpEvents(await onlySpan(env.harness))[0]?.[telemetryNames.ATTR_GIVE_UP_REASON]).toBe(
      'aborted',
    );
  });
});

describe('totalTimeoutMs bounds the whole call, stream included', () => {
  test('a stream that stalls after its first chunk errors with a timeout at the deadline; the span ends', async () => {
    env.server.script({ type: 'stall', at: 'chunk' });
    const chat = env.chat({ retry: { totalTimeoutMs: 300 } });
    const started = performance.now();
    const stream = await chat.completions.create({ ...params, stream: true });
    const chunks: unknown[] = [];
    const error = await (async () => {
      for await (const chunk of stream) chunks.push(chunk);
    })().catch((e: unknown) => e);

    expect(chunks).toHaveLength(1);
    expect(error).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect(performance.now() - started).toBeLessThan(5_000); // not the client's 10-minute timeout
    const span = await onlySpan(env.harness);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(giveUpEvents(span)[0]?.[telemetryNames.ATTR_GIVE_UP_REASON]).toBe('deadline');
  });
});

describe('a signal that is not an AbortSignal', () => {
  test('is refused up front with a TypeError naming `signal`; nothing is sent', async () => {
    env.server.script({ type: 'status', status: 503 });
    const chat = env.chat({ retry: { baseDelayMs: 1 } });
    const error = await chat.completions
      .create(params, { signal: { aborted: false } as unknown as AbortSignal })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/`signal`/);
    expect(env.server.requests).toHaveLength(0);
  });

  test('the retry sleep arms no timer when the signal throws: nothing is left to fail later', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const broken = {
      aborted: false,
      addEventListener: () => {
        throw new Error('not a signal');
      },
    };

    await expect(sleep(60_000, broken as unknown as AbortSignal)).rejects.toThrow('not a signal');
    expect(timers()).toBe(before);
  });
});
