/** Transient failures: backoff, Retry-After, timeouts, deadlines and the caller's abort, on a real env.server. */
import { SpanStatusCode } from '@opentelemetry/api';
import OpenAI from 'openai';
import { describe, expect, test } from 'vitest';
import { attemptErrors, type RetryOptions, telemetryNames } from '../../src/index.js';
import { giveUpEvents, onlySpan, retryEvents } from '../support/assertions.js';
import { useLoopback } from '../support/loopback.js';
import { params } from '../support/params.js';

const { ATTR_RETRY_REASON, ATTR_RETRY_DELAY_MS, ATTR_GIVE_UP_REASON, METRIC_RETRIES, METRIC_GIVE_UPS } =
  telemetryNames;

const env = useLoopback();

function chat(retry: RetryOptions = {}) {
  return env.chat({ retry: { baseDelayMs: 5, maxDelayMs: 20, ...retry } });
}

async function giveUpReason(): Promise<unknown> {
  return giveUpEvents(await onlySpan(env.harness))[0]?.[ATTR_GIVE_UP_REASON];
}

describe('server errors', () => {
  test('a 503 burst is retried with full-jitter backoff: each delay the drawn fraction of its ceiling', async () => {
    env.server.script({ type: 'status', status: 503 }, { type: 'status', status: 503 });

    // Each delay is the draw's fraction of its ceiling: 0.5 of 10, then of 15 (the doubled 20, capped).
    const completion = await chat({ baseDelayMs: 10, maxDelayMs: 15, random: () => 0.5 }).completions.create(
      params,
    );

    expect(completion.object).toBe('chat.completion');
    expect(env.server.requests.map((r) => r.step)).toEqual(['status', 'status', 'ok']);
    const events = retryEvents(await onlySpan(env.harness));
    expect(events.map((e) => [e[ATTR_RETRY_REASON], e['error.type']])).toEqual([
      ['server_error', 'InternalServerError'],
      ['server_error', 'InternalServerError'],
    ]);
    expect(events.map((e) => e[ATTR_RETRY_DELAY_MS])).toEqual([5, 8]);
    expect(await env.harness.counter(METRIC_RETRIES, { [ATTR_RETRY_REASON]: 'server_error' })).toBe(2);
  });

  test('each attempt runs with openai-node retries off, so the layers never multiply', async () => {
    env.server.script(...Array.from({ length: 9 }, () => ({ type: 'status' as const, status: 503 })));

    const error = await chat({ maxRetries: 2 })
      .completions.create(params)
      .catch((e: unknown) => e);

    expect(env.server.requests).toHaveLength(3); // not 9: the client's own maxRetries: 2 was overridden
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect(attemptErrors(error)).toHaveLength(2);
    expect(attemptErrors(error).every((e) => e instanceof OpenAI.InternalServerError && e !== error)).toBe(
      true,
    );
    expect(await giveUpReason()).toBe('attempts_exhausted');
    const span = await onlySpan(env.harness);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe('InternalServerError');
    expect(span.attributes[telemetryNames.ATTR_ATTEMPTS]).toBe(3);
    expect(await env.harness.counter(METRIC_GIVE_UPS, { [ATTR_GIVE_UP_REASON]: 'attempts_exhausted' })).toBe(
      1,
    );
  });

  test('400 is not retried', async () => {
    env.server.script({ type: 'status', status: 400 });

    const error = await chat()
      .completions.create(params)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(env.server.requests).toHaveLength(1);
    expect(await giveUpReason()).toBe('not_retryable');
    expect(retryEvents(await onlySpan(env.harness))).toEqual([]);
  });

  test('x-should-retry: false overrides a retryable status', async () => {
    env.server.script({ type: 'status', status: 503, headers: { 'x-should-retry': 'false' } });

    await expect(chat().completions.create(params)).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    expect(env.server.requests).toHaveLength(1);
  });

  test('a reset connection is retried as a connection failure', async () => {
    env.server.script({ type: 'reset' });

    await chat().completions.create(params);

    expect(env.server.requests.map((r) => r.step)).toEqual(['reset', 'ok']);
    expect(retryEvents(await onlySpan(env.harness))[0]?.[ATTR_RETRY_REASON]).toBe('connection');
  });
});

