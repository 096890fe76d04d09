/**
 * One logical call: the attempt loop, the same for every request. Each attempt gets a client from the
 * source, asks the endpoint's circuit breaker, sends the request through that client's own `request()` with
 * openai-node's retries off (`maxRetries: 0`, so the layers never multiply), and on failure asks the
 * RetryPolicy what to do. Every exit is visible: an attempt ends ok, failed or refused; a failure yields a
 * decision; only `run()` throws. The operation (src/operations/) says what telemetry a result yields and,
 * for a stream, which event is the first of substance.
 */
import { context } from '@opentelemetry/api';
import type OpenAI from 'openai';
import { APIConnectionTimeoutError } from 'openai';
import { boundedWait, userAbortError } from '../bounded-wait.js';
import { isPromiseLike, type NormalizedClientSource } from '../clients/client-source.js';
import { endpointOf } from '../clients/endpoint.js';
import {
  CircuitOpenError,
  ClientClosedError,
  ClientNotReplaceableError,
  recordEarlierAttemptErrors,
} from '../errors.js';
import {
  type APIResponseProps,
  dispatcherOf,
  type FinalRequestOptions,
  isDispatcherDead,
  type Stream,
} from '../openai-internals.js';
import type { Operation, ResponseSummary, StreamAccumulator } from '../operations/index.js';
import type { CircuitBreakers, Endpoint, Gate } from '../policy/circuit-breakers.js';
import {
  breakerVerdict,
  type GiveUpReason,
  type RetryPolicy,
  type RetryTally,
} from '../policy/retry-policy.js';
import type { CallTelemetry, ClientTelemetry } from '../telemetry/call-telemetry.js';
import type { AcquireContext, Classification } from '../types.js';
import { sleep } from './abort.js';
import { sendAttempt } from './attempt-sender.js';
import { withData, withLazyParse } from './call-outcome.js';
import { classifyError } from './classify.js';
import type { Demand } from './demand.js';
import { withHeader } from './request-headers.js';
import {
  failingStream,
  firstEvent,
  type OpenedStream,
  relayStream,
  type StreamEnd,
  StreamOpenFailure,
} from './stream.js';

export type { APIResponseProps, FinalRequestOptions };

export interface CallDependencies {
  source: NormalizedClientSource;
  policy: RetryPolicy;
  breakers: CircuitBreakers | undefined;
  telemetry: ClientTelemetry;
}

export interface CallRequest {
  /** The caller's request as openai-node built it, with our Idempotency-Key added where it applies. */
  options: FinalRequestOptions;
  operation: Operation;
  model: string | undefined;
  /** The JSON body, for the source's `acquire` and the span's request attributes. */
  params: AcquireContext['params'];
  /** False when the body is a stream: such a request is never sent twice. */
  replayable: boolean;
  /** False when two of it could change the server's state twice (src/call/replay-safety.ts). */
  idempotent: boolean;
  /**
   * What the caller asked of the call's promise: the parsed value, or the raw response with its body unread
   * (`asResponse()` first). Read when a response arrives.
   */
  demand: Demand;
  /**
   * The request's own `maxRetries` (or the resilient client's, from `withOptions`): at most this many
   * transient retries for this call, never more than `retry.maxRetries`. Closed-client recoveries are not
   * capped by it: no caller can cure a transport that was closed under it.
   */
  maxRetries: number | undefined;
  /**
   * The upstream as the request names it (resilientFetch: its URL and credential headers), for the breaker,
   * whichever client sends it; without it, the client's (its base URL and credentials).
   */
  endpoint?: Endpoint;
}

/**
 * Runs the call; resolves to the props (response, options) of the attempt that succeeded, its parsed data
 * (or relayed stream) stored beside them for the parse step (see `outcome`).
 */
export function runCall(deps: CallDependencies, request: CallRequest): Promise<APIResponseProps> {
  const call = deps.telemetry.startCall(request.operation, request.model, request.params);
  const resilient = new ResilientCall(deps, call, request);
  // Only a span of ours changes the context; without one, `context.with` would run in the active one anyway.
  return call.span ? context.with(call.context, resilient.run, resilient) : resilient.run();
}

