/**
 * The metric instruments, made once per meter provider and shared by every client that reports to it (the
 * GenAI set of each convention version once it is first used, genai-metrics.ts). The
 * circuit-state gauge has one callback per provider that reads every live client's breakers through weak
 * references: a client made per request and then dropped is not kept alive by the provider it reported to.
 */
import type { Counter, Meter, MeterProvider } from '@opentelemetry/api';
import type { CircuitState } from '../policy/circuit-breaker.js';
import type { Endpoint } from '../policy/circuit-breakers.js';
import { VERSION } from '../version.js';
import { type GenAIMetrics, latestGenAIMetrics, publishedGenAIMetrics } from './genai-metrics.js';
import {
  CIRCUIT_STATE_VALUE,
  INSTRUMENTATION_SCOPE,
  METRIC_CIRCUIT_STATE,
  METRIC_CIRCUIT_TRANSITIONS,
  METRIC_CLOSED_CLIENT_RECOVERIES,
  METRIC_GIVE_UPS,
  METRIC_RETRIES,
  METRIC_RETRY_BUDGET_EXHAUSTED,
  METRIC_STREAMS_ABANDONED,
} from './semconv.js';

export interface Instruments {
  retries: Counter;
  closedClientRecoveries: Counter;
  giveUps: Counter;
  budgetExhausted: Counter;
  circuitTransitions: Counter;
  streamsAbandoned: Counter;
}

/** Anything that can list its breakers' states: one per client with a circuit breaker. */
export interface CircuitStateSource {
  states(): Iterable<[Endpoint, CircuitState]>;
}

interface ProviderEntry {
  meter: Meter;
  instruments: Instruments;
  published?: GenAIMetrics;
  latest?: GenAIMetrics;
  circuitSources: Set<WeakRef<CircuitStateSource>>;
  /** The sources already in `circuitSources`: a source reported twice would be observed twice per collection. */
  reported: WeakSet<CircuitStateSource>;
}

const byProvider = new WeakMap<MeterProvider, ProviderEntry>();

export function instrumentsFor(provider: MeterProvider): Instruments {
  return entryFor(provider).instruments;
}

/** The provider's GenAI metrics in the conventions' latest names or in those published in 1.45. */
export function genAIMetricsFor(provider: MeterProvider, latest: boolean): GenAIMetrics {
  const entry = entryFor(provider);
  if (latest) {
    entry.latest ??= latestGenAIMetrics(entry.meter);
    return entry.latest;
  }
  entry.published ??= publishedGenAIMetrics(entry.meter);
  return entry.published;
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
    };
    entry = { meter, instruments, circuitSources, reported: new WeakSet() };
    byProvider.set(provider, entry);
  }
  return entry;
}
