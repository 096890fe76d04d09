/** The metric instruments, created once per `createResilientChat` from its meter. */
import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';
import {
  METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
  METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
} from '@opentelemetry/semantic-conventions/incubating';
import type { CircuitState } from '../policy/circuit-breaker.js';
import {
  CIRCUIT_STATE_VALUE,
  METRIC_CIRCUIT_STATE,
  METRIC_CIRCUIT_TRANSITIONS,
  METRIC_CLOSED_CLIENT_RECOVERIES,
  METRIC_GIVE_UPS,
  METRIC_RETRIES,
  METRIC_RETRY_BUDGET_EXHAUSTED,
} from './semconv.js';

/** Bucket boundaries the GenAI conventions give for these two histograms. */
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
  operationDuration: Histogram;
  tokenUsage: Histogram;
}

/** Where the circuit-state gauge reads from when it is collected. */
export type CircuitStates = () => Iterable<[Attributes, CircuitState]>;

export function createInstruments(meter: Meter, circuitStates: CircuitStates | undefined): Instruments {
  if (circuitStates) {
    meter
      .createObservableGauge(METRIC_CIRCUIT_STATE, {
        unit: '{state}',
        description: 'Circuit breaker state per endpoint: 0 closed, 1 half-open, 2 open.',
      })
      .addCallback((result) => {
        for (const [attributes, state] of circuitStates())
          result.observe(CIRCUIT_STATE_VALUE[state], attributes);
      });
  }
  return {
    retries: meter.createCounter(METRIC_RETRIES, {
      unit: '{retry}',
      description: 'Retries of chat-completion attempts, by reason.',
    }),
    closedClientRecoveries: meter.createCounter(METRIC_CLOSED_CLIENT_RECOVERIES, {
      unit: '{recovery}',
      description:
        'Closed-client failures, by whether the call got past them on a fresh client or ended on them.',
    }),
    giveUps: meter.createCounter(METRIC_GIVE_UPS, {
      unit: '{call}',
      description: 'Chat-completion calls that ended failed, by why no further attempt was made.',
    }),
    budgetExhausted: meter.createCounter(METRIC_RETRY_BUDGET_EXHAUSTED, {
      unit: '{retry}',
      description: 'Retries not made because the retry budget was spent.',
    }),
    circuitTransitions: meter.createCounter(METRIC_CIRCUIT_TRANSITIONS, {
      unit: '{transition}',
      description: 'Circuit breaker state changes, by the state entered.',
    }),
    operationDuration: meter.createHistogram(METRIC_GEN_AI_CLIENT_OPERATION_DURATION, {
      unit: 's',
      description: 'GenAI operation duration, over all attempts and backoff sleeps.',
      advice: { explicitBucketBoundaries: OPERATION_DURATION_BUCKETS },
    }),
    tokenUsage: meter.createHistogram(METRIC_GEN_AI_CLIENT_TOKEN_USAGE, {
      unit: '{token}',
      description: 'Number of input and output tokens used.',
      advice: { explicitBucketBoundaries: TOKEN_USAGE_BUCKETS },
    }),
  };
}
