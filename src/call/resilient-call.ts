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
import type { APIPromise } from 'openai/core/api-promise';
import type { Stream } from 'openai/core/streaming';
import { isPromiseLike, type NormalizedClientSource } from '../clients/client-source.js';
import { endpointOf } from '../clients/endpoint.js';
import { CircuitOpenError, ClientNotReplaceableError, recordEarlierAttemptErrors } from '../errors.js';
import type { Operation, ResponseSummary, StreamAccumulator } from '../operations/index.js';
import { type AttemptVerdict, verdictFor } from '../policy/circuit-breaker.js';
import type { CircuitBreakers, Gate } from '../policy/circuit-breakers.js';
import type { CallBudget, GiveUpReason, RetryPolicy } from '../policy/retry-policy.js';
import type { CallTelemetry, Telemetry } from '../telemetry/call-telemetry.js';
import type { AcquireContext, Classification } from '../types.js';
import { sleep, userAbortError } from './abort.js';
import { classifyError } from './classify.js';
import { outcome } from './resilient-promise.js';
import { firstEvent, type OpenedStream, relayStream, type StreamEnd } from './stream.js';

/** openai-node's resolved request options (not exported by name from the package). */
export type FinalRequestOptions = Awaited<Parameters<OpenAI['request']>[0]>;
/** What openai-node's APIPromise resolves its response to (not exported by name from the package). */
export type APIResponseProps = Parameters<Parameters<APIPromise<unknown>['_thenUnwrap']>[0]>[1];

export interface CallDependencies {
  source: NormalizedClientSource;
  policy: RetryPolicy;
  breakers: CircuitBreakers | undefined;
  telemetry: Telemetry;
  /** Send one Idempotency-Key per call on POST, PUT and PATCH (the `idempotencyKeys` option). */
  idempotencyKeys: boolean;
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
  /** `asResponse()`: hand over the raw response of the attempt that got one, its body unread. */
  raw: boolean;
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
  | { kind: 'raw'; props: APIResponseProps }
  | { kind: 'stream'; opened: OpenedStream; props: APIResponseProps; perfStart: number };

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
    };

