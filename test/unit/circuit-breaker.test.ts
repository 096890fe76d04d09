/** The circuit breaker under a controlled clock: Polly's sampling semantics, probes, bounds. */
import { describe, expect, test } from 'vitest';
import {
  CircuitBreaker,
  type CircuitState,
  DEFAULT_BREAKER,
  verdictFor,
} from '../../src/policy/circuit-breaker.js';
import type { Classification, FailureReason } from '../../src/types.js';

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
    // 50 failures, then a full window later 49 successes and one failure: only those 50 count, below the
    // minimum throughput. Were the 50 old failures still held, 101 outcomes at 50 % would open it.
    const { breaker, advance } = breakerWithClock();
    run(breaker, 0, 50);
    advance(DEFAULT_BREAKER.samplingDurationMs + 1);
    run(breaker, 49, 1);
    expect(breaker.state).toBe('closed');
  });

  test('outcomes inside the window still count', () => {
    // The same, half a window later: all 101 are in the window, 50.5 % of them failures.
    const { breaker, advance } = breakerWithClock();
    run(breaker, 0, 50);
    advance(DEFAULT_BREAKER.samplingDurationMs / 2);
    run(breaker, 49, 1);
    expect(breaker.state).toBe('open');
  });

  test('a 429 is neither a failure nor a success of the endpoint; a 5xx, a timeout, a reset are failures', () => {
    const failure = (reason: FailureReason): Classification => ({ reason, retryable: true, errorType: 'x' });
    expect(verdictFor(failure('rate_limited'))).toBe('ignored');
    expect(verdictFor(failure('circuit_open'))).toBe('ignored');
    expect(verdictFor({ reason: 'setup_error', retryable: false, errorType: 'TypeError' })).toBe('ignored');
    for (const reason of ['server_error', 'timeout', 'connection', 'upstream_client_closed'] as const)
      expect(verdictFor(failure(reason))).toBe('failure');
    expect(verdictFor({ reason: 'not_retryable', retryable: false, errorType: 'BadRequestError' })).toBe(
      'success',
    );
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
