/**
 * The retry decision, in one place: after a failed attempt, retry (how soon, on which client) or give up
 * (and why). Pure: it reads the classification, what the attempt may have sent, and the call's tally, and
 * returns a decision with the tally that follows from it; the loop in src/call/ carries it out and keeps the
 * tally it is given. No openai or OpenTelemetry here.
 */
import { BackoffSchedule, type Random } from './backoff.js';
import { type AttemptVerdict, verdictFor } from './circuit-breaker.js';
import type { Classification, GiveUpReason } from './failure.js';
import type { RetryBudget } from './retry-budget.js';
import type { ResolvedRetryPolicy } from './retry-options.js';

export type { GiveUpReason };

/** How a retry is counted: each kind has its own counter in the tally, and its own bound. */
export type RetryKind =
  /** On a fresh client after our own client was found closed; bounded by `closedClient.maxRecoveries`. */
  | 'recovery'
  /** The one immediate retry a call gets after a server said its upstream client was closed. */
  | 'upstream_closed'
  /** Backoff retries of transient failures; bounded by `retry.maxRetries` and the retry budget. */
  | 'transient';

/**
 * One call's retry accounting: the retries it has made, of each kind, and its own bounds. Only the policy
 * makes it (`startCall`) and advances it (a retry decision carries the next tally), so every kind is counted
 * where its bound is checked. A tally, not a budget: it only counts up, and only for its call; the budget
 * (retry-budget.ts) is shared by all calls and drawn down.
 */
export interface RetryTally {
  /** Retries made so far, by kind. */
  readonly retries: Readonly<Record<RetryKind, number>>;
  /**
   * The request's own `maxRetries`, when it gave one: this call's transient retries stop there, never past
   * `retry.maxRetries` (0: none; a framework that retries itself says so).
   */
  readonly requestMaxRetries: number | undefined;
  /** Epoch ms after which no attempt or sleep may run; Infinity for none. */
  readonly deadlineAt: number;
}

export type RetryDecision =
  | { action: 'retry'; delayMs: number; replaceClient: boolean; kind: RetryKind; tally: RetryTally }
  | { action: 'give_up'; reason: GiveUpReason };

/** Every call's first tally shares it: a tally is never changed in place. */
const NO_RETRIES: Readonly<Record<RetryKind, number>> = Object.freeze({
  recovery: 0,
  upstream_closed: 0,
  transient: 0,
});

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

  /** Starts a call's tally, with its deadline; every logical call earns its share of the retry budget. */
  startCall(requestMaxRetries: number | undefined, now = Date.now()): RetryTally {
    this.#budget?.deposit();
    const { totalTimeoutMs } = this.#policy;
    return {
      retries: NO_RETRIES,
      requestMaxRetries,
      deadlineAt: totalTimeoutMs === undefined ? Number.POSITIVE_INFINITY : now + totalTimeoutMs,
    };
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
   * retried at once on the same client (the proxy replaces its own client), free (see `breakerVerdict`);
   * any further one is a 5xx like any other.
   *
   * A retry comes with the tally that counts it; a give-up leaves the tally as it was.
   */
  decide(
    failure: Classification,
    tally: RetryTally,
    attempt: AttemptFacts = { maybeSent: true, replayable: true, idempotent: true },
    now = Date.now(),
  ): RetryDecision {
    if (failure.reason === 'aborted') return giveUp('aborted');
    if (!failure.retryable) return giveUp('not_retryable');
    if (!attempt.replayable && attempt.maybeSent) return giveUp('body_not_replayable');
    if (!attempt.idempotent && !this.#policy.replayNonIdempotent && mayHaveTakenEffect(failure, attempt))
      return giveUp('not_idempotent');
    if (now >= tally.deadlineAt) return giveUp('deadline');

    const { retries } = tally;
    let retry: Retry;
    if (failure.reason === 'client_closed') {
      // A dead client fails the same way on every try: the cure is a fresh client, at once, not a wait.
      if (retries.recovery >= this.#policy.maxRecoveries) return giveUp('recoveries_exhausted');
      retry = { kind: 'recovery', delayMs: 0, replaceClient: true };
    } else if (isFirstUpstreamClosed(failure, tally)) {
      retry = { kind: 'upstream_closed', delayMs: 0, replaceClient: false };
    } else {
      const limit = Math.min(this.#policy.maxRetries, tally.requestMaxRetries ?? Number.POSITIVE_INFINITY);
      if (retries.transient >= limit) return giveUp('attempts_exhausted');
      retry = { kind: 'transient', delayMs: this.#transientDelay(failure, tally), replaceClient: false };
    }
    // Never start a sleep that would end past the deadline: it could only end in a failure, later.
    if (now + retry.delayMs >= tally.deadlineAt) return giveUp('deadline');
    if (retry.kind === 'transient' && this.#budget && !this.#budget.tryWithdraw())
      return giveUp('budget_exhausted');
    const next: RetryTally = { ...tally, retries: { ...retries, [retry.kind]: retries[retry.kind] + 1 } };
    return { action: 'retry', ...retry, tally: next };
  }

  #transientDelay(failure: Classification, tally: RetryTally): number {
    const asked = failure.retryAfterMs;
    if (asked !== undefined && asked <= this.#policy.maxRetryAfterMs) return Math.max(0, Math.round(asked));
    return this.#schedule.delay(tally.retries.transient);
  }
}

/** A retry before it is counted. */
interface Retry {
  kind: RetryKind;
  delayMs: number;
  replaceClient: boolean;
}

/**
 * What the endpoint's breaker records of a failed attempt. The call's first "upstream client closed" is not
 * held against the endpoint (it is retried at once, see `decide`); any further one counts like any 5xx.
 */
export function breakerVerdict(failure: Classification, tally: RetryTally): AttemptVerdict {
  return isFirstUpstreamClosed(failure, tally) ? 'ignored' : verdictFor(failure);
}

/** The call's first server-side "client closed": the one free, immediate retry a call gets for it. */
function isFirstUpstreamClosed(failure: Classification, tally: RetryTally): boolean {
  return failure.reason === 'upstream_client_closed' && tally.retries.upstream_closed === 0;
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
