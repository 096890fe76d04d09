/**
 * A sampling circuit breaker per endpoint, with Polly v8's semantics: it opens when, over the sampling window,
 * at least `minimumThroughput` attempts were seen and the failure ratio reached `failureRatio`; stays open for
 * `breakDurationMs`; then lets exactly one probe through (half-open): success closes it, failure re-opens it.
 * A probe that has not answered after `probeTimeoutMs` no longer holds the circuit: the next call becomes a
 * probe too (the first one's answer, if it ever comes, still counts). Without that bound one slow probe held
 * every other call of the endpoint in fail-fast for as long as it took (up to the client's 10-minute timeout).
 *
 * Written by hand: our retry loop needs to ask "may this attempt go?" and report each attempt's outcome, and
 * tests need a clock they control. cockatiel's SamplingBreaker wraps execution in its own policy, reads the
 * wall clock, and takes a minimum rate (RPS) rather than Polly's minimum number of calls.
 */
import {
  duration,
  type KeySet,
  optionalObject,
  ratio,
  TIMER,
  TIMER_OR_ZERO,
  wholeNumber,
} from '../option-checks.js';
import type { Classification } from './failure.js';
import { SlidingCounts } from './sliding-window.js';

/** A circuit's state: `closed` lets calls through, `open` refuses them, `half_open` lets a probe through. */
export type CircuitState = 'closed' | 'open' | 'half_open';

/** The per-endpoint circuit breaker (Polly v8's sampling breaker); every field has Polly's default. */
export interface CircuitBreakerOptions {
  /**
   * Failure ratio over the window at or above which the circuit opens.
   * @defaultValue `0.1`
   */
  failureRatio?: number;
  /**
   * Attempts the window must hold before the ratio counts.
   * @defaultValue `100`
   */
  minimumThroughput?: number;
  /**
   * Length of the sampling window in ms.
   * @defaultValue `30000`
   */
  samplingDurationMs?: number;
  /**
   * How long the circuit stays open before one probe is let through, in ms.
   * @defaultValue `5000`
   */
  breakDurationMs?: number;
  /**
   * How long a half-open probe may go unanswered before another call is let through as a probe, in ms.
   * @defaultValue `breakDurationMs` (at least 1)
   */
  probeTimeoutMs?: number;
}

export interface ResolvedBreakerOptions {
  failureRatio: number;
  minimumThroughput: number;
  samplingDurationMs: number;
  breakDurationMs: number;
  probeTimeoutMs: number;
}

/** Polly's defaults; a probe's timeout left out is the break's duration. */
export const DEFAULT_BREAKER: Omit<ResolvedBreakerOptions, 'probeTimeoutMs'> = {
  failureRatio: 0.1,
  minimumThroughput: 100,
  samplingDurationMs: 30_000,
  breakDurationMs: 5_000,
};

export const BREAKER_KEYS = {
  failureRatio: true,
  minimumThroughput: true,
  samplingDurationMs: true,
  breakDurationMs: true,
  probeTimeoutMs: true,
} as const satisfies KeySet<CircuitBreakerOptions>;

/** The `circuitBreaker` option, checked, with the defaults filled in; `false` turns the breakers off. */
export function resolveBreakerOptions(
  value: CircuitBreakerOptions | false | undefined,
): ResolvedBreakerOptions | undefined {
  if (value === false) return undefined;
  const breaker = optionalObject<CircuitBreakerOptions>(value, 'circuitBreaker') ?? {};
  const breakDurationMs =
    duration(breaker.breakDurationMs, 'circuitBreaker.breakDurationMs', TIMER_OR_ZERO) ??
    DEFAULT_BREAKER.breakDurationMs;
  return {
    failureRatio:
      ratio(breaker.failureRatio, 'circuitBreaker.failureRatio', false) ?? DEFAULT_BREAKER.failureRatio,
    minimumThroughput:
      wholeNumber(breaker.minimumThroughput, 'circuitBreaker.minimumThroughput', {
        min: 0,
        max: 1_000_000,
      }) ?? DEFAULT_BREAKER.minimumThroughput,
    samplingDurationMs:
      duration(breaker.samplingDurationMs, 'circuitBreaker.samplingDurationMs', TIMER) ??
      DEFAULT_BREAKER.samplingDurationMs,
    breakDurationMs,
    probeTimeoutMs:
      duration(breaker.probeTimeoutMs, 'circuitBreaker.probeTimeoutMs', TIMER) ??
      Math.max(1, breakDurationMs),
  };
}

