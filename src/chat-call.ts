/**
 * One logical chat-completion call: the attempt loop. Each attempt gets a client from the source, runs with
 * openai-node's own retries off (`maxRetries: 0`, so the layers never multiply), and on failure asks the
 * RetryPolicy what to do. Everything the loop does is reported to the call's telemetry.
 */
import { context } from '@opentelemetry/api';
import type OpenAI from 'openai';
import type { Stream } from 'openai/core/streaming';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
} from 'openai/resources/chat/completions';
import { sleep, userAbortError } from './abort.js';
import { type Classification, classifyError } from './classify.js';
import type { NormalizedClientSource } from './client-source.js';
import { recordEarlierAttemptErrors } from './errors.js';
import type { CallBudget, GiveUpReason, RetryPolicy } from './retry-policy.js';
import { firstChunk, relayStream } from './stream.js';
import { summarizeCompletion } from './telemetry/attributes.js';
import type { CallTelemetry, Telemetry } from './telemetry/call-telemetry.js';
import { choicesOf } from './telemetry/content.js';
import type { RecoveryOutcome } from './telemetry/names.js';

export type ChatRequestOptions = NonNullable<Parameters<OpenAI['chat']['completions']['create']>[1]>;
export type ChatResult = ChatCompletion | Stream<ChatCompletionChunk>;

export interface CallDependencies {
  source: NormalizedClientSource;
  policy: RetryPolicy;
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
  const call = deps.telemetry.startCall(params);
  return context.with(call.context, () => new ChatCall(deps, call, params, options).run());
}

class ChatCall {
  readonly #deps: CallDependencies;
  readonly #call: CallTelemetry;
  readonly #params: ChatCompletionCreateParams;
  readonly #options: ChatRequestOptions | undefined;
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
    options: ChatRequestOptions | undefined,
  ) {
    this.#deps = deps;
    this.#call = call;
    this.#params = params;
    this.#options = options;
    this.#signal = options?.signal ?? undefined;
    const { totalTimeoutMs } = deps.policy.settings;
    this.#spent = {
      transientRetries: 0,
      recoveries: 0,
      deadlineAt: totalTimeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + totalTimeoutMs,
    };
  }

  async run(): Promise<ChatResult> {
    for (;;) {
      this.#attempt++;
      let client: OpenAI | undefined;
      try {
        if (this.#signal?.aborted) throw userAbortError(this.#signal);
        client = await this.#deps.source.acquire();
        this.#call.attemptStarted(client);
        const result = await this.#attemptOnce(client);
        this.#settleClosedFailures('recovered');
        return result;
      } catch (error) {
        const delayMs = this.#afterFailure(error, client);
        try {
          await sleep(delayMs, this.#signal);
        } catch (abort) {
          this.#giveUp(abort, 'aborted', classifyError(abort));
        }
      }
    }
  }

  /** One attempt. JSON: the whole response. Stream: up to its first chunk, then the caller owns it. */
  async #attemptOnce(client: OpenAI): Promise<ChatResult> {
    const startedAt = Date.now();
    const options = this.#attemptOptions(client, startedAt);
    if (this.#params.stream !== true) {
      const completion = (await client.chat.completions.create(this.#params, options)) as ChatCompletion;
      this.#deps.source.release(client);
      this.#call.succeeded(summarizeCompletion(completion), this.#attempt, this.#spent.recoveries, () =>
        choicesOf(completion),
      );
      return completion;
    }
    const upstream = (await client.chat.completions.create(
      this.#params,
      options,
    )) as Stream<ChatCompletionChunk>;
    const opened = await firstChunk(upstream, this.#remainingAttemptTime(startedAt));
    this.#call.firstChunk();
    return relayStream(
      opened,
      (end) => {
        if (end.kind === 'failed') {
          // Chunks already reached the caller: surfaced, never retried. A dead client is still retired.
          const failure = this.#classify(end.error);
          if (failure.reason === 'client_closed') this.#deps.source.invalidate(client, end.error);
          this.#deps.source.release(client);
          if (failure.reason === 'client_closed') this.#call.recovery('failed', 1);
          this.#call.failed('stream_interrupted', failure, this.#attempt, this.#spent.recoveries);
          return;
        }
        this.#deps.source.release(client);
        this.#call.succeeded(end.summary, this.#attempt, this.#spent.recoveries, end.output);
      },
      this.#deps.telemetry.captureContent,
    );
  }

  /** Records a failed attempt; returns the delay before the next one, or throws to give up. */
  #afterFailure(error: unknown, client: OpenAI | undefined): number {
    const failure = this.#classify(error);
    const closed = failure.reason === 'client_closed';
    // Any other outcome on the fresh client (even a 503) means the dead client is behind us.
    if (closed) this.#unsettledClosedFailures++;
    else if (failure.reason !== 'aborted') this.#settleClosedFailures('recovered');
    if (client) {
      if (closed) this.#deps.source.invalidate(client, error);
      this.#deps.source.release(client);
    }
    const decision = this.#deps.policy.decide(failure, this.#spent);
    if (decision.action === 'give_up') {
      this.#giveUp(error, decision.reason, failure);
    }
    this.#errors.push(error);
    if (decision.replaceClient) this.#spent.recoveries++;
    else this.#spent.transientRetries++;
    this.#call.retry({
      attempt: this.#attempt,
      failure,
      delayMs: decision.delayMs,
      clientReplaced: decision.replaceClient,
    });
    return decision.delayMs;
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
    const clientTimeout = this.#options?.timeout ?? client.timeout;
    const timeout = limit === undefined ? this.#options?.timeout : Math.min(limit, clientTimeout);
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

/** The span is named after the model, so a call without one is refused before any attempt. */
function paramsProblem(params: ChatCompletionCreateParams): string | undefined {
  if (typeof params !== 'object' || params === null) return 'params must be an object';
  if (typeof params.model !== 'string' || params.model === '')
    return 'params.model must be a non-empty string';
  return undefined;
}
