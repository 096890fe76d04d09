/** The retry decision and its backoff schedule, with the randomness injected. */
import { describe, expect, test } from 'vitest';
import type { Classification } from '../../src/call/classify.js';
import { BackoffSchedule } from '../../src/policy/backoff.js';
import { resolveRetryPolicy } from '../../src/policy/retry-options.js';
import { RetryPolicy } from '../../src/policy/retry-policy.js';

const serverError: Classification = {
  reason: 'server_error',
  retryable: true,
  errorType: 'InternalServerError',
  status: 503,
};
const closed: Classification = { reason: 'client_closed', retryable: true, errorType: 'UND_ERR_DESTROYED' };
const fresh = () => ({
  transientRetries: 0,
  recoveries: 0,
  upstreamClosedRetries: 0,
  deadlineAt: Number.POSITIVE_INFINITY,
});

function policy(retry = {}, closedClient = {}, random = () => 1) {
  return new RetryPolicy(resolveRetryPolicy({ retry, closedClient }), undefined, random);
}

describe('BackoffSchedule', () => {
  test('defaults match openai-node: 0.5 s doubling to an 8 s cap', () => {
    const schedule = new BackoffSchedule(6, 500, 8_000, () => 1);
    expect([0, 1, 2, 3, 4, 5].map((i) => schedule.ceiling(i))).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
  });

  test('full jitter draws in [0, ceiling]', () => {
    expect(new BackoffSchedule(3, 500, 8_000, () => 0).delay(2)).toBe(0);
    expect(new BackoffSchedule(3, 500, 8_000, () => 0.5).delay(2)).toBe(1000);
    expect(new BackoffSchedule(3, 500, 8_000, () => 0.999).delay(2)).toBeLessThanOrEqual(2000);
  });

  test('a zero base delay means no waiting (the retry package would raise it to 1 ms)', () => {
    expect(new BackoffSchedule(3, 0, 0, () => 1).delay(2)).toBe(0);
  });

  test("a random source's draw outside [0, 1] is clamped, and one that is not a number counts as 1", () => {
    const delay = (drawn: number) => new BackoffSchedule(1, 100, 100, () => drawn).delay(0);
    expect([-1, 2, Number.NaN, Number.POSITIVE_INFINITY].map(delay)).toEqual([0, 100, 100, 100]);
  });

  test('beyond the schedule the last ceiling holds', () => {
    expect(new BackoffSchedule(2, 100, 1_000, () => 1).ceiling(9)).toBe(200);
  });
});

describe('the random source', () => {
  test('retry.random drives the backoff of a policy built from the options alone', () => {
    const resolved = resolveRetryPolicy({
      retry: { baseDelayMs: 1_000, random: () => 0.25 },
    });
    expect(new RetryPolicy(resolved).decide(serverError, fresh())).toMatchObject({ delayMs: 250 });
    expect(resolveRetryPolicy({}).random).toBe(Math.random);
  });
});

describe('RetryPolicy.decide', () => {
  test('transient failures back off until maxRetries is spent', () => {
    const p = policy({ maxRetries: 2 });
    expect(p.decide(serverError, fresh())).toEqual({
      action: 'retry',
      delayMs: 500,
      replaceClient: false,
      kind: 'transient',
    });
    expect(p.decide(serverError, { ...fresh(), transientRetries: 1 })).toMatchObject({ delayMs: 1000 });
    expect(p.decide(serverError, { ...fresh(), transientRetries: 2 })).toEqual({
      action: 'give_up',
      reason: 'attempts_exhausted',
    });
  });

  test('a closed client is retried at once on a fresh client, within its own allowance', () => {
    const p = policy({ maxRetries: 0 }, { maxRecoveries: 1 });
    expect(p.decide(closed, fresh())).toEqual({
      action: 'retry',
      delayMs: 0,
      replaceClient: true,
      kind: 'recovery',
    });
    expect(p.decide(closed, { ...fresh(), recoveries: 1 })).toEqual({
      action: 'give_up',
      reason: 'recoveries_exhausted',
    });
  });

  test('Retry-After replaces the backoff when it is within maxRetryAfterMs', () => {
    const p = policy({ maxRetryAfterMs: 1_000 });
    expect(p.decide({ ...serverError, retryAfterMs: 750 }, fresh())).toMatchObject({ delayMs: 750 });
    expect(p.decide({ ...serverError, retryAfterMs: 5_000 }, fresh())).toMatchObject({ delayMs: 500 });
  });

  test('no sleep may end past the deadline', () => {
    const p = policy();
    const now = 10_000;
    expect(p.decide(serverError, { ...fresh(), deadlineAt: now + 400 }, undefined, now)).toEqual({
      action: 'give_up',
      reason: 'deadline',
    });
    expect(p.decide(serverError, { ...fresh(), deadlineAt: now + 600 }, undefined, now)).toMatchObject({
      action: 'retry',
    });
    expect(p.decide(closed, { ...fresh(), deadlineAt: now }, undefined, now)).toEqual({
      action: 'give_up',
      reason: 'deadline',
    });
  });

  test('aborted and non-retryable failures are never retried', () => {
    const p = policy();
    expect(
      p.decide({ reason: 'aborted', retryable: false, errorType: 'APIUserAbortError' }, fresh()),
    ).toEqual({
      action: 'give_up',
      reason: 'aborted',
    });
    expect(
      p.decide({ reason: 'not_retryable', retryable: false, errorType: 'BadRequestError' }, fresh()),
    ).toEqual({
      action: 'give_up',
      reason: 'not_retryable',
    });
  });
});
