/** The per-endpoint circuit breaker: transitions under a controlled clock, and fail-fast on a real server. */

import OpenAI from 'openai';
import { describe, expect, test } from 'vitest';
import { attemptErrors, CircuitOpenError, classifyError, telemetryNames } from '../../src/index.js';
import { giveUpEvents } from '../support/assertions.js';
import { newClient } from '../support/clients.js';
import { useLoopback } from '../support/loopback.js';
import { params } from '../support/params.js';

describe('through createResilientChat', () => {
  const env = useLoopback();

  test('once open, calls fail fast with CircuitOpenError and send no request', async () => {
    env.server.script(...Array.from({ length: 4 }, () => ({ type: 'status' as const, status: 503 })));
    const chat = env.chat({
      retry: { maxRetries: 0 },
      circuitBreaker: { minimumThroughput: 4, failureRatio: 0.5, breakDurationMs: 60_000 },
    });
    for (let i = 0; i < 4; i++) await chat.completions.create(params).catch(() => undefined);
    expect(env.server.requests).toHaveLength(4);

    const error = await chat.completions.create(params).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({
      code: 'RESILIENT_CHAT_CIRCUIT_OPEN',
      endpoint: `${env.server.url} gpt-4o-mini`,
    });
    expect(classifyError(error)).toEqual({
      reason: 'circuit_open',
      retryable: true,
      errorType: 'CircuitOpenError',
      retryAfterMs: (error as CircuitOpenError).retryAfterMs,
    });
    expect(env.server.requests).toHaveLength(4); // nothing sent
    const spans = await env.harness.spans();
    const refused = spans[4];
    expect(refused?.events.map((e) => e.name)).toEqual([
      telemetryNames.EVENT_CIRCUIT_REJECTED,
      telemetryNames.EVENT_GIVE_UP,
    ]);
    expect(refused && giveUpEvents(refused)[0]?.[telemetryNames.ATTR_GIVE_UP_REASON]).toBe('circuit_open');
    expect(refused?.attributes[telemetryNames.ATTR_ATTEMPTS]).toBe(0);
    expect(
      await env.harness.counter(telemetryNames.METRIC_CIRCUIT_TRANSITIONS, {
        'resilient_chat.circuit.state': 'open',
      }),
    ).toBe(1);
    const gauge = (await env.harness.metrics()).find(
      (m) => m.descriptor.name === telemetryNames.METRIC_CIRCUIT_STATE,
    );
    expect(gauge?.dataPoints.map((p) => [p.attributes['gen_ai.request.model'], p.value])).toEqual([
      ['gpt-4o-mini', 2],
    ]);
  });

  test("a retry the breaker refuses ends the call with the previous attempt's error, not CircuitOpenError", async () => {
    env.server.script({ type: 'status', status: 503 });
    const chat = env.chat({
      retry: { baseDelayMs: 0 },
      circuitBreaker: { minimumThroughput: 1, breakDurationMs: 60_000 },
    });
    // The first attempt's 503 opens the circuit; its retry is refused before anything is sent.
    const error = await chat.completions
      .create({ model: 'gpt-4o-mini', messages: [] })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect(attemptErrors(error)).toEqual([]); // the refused retry left no error of its own
    expect(env.server.requests).toHaveLength(1);
    const span = (await env.harness.spans())[0];
    expect(span && giveUpEvents(span)[0]?.[telemetryNames.ATTR_GIVE_UP_REASON]).toBe('circuit_open');
    expect(span?.attributes[telemetryNames.ATTR_ATTEMPTS]).toBe(1);
  });

  test('our own closed clients are local faults and never open the circuit', async () => {
    const dead = newClient(env.server);
    await dead.agent.destroy();
    const chat = env.chat({
      clients: () => dead.client,
      closedClient: { maxRecoveries: 1 },
      circuitBreaker: { minimumThroughput: 2, failureRatio: 0.1 },
    });
    for (let i = 0; i < 3; i++)
      await chat.completions.create({ model: 'm', messages: [] }).catch(() => undefined);

    expect(env.server.requests).toHaveLength(0);
    expect(await env.harness.counter(telemetryNames.METRIC_CIRCUIT_TRANSITIONS)).toBe(0);
  });

  test("a server's word that its client closed: the first of a call is free, a second counts like a 5xx", async () => {
    env.server.script(...Array.from({ length: 6 }, () => ({ type: 'litellm_closed_client' as const })));
    const chat = env.chat({
      retry: { maxRetries: 0 },
      circuitBreaker: { minimumThroughput: 2, failureRatio: 0.1 },
    });
    const errors: unknown[] = [];
    for (let i = 0; i < 3; i++)
      await chat.completions.create({ model: 'm', messages: [] }).catch((e: unknown) => errors.push(e));

    // Calls 1 and 2: an immediate retry each (ignored by the breaker), then a counted failure; the second
    // failure reaches the minimum throughput and opens the circuit, so call 3 sends nothing.
    expect(env.server.requests).toHaveLength(4);
    expect(errors[2]).toBeInstanceOf(CircuitOpenError);
    expect(
      await env.harness.counter(telemetryNames.METRIC_CIRCUIT_TRANSITIONS, {
        'resilient_chat.circuit.state': 'open',
      }),
    ).toBe(1);
  });

  test('circuitBreaker: false turns it off', async () => {
    env.server.script(...Array.from({ length: 5 }, () => ({ type: 'status' as const, status: 503 })));
    const chat = env.chat({ retry: { maxRetries: 0 }, circuitBreaker: false });
    for (let i = 0; i < 5; i++)
      await chat.completions.create({ model: 'm', messages: [] }).catch(() => undefined);
    expect(env.server.requests).toHaveLength(5);
  });
});
