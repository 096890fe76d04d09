/** The retry decision and its backoff schedule, with the randomness injected. */
import { describe, expect, test } from 'vitest';
import type { Classification } from '../../src/call/classify.js';
import { BackoffSchedule } from '../../src/policy/backoff.js';
import { RetryBudget } from '../../src/policy/retry-budget.js';
import { resolveRetryPolicy } from '../../src/policy/retry-options.js';
import {
  breakerVerdict,
  type RetryKind,
  RetryPolicy,
  type RetryTally,
} from '../../src/policy/retry-policy.js';

const serverError: Classification = {
  reason: 'server_error',
  retryable: true,
  errorType: 'InternalServerError',
  status: 503,
};
const closed: Classification = { reason: 'client_closed', retryable: true, errorType: 'UND_ERR_DESTROYED' };
const upstreamClosed: Classification = {
  reason: 'upstream_client_closed',
  retryable: true,
  errorType: 'InternalServerError',
  status: 500,
};
/** A call's tally with these retries made; no request bound, no deadline unless given. */
const tally = (
  retries: Partial<Record<RetryKind, number>> = {},
  bounds: Partial<Omit<RetryTally, 'retries'>> = {},
): RetryTally => ({
  retries: { recovery: 0, upstream_closed: 0, transient: 0, ...retries },
  requestMaxRetries: undefined,
  deadlineAt: Number.POSITIVE_INFINITY,
  ...bounds,
});
const fresh = () => tally();

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
      tally: tally({ transient: 1 }),
    });
    expect(p.decide(serverError, tally({ transient: 1 }))).toMatchObject({ delayMs: 1000 });
    expect(p.decide(serverError, tally({ transient: 2 }))).toEqual({
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
      tally: tally({ recovery: 1 }),
    });
    expect(p.decide(closed, tally({ recovery: 1 }))).toEqual({
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
    expect(p.decide(serverError, tally({}, { deadlineAt: now + 400 }), undefined, now)).toEqual({
      action: 'give_up',
      reason: 'deadline',
    });
    expect(p.decide(serverError, tally({}, { deadlineAt: now + 600 }), undefined, now)).toMatchObject({
      action: 'retry',
    });
    expect(p.decide(closed, tally({}, { deadlineAt: now }), undefined, now)).toEqual({
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

describe("retry accounting: the tally is the policy's", () => {
  test('startCall starts at no retries, with the deadline from totalTimeoutMs on the given clock', () => {
    expect(policy().startCall(3, 1_000)).toEqual(tally({}, { requestMaxRetries: 3 }));
    const timed = new RetryPolicy(resolveRetryPolicy({ retry: { totalTimeoutMs: 500 } }));
    expect(timed.startCall(undefined, 1_000)).toEqual(tally({}, { deadlineAt: 1_500 }));
  });

  test('each retry counts in its own kind only, in a new tally; the one it was given is left as it was', () => {
    const p = policy();
    const start = fresh();
    const recovered = p.decide(closed, start);
    if (recovered.action !== 'retry') throw new Error('expected a retry');
    expect(recovered.tally.retries).toEqual({ recovery: 1, upstream_closed: 0, transient: 0 });
    const upstream = p.decide(upstreamClosed, recovered.tally);
    if (upstream.action !== 'retry') throw new Error('expected a retry');
    expect(upstream.tally.retries).toEqual({ recovery: 1, upstream_closed: 1, transient: 0 });
    const backedOff = p.decide(serverError, upstream.tally);
    if (backedOff.action !== 'retry') throw new Error('expected a retry');
    expect(backedOff.tally.retries).toEqual({ recovery: 1, upstream_closed: 1, transient: 1 });
    expect(start).toEqual(fresh());
  });

  test("the call's first upstream-closed failure is free: at once, and ignored by the breaker; the next is a 5xx", () => {
    const p = policy({ maxRetries: 1 });
    const first = p.decide(upstreamClosed, fresh());
    expect(first).toMatchObject({
      action: 'retry',
      kind: 'upstream_closed',
      delayMs: 0,
      replaceClient: false,
    });
    expect(breakerVerdict(upstreamClosed, fresh())).toBe('ignored');
    if (first.action !== 'retry') throw new Error('expected a retry');
    expect(breakerVerdict(upstreamClosed, first.tally)).toBe('failure');
    const second = p.decide(upstreamClosed, first.tally);
    expect(second).toMatchObject({ action: 'retry', kind: 'transient', delayMs: 500 });
    if (second.action !== 'retry') throw new Error('expected a retry');
    expect(p.decide(upstreamClosed, second.tally)).toEqual({
      action: 'give_up',
      reason: 'attempts_exhausted',
    });
    expect(breakerVerdict(serverError, fresh())).toBe('failure');
  });

  test("the request's own maxRetries bounds its transient retries, never above retry.maxRetries", () => {
    expect(
      policy({ maxRetries: 3 }).decide(serverError, tally({ transient: 1 }, { requestMaxRetries: 1 })),
    ).toEqual({ action: 'give_up', reason: 'attempts_exhausted' });
    expect(
      policy({ maxRetries: 1 }).decide(serverError, tally({ transient: 1 }, { requestMaxRetries: 5 })),
    ).toEqual({ action: 'give_up', reason: 'attempts_exhausted' });
    // Closed-client recoveries are not the caller's to cap.
    expect(policy().decide(closed, tally({}, { requestMaxRetries: 0 }))).toMatchObject({ kind: 'recovery' });
  });

  test('a transient retry the budget refuses is a give-up, and the budget is drawn only by transient ones', () => {
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0.1, windowMs: 10_000 }, () => 0);
    const p = new RetryPolicy(resolveRetryPolicy({}), budget, () => 1);
    const start = p.startCall(undefined, 0);
    expect(p.decide(closed, start, undefined, 0)).toMatchObject({ action: 'retry', kind: 'recovery' });
    expect(p.decide(serverError, start, undefined, 0)).toMatchObject({ action: 'retry', kind: 'transient' });
    expect(p.decide(serverError, start, undefined, 0)).toEqual({
      action: 'give_up',
      reason: 'budget_exhausted',
    });
  });
});