type Delivery =
  | { kind: 'json'; data: unknown; props: APIResponseProps }
  | { kind: 'raw'; props: APIResponseProps; parse: () => Promise<unknown> }
  | { kind: 'stream'; opened: OpenedStream; props: APIResponseProps; perfStart: number }
  /** The response arrived, and every promise of the call was collected before anyone read it. */
  | { kind: 'unread'; props: APIResponseProps };

type Attempt =
  | { kind: 'ok'; props: APIResponseProps }
  | { kind: 'refused'; gate: Gate }
  | {
      kind: 'failed';
      error: unknown;
      client: OpenAI | undefined;
      gate: Gate | undefined;
      /** The client's dispatcher was already closed or destroyed when the attempt began: nothing was sent. */
      deadOnArrival: boolean;
      /** The stream answered and failed before its first event of substance. */
      stream: StreamOpenFailure | undefined;
    };

/** An attempt with its client, past the breaker's gate, about to send. */
interface Admitted {
  kind: 'admitted';
  client: OpenAI;
  gate: Gate | undefined;
  deadOnArrival: boolean;
}

/** What a failed send was: a stream that failed before its first event of substance carries its response. */
function sendFailed({ client, gate, deadOnArrival }: Admitted, error: unknown): Attempt {
  if (error instanceof StreamOpenFailure)
    return { kind: 'failed', error: error.error, client, gate, deadOnArrival, stream: error };
  return { kind: 'failed', error, client, gate, deadOnArrival, stream: undefined };
}

type FailureDecision =
  | { action: 'retry'; delayMs: number }
  | { action: 'give_up'; reason: GiveUpReason; error: unknown; failure: Classification };

/** How the call ends when it gives up: the error to reject with, or (see `failingStream`) a failing stream. */
interface GiveUp {
  error: unknown;
  stream: StreamOpenFailure | undefined;
}

const EMPTY_SUMMARY: ResponseSummary = { finishReasons: [] };
const NO_ACCUMULATOR: StreamAccumulator = {
  add: () => {},
  summary: () => EMPTY_SUMMARY,
  outputMessages: () => undefined,
};

class ResilientCall {
  readonly #deps: CallDependencies;
  readonly #call: CallTelemetry;
  readonly #request: CallRequest;
  readonly #signal: AbortSignal | undefined;
  /** The call's retries by kind, and its deadline: made and advanced only by the policy. */
  #tally: RetryTally;
  /** The errors of the attempts the call went past (retried), oldest first. */
  readonly #errors: unknown[] = [];
  /** Attempts made: a failed acquire, or past the breaker's gate. A refused attempt is never made. */
  #attempt = 0;
  /** The stream failure of the last failed attempt, if it failed that way: a give-up surfaces through it. */
  #lastStreamFailure: StreamOpenFailure | undefined;
  /** Closed-client failures whose outcome is not known yet (the call has not got past them). */
  #unsettledClosedFailures = 0;
  /** The dead client the next attempt recovers from, if the last one failed on a closed client. */
  #recoveringFrom: OpenAI | undefined;

  constructor(deps: CallDependencies, call: CallTelemetry, request: CallRequest) {
    this.#deps = deps;
    this.#call = call;
    this.#request = request;
    this.#signal = request.options.signal ?? undefined;
    this.#tally = deps.policy.startCall(request.maxRetries);
  }

