/**
 * One logical chat-completion call: the attempt loop. Each attempt gets a client from the source, asks the
 * endpoint's circuit breaker, runs with openai-node's own retries off (`maxRetries: 0`, so the layers never
 * multiply), and on failure asks the RetryPolicy what to do. Everything it does is reported to telemetry.
 */
import { context } from '@opentelemetry/api';
import type OpenAI from 'openai';
import type { Stream } from 'openai/core/streaming';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
} from 'openai/resources/chat/completions';
import type { NormalizedClientSource } from '../clients/client-source.js';
import { CircuitOpenError, recordEarlierAttemptErrors } from '../errors.js';
import { verdictFor } from '../policy/circuit-breaker.js';
import type { CircuitBreakers, Gate } from '../policy/circuit-breakers.js';
import type { CallBudget, GiveUpReason, RetryPolicy } from '../policy/retry-policy.js';
import { summarizeCompletion } from '../telemetry/attributes.js';
import type { CallTelemetry, Telemetry } from '../telemetry/call-telemetry.js';
import { choicesOf } from '../telemetry/content.js';
import type { RecoveryOutcome } from '../telemetry/semconv.js';
import { sleep, userAbortError } from './abort.js';
import { type Classification, classifyError } from './classify.js';
import { withIdempotencyKey } from './idempotency.js';
import { firstChunk, type OpenedStream, relayStream } from './stream.js';

export type ChatRequestOptions = NonNullable<Parameters<OpenAI['chat']['completions']['create']>[1]>;
export type ChatResult = ChatCompletion | Stream<ChatCompletionChunk>;

export interface CallDependencies {
  source: NormalizedClientSource;
  policy: RetryPolicy;
  breakers: CircuitBreakers | undefined;
  telemetry: Telemetry;
}

export function runChatCall(
  deps: CallDependencies,
  params: ChatCompletionCreateParams,
  options: ChatRequestOptions | undefined,
): Promise<ChatResult> {
  const invalid = paramsProblem(params);
  if (invalid)
    return Promise.reject(new TypeError(`resilient-chat: chat.completions.create(params): ${invalid}`));
  let attemptOptions: ChatRequestOptions;
  try {
    // One Idempotency-Key for the whole call, so every attempt carries the same one. Bad headers fail here,
    // before a span is started.
    attemptOptions = { ...options, headers: withIdempotencyKey(options?.headers, options?.idempotencyKey) };
  } catch (error) {
    return Promise.reject(error);
  }
  const call = deps.telemetry.startCall(params);
  return context.with(call.context, () => new ChatCall(deps, call, params, attemptOptions).run());
}

type Response = { completion: ChatCompletion } | { opened: OpenedStream; perfStart: number };

/** A failed attempt, with what the loop needs to decide about it. */
interface FailedAttempt {
  error: unknown;
  client: OpenAI | undefined;
  gate: Gate | undefined;
  /** The client's dispatcher was already closed or destroyed when the attempt began: nothing was sent. */
  deadOnArrival: boolean;
}

class ChatCall {
  readonly #deps: CallDependencies;
  readonly #call: CallTelemetry;
  readonly #params: ChatCompletionCreateParams;
  readonly #options: ChatRequestOptions;
  readonly #signal: AbortSignal | undefined;
  readonly #spent: CallBudget;
  readonly #errors: unknown[] = [];
  #attempt = 0;
  /** Closed-client failures whose outcome is not known yet (the call has not got past them). */
  #unsettledClosedFailures = 0;