type FailureDecision =
  | { action: 'retry'; delayMs: number }
  | { action: 'give_up'; reason: GiveUpReason; error: unknown; failure: Classification };

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
  readonly #spent: CallBudget;
  readonly #errors: unknown[] = [];
  #attempt = 0;
  /** Closed-client failures whose outcome is not known yet (the call has not got past them). */
  #unsettledClosedFailures = 0;

  constructor(deps: CallDependencies, call: CallTelemetry, request: CallRequest) {
    this.#deps = deps;
    this.#call = call;
    this.#request = request;
    this.#signal = request.options.signal ?? undefined;
    const { totalTimeoutMs } = deps.policy.settings;
    this.#spent = {
      transientRetries: 0,
      recoveries: 0,
      upstreamClosedRetries: 0,
      deadlineAt: totalTimeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + totalTimeoutMs,
    };
  }

  async run(): Promise<APIResponseProps> {
    this.#deps.policy.callStarted();
    for (;;) {
      this.#attempt++;
      const attempt = await this.#tryAttempt();
      if (attempt.kind === 'ok') return attempt.props;
      if (attempt.kind === 'refused') throw this.#refused(attempt.gate);
      const decision = this.#afterFailure(attempt);
      if (decision.action === 'give_up')
        throw this.#giveUp(decision.error, decision.reason, decision.failure);
      try {
        await sleep(decision.delayMs, this.#signal);
      } catch (abort) {
        throw this.#giveUp(abort, 'aborted', classifyError(abort));
      }
    }
  }

  async #tryAttempt(): Promise<Attempt> {
    let client: OpenAI;
    try {
      const acquired = this.#acquire();
      client = isPromiseLike(acquired) ? await acquired : acquired;
    } catch (error) {
      return { kind: 'failed', error, client: undefined, gate: undefined, deadOnArrival: false };
    }
    this.#call.attemptStarted(client);
    const gate = this.#deps.breakers?.gate(endpointOf(client, this.#request.model));
    if (gate && !gate.permit.allowed) {
      this.#deps.source.release(client);
      return { kind: 'refused', gate };
    }
    const deadOnArrival = isDispatcherDead(client);
    let delivery: Delivery;
    try {
      delivery = await this.#send(client);
    } catch (error) {
      return { kind: 'failed', error, client, gate, deadOnArrival };
    }
    gate?.record('success'); // the endpoint answered; what happens later in a stream is not its health signal
    this.#settleClosedFailures('recovered');
    return { kind: 'ok', props: this.#deliver(client, delivery) };
  }

  /**
   * A client from the source, within the call's deadline and the caller's abort: a source whose `acquire`
   * never settles must not hang the call. A client that arrives after the call stopped waiting goes back.
   */
  #acquire(): OpenAI | Promise<OpenAI> {
    const signal = this.#signal;
    if (signal?.aborted) return Promise.reject(userAbortError(signal));
    const { options, params } = this.#request;
    let acquiring: OpenAI | Promise<OpenAI>;
    try {
      acquiring = this.#deps.source.acquire({
        params,
        signal,
        request: { method: options.method, path: options.path },
      });
    } catch (error) {
      acquiring = Promise.reject(error);
    }
    const remaining = this.#spent.deadlineAt - Date.now();
    if (!signal && !Number.isFinite(remaining)) return acquiring;
    return new Promise<OpenAI>((resolve, reject) => {
      let waiting = true;
      let timer: NodeJS.Timeout | undefined;
      const stop = (settle: () => void) => {
        if (!waiting) return;
        waiting = false;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        settle();
      };
      const onAbort = () => stop(() => reject(userAbortError(signal as AbortSignal)));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (Number.isFinite(remaining)) {
        timer = setTimeout(
          () =>
            stop(() =>
              reject(
                new APIConnectionTimeoutError({
                  message: 'Timed out acquiring a client: the call deadline passed.',
                }),
              ),
            ),
          Math.max(0, remaining),
        );
      }
      Promise.resolve(acquiring).then(
        (client) => (waiting ? stop(() => resolve(client)) : this.#deps.source.release(client)),
        (error) => stop(() => reject(error)),
      );
    });
  }

  /**
   * The retryable part of an attempt. JSON: the whole response (openai-node's timeout covers the body).
   * Stream: up to its first event of substance, which openai-node's timeout (headers only) does not cover.
   * Raw (`asResponse()`): up to the headers; the body is the caller's to read.
   */
  async #send(client: OpenAI): Promise<Delivery> {
    const startedAt = Date.now();
    const perfStart = performance.now();
    const options = this.#attemptOptions(client, startedAt);
    const promise = client.request<unknown>(options);
    if (this.#request.raw) {
      const response = await promise.asResponse();
      return { kind: 'raw', props: this.#rawProps(response, startedAt) };
    }
    // openai-node's own `then`: the response, then its parse (which openai-node's timeout covers), read from
    // the promise's parts: through `_thenUnwrap` it made a second APIPromise and more hops per attempt, which
    // showed in the overhead profile. Should the parts ever move, `_thenUnwrap` is the way.
    const { responsePromise, parseResponse } = promise as unknown as APIPromiseParts;
    let data: unknown;
    let props: APIResponseProps;
    if (responsePromise && typeof parseResponse === 'function') {
      props = await responsePromise;
      data = await parseResponse.call(promise, client, props);
    } else {
      ({ data, props } = await promise._thenUnwrap((data, props) => ({ data, props })));
    }
    if (!options.stream) return { kind: 'json', data, props };
    const clientLimit = startedAt + (this.#request.options.timeout ?? client.timeout) - Date.now();
    const opened = await firstEvent(
      data as Stream<unknown>,
      Math.min(this.#remainingAttemptTime(startedAt) ?? clientLimit, clientLimit),
      this.#request.operation.hasSubstance,
    );
    // openai-node ends an aborted stream quietly; an empty stream after the caller's abort is that abort.
    if (opened.done && opened.buffered.length === 0 && this.#signal?.aborted)
      throw userAbortError(this.#signal);
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
    if (delivery.kind !== 'stream') {
      this.#deps.source.release(client);
      const json = delivery.kind === 'json' ? delivery : undefined;
      this.#call.succeeded(
        genAI && json ? genAI.summarize(json.data) : EMPTY_SUMMARY,
        this.#attempt,
        this.#spent.recoveries,
        // Only content capture reads the output messages; no closure per call otherwise.
        genAI && json && this.#deps.telemetry.captureContent
          ? () => genAI.outputMessages(json.data)
          : undefined,
      );
      return outcome(json?.data, props);
    }
    this.#call.firstChunk(delivery.perfStart);
    const accumulator = this.#call.timeChunks(
      genAI?.newAccumulator(this.#deps.telemetry.captureContent) ?? NO_ACCUMULATOR,
    );
    const stream = relayStream(delivery.opened, {
      accumulator,
      deadlineAt: this.#spent.deadlineAt,
      onEnd: (end) => this.#streamEnded(client, end, accumulator),
    });
    return outcome(stream, props);
  }

  #streamEnded(client: OpenAI, end: StreamEnd, accumulator: StreamAccumulator): void {
    if (end.kind === 'failed') {
      // Events already reached the caller: surfaced, never retried. A dead client is still retired.
      const failure = this.#classify(end.error);
      if (failure.reason === 'client_closed') this.#retire(client, end.error);
      this.#deps.source.release(client);
      if (failure.reason === 'client_closed') this.#call.recovery('failed', 1);
      const reason = end.deadline ? 'deadline' : 'stream_interrupted';
      this.#call.failed(reason, failure, this.#attempt, this.#spent.recoveries, end.summary);
      return;
    }
    this.#deps.source.release(client);
    if (end.kind === 'abandoned') {
      this.#call.abandoned(end.summary, this.#attempt, this.#spent.recoveries);
      return;
    }
    this.#call.succeeded(end.summary, this.#attempt, this.#spent.recoveries, () =>
      accumulator.outputMessages(),
    );
  }

  /** Records a failed attempt and decides what comes next. */
  #afterFailure({ error, client, gate, deadOnArrival }: Attempt & { kind: 'failed' }): FailureDecision {
    const failure = this.#classify(error);
    gate?.record(this.#verdict(failure));
    const closed = failure.reason === 'client_closed';
    // Any other outcome on the fresh client (even a 503) means the dead client is behind us.
    if (closed) this.#unsettledClosedFailures++;
    else if (client && failure.reason !== 'aborted') this.#settleClosedFailures('recovered');
    if (client) {
      const retired = closed ? this.#retire(client, error) : undefined;
      this.#deps.source.release(client);
      if (retired) return { action: 'give_up', ...retired };
    }
    const maybeSent =
      client !== undefined && !(closed && deadOnArrival) && failure.errorType !== 'ECONNREFUSED';
    const decision = this.#deps.policy.decide(failure, this.#spent, {
      maybeSent,
      replayable: this.#request.replayable,
    });
    if (decision.action === 'give_up') return { action: 'give_up', reason: decision.reason, error, failure };
    this.#errors.push(error);
    if (decision.kind === 'recovery') this.#spent.recoveries++;
    else if (decision.kind === 'upstream_closed') this.#spent.upstreamClosedRetries++;
    else this.#spent.transientRetries++;
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
   * The first server-side "client closed" of a call is retried at once and is not held against the endpoint;
   * any further one counts like any 5xx.
   */
  #verdict(failure: Classification): AttemptVerdict {
    if (failure.reason === 'upstream_client_closed' && this.#spent.upstreamClosedRetries === 0)
      return 'ignored';
    return verdictFor(failure);
  }

  /**
   * The breaker refused this attempt. On the first attempt the call fails fast with CircuitOpenError; on a
   * retry it gives up with the error of the attempt before, which is what the caller would have got anyway.
   */
  #refused(gate: Gate): unknown {
    this.#call.refused(gate.endpoint, gate.state);
    this.#attempt--; // the refused attempt was never made
    const previous = this.#errors.pop();
    const retryAfterMs = gate.permit.allowed ? 0 : gate.permit.retryAfterMs;
    const error = this.#attempt === 0 ? new CircuitOpenError(gate.endpoint.key, retryAfterMs) : previous;
    return this.#giveUp(error, 'circuit_open', this.#classify(error));
  }

  /** Records the end of the call and returns the error for `run()` to throw. */
  #giveUp(error: unknown, reason: GiveUpReason, failure: Classification): unknown {
    this.#settleClosedFailures('failed');
    this.#call.failed(reason, failure, this.#attempt, this.#spent.recoveries);
    recordEarlierAttemptErrors(error, this.#errors);
    return error;
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

  #attemptOptions(client: OpenAI, startedAt: number): FinalRequestOptions {
    const { options } = this.#request;
    const limit = this.#remainingAttemptTime(startedAt);
    const clientTimeout = options.timeout ?? client.timeout;
    const timeout = limit === undefined ? options.timeout : Math.min(limit, clientTimeout);
    const attempt: FinalRequestOptions = { ...options, maxRetries: 0 };
    if (timeout !== undefined) attempt.timeout = Math.max(1, timeout);
    return attempt;
  }

  /** What is left of this attempt's time: the attempt timeout and the call's deadline, whichever is sooner. */
  #remainingAttemptTime(startedAt: number): number | undefined {
    const { attemptTimeoutMs } = this.#deps.policy.settings;
    const now = Date.now();
    const untilAttemptEnds =
      attemptTimeoutMs === undefined ? Number.POSITIVE_INFINITY : startedAt + attemptTimeoutMs - now;
    const limit = Math.min(untilAttemptEnds, this.#spent.deadlineAt - now);
    return Number.isFinite(limit) ? limit : undefined;
  }

  /** What a raw (`asResponse()`) attempt hands over: the response, nothing parsed. */
  #rawProps(response: Response, startedAt: number): APIResponseProps {
    return {
      response,
      options: this.#request.options,
      controller: new AbortController(),
      requestLogID: '',
      retryOfRequestLogID: undefined,
      startTime: startedAt,
    };
  }
}

/** An APIPromise's two parts, which openai-node keeps in properties that its types call private. */
interface APIPromiseParts {
  responsePromise?: Promise<APIResponseProps>;
  parseResponse?: (client: OpenAI, props: APIResponseProps) => unknown;
}

/** An undici dispatcher (Agent, Pool, Client) reports `closed` / `destroyed`; a dead one sends nothing. */
function isDispatcherDead(client: OpenAI): boolean {
  const dispatcher = (
    client.fetchOptions as { dispatcher?: { closed?: unknown; destroyed?: unknown } } | undefined
  )?.dispatcher;
  return dispatcher?.closed === true || dispatcher?.destroyed === true;
}