  /**
   * The attempt loop. An attempt's waits are here and in `#send` only: every async function a call passes
   * through stays suspended, with its generator, promise and reaction, for as long as the call is in flight
   * (at 1,000 in flight, each one is that many of each for the collector to copy), so the steps around them
   * are plain functions.
   */
  async run(): Promise<APIResponseProps> {
    for (;;) {
      let begun = this.#begin();
      if (isPromiseLike(begun)) begun = await begun;
      let attempt: Attempt;
      if (begun.kind === 'admitted') {
        let delivery: Delivery | undefined;
        let failed: Attempt | undefined;
        try {
          delivery = await this.#send(begun.client);
        } catch (error) {
          failed = sendFailed(begun, error);
        }
        // Outside the try: a failure to hand the result over is no failed attempt, and is not retried.
        attempt = failed ?? this.#delivered(begun, delivery as Delivery);
      } else attempt = begun;
      if (attempt.kind === 'ok') return attempt.props;
      if (attempt.kind === 'refused') return this.#end(this.#refused(attempt.gate));
      this.#lastStreamFailure = attempt.stream;
      const decision = this.#afterFailure(attempt);
      if (decision.action === 'give_up')
        return this.#end(this.#giveUp(decision.error, decision.reason, decision.failure));
      try {
        await sleep(decision.delayMs, this.#signal);
      } catch (abort) {
        throw this.#giveUp(abort, 'aborted', classifyError(abort)).error;
      }
    }
  }

  /**
   * A give-up reaches the caller where openai-node's own failure would: a failure before the response's
   * headers rejects the call; one after them, in a stream, surfaces from the stream's iterator (the call
   * resolves to a stream that yields what came before it and then throws it).
   */
  #end(giveUp: GiveUp): APIResponseProps {
    const { stream, error } = giveUp;
    if (!stream) throw error;
    return withData(stream.props, failingStream(stream));
  }

