/**
 * The telemetry of one logical call: a single CLIENT span over every attempt and sleep, its retry and
 * give-up events, the metric points and the retry warning. Recovered failures leave no error on the span;
 * `error.type` and ERROR status are set only when the call finally fails (OpenTelemetry recording-errors).
 */
import {
  type Attributes,
  type Context,
  context,
  type MeterProvider,
  metrics,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import {
  ATTR_GEN_AI_INPUT_MESSAGES,
  ATTR_GEN_AI_OUTPUT_MESSAGES,
  ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
  ATTR_GEN_AI_TOKEN_TYPE,
  GEN_AI_TOKEN_TYPE_VALUE_INPUT,
  GEN_AI_TOKEN_TYPE_VALUE_OUTPUT,
} from '@opentelemetry/semantic-conventions/incubating';
import type OpenAI from 'openai';
import type { ChatCompletionCreateParams } from 'openai/resources/chat/completions';
import type { Classification } from '../call/classify.js';
import { callHook } from '../hook-errors.js';
import type { Logger } from '../logger.js';
import type { CircuitState } from '../policy/circuit-breaker.js';
import type { GiveUpReason } from '../policy/retry-policy.js';
import { VERSION } from '../version.js';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_RESPONSE_MODEL,
  callAttributes,
  operationAttributes,
  type ResponseSummary,
  requestAttributes,
  responseAttributes,
  serverAttributes,
  spanName,
  withAttribute,
} from './attributes.js';
import { inputMessages, type OutputChoice, outputMessages } from './content.js';
import { type CircuitStates, createInstruments, type Instruments } from './instruments.js';
import {
  ATTR_ATTEMPT,
  ATTR_ATTEMPTS,
  ATTR_CIRCUIT_STATE,
  ATTR_CLIENT_REPLACED,
  ATTR_CLOSED_CLIENT_RECOVERIES,
  ATTR_GIVE_UP_REASON,
  ATTR_RECOVERY_OUTCOME,
  ATTR_RETRY_DELAY_MS,
  ATTR_RETRY_MAYBE_SENT,
  ATTR_RETRY_REASON,
  EVENT_CIRCUIT_REJECTED,
  EVENT_GIVE_UP,
  EVENT_RETRY,
  INSTRUMENTATION_SCOPE,
  type RecoveryOutcome,
} from './semconv.js';

export interface TelemetryOptions {
  circuitStates?: CircuitStates | undefined;
  tracerProvider?: TracerProvider | undefined;
  meterProvider?: MeterProvider | undefined;
  logger: Logger | undefined;
  captureContent: boolean;
}

export interface RetryRecord {
  /** The attempt that failed, from 1. */
  attempt: number;
  failure: Classification;
  delayMs: number;
  clientReplaced: boolean;
  /** Whether the failed attempt may have reached the server (false: it never left this process). */
  maybeSent: boolean;
}

export class Telemetry {
  readonly #tracer: Tracer;
  readonly #fixedMeterProvider: MeterProvider | undefined;
  readonly #circuitStates: CircuitStates | undefined;
  #meterProvider: MeterProvider | undefined;
  #instruments: Instruments | undefined;
  readonly logger: Logger | undefined;
  readonly captureContent: boolean;

  constructor(options: TelemetryOptions) {
    // The global tracer provider is a proxy, so an SDK registered later is still picked up.
    this.#tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(
      INSTRUMENTATION_SCOPE,
      VERSION,
    );
    this.#fixedMeterProvider = options.meterProvider;
    this.#circuitStates = options.circuitStates;
    this.logger = options.logger;
    this.captureContent = options.captureContent;
  }

  get tracer(): Tracer {
    return this.#tracer;
  }

  /** The global meter provider is not a proxy: look again on each call so a late SDK start is not missed. */
  get instruments(): Instruments {
    const provider = this.#fixedMeterProvider ?? metrics.getMeterProvider();
    if (provider !== this.#meterProvider || !this.#instruments) {
      this.#meterProvider = provider;
      this.#instruments = createInstruments(
        provider.getMeter(INSTRUMENTATION_SCOPE, VERSION),
        this.#circuitStates,
      );
    }
    return this.#instruments;
  }

  circuitTransition(endpoint: Attributes, state: CircuitState): void {
    this.instruments.circuitTransitions.add(1, { ...endpoint, [ATTR_CIRCUIT_STATE]: state });
  }

  startCall(params: ChatCompletionCreateParams): CallTelemetry {
    return new CallTelemetry(this, params);
  }
}

export class CallTelemetry {
  readonly span: Span;
  /** The context to run attempts in, so HTTP instrumentation nests under this span. */
  readonly context: Context;
  readonly #telemetry: Telemetry;
  readonly #instruments: Instruments;
  readonly #model: string;
  readonly #startedAt = performance.now();
  /** Attributes shared by this call's metric points: operation, provider, model, server. */
  #metricAttributes: Attributes;
  #serverKnown = false;
  #ended = false;

  constructor(telemetry: Telemetry, params: ChatCompletionCreateParams) {
    this.#telemetry = telemetry;
    this.#instruments = telemetry.instruments;
    this.#model = typeof params.model === 'string' ? params.model : String(params.model);
    this.#metricAttributes = operationAttributes(this.#model);
    this.span = telemetry.tracer.startSpan(spanName(this.#model), {
      kind: SpanKind.CLIENT,
      attributes: this.#metricAttributes,
    });
    this.context = trace.setSpan(context.active(), this.span);
    if (this.span.isRecording()) {
      this.span.setAttributes(requestAttributes(params));
      if (telemetry.captureContent)
        this.span.setAttribute(ATTR_GEN_AI_INPUT_MESSAGES, inputMessages(params.messages));
    }
  }

