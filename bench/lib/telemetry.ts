/**
 * A real MeterProvider whose counters the demo and benchmarks read back, optionally also exported by OTLP.
 * The collecting reader and the counter sum are shared with the tests' harness (test/support/telemetry.ts).
 */
import type { Attributes } from '@opentelemetry/api';
import {
  type DataPoint,
  MeterProvider,
  type MetricData,
  MetricReader,
  type MetricReader as Reader,
} from '@opentelemetry/sdk-metrics';

/** A reader that only collects when asked: what tests and benchmarks read metrics back through. */
export class CollectingReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface CountingMeter {
  meterProvider: MeterProvider;
  /** Sum of a counter's points whose attributes include `match`. */
  counter(name: string, match?: Attributes): Promise<number>;
  shutdown(): Promise<void>;
}

export function countingMeter(
  extraReaders: Reader[] = [],
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

/** Sum of the points of counter `name` whose attributes include every entry of `match`; 0 when absent. */
export function counterSum(metrics: readonly MetricData[], name: string, match: Attributes = {}): number {
  const metric = metrics.find((m) => m.descriptor.name === name);
  return ((metric?.dataPoints ?? []) as DataPoint<number>[])
    .filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))
    .reduce((sum, p) => sum + p.value, 0);
}
