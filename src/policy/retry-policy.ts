/**
 * The retry decision, in one place: after a failed attempt, retry (how soon, on which client) or give up
 * (and why). Pure: it reads the classification, what the attempt may have sent, and the call's counters, and
 * returns a decision; the loop in src/call/ carries it out. No openai or OpenTelemetry here.
 */
import { BackoffSchedule, type Random } from './backoff.js';
import type { Classification, GiveUpReason } from './failure.js';
import type { RetryBudget } from './retry-budget.js';
import type { ResolvedRetryPolicy } from './retry-options.js';

export type { GiveUpReason };

/** How a retry is counted: each kind has its own bound. */
export type RetryKind =
  /** On a fresh client after our own client was found closed; bounded by `closedClient.maxRecoveries`. */
  | 'recovery'
  /** The one immediate retry a call gets after a server said its upstream client was closed. */
  | 'upstream_closed'
  /** Backoff retries of transient failures; bounded by `retry.maxRetries` and the retry budget. */
  | 'transient';

export type RetryDecision =
  | { action: 'retry'; delayMs: number; replaceClient: boolean; kind: RetryKind }
  | { action: 'give_up'; reason: GiveUpReason };

/** What one call has spent so far, and its own bound. */
export interface CallBudget {
  /**
   * The request's own `maxRetries`, when it gave one: this call's transient retries stop there, never past
   * `retry.maxRetries` (0: none; a framework that retries itself says so).
   */
  requestMaxRetries?: number | undefined;
  transientRetries: number;
  recoveries: number;
  upstreamClosedRetries: number;
  /** Epoch ms after which no attempt or sleep may run; Infinity for none. */
  deadlineAt: number;
}

/** What the failed attempt may have done, which decides whether sending it again is safe. */
export interface AttemptFacts {
  /** False only when the request provably never left this process (a dead dispatcher, a refused connect). */
  maybeSent: boolean;
  /** False when the body was a stream that a second attempt could not send again. */
  replayable: boolean;
  /**
   * False when sending the request twice could change the server's state twice (a Responses call with a
   * `conversation`, an upload, a create): such a request is replayed only if it provably had no effect.
   */
  idempotent: boolean;
}

export class RetryPolicy {
  readonly #policy: ResolvedRetryPolicy;
  readonly #schedule: BackoffSchedule;
  readonly #budget: RetryBudget | undefined;

  /** `random`: the backoff's random source; default the policy's own (`retry.random`, else Math.random). */
  constructor(policy: ResolvedRetryPolicy, budget?: RetryBudget, random: Random = policy.random) {
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
   *
   * A server's word that *its* client closed is the server's fault: the first such failure of a call is
   * retried at once on the same client (the proxy replaces its own client), free; any further one is a 5xx
   * like any other.
   */
  decide(
    failure: Classification,
    spent: CallBudget,
    attempt: AttemptFacts = { maybeSent: true, replayable: true, idempotent: true },
    now = Date.now(),
  ): RetryDecision {
    if (failure.reason === 'aborted') return giveUp('aborted');
    if (!failure.retryable) return giveUp('not_retryable');
    if (!attempt.replayable && attempt.maybeSent) return giveUp('body_not_replayable');
    if (!attempt.idempotent && !this.#policy.replayNonIdempotent && mayHaveTakenEffect(failure, attempt))
      return giveUp('not_idempotent');
    if (now >= spent.deadlineAt) return giveUp('deadline');

    let decision: RetryDecision;
    if (failure.reason === 'client_closed') {
      // A dead client fails the same way on every try: the cure is a fresh client, at once, not a wait.
      if (spent.recoveries >= this.#policy.maxRecoveries) return giveUp('recoveries_exhausted');
      decision = { action: 'retry', delayMs: 0, replaceClient: true, kind: 'recovery' };
    } else if (failure.reason === 'upstream_client_closed' && spent.upstreamClosedRetries === 0) {
      decision = { action: 'retry', delayMs: 0, replaceClient: false, kind: 'upstream_closed' };
    } else {
      const limit = Math.min(this.#policy.maxRetries, spent.requestMaxRetries ?? Number.POSITIVE_INFINITY);
      if (spent.transientRetries >= limit) return giveUp('attempts_exhausted');
      decision = {
        action: 'retry',
        delayMs: this.#transientDelay(failure, spent),
        replaceClient: false,
        kind: 'transient',
      };
    }
    // Never start a sleep that would end past the deadline: it could only end in a failure, later.
    if (now + decision.delayMs >= spent.deadlineAt) return giveUp('deadline');
    if (decision.kind === 'transient' && this.#budget && !this.#budget.tryWithdraw())
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

/**
 * Whether a failed attempt may have changed the server's state: it may have been sent, and the answer does not
 * say it was refused unprocessed. A 429 is refused before any work; a proxy's word that its own client closed
 * means it never forwarded the request.
 */
function mayHaveTakenEffect(failure: Classification, attempt: AttemptFacts): boolean {
  if (!attempt.maybeSent) return false;
  return failure.status !== 429 && failure.reason !== 'upstream_client_closed';
}
