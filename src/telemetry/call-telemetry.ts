/**
 * The telemetry of one logical call: for GenAI operations a single CLIENT span over every attempt and sleep
 * with its retry and give-up events, and the GenAI histograms; for every request the counters and the retry
 * warning. Recovered failures leave no error on the span; `error.type` and ERROR status are set only when the
 * call finally fails (OpenTelemetry recording-errors).
 */
import * as otelApi from '@opentelemetry/api';
import {
  type Attributes,
  type Context,
  context,
  type MeterProvider,
  metrics,
  type Logger as OtelLogger,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type OpenAI from 'openai';
import { serverAttributes } from '../clients/endpoint.js';
import { callHook } from '../hook-errors.js';
import type { Operation, ResponseSummary, StreamAccumulator } from '../operations/index.js';
import type { CircuitState } from '../policy/circuit-breaker.js';
import type { Endpoint } from '../policy/circuit-breakers.js';
import type { Classification, GiveUpReason, Logger } from '../types.js';
import { VERSION } from '../version.js';
import {
  callAttributes,
  responseAttributes,
  responseMetricAttributes,
  shapeOf,
  spanName,
} from './attributes.js';
import type { CallEnd, GenAIMetrics } from './genai-metrics.js';
import { HttpAttempts, withHttpAttempts } from './http-attempts.js';
import {
  type CircuitStateSource,
  genAIMetricsFor,
  type Instruments,
  instrumentsFor,
  reportCircuitStates,
} from './instruments.js';
import {
  ATTR_ATTEMPT,
  ATTR_ATTEMPTS,
  ATTR_CIRCUIT_STATE,
  ATTR_CLIENT_REPLACED,
  ATTR_CLOSED_CLIENT_RECOVERIES,
  ATTR_DISPATCHER_REPLACED,
  ATTR_ERROR_TYPE,
  ATTR_EXCEPTION_TYPE,
  ATTR_GEN_AI_INPUT_MESSAGES,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_OUTPUT_MESSAGES,
  ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
  ATTR_GEN_AI_SYSTEM,
  ATTR_GIVE_UP_REASON,
  ATTR_RECOVERY_OUTCOME,
  ATTR_RETRY_DELAY_MS,
  ATTR_RETRY_MAYBE_SENT,
  ATTR_RETRY_REASON,
  ATTR_STREAM_END,
  EVENT_CIRCUIT_REJECTED,
  EVENT_DISPATCHER_FALLBACK,
  EVENT_GEN_AI_CLIENT_OPERATION_EXCEPTION,
  EVENT_GIVE_UP,
  EVENT_RETRY,
  GEN_AI_PROVIDER_NAME_VALUE_OPENAI,
  INSTRUMENTATION_SCOPE,
  type RecoveryOutcome,
} from './semconv.js';

export interface TelemetryOptions {
  tracerProvider?: TracerProvider | undefined;
  meterProvider?: MeterProvider | undefined;
  logger: Logger | undefined;
  captureContent: boolean;
  /**
   * `OTEL_SEMCONV_STABILITY_OPT_IN` holds `gen_ai_latest_experimental`: emit only the latest GenAI names
   * (the metrics of GENAI_LATEST_CONVENTIONS, the exception event, no `gen_ai.system`). Otherwise the names of
   * semantic-conventions 1.45, and the deprecated `gen_ai.system` beside `gen_ai.provider.name`, as the
   * official instrumentations do for dashboards built on the 1.36 conventions.
   */
  latestConventionsOnly: boolean;
  /**
   * Whose span a GenAI call records on (resilientFetch's `genAISpan`): `own` starts ours; `active` records on
   * the active span when one is recording; `auto` does so only when that span is itself a GenAI span (it has
   * `gen_ai.operation.name`, as the AI SDK's model-call span has). Default `own`.
   */
  genAISpan?: GenAISpanMode | undefined;
}

/** See `TelemetryOptions.genAISpan`. */
export type GenAISpanMode = 'auto' | 'own' | 'active';

/**
 * The active span, when a call should record on it instead of starting its own (see `genAISpan`). An SDK
 * span's attributes are readable on the OpenTelemetry SDK's span class; a span whose attributes cannot be
 * read is not taken for a GenAI span under `auto`.
 */
function adoptedSpan(mode: GenAISpanMode | undefined): Span | undefined {
  if (mode === undefined || mode === 'own') return undefined;
  const active = trace.getActiveSpan();
  if (!active?.isRecording()) return undefined;
  if (mode === 'active') return active;
  const attributes = (active as { attributes?: Attributes }).attributes;
  return attributes?.[ATTR_GEN_AI_OPERATION_NAME] !== undefined ? active : undefined;
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

const NO_TRACE = '00000000000000000000000000000000';

/**
 * The logs API, which @opentelemetry/api has from 1.10 on (our peer range starts at 1.9): read from the module
 * namespace, so on 1.9 it is simply absent and the exception event is not recorded.
 */
const logsApi = (otelApi as Partial<typeof otelApi>).logs;
/**
 * `SeverityNumber.WARN` of the logs data model (13). Not imported: @opentelemetry/api 1.9 has no
 * `SeverityNumber` export, and an ES module importing a missing name fails to load at all.
 */
const SEVERITY_WARN = 13;

/**
 * One resilient client's telemetry (its tracer, instruments, circuit gauge and logger), which makes a
 * CallTelemetry per call. Not to be confused with the handle `startTelemetry()` returns (resilient-chat/otel).
 */
export class ClientTelemetry {
  readonly #tracer: Tracer;
  readonly #fixedMeterProvider: MeterProvider | undefined;
  #circuitSource: CircuitStateSource | undefined;
  #meterProvider: MeterProvider | undefined;
  #instruments: Instruments | undefined;
  #genAIMetrics: GenAIMetrics | undefined;
  /** The latest conventions' exception event goes out through the global logger provider (a proxy). */
  readonly #exceptionLogger: OtelLogger | undefined;
  readonly logger: Logger | undefined;
  readonly captureContent: boolean;
  readonly latestConventionsOnly: boolean;
  readonly genAISpan: GenAISpanMode | undefined;

  constructor(options: TelemetryOptions) {
    this.genAISpan = options.genAISpan;
    // The global tracer provider is a proxy, so an SDK registered later is still picked up.
    this.#tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(
      INSTRUMENTATION_SCOPE,
      VERSION,
    );
    this.#fixedMeterProvider = options.meterProvider;
    this.logger = options.logger;
    this.captureContent = options.captureContent;
    this.latestConventionsOnly = options.latestConventionsOnly;
    this.#exceptionLogger = options.latestConventionsOnly
      ? logsApi?.getLogger(INSTRUMENTATION_SCOPE, VERSION)
      : undefined;
  }

  get tracer(): Tracer {
    return this.#tracer;
  }

  /** The global meter provider is not a proxy: look again on each call so a late SDK start is not missed. */
  get instruments(): Instruments {
    const provider = this.#fixedMeterProvider ?? metrics.getMeterProvider();
    if (provider !== this.#meterProvider || !this.#instruments) {
      this.#meterProvider = provider;
      this.#instruments = instrumentsFor(provider);
      this.#genAIMetrics = undefined;
      if (this.#circuitSource) reportCircuitStates(provider, this.#circuitSource);
    }
    return this.#instruments;
  }

  /** The GenAI metrics in the names this client reports in; made on first use, only for GenAI operations. */
  get genAIMetrics(): GenAIMetrics {
    this.instruments; // looks at the current meter provider
    this.#genAIMetrics ??= genAIMetricsFor(this.#meterProvider as MeterProvider, this.latestConventionsOnly);
    return this.#genAIMetrics;
  }

  /** The latest conventions' `gen_ai.client.operation.exception` event, in the failed call's context. */
  operationException(errorType: string, callContext: Context): void {
    this.#exceptionLogger?.emit({
      eventName: EVENT_GEN_AI_CLIENT_OPERATION_EXCEPTION,
      severityNumber: SEVERITY_WARN,
      severityText: 'WARN',
      // The type only: an error's message may echo what the server was sent (a key, a prompt).
      attributes: { [ATTR_EXCEPTION_TYPE]: errorType },
      context: callContext,
    });
  }

  /** Reports these breakers in the circuit-state gauge, for as long as they are alive. */
  watchCircuits(source: CircuitStateSource): void {
    this.#circuitSource = source;
    reportCircuitStates(this.#fixedMeterProvider ?? metrics.getMeterProvider(), source);
  }

  circuitTransition(endpoint: Endpoint, state: CircuitState): void {
    this.instruments.circuitTransitions.add(1, { ...endpoint.attributes, [ATTR_CIRCUIT_STATE]: state });
  }

  startCall(operation: Operation, model: string | undefined, body: unknown): CallTelemetry {
    return new CallTelemetry(this, operation, model, body);
  }
}

export class CallTelemetry {
  /** Only GenAI operations get a span of ours; other requests are an HTTP instrumentation's to trace. */
  readonly span: Span | undefined;
  /**
   * False when `span` is the caller's GenAI span (`genAISpan`): we add our attributes and events to it, and
   * leave its name, GenAI attributes, status and end to its owner.
   */
  readonly #ownSpan: boolean;
  /** The context to run attempts in, so HTTP instrumentation nests under this span. */
  readonly context: Context;
  readonly #telemetry: ClientTelemetry;
  readonly #instruments: Instruments;
  /** The GenAI metrics, for GenAI operations only. */
  readonly #genAI: GenAIMetrics | undefined;
  readonly #operation: Operation;
  readonly #model: string | undefined;
  readonly #startedAt = performance.now();
  /** Which attempt is sending, for the HTTP spans under this call's span (`httpAttemptAttributes`). */
  readonly #httpAttempts: HttpAttempts | undefined;
  /** Attributes shared by this call's metric points: operation, provider, model, server. */
  #metricAttributes: Readonly<Attributes>;
  #serverKnown = false;
  #ended = false;

  constructor(telemetry: ClientTelemetry, operation: Operation, model: string | undefined, body: unknown) {
    this.#telemetry = telemetry;
    this.#instruments = telemetry.instruments;
    this.#genAI = operation.genAI ? telemetry.genAIMetrics : undefined;
    this.#operation = operation;
    this.#model = model;
    // Made once per operation and model: they are the same for every call of that shape.
    const shape = shapeOf(operation, model);
    this.#metricAttributes = shape.attributes;
    const { genAI } = operation;
    if (!genAI) {
      this.span = undefined;
      this.#ownSpan = false;
      this.#httpAttempts = undefined;
      this.context = context.active();
      return;
    }
    const adopted = adoptedSpan(telemetry.genAISpan);
    if (adopted) {
      this.span = adopted;
      this.#ownSpan = false;
      this.#httpAttempts = undefined;
      this.context = context.active();
      return;
    }
    this.#ownSpan = true;
    const span = telemetry.tracer.startSpan(shape.spanName, {
      kind: SpanKind.CLIENT,
      attributes: shape.attributes,
    });
    this.span = span;
    const spanContext = trace.setSpan(context.active(), span);
    if (span.isRecording()) {
      // Only a recorded span has HTTP spans to mark under it; without an SDK this costs nothing.
      this.#httpAttempts = new HttpAttempts();
      this.context = withHttpAttempts(spanContext, this.#httpAttempts);
      // One object and one setAttributes: the SDK's cost is per attribute written, so none is written twice.
      const attributes = genAI.requestAttributes(body);
      if (!telemetry.latestConventionsOnly)
        attributes[ATTR_GEN_AI_SYSTEM] = GEN_AI_PROVIDER_NAME_VALUE_OPENAI;
      if (telemetry.captureContent) {
        const input = genAI.inputMessages(body);
        if (input !== undefined) attributes[ATTR_GEN_AI_INPUT_MESSAGES] = input;
      }
      span.setAttributes(attributes);
    } else {
      this.#httpAttempts = undefined;
      this.context = spanContext;
    }
  }

  /**
   * Called once per attempt, when the attempt has its client and before it sends (the attempt loop's hook
   * point): records where the call goes (the first attempt's client names the server), and that the HTTP
   * requests starting from now on are this attempt's (`http.request.resend_count` on the HTTP spans).
   */
  attemptStarted(client: OpenAI): void {
    this.#httpAttempts?.attemptStarted();
    if (this.#serverKnown) return;
    this.#serverKnown = true;
    this.#metricAttributes = callAttributes(client, this.#operation, this.#model);
    // The span has the operation's attributes from its start; only the server's are new.
    if (this.#ownSpan && this.span?.isRecording()) this.span.setAttributes(serverAttributes(client));
  }

  /** `attemptStartedAt` (performance.now()): the conventions time the first chunk from the request that sent it. */
  firstChunk(attemptStartedAt: number): void {
    const seconds = (performance.now() - attemptStartedAt) / 1000;
    if (!this.#genAI) return;
    this.#genAI.firstChunk(seconds, this.#metricAttributes);
    if (this.#ownSpan && this.span?.isRecording())
      this.span.setAttribute(ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, seconds);
  }

  /**
   * The accumulator for a stream's relay to feed (the attempt loop's hook point for streams): it passes every
   * event on to `accumulator` and times each chunk after the first of substance, from the chunk before it
   * (`time_per_output_chunk`). The relay hands events over as the caller reads them, so a gap includes the
   * caller's own time between reads, as for any instrumentation that wraps a stream.
   */
  timeChunks(accumulator: StreamAccumulator): StreamAccumulator {
    const genAI = this.#genAI;
    if (!genAI) return accumulator;
    const { hasSubstance } = this.#operation;
    let last: number | undefined;
    return {
      add: (event) => {
        accumulator.add(event);
        const now = performance.now();
        if (last !== undefined) genAI.chunk((now - last) / 1000, this.#metricAttributes);
        else if (!hasSubstance(event)) return; // held back before the first chunk: not an output chunk
        last = now;
      },
      summary: () => accumulator.summary(),
      outputMessages: () => accumulator.outputMessages(),
    };
  }

  retry(record: RetryRecord): void {
    const { attempt, failure, delayMs, clientReplaced, maybeSent } = record;
    this.#httpAttempts?.retrying(attempt, failure.reason);
    this.span?.addEvent(EVENT_RETRY, {
      [ATTR_ATTEMPT]: attempt,
      [ATTR_RETRY_REASON]: failure.reason,
      [ATTR_RETRY_DELAY_MS]: delayMs,
      [ATTR_ERROR_TYPE]: failure.errorType,
      [ATTR_CLIENT_REPLACED]: clientReplaced,
      [ATTR_RETRY_MAYBE_SENT]: maybeSent,
    });
    this.#instruments.retries.add(1, { [ATTR_RETRY_REASON]: failure.reason, ...this.#metricAttributes });
    const logger = this.#telemetry.logger;
    if (!logger) return;
    callHook('logger.warn()', () =>
      logger.warn(
        `retrying ${this.#label()} after ${failure.reason} (attempt ${attempt} failed, next in ${delayMs} ms)`,
        {
          reason: failure.reason,
          attempt,
          delayMs,
          model: this.#model,
          operation: this.#operation.name,
          errorType: failure.errorType,
          clientReplaced,
          traceId: this.#traceId(),
        },
      ),
    );
  }

  /** The endpoint's breaker refused an attempt; no request was sent. */
  refused(endpoint: Endpoint, state: CircuitState): void {
    this.span?.addEvent(EVENT_CIRCUIT_REJECTED, { ...endpoint.attributes, [ATTR_CIRCUIT_STATE]: state });
  }

  recovery(outcome: RecoveryOutcome, count: number): void {
    this.#instruments.closedClientRecoveries.add(count, {
      [ATTR_RECOVERY_OUTCOME]: outcome,
      ...this.#metricAttributes,
    });
  }

  /** The user opted in to replacing a dead client's own transport with Node's global dispatcher. */
  dispatcherFallback(replaced: 'dispatcher' | 'fetch'): void {
    this.span?.addEvent(EVENT_DISPATCHER_FALLBACK, { [ATTR_DISPATCHER_REPLACED]: replaced });
    const logger = this.#telemetry.logger;
    if (!logger) return;
    callHook('logger.warn()', () =>
      logger.warn(
        `the client's own ${replaced} was closed; going on through Node's global dispatcher (closedClient.fallbackToGlobalDispatcher), which does not apply that ${replaced}'s proxy, socket or TLS settings`,
        { fallback: 'global_dispatcher', replaced, traceId: this.#traceId() },
      ),
    );
  }

  succeeded(
    summary: ResponseSummary,
    attempts: number,
    recoveries: number,
    output?: () => string | undefined,
  ): void {
    if (!this.#markEnded()) return;
    const { span } = this;
    let spanAttributes: Attributes | undefined;
    if (this.#ownSpan && span?.isRecording()) {
      spanAttributes = responseAttributes(summary);
      if (output && this.#telemetry.captureContent) {
        const messages = output();
        if (messages !== undefined) spanAttributes[ATTR_GEN_AI_OUTPUT_MESSAGES] = messages;
      }
    }
    const attributes = responseMetricAttributes(this.#metricAttributes, summary.model);
    this.#end(attempts, recoveries, 'succeeded', attributes, summary, spanAttributes);
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
    const { span } = this;
    const own = this.#ownSpan;
    if (own && partial && span?.isRecording()) span.setAttributes(responseAttributes(partial));
    const errorAttributes = { [ATTR_ERROR_TYPE]: failure.errorType };
    span?.addEvent(EVENT_GIVE_UP, {
      [ATTR_GIVE_UP_REASON]: reason,
      [ATTR_ATTEMPTS]: attempts,
      ...errorAttributes,
    });
    if (own) {
      span?.setAttributes(errorAttributes);
      span?.setStatus({ code: SpanStatusCode.ERROR, message: `${reason}: ${failure.reason}` });
    }
    this.#instruments.giveUps.add(1, {
      [ATTR_GIVE_UP_REASON]: reason,
      ...errorAttributes,
      ...this.#metricAttributes,
    });
    if (reason === 'budget_exhausted') this.#instruments.budgetExhausted.add(1, this.#metricAttributes);
    if (this.#genAI) this.#telemetry.operationException(failure.errorType, this.context);
    this.#end(attempts, recoveries, 'failed', { ...this.#metricAttributes, ...errorAttributes }, partial);
  }

  /**
   * A stream was garbage-collected unended: nobody will read it. Its span ends saying so; no duration is
   * recorded (the time until a collection says nothing about the operation).
   */
  abandoned(summary: ResponseSummary, attempts: number, recoveries: number): void {
    if (!this.#markEnded()) return;
    const { span } = this;
    if (span && this.#ownSpan) {
      if (span.isRecording()) span.setAttributes(responseAttributes(summary));
      span.setAttributes({
        [ATTR_STREAM_END]: 'abandoned',
        [ATTR_ATTEMPTS]: attempts,
        [ATTR_CLOSED_CLIENT_RECOVERIES]: recoveries,
      });
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: 'stream abandoned: garbage-collected before it was read to its end',
      });
      span.end();
    } else if (span) {
      span.setAttributes({
        [ATTR_STREAM_END]: 'abandoned',
        [ATTR_ATTEMPTS]: attempts,
        [ATTR_CLOSED_CLIENT_RECOVERIES]: recoveries,
      });
    }
    this.#instruments.streamsAbandoned.add(1, this.#metricAttributes);
    this.#genAIEnded('abandoned', this.#metricAttributes, summary);
  }

  #label(): string {
    return this.#operation.genAI ? spanName(this.#operation, this.#model) : this.#operation.name;
  }

  #traceId(): string | undefined {
    const traceId = this.span?.spanContext().traceId;
    return traceId && traceId !== NO_TRACE ? traceId : undefined;
  }

  #markEnded(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    this.#httpAttempts?.ended();
    return true;
  }

  /** `spanAttributes`: what the end adds to the span, written with the attempt counts in one go. */
  #end(
    attempts: number,
    recoveries: number,
    outcome: 'succeeded' | 'failed',
    metricAttributes: Readonly<Attributes>,
    summary: ResponseSummary | undefined,
    spanAttributes: Attributes = {},
  ): void {
    if (this.span) {
      spanAttributes[ATTR_ATTEMPTS] = attempts;
      spanAttributes[ATTR_CLOSED_CLIENT_RECOVERIES] = recoveries;
      this.span.setAttributes(spanAttributes);
      if (this.#ownSpan) this.span.end();
    }
    this.#genAIEnded(outcome, metricAttributes, summary);
  }

  #genAIEnded(
    outcome: CallEnd['outcome'],
    attributes: Readonly<Attributes>,
    summary: ResponseSummary | undefined,
  ): void {
    const genAI = this.#operation.genAI;
    if (!genAI || !this.#genAI) return;
    this.#genAI.ended({
      operationName: genAI.operationName,
      outcome,
      seconds: (performance.now() - this.#startedAt) / 1000,
      attributes,
      callAttributes: this.#metricAttributes,
      summary,
    });
  }
}