  /** An attempt up to its send: a client from the source, past the breaker's gate; or how it ended before. */
  #begin(): Admitted | Attempt | Promise<Admitted | Attempt> {
    let acquired: OpenAI | Promise<OpenAI>;
    try {
      acquired = this.#acquire();
    } catch (error) {
      return this.#acquireFailed(error);
    }
    if (!isPromiseLike(acquired)) return this.#admit(acquired);
    return acquired.then(
      (client) => this.#admit(client),
      (error: unknown) => this.#acquireFailed(error),
    );
  }

  /** The attempt answered: the endpoint's health signal, and the result handed over. */
  #delivered({ client, gate }: Admitted, delivery: Delivery): Attempt {
    gate?.record('success'); // the endpoint answered; what happens later in a stream is not its health signal
    this.#settleClosedFailures('recovered');
    return { kind: 'ok', props: this.#deliver(client, delivery) };
  }

  #acquireFailed(error: unknown): Attempt {
    this.#attempt++; // made, and failed before it had a client
    return {
      kind: 'failed',
      error,
      client: undefined,
      gate: undefined,
      deadOnArrival: false,
      stream: undefined,
    };
  }

  #admit(client: OpenAI): Admitted | Attempt {
    this.#call.attemptStarted(client);
    const gate = this.#deps.breakers?.gate(this.#request.endpoint ?? endpointOf(client, this.#request.model));
    if (gate && !gate.permit.allowed) {
      this.#deps.source.release(client);
      return { kind: 'refused', gate };
    }
    this.#attempt++; // past the gate: this attempt is made
    const deadOnArrival = isDispatcherDead(dispatcherOf(client));
    // A one-shot body would be locked by the attempt before the dead dispatcher refused it; keep it unread
    // for the fresh client instead.
    if (deadOnArrival && !this.#request.replayable)
      return {
        kind: 'failed',
        error: new ClientClosedError(),
        client,
        gate,
        deadOnArrival,
        stream: undefined,
      };
    return { kind: 'admitted', client, gate, deadOnArrival };
  }

  /**
   * A client from the source, within the call's deadline and the caller's abort: a source whose `acquire`
   * never settles must not hang the call. A client that arrives after the call stopped waiting goes back.
   */
  #acquire(): OpenAI | Promise<OpenAI> {
    const signal = this.#signal;
    const remaining = this.#tally.deadlineAt - Date.now();
    // Neither bound (the usual case): the source's answer as it came, with no promise of ours around it.
    if (!signal && !Number.isFinite(remaining)) return this.#fromSource();
    return boundedWait(() => this.#fromSource(), {
      signal,
      timeoutMs: remaining,
      onTimeout: () => {
        throw new APIConnectionTimeoutError({
          message: 'Timed out acquiring a client: the call deadline passed.',
        });
      },
      onLateValue: (client) => this.#deps.source.release(client),
    });
  }

  #fromSource(): OpenAI | Promise<OpenAI> {
    const { options, params } = this.#request;
    return this.#deps.source.acquire(
      { params, signal: this.#signal, request: { method: options.method, path: options.path } },
      this.#recoveringFrom,
    );
  }

  /**
   * The retryable part of an attempt: up to the response's headers, then what the caller asked for. JSON: the
   * whole body (openai-node's body timeout covers it). Stream: up to its first event of substance, which
   * openai-node's timeout (headers only) does not cover. Raw (`asResponse()` first): the headers only; the
   * body is the caller's to read.
   */
  async #send(client: OpenAI): Promise<Delivery> {
    const startedAt = Date.now();
    // Only a stream's time to its first chunk is timed from here: no clock read for the others.
    const perfStart = this.#request.options.stream ? performance.now() : 0;
    const options = this.#attemptOptions(client, startedAt);
    const request = sendAttempt(client, options);
    const props = await request.response;
    const { demand } = this.#request;
    const wanted = demand.kind ?? (await demand.next());
    if (wanted === 'abandoned') return { kind: 'unread', props };
    if (wanted === 'raw') return { kind: 'raw', props, parse: () => request.parse(props) };
    const data = await request.parse(props);
    if (!options.stream) return { kind: 'json', data, props };
    const clientLimit = startedAt + (this.#request.options.timeout ?? client.timeout) - Date.now();
    const opened = await firstEvent(
      data as Stream<unknown>,
      props,
      Math.min(this.#remainingAttemptTime(startedAt) ?? clientLimit, clientLimit),
      this.#request.operation.hasSubstance,
    );
    // openai-node ends an aborted stream quietly. A stream that ended while it was held back, after the
    // caller's abort, is that abort: nothing of substance reached the caller, so it is no success.
    if (opened.done && this.#signal?.aborted) throw userAbortError(this.#signal);
    return { kind: 'stream', opened, props, perfStart };
  }

  /** Hands the result over; for a stream, the span ends and the client goes back when the stream ends. */
  #deliver(client: OpenAI, delivery: Delivery): APIResponseProps {
    // Pages build their next request from these options: the caller's, not this attempt's shortened ones.
    // The props are this attempt's own (openai-node makes them per request and is done with them), so they
    // are changed in place rather than copied.
    const { props } = delivery;
    props.options = this.#request.options;
    const { genAI } = this.#request.operation;
    if (delivery.kind === 'unread') {
      // Nobody can read it any more: free the connection and the client, and say so on the span.
      props.controller.abort();
      this.#deps.source.release(client);
      this.#call.abandoned(EMPTY_SUMMARY, this.#attempt, this.#tally.retries.recovery);
      return props;
    }
    if (delivery.kind !== 'stream') {
      this.#deps.source.release(client);
      if (delivery.kind === 'raw') withLazyParse(props, delivery.parse);
      const json = delivery.kind === 'json' ? delivery : undefined;
      this.#call.succeeded(
        genAI && json ? genAI.summarize(json.data) : EMPTY_SUMMARY,
        this.#attempt,
        this.#tally.retries.recovery,
        // Only content capture reads the output messages; no closure per call otherwise.
        genAI && json && this.#deps.telemetry.captureContent
          ? () => genAI.outputMessages(json.data)
          : undefined,
      );
      return json ? withData(props, json.data) : props;
    }
    this.#call.firstChunk(delivery.perfStart);
    const accumulator = this.#call.timeChunks(
      genAI?.newAccumulator(this.#deps.telemetry.captureContent) ?? NO_ACCUMULATOR,
    );
    const { idleTimeoutMs } = this.#deps.policy.settings;
    const stream = relayStream(delivery.opened, {
      accumulator,
      deadlineAt: this.#tally.deadlineAt,
      idleTimeoutMs: idleTimeoutMs ?? this.#request.options.timeout ?? client.timeout,
      onEnd: (end) => this.#streamEnded(client, end, accumulator),
    });
    return withData(props, stream);
  }

  #streamEnded(client: OpenAI, end: StreamEnd, accumulator: StreamAccumulator): void {
    if (end.kind === 'failed') {
      // Events already reached the caller: surfaced, never retried. A dead client is still retired.
      const failure = this.#classify(end.error);
      if (failure.reason === 'client_closed') this.#retire(client, end.error);
      this.#deps.source.release(client);
      if (failure.reason === 'client_closed') this.#call.recovery('failed', 1);
      const reason =
        end.timeout === 'deadline'
          ? 'deadline'
          : end.timeout === 'stalled'
            ? 'stream_stalled'
            : 'stream_interrupted';
      this.#call.failed(reason, failure, this.#attempt, this.#tally.retries.recovery, end.summary);
      return;
    }
    this.#deps.source.release(client);
    if (end.kind === 'abandoned') {
      this.#call.abandoned(end.summary, this.#attempt, this.#tally.retries.recovery);
      return;
    }
    this.#call.succeeded(end.summary, this.#attempt, this.#tally.retries.recovery, () =>
      accumulator.outputMessages(),
    );
  }

  /** Records a failed attempt and decides what comes next. */
  #afterFailure({ error, client, gate, deadOnArrival }: Attempt & { kind: 'failed' }): FailureDecision {
    const failure = this.#classify(error);
    gate?.record(breakerVerdict(failure, this.#tally));
    const closed = failure.reason === 'client_closed';
    // Any other outcome on the fresh client (even a 503) means the dead client is behind us.
    if (closed) this.#unsettledClosedFailures++;
    else if (client && failure.reason !== 'aborted') this.#settleClosedFailures('recovered');
    this.#recoveringFrom = closed ? client : undefined;
    if (client) {
      const retired = closed ? this.#retire(client, error) : undefined;
      this.#deps.source.release(client);
      if (retired) return { action: 'give_up', ...retired };
    }
    const maybeSent =
      client !== undefined && !(closed && deadOnArrival) && failure.errorType !== 'ECONNREFUSED';
    const decision = this.#deps.policy.decide(failure, this.#tally, {
      maybeSent,
      replayable: this.#request.replayable,
      idempotent: this.#request.idempotent,
    });
    if (decision.action === 'give_up') return { action: 'give_up', reason: decision.reason, error, failure };
    this.#tally = decision.tally;
    this.#errors.push(error);
    this.#call.retry({
      attempt: this.#attempt,
      failure,
      delayMs: decision.delayMs,
      clientReplaced: decision.replaceClient,
      maybeSent,
    });
    return { action: 'retry', delayMs: decision.delayMs };
  }

  /**
   * The one place a dead client is retired: the source is told, and its next `acquire` serves a fresh one.
   * Returns a give-up when the source cannot replace it (a single instance with its own transport).
   */
  #retire(
    client: OpenAI,
    error: unknown,
  ): { reason: GiveUpReason; error: unknown; failure: Classification } | undefined {
    const retirement = this.#deps.source.retire(client, error);
    if (retirement.kind === 'fallback') this.#call.dispatcherFallback(retirement.transport);
    if (retirement.kind !== 'not_replaceable') return undefined;
    const final = new ClientNotReplaceableError(retirement.transport, error);
    return { reason: 'client_not_replaceable', error: final, failure: this.#classify(error) };
  }

  /**
   * The breaker refused this attempt. On the first attempt the call fails fast with CircuitOpenError; on a
   * retry it gives up with the error of the attempt before, which is what the caller would have got anyway.
   */
  #refused(gate: Gate): GiveUp {
    this.#call.refused(gate.endpoint, gate.state);
    // The call did not get past the attempt before after all: its error is the final one, not an earlier.
    const previous = this.#errors.at(-1);
    const retryAfterMs = gate.permit.allowed ? 0 : gate.permit.retryAfterMs;
    const error = this.#attempt === 0 ? new CircuitOpenError(gate.endpoint.key, retryAfterMs) : previous;
    return this.#giveUp(error, 'circuit_open', this.#classify(error), this.#errors.slice(0, -1));
  }

  /**
   * Records the end of the call and says how it reaches the caller. The caller's own abort always rejects
   * (an abort is never a stream that ends quietly); any other failure of a stream after its headers
   * surfaces from the stream, as openai-node surfaces it.
   */
  #giveUp(
    error: unknown,
    reason: GiveUpReason,
    failure: Classification,
    earlier: readonly unknown[] = this.#errors,
  ): GiveUp {
    this.#settleClosedFailures('failed');
    this.#call.failed(reason, failure, this.#attempt, this.#tally.retries.recovery);
    recordEarlierAttemptErrors(error, earlier);
    const stream = this.#lastStreamFailure;
    return { error, stream: reason !== 'aborted' && stream?.error === error ? stream : undefined };
  }

  /**
   * Each closed-client failure is counted once: `recovered` when the call got past it (a later attempt did not
   * fail on a closed client), `failed` when the call ended on it. So `failed` means a user saw the race.
   */
  #settleClosedFailures(outcome: 'recovered' | 'failed'): void {
    if (this.#unsettledClosedFailures === 0) return;
    this.#call.recovery(outcome, this.#unsettledClosedFailures);
    this.#unsettledClosedFailures = 0;
  }

  /** The caller's own abort is `aborted` whatever shape the error took on its way out of openai-node. */
  #classify(error: unknown): Classification {
    const failure = classifyError(error);
    return this.#signal?.aborted && failure.reason !== 'aborted'
      ? { ...failure, reason: 'aborted', retryable: false }
      : failure;
  }

  /**
   * This attempt's options: openai-node's own retries off, the attempt's time limit, and on a retry the
   * attempt's number in `X-Stainless-Retry-Count` (openai-node counts its own retries there; with its retries
   * off it would say 0 on every attempt).
   */
  #attemptOptions(client: OpenAI, startedAt: number): FinalRequestOptions {
    const { options } = this.#request;
    const limit = this.#remainingAttemptTime(startedAt);
    const clientTimeout = options.timeout ?? client.timeout;
    const timeout = limit === undefined ? options.timeout : Math.min(limit, clientTimeout);
    const attempt: FinalRequestOptions = { ...options, maxRetries: 0 };
    if (timeout !== undefined) attempt.timeout = Math.max(1, timeout);
    if (this.#attempt > 1)
      attempt.headers = withHeader(options.headers, RETRY_COUNT_HEADER, String(this.#attempt - 1));
    return attempt;
  }

  /**
   * What is left of this attempt's time: the attempt timeout (for a stream, also the wait for its first event
   * of substance) and the call's deadline, whichever is sooner.
   */
  #remainingAttemptTime(startedAt: number): number | undefined {
    const { attemptTimeoutMs, firstEventTimeoutMs } = this.#deps.policy.settings;
    const ownLimit = this.#request.options.stream
      ? Math.min(
          attemptTimeoutMs ?? Number.POSITIVE_INFINITY,
          firstEventTimeoutMs ?? Number.POSITIVE_INFINITY,
        )
      : (attemptTimeoutMs ?? Number.POSITIVE_INFINITY);
    const { deadlineAt } = this.#tally;
    // No limit of either kind (the usual case): nothing to compute, no clock read.
    if (ownLimit === Number.POSITIVE_INFINITY && deadlineAt === Number.POSITIVE_INFINITY) return undefined;
    const now = Date.now();
    const untilAttemptEnds = startedAt + ownLimit - now;
    const limit = Math.min(untilAttemptEnds, deadlineAt - now);
    return Number.isFinite(limit) ? limit : undefined;
  }
}

/** openai-node's header for the number of the attempt (0 first); a caller's own value of it is kept. */
const RETRY_COUNT_HEADER = 'x-stainless-retry-count';