  /** Records where the call goes; the first attempt's client names the server. */
  attemptStarted(client: OpenAI): void {
    if (this.#serverKnown) return;
    this.#serverKnown = true;
    const server = serverAttributes(client);
    this.#metricAttributes = callAttributes(client, this.#model);
    this.span.setAttributes(server);
  }

  /** `attemptStartedAt` (performance.now()): the conventions time the first chunk from the request that sent it. */
  firstChunk(attemptStartedAt: number): void {
    if (this.span.isRecording()) {
      this.span.setAttribute(
        ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
        (performance.now() - attemptStartedAt) / 1000,
      );
    }
  }

  retry(record: RetryRecord): void {
    const { attempt, failure, delayMs, clientReplaced, maybeSent } = record;
    this.span.addEvent(EVENT_RETRY, {
      [ATTR_ATTEMPT]: attempt,
      [ATTR_RETRY_REASON]: failure.reason,
      [ATTR_RETRY_DELAY_MS]: delayMs,
      [ATTR_ERROR_TYPE]: failure.errorType,
      [ATTR_CLIENT_REPLACED]: clientReplaced,
      [ATTR_RETRY_MAYBE_SENT]: maybeSent,
    });
    this.#instruments.retries.add(1, {
      [ATTR_RETRY_REASON]: failure.reason,
      ...this.#metricAttributes,
    });
    const traceId = this.span.spanContext().traceId;
    const logger = this.#telemetry.logger;
    if (!logger) return;
    callHook('logger.warn()', () =>
      logger.warn(
        `retrying chat ${this.#model} after ${failure.reason} (attempt ${attempt} failed, next in ${delayMs} ms)`,
        {
          reason: failure.reason,
          attempt,
          delayMs,
          model: this.#model,
          errorType: failure.errorType,
          clientReplaced,
          traceId: traceId && traceId !== '00000000000000000000000000000000' ? traceId : undefined,
        },
      ),
    );
  }

  /** The endpoint's breaker refused an attempt; no request was sent. */
  refused(endpoint: Attributes, state: CircuitState): void {
    this.span.addEvent(EVENT_CIRCUIT_REJECTED, { ...endpoint, [ATTR_CIRCUIT_STATE]: state });
  }

  recovery(outcome: RecoveryOutcome, count: number): void {
    this.#instruments.closedClientRecoveries.add(count, {
      [ATTR_RECOVERY_OUTCOME]: outcome,
      ...this.#metricAttributes,
    });
  }

  succeeded(
    summary: ResponseSummary,
    attempts: number,
    recoveries: number,
    output?: () => OutputChoice[],
  ): void {
    if (!this.#markEnded()) return;
    const response = responseAttributes(summary);
    if (this.span.isRecording()) {
      this.span.setAttributes(response);
      if (output && this.#telemetry.captureContent)
        this.span.setAttribute(ATTR_GEN_AI_OUTPUT_MESSAGES, outputMessages(output()));
    }
    const attributes = summary.model
      ? withAttribute(this.#metricAttributes, ATTR_GEN_AI_RESPONSE_MODEL, summary.model)
      : this.#metricAttributes;
    this.#recordTokens(summary, attributes);
    this.#end(attempts, recoveries, attributes);
  }

  /** `partial`: what a stream had delivered before it failed, still worth recording. */
  failed(
    reason: GiveUpReason,
    failure: Classification,
    attempts: number,
    recoveries: number,
    partial?: ResponseSummary,
  ): void {
    if (!this.#markEnded()) return;
    if (partial && this.span.isRecording()) this.span.setAttributes(responseAttributes(partial));
    const errorAttributes = { [ATTR_ERROR_TYPE]: failure.errorType };
    this.span.addEvent(EVENT_GIVE_UP, {
      [ATTR_GIVE_UP_REASON]: reason,
      [ATTR_ATTEMPTS]: attempts,
      ...errorAttributes,
    });
    this.span.setAttributes(errorAttributes);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: `${reason}: ${failure.reason}` });
    this.#instruments.giveUps.add(1, {
      [ATTR_GIVE_UP_REASON]: reason,
      ...errorAttributes,
      ...this.#metricAttributes,
    });
    if (reason === 'budget_exhausted') this.#instruments.budgetExhausted.add(1, this.#metricAttributes);
    this.#end(attempts, recoveries, { ...this.#metricAttributes, ...errorAttributes });
  }

  #markEnded(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    return true;
  }

  #recordTokens(summary: ResponseSummary, attributes: Attributes): void {
    const { tokenUsage } = this.#instruments;
    if (summary.inputTokens !== undefined) {
      tokenUsage.record(
        summary.inputTokens,
        withAttribute(attributes, ATTR_GEN_AI_TOKEN_TYPE, GEN_AI_TOKEN_TYPE_VALUE_INPUT),
      );
    }
    if (summary.outputTokens !== undefined) {
      tokenUsage.record(
        summary.outputTokens,
        withAttribute(attributes, ATTR_GEN_AI_TOKEN_TYPE, GEN_AI_TOKEN_TYPE_VALUE_OUTPUT),
      );
    }
  }

  #end(attempts: number, recoveries: number, metricAttributes: Attributes): void {
    this.span.setAttributes({ [ATTR_ATTEMPTS]: attempts, [ATTR_CLOSED_CLIENT_RECOVERIES]: recoveries });
    this.span.end();
    this.#instruments.operationDuration.record(
      (performance.now() - this.#startedAt) / 1000,
      metricAttributes,
    );
  }
}