/** How an attempt's outcome counts for the endpoint's health. */
export type AttemptVerdict = 'success' | 'failure' | 'ignored';

/**
 * Failures are what says the endpoint is unwell (5xx, 408, timeouts, connection errors). Ignored, because
 * they say nothing about the endpoint's health: a closed client (our own local fault), the caller's abort, a
 * setup error or another breaker's refusal (nothing left the process), and a 429, which says the caller's key or organisation is over its
 * limit: Retry-After and the retry budget are the tools for that, and holding it against the endpoint let
 * one tenant's limit lock every tenant out. Any other answer (a 400, say) shows the endpoint is up.
 */
export function verdictFor(failure: Classification): AttemptVerdict {
  if (IGNORED.has(failure.reason)) return 'ignored';
  return failure.retryable ? 'failure' : 'success';
}

const IGNORED: ReadonlySet<Classification['reason']> = new Set([
  'client_closed',
  'aborted',
  'setup_error',
  'rate_limited',
  'circuit_open', // another breaker's refusal (a nested resilient client): nothing was sent
]);

/** `probe`: 0 for an ordinary attempt, otherwise the probe's number (an old probe's late answer still counts). */
export type Permit = { allowed: true; probe: number } | { allowed: false; retryAfterMs: number };

/** What every attempt through a closed circuit gets: one shared object, none made per call. */
const CLOSED_PERMIT: Permit = Object.freeze({ allowed: true, probe: 0 });

export class CircuitBreaker {
  readonly #options: ResolvedBreakerOptions;
  readonly #now: () => number;
  readonly #onTransition: (state: CircuitState) => void;
  #state: CircuitState = 'closed';
  #openedAt = 0;
  #probes = 0;
  #probeInFlight = false;
  #probeStartedAt = 0;
  readonly #outcomes: SlidingCounts<'successes' | 'failures'>;

  constructor(options: ResolvedBreakerOptions, onTransition: (state: CircuitState) => void, now = Date.now) {
    this.#options = options;
    this.#now = now;
    this.#onTransition = onTransition;
    this.#outcomes = new SlidingCounts(['successes', 'failures'], options.samplingDurationMs, now);
  }

  get state(): CircuitState {
    return this.#state;
  }

  /** Asks to send an attempt. A `probe` permit must be followed by `record()`, or the breaker stays half-open. */
  permit(): Permit {
    if (this.#state === 'closed') return CLOSED_PERMIT;
    const now = this.#now();
    if (this.#state === 'open') {
      const remaining = this.#openedAt + this.#options.breakDurationMs - now;
      if (remaining > 0) return { allowed: false, retryAfterMs: remaining };
      this.#transition('half_open');
    }
    const probeWait = this.#probeStartedAt + this.#options.probeTimeoutMs - now;
    if (this.#probeInFlight && probeWait > 0) return { allowed: false, retryAfterMs: probeWait };
    this.#probeInFlight = true;
    this.#probeStartedAt = now;
    return { allowed: true, probe: ++this.#probes };
  }

  /** Reports the outcome of an attempt that `permit()` allowed. */
  record(verdict: AttemptVerdict, probe: number): void {
    if (probe > 0) {
      if (this.#state !== 'half_open') return; // an older probe answering after the circuit moved on
      this.#probeInFlight = false;
      if (verdict === 'success') {
        this.#outcomes.clear();
        this.#transition('closed');
      } else if (verdict === 'failure') {
        this.#open();
      }
      return; // an ignored probe frees the slot for the next caller's probe
    }
    if (verdict === 'ignored' || this.#state !== 'closed') return;
    this.#outcomes.add(verdict === 'success' ? 'successes' : 'failures');
    if (verdict === 'failure' && this.#shouldOpen()) this.#open();
  }

  #shouldOpen(): boolean {
    const { successes, failures } = this.#outcomes.totals();
    const total = successes + failures;
    return total >= this.#options.minimumThroughput && failures / total >= this.#options.failureRatio;
  }

  #open(): void {
    this.#openedAt = this.#now();
    this.#outcomes.clear();
    this.#transition('open');
  }

  #transition(state: CircuitState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#onTransition(state);
  }
}