  constructor(
    deps: CallDependencies,
    call: CallTelemetry,
    params: ChatCompletionCreateParams,
    options: ChatRequestOptions,
  ) {
    this.#deps = deps;
    this.#call = call;
    this.#params = params;
    this.#signal = options.signal ?? undefined;
    this.#options = options;
    const { totalTimeoutMs } = deps.policy.settings;
    this.#spent = {
      transientRetries: 0,
      recoveries: 0,
      deadlineAt: totalTimeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + totalTimeoutMs,
    };
  }

  async run(): Promise<ChatResult> {
    this.#deps.policy.callStarted();
    for (;;) {
      this.#attempt++;
      const outcome = await this.#tryAttempt();
      if ('result' in outcome) return outcome.result;
      const delayMs = this.#afterFailure(outcome);
      try {
        await sleep(delayMs, this.#signal);
      } catch (abort) {
        this.#giveUp(abort, 'aborted', classifyError(abort));
      }
    }
  }

  async #tryAttempt(): Promise<{ result: ChatResult } | FailedAttempt> {
    let client: OpenAI | undefined;
    try {
      if (this.#signal?.aborted) throw userAbortError(this.#signal);
      client = await this.#deps.source.acquire({ params: this.#params, signal: this.#signal });
    } catch (error) {
      return { error, client, gate: undefined, deadOnArrival: false };
    }
    this.#call.attemptStarted(client);
    const gate = this.#deps.breakers?.gate(client, this.#params.model);
    if (gate && !gate.permit.allowed) {
      this.#deps.source.release(client);
      this.#refuse(gate, gate.permit.retryAfterMs);
    }
    const deadOnArrival = isDispatcherDead(client);
    let response: Response;
    try {
      response = await this.#send(client);
    } catch (error) {
      return { error, client, gate, deadOnArrival };
    }
    gate?.record('success'); // the endpoint answered; what happens later in a stream is not its health signal
    this.#settleClosedFailures('recovered');
    return { result: this.#deliver(client, response) };
  }

  /**
   * The retryable part of an attempt. JSON: the whole response (openai-node's timeout covers the body).
   * Stream: up to its first chunk of substance, which openai-node's timeout (headers only) does not cover.
   */
  async #send(client: OpenAI): Promise<Response> {
    const startedAt = Date.now();
    const perfStart = performance.now();
    const options = this.#attemptOptions(client, startedAt);
    if (this.#params.stream !== true) {
      return { completion: (await client.chat.completions.create(this.#params, options)) as ChatCompletion };
    }
    const upstream = (await client.chat.completions.create(
      this.#params,
      options,
    )) as Stream<ChatCompletionChunk>;
    const clientLimit = startedAt + (this.#options.timeout ?? client.timeout) - Date.now();
    const opened = await firstChunk(
      upstream,
      Math.min(this.#remainingAttemptTime(startedAt) ?? clientLimit, clientLimit),
    );
    // openai-node ends an aborted stream quietly; an empty stream after the caller's abort is that abort.
    if (opened.done && opened.buffered.length === 0 && this.#signal?.aborted)
      throw userAbortError(this.#signal);
    return { opened, perfStart };
  }

  /** Hands the result over; for a stream, the span ends and the client goes back when the stream ends. */
  #deliver(client: OpenAI, response: Response): ChatResult {
    if ('completion' in response) {
      const { completion } = response;
      this.#deps.source.release(client);
      this.#call.succeeded(summarizeCompletion(completion), this.#attempt, this.#spent.recoveries, () =>
        choicesOf(completion),
      );
      return completion;
    }
    this.#call.firstChunk(response.perfStart);
    return relayStream(
      response.opened,
      (end) => {
        if (end.kind === 'failed') {
          // Chunks already reached the caller: surfaced, never retried. A dead client is still retired.
          const failure = this.#classify(end.error);
          if (failure.reason === 'client_closed') this.#deps.source.invalidate(client, end.error);
          this.#deps.source.release(client);
          if (failure.reason === 'client_closed') this.#call.recovery('failed', 1);
          this.#call.failed(
            'stream_interrupted',
            failure,
            this.#attempt,
            this.#spent.recoveries,
            end.summary,
          );
          return;
        }
        this.#deps.source.release(client);
        this.#call.succeeded(end.summary, this.#attempt, this.#spent.recoveries, end.output);
      },
      this.#deps.telemetry.captureContent,
    );
  }

  /** Records a failed attempt; returns the delay before the next one, or throws to give up. */
  #afterFailure({ error, client, gate, deadOnArrival }: FailedAttempt): number {
    const failure = this.#classify(error);
    gate?.record(verdictFor(failure));
    const closed = failure.reason === 'client_closed';
    // Any other outcome on the fresh client (even a 503) means the dead client is behind us.
    if (closed) this.#unsettledClosedFailures++;
    else if (client && failure.reason !== 'aborted') this.#settleClosedFailures('recovered');
    if (client) {
      if (closed) this.#deps.source.invalidate(client, error);
      this.#deps.source.release(client);
    }
    const maybeSent = !(closed && deadOnArrival) && failure.errorType !== 'ECONNREFUSED';
    const decision = this.#deps.policy.decide(failure, this.#spent);
    if (decision.action === 'give_up') this.#giveUp(error, decision.reason, failure);
    this.#errors.push(error);
    if (decision.replaceClient) this.#spent.recoveries++;
    else this.#spent.transientRetries++;
    this.#call.retry({
      attempt: this.#attempt,
      failure,
      delayMs: decision.delayMs,
      clientReplaced: decision.replaceClient,
      maybeSent,
    });
    return decision.delayMs;
  }

  /**
   * The breaker refused this attempt. On the first attempt the call fails fast with CircuitOpenError; on a
   * retry it gives up with the error of the attempt before, which is what the caller would have got anyway.
   */
  #refuse(gate: Gate, retryAfterMs: number): never {
    this.#call.refused(gate.attributes, gate.state);
    this.#attempt--; // the refused attempt was never made
    const previous = this.#errors.pop();
    const error = this.#attempt === 0 ? new CircuitOpenError(gate.endpoint, retryAfterMs) : previous;
    return this.#giveUp(error, 'circuit_open', this.#classify(error));
  }

  #giveUp(error: unknown, reason: GiveUpReason, failure: Classification): never {
    this.#settleClosedFailures('failed');
    this.#call.failed(reason, failure, this.#attempt, this.#spent.recoveries);
    recordEarlierAttemptErrors(error, this.#errors);
    throw error;
  }

  /**
   * Each closed-client failure is counted once: `recovered` when the call got past it (a later attempt did not
   * fail on a closed client), `failed` when the call ended on it. So `failed` means a user saw the race.
   */
  #settleClosedFailures(outcome: RecoveryOutcome): void {
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

  #attemptOptions(client: OpenAI, startedAt: number): ChatRequestOptions {
    const limit = this.#remainingAttemptTime(startedAt);
    const clientTimeout = this.#options.timeout ?? client.timeout;
    const timeout = limit === undefined ? this.#options.timeout : Math.min(limit, clientTimeout);
    return {
      ...this.#options,
      maxRetries: 0,
      ...(timeout === undefined ? {} : { timeout: Math.max(1, timeout) }),
    };
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
}

/** An undici dispatcher (Agent, Pool, Client) reports `closed` / `destroyed`; a dead one sends nothing. */
function isDispatcherDead(client: OpenAI): boolean {
  const dispatcher = (
    client.fetchOptions as { dispatcher?: { closed?: unknown; destroyed?: unknown } } | undefined
  )?.dispatcher;
  return dispatcher?.closed === true || dispatcher?.destroyed === true;
}

/** The span is named after the model, so a call without one is refused before any attempt. */
function paramsProblem(params: ChatCompletionCreateParams): string | undefined {
  if (typeof params !== 'object' || params === null) return 'params must be an object';
  if (typeof params.model !== 'string' || params.model === '')
    return 'params.model must be a non-empty string';
  return undefined;
}
