/**
 * The retry decision, in one place: after a failed attempt, retry (how soon, on which client) or give up
 * (and why). Pure: it reads the classification and the call's counters and returns a decision; the loop in
 * chat-call.ts carries it out.
 */

import type { Classification } from '../call/classify.js';
import type { ResolvedRetryPolicy } from '../options.js';
import { BackoffSchedule, type Random } from './backoff.js';
import type { RetryBudget } from './retry-budget.js';

export type GiveUpReason =
  | 'not_retryable'
  | 'aborted'
  | 'attempts_exhausted'
  | 'recoveries_exhausted'
  | 'deadline'
  /** The retry budget shared by all calls was spent: the retry would have added load during an outage. */
  | 'budget_exhausted'
  /** The endpoint's circuit breaker refused the attempt. */
  | 'circuit_open'
  /** A stream failed after chunks had reached the caller; such failures are surfaced, not retried. */
  | 'stream_interrupted';

export type RetryDecision =
  | { action: 'retry'; delayMs: number; replaceClient: boolean }
  | { action: 'give_up'; reason: GiveUpReason };

/** What one call has spent so far. */
export interface CallBudget {
  /** Retries made for transient reasons. */
  transientRetries: number;
  /** Fresh-client retries made after closed-client failures. */
  recoveries: number;
  /** Epoch ms after which no attempt or sleep may run; Infinity for none. */
  deadlineAt: number;
}

export class RetryPolicy {
  readonly #policy: ResolvedRetryPolicy;
  readonly #schedule: BackoffSchedule;
  readonly #budget: RetryBudget | undefined;

  constructor(policy: ResolvedRetryPolicy, budget?: RetryBudget, random?: Random) {
    this.#policy = policy;
    this.#budget = budget;
    this.#schedule = new BackoffSchedule(policy.maxRetries, policy.baseDelayMs, policy.maxDelayMs, random);
  }

  get settings(): ResolvedRetryPolicy {
    return this.#policy;
  }

  /** Every logical call earns its share of the retry budget. */
  callStarted(): void {
    this.#budget?.deposit();
  }

  /**
   * Transient retries spend the retry budget; closed-client recoveries never do. The budget exists so that
   * retries do not pile onto a failing server, and a closed client is our own local fault that says nothing
   * about the server (it does not count against the circuit breaker either). Recoveries are bounded per call
   * by `closedClient.maxRecoveries` instead. Tried the other way, with recoveries of requests that may have
   * reached the server spending budget, the demo's eviction churn (about one call in ten cut off) exhausted
   * the budget and failed calls that a fresh client would have served.
   */
  decide(failure: Classification, spent: CallBudget, now = Date.now()): RetryDecision {
    if (failure.reason === 'aborted') return giveUp('aborted');
    if (!failure.retryable) return giveUp('not_retryable');

    let decision: RetryDecision;
    if (failure.reason === 'client_closed') {
      // A dead client fails the same way on every try: the cure is a fresh client, at once, not a wait.
      if (spent.recoveries >= this.#policy.maxRecoveries) return giveUp('recoveries_exhausted');
      decision = { action: 'retry', delayMs: 0, replaceClient: true };
    } else {
      if (spent.transientRetries >= this.#policy.maxRetries) return giveUp('attempts_exhausted');
      decision = { action: 'retry', delayMs: this.#transientDelay(failure, spent), replaceClient: false };
    }
    // Never start a sleep that would end past the deadline: it could only end in a failure, later.
    if (now + decision.delayMs >= spent.deadlineAt) return giveUp('deadline');
    if (!decision.replaceClient && this.#budget && !this.#budget.tryWithdraw())
      return giveUp('budget_exhausted');
    return decision;
  }

  #transientDelay(failure: Classification, spent: CallBudget): number {
    const asked = failure.retryAfterMs;
    if (asked !== undefined && asked <= this.#policy.maxRetryAfterMs) return Math.max(0, Math.round(asked));
    return this.#schedule.delay(spent.transientRetries);
  }
}

function giveUp(reason: GiveUpReason): RetryDecision {
  return { action: 'give_up', reason };
}