describe('Retry-After', () => {
  test('retry-after-ms is honoured exactly', async () => {
    env.server.script({ type: 'status', status: 429, headers: { 'retry-after-ms': '120' } });

    const started = performance.now();
    await chat({ baseDelayMs: 1 }).completions.create(params);

    expect(performance.now() - started).toBeGreaterThanOrEqual(110);
    const [event] = retryEvents(await onlySpan(env.harness));
    expect(event).toMatchObject({
      [ATTR_RETRY_REASON]: 'rate_limited',
      [ATTR_RETRY_DELAY_MS]: 120,
      'error.type': 'RateLimitError',
    });
  });

  test('Retry-After in seconds', async () => {
    env.server.script({ type: 'status', status: 429, headers: { 'retry-after': '0.05' } });

    await chat().completions.create(params);

    expect(retryEvents(await onlySpan(env.harness))[0]?.[ATTR_RETRY_DELAY_MS]).toBe(50);
  });

  test('a Retry-After beyond maxRetryAfterMs falls back to backoff', async () => {
    env.server.script({ type: 'status', status: 429, headers: { 'retry-after': '3600' } });

    await chat({ baseDelayMs: 5, maxDelayMs: 5, random: () => 0.6 }).completions.create(params);

    expect(retryEvents(await onlySpan(env.harness))[0]?.[ATTR_RETRY_DELAY_MS]).toBe(3);
  });

  test('a Retry-After that would end past the deadline gives up at once', async () => {
    env.server.script({ type: 'status', status: 429, headers: { 'retry-after-ms': '5000' } });

    const started = performance.now();
    const error = await chat({ totalTimeoutMs: 1_000 })
      .completions.create(params)
      .catch((e: unknown) => e);

    expect(performance.now() - started).toBeLessThan(900);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(await giveUpReason()).toBe('deadline');
  });
});

describe('timeouts', () => {
  test('an attempt that exceeds attemptTimeoutMs is retried', async () => {
    env.server.script({ type: 'stall', at: 'headers' });

    const completion = await chat({ attemptTimeoutMs: 150 }).completions.create(params);

    expect(completion.object).toBe('chat.completion');
    expect(env.server.requests.map((r) => r.step)).toEqual(['stall', 'ok']);
    expect(retryEvents(await onlySpan(env.harness))[0]).toMatchObject({
      [ATTR_RETRY_REASON]: 'timeout',
      'error.type': 'APIConnectionTimeoutError',
    });
  });

  test('a JSON body that stalls counts against the attempt timeout too', async () => {
    env.server.script({ type: 'stall', at: 'body' });

    await chat({ attemptTimeoutMs: 150 }).completions.create(params);

    expect(env.server.requests.map((r) => r.step)).toEqual(['stall', 'ok']);
  });

  test('a stream whose first chunk does not come in time is retried', async () => {
    env.server.script({ type: 'stall', at: 'headers' });

    const stream = await chat({ attemptTimeoutMs: 150 }).completions.create({ ...params, stream: true });
    let count = 0;
    for await (const _ of stream) count++;

    expect(count).toBe(3);
    expect(env.server.requests.map((r) => r.step)).toEqual(['stall', 'ok']);
  });

  test('totalTimeoutMs bounds every attempt and sleep', async () => {
    env.server.script(
      ...Array.from({ length: 5 }, () => ({ type: 'stall' as const, at: 'headers' as const })),
    );

    const started = performance.now();
    const error = await chat({ attemptTimeoutMs: 200, totalTimeoutMs: 500, maxRetries: 5 })
      .completions.create(params)
      .catch((e: unknown) => e);
    const elapsed = performance.now() - started;

    expect(error).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(1_500);
    expect(env.server.requests.length).toBeLessThanOrEqual(3);
    expect(await giveUpReason()).toBe('deadline');
  });
});

describe("the caller's AbortSignal", () => {
  test('ends an in-flight attempt at once and is not retried', async () => {
    env.server.script({ type: 'stall', at: 'headers' });
    const controller = new AbortController();

    const call = chat().completions.create(params, { signal: controller.signal });
    await env.server.stalled();
    controller.abort(new Error('user went away'));
    const error = await call.catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OpenAI.APIUserAbortError);
    expect(env.server.requests).toHaveLength(1);
    expect(await giveUpReason()).toBe('aborted');
    expect(retryEvents(await onlySpan(env.harness))).toEqual([]);
  });

  test('ends a backoff sleep at once', async () => {
    env.server.script({ type: 'status', status: 503 });
    const controller = new AbortController();
    // The retry is logged just before its sleep starts; abort once the loop has gone on into it.
    const logger = { warn: () => void setImmediate(() => controller.abort()) };
    // The draw is the whole ceiling, so the sleep is 10 s whatever Math.random would have said.
    const chat = env.chat({ retry: { baseDelayMs: 10_000, maxDelayMs: 10_000, random: () => 1 }, logger });

    const started = performance.now();
    const error = await chat.completions
      .create(params, { signal: controller.signal })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OpenAI.APIUserAbortError);
    expect(performance.now() - started).toBeLessThan(10_000); // the sleep did not run out
    expect(env.server.requests).toHaveLength(1);
    const span = await onlySpan(env.harness);
    expect(retryEvents(span).map((e) => e[ATTR_RETRY_DELAY_MS])).toEqual([10_000]);
    expect(giveUpEvents(span)[0]?.[ATTR_GIVE_UP_REASON]).toBe('aborted');
  });

  test('an already aborted signal sends no request', async () => {
    const error = await chat()
      .completions.create(params, { signal: AbortSignal.abort() })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OpenAI.APIUserAbortError);
    expect(env.server.requests).toHaveLength(0);
  });
});
