/**
 * The metric instruments, made once per meter provider and shared by every client that reports to it. The
 * circuit-state gauge has one callback per provider that reads every live client's breakers through weak
 * references: a client made per request and then dropped is not kept alive by the provider it reported to.
 */
import type { Counter, Histogram, MeterProvider } from '@opentelemetry/api';
import type { CircuitState } from '../policy/circuit-breaker.js';
import type { Endpoint } from '../policy/circuit-breakers.js';
import { VERSION } from '../version.js';
import {
  CIRCUIT_STATE_VALUE,
  INSTRUMENTATION_SCOPE,
  METRIC_CIRCUIT_STATE,
  METRIC_CIRCUIT_TRANSITIONS,
  METRIC_CLOSED_CLIENT_RECOVERIES,
  METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
  METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
  METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
  METRIC_GIVE_UPS,
  METRIC_RETRIES,
  METRIC_RETRY_BUDGET_EXHAUSTED,
  METRIC_STREAMS_ABANDONED,
} from './semconv.js';

/** Bucket boundaries the GenAI conventions give for the duration histograms (seconds). */
export const OPERATION_DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
export const TOKEN_USAGE_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];

export interface Instruments {
  retries: Counter;
  closedClientRecoveries: Counter;
  giveUps: Counter;
  budgetExhausted: Counter;
  circuitTransitions: Counter;
  streamsAbandoned: Counter;
  operationDuration: Histogram;
  timeToFirstChunk: Histogram;
  tokenUsage: Histogram;
}

/** Anything that can list its breakers' states: one per client with a circuit breaker. */
export interface CircuitStateSource {
  states(): Iterable<[Endpoint, CircuitState]>;
}

interface ProviderEntry {
  instruments: Instruments;
  circuitSources: Set<WeakRef<CircuitStateSource>>;
  /** The sources already in `circuitSources`: a source reported twice would be observed twice per collection. */
  reported: WeakSet<CircuitStateSource>;
}

const byProvider = new WeakMap<MeterProvider, ProviderEntry>();

export function instrumentsFor(provider: MeterProvider): Instruments {
  return entryFor(provider).instruments;
}

/**
 * Reports `source`'s breakers in the provider's circuit-state gauge for as long as `source` is alive; once per
 * provider however often it is asked.
 */
export function reportCircuitStates(provider: MeterProvider, source: CircuitStateSource): void {
  const entry = entryFor(provider);
  if (entry.reported.has(source)) return;
  entry.reported.add(source);
  entry.circuitSources.add(new WeakRef(source));
}

function entryFor(provider: MeterProvider): ProviderEntry {
  let entry = byProvider.get(provider);
  if (!entry) {
    const meter = provider.getMeter(INSTRUMENTATION_SCOPE, VERSION);
    const circuitSources = new Set<WeakRef<CircuitStateSource>>();
    meter
      .createObservableGauge(METRIC_CIRCUIT_STATE, {
        unit: '{state}',
        description: 'Circuit breaker state per endpoint: 0 closed, 1 half-open, 2 open.',
      })
      .addCallback((result) => {
        for (const ref of circuitSources) {
          const source = ref.deref();
          if (!source) {
            circuitSources.delete(ref);
            continue;
          }
          for (const [endpoint, state] of source.states())
            result.observe(CIRCUIT_STATE_VALUE[state], endpoint.attributes);
        }
      });
    const instruments: Instruments = {
      retries: meter.createCounter(METRIC_RETRIES, {
        unit: '{retry}',
        description: 'Retries of attempts, by reason.',
      }),
      closedClientRecoveries: meter.createCounter(METRIC_CLOSED_CLIENT_RECOVERIES, {
        unit: '{recovery}',
        description:
          'Closed-client failures, by whether the call got past them on a fresh client or ended on them.',
      }),
      giveUps: meter.createCounter(METRIC_GIVE_UPS, {
        unit: '{call}',
        description: 'Calls that ended failed, by why no further attempt was made.',
      }),
      budgetExhausted: meter.createCounter(METRIC_RETRY_BUDGET_EXHAUSTED, {
        unit: '{retry}',
        description: 'Retries not made because the retry budget was spent.',
      }),
      circuitTransitions: meter.createCounter(METRIC_CIRCUIT_TRANSITIONS, {
        unit: '{transition}',
        description: 'Circuit breaker state changes, by the state entered.',
      }),
      streamsAbandoned: meter.createCounter(METRIC_STREAMS_ABANDONED, {
        unit: '{stream}',
        description: 'Streams garbage-collected before they were read to their end or stopped.',
      }),
      operationDuration: meter.createHistogram(METRIC_GEN_AI_CLIENT_OPERATION_DURATION, {
        unit: 's',
        description: 'GenAI operation duration, over all attempts and backoff sleeps.',
        advice: { explicitBucketBoundaries: OPERATION_DURATION_BUCKETS },
      }),
      timeToFirstChunk: meter.createHistogram(METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK, {
        unit: 's',
        description:
          'Time to the first chunk of a streamed GenAI operation, from the attempt that produced it.',
        advice: { explicitBucketBoundaries: OPERATION_DURATION_BUCKETS },
      }),
      tokenUsage: meter.createHistogram(METRIC_GEN_AI_CLIENT_TOKEN_USAGE, {
        unit: '{token}',
        description: 'Number of input and output tokens used.',
        advice: { explicitBucketBoundaries: TOKEN_USAGE_BUCKETS },
      }),
    };
    entry = { instruments, circuitSources, reported: new WeakSet() };
    byProvider.set(provider, entry);
  }
  return entry;
}
