/** The per-endpoint circuit breaker: transitions under a controlled clock, and fail-fast on a real server. */
import { describe, expect, test } from 'vitest';
import { CircuitOpenError, classifyError, telemetryNames } from '../src/index.js';
import { CircuitBreaker, type CircuitState, DEFAULT_BREAKER } from '../src/policy/circuit-breaker.js';
import { giveUpEvents } from './support/assertions.js';
import { newClient } from './support/clients.js';
import { useLoopback } from './support/loopback.js';

function breakerWithClock(options = {}) {
  let now = 1_000_000;
  const transitions: CircuitState[] = [];
  const breaker = new CircuitBreaker(
    { ...DEFAULT_BREAKER, probeTimeoutMs: 60_000, ...options },
    (s) => transitions.push(s),
    () => now,
  );
  return {
    breaker,
    transitions,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

function run(breaker: CircuitBreaker, successes: number, failures: number) {
  for (let i = 0; i < successes; i++) breaker.record('success', 0);
  for (let i = 0; i < failures; i++) breaker.record('failure', 0);
}

describe('CircuitBreaker (controlled clock)', () => {
  test('stays closed below the minimum throughput, whatever the ratio', () => {
    const { breaker } = breakerWithClock();
    run(breaker, 0, 99);
    expect(breaker.state).toBe('closed');
    run(breaker, 0, 1);
    expect(breaker.state).toBe('open');
  });

  test('opens at the failure ratio over the window, not below it', () => {
    const { breaker, transitions } = breakerWithClock();
    run(breaker, 91, 9); // 9 %
    expect(breaker.state).toBe('closed');
    run(breaker, 0, 1); // 10 / 101 = 9.9 %
    expect(breaker.state).toBe('closed');
    run(breaker, 0, 1); // 11 / 102 = 10.8 %
    expect(transitions).toEqual(['open']);
  });

  test('old outcomes leave the window', () => {
    const { breaker, advance } = breakerWithClock();
    run(breaker, 50, 50);
    advance(DEFAULT_BREAKER.samplingDurationMs + 1);
    expect(breaker.state).toBe('open'); // opened at the 100th outcome...
    const fresh = breakerWithClock();
    run(fresh.breaker, 0, 50);
    fresh.advance(DEFAULT_BREAKER.samplingDurationMs + 1);
    run(fresh.breaker, 50, 0);
    expect(fresh.breaker.state).toBe('closed'); // ...but 50 failures 31 s ago no longer count
  });

  test('refuses while open, then lets exactly one probe through; its success closes the circuit', () => {
    const { breaker, transitions, advance } = breakerWithClock({ minimumThroughput: 2 });
    run(breaker, 0, 2);
    expect(breaker.permit()).toEqual({ allowed: false, retryAfterMs: 5_000 });
    advance(4_999);
    expect(breaker.permit().allowed).toBe(false);
    advance(1);
    expect(breaker.permit()).toEqual({ allowed: true, probe: expect.any(Number) });
    expect(breaker.permit()).toEqual({ allowed: false, retryAfterMs: 60_000 }); // one probe at a time
    breaker.record('success', 1);
    expect(transitions).toEqual(['open', 'half_open', 'closed']);
    expect(breaker.permit()).toEqual({ allowed: true, probe: 0 });
  });

  test('a failed probe re-opens it for another break', () => {
    const { breaker, transitions, advance } = breakerWithClock({ minimumThroughput: 1 });
    run(breaker, 0, 1);
    advance(5_000);
    breaker.permit();
    breaker.record('failure', 1);
    expect(transitions).toEqual(['open', 'half_open', 'open']);
    expect(breaker.permit()).toEqual({ allowed: false, retryAfterMs: 5_000 });
  });

  test('an ignored probe (a closed client, an abort) frees the slot without deciding', () => {
    const { breaker, advance } = breakerWithClock({ minimumThroughput: 1 });
    run(breaker, 0, 1);
    advance(5_000);
    breaker.permit();
    breaker.record('ignored', 1);
    expect(breaker.state).toBe('half_open');
    expect(breaker.permit()).toEqual({ allowed: true, probe: expect.any(Number) });
  });
});

describe('through createResilientChat', () => {
  const env = useLoopback();

  test('once open, calls fail fast with CircuitOpenError and send no request', async () => {
    env.server.script(...Array.from({ length: 4 }, () => ({ type: 'status' as const, status: 503 })));
    const chat = env.chat({
      retry: { maxRetries: 0 },
      circuitBreaker: { minimumThroughput: 4, failureRatio: 0.5, breakDurationMs: 60_000 },
    });
    const params = { model: 'gpt-4o-mini', messages: [] };
    for (let i = 0; i < 4; i++) await chat.completions.create(params).catch(() => undefined);
    expect(env.server.requests).toHaveLength(4);

    const error = await chat.completions.create(params).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({
      code: 'RESILIENT_CHAT_CIRCUIT_OPEN',
      endpoint: `127.0.0.1:${env.server.port} gpt-4o-mini`,
    });
    expect(classifyError(error)).toMatchObject({ reason: 'not_retryable', errorType: 'CircuitOpenError' });
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

describe('a slow half-open probe', () => {
  test('holds the circuit only for probeTimeoutMs; then the next call is let through as a probe', () => {
    const { breaker, advance } = breakerWithClock({
      minimumThroughput: 2,
      breakDurationMs: 1_000,
      probeTimeoutMs: 500,
    });
    run(breaker, 0, 2);
    expect(breaker.state).toBe('open');
    advance(1_000);
    const slow = breaker.permit();
    expect(slow).toMatchObject({ allowed: true });
    advance(200);
    expect(breaker.permit()).toEqual({ allowed: false, retryAfterMs: 300 });
    advance(300);
    const second = breaker.permit();
    expect(second).toMatchObject({ allowed: true });

    // The slow probe answers at last: its success still closes the circuit.
    breaker.record('success', slow.allowed ? slow.probe : 0);
    expect(breaker.state).toBe('closed');
    // The second probe's late answer changes nothing now.
    breaker.record('failure', second.allowed ? second.probe : 0);
    expect(breaker.state).toBe('closed');
  });
});
