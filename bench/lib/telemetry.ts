/**
 * A real MeterProvider whose counters the demo and benchmarks read back, optionally also exported by OTLP,
 * through the reader the tests' harness uses (test/support/metric-reader.ts).
 */
import type { Attributes } from '@opentelemetry/api';
import { MeterProvider, type MetricReader } from '@opentelemetry/sdk-metrics';
import { CollectingReader, counterSum } from '../../test/support/metric-reader.js';

export interface CountingMeter {
  meterProvider: MeterProvider;
  /** Sum of a counter's points whose attributes include `match`. */
  counter(name: string, match?: Attributes): Promise<number>;
  shutdown(): Promise<void>;
}

export function countingMeter(
  extraReaders: MetricReader[] = [],
  resource?: ConstructorParameters<typeof MeterProvider>[0],
): CountingMeter {
  const reader = new CollectingReader();
  const meterProvider = new MeterProvider({ ...resource, readers: [reader, ...extraReaders] });
  return {
    meterProvider,
    async counter(name, match = {}) {
      const { resourceMetrics } = await reader.collect();
      return counterSum(
        resourceMetrics.scopeMetrics.flatMap((s) => s.metrics),
        name,
        match,
      );
    },
    shutdown: () => meterProvider.shutdown(),
  };
}
