/**
 * Reading metrics back from a real MeterProvider: what the tests' harness (telemetry.ts) and the benchmarks'
 * counting meter (bench/lib/telemetry.ts) both read through. No vitest here: benchmarks import it.
 */
import type { Attributes } from '@opentelemetry/api';
import { type DataPoint, type MetricData, MetricReader } from '@opentelemetry/sdk-metrics';

/** A reader that only collects when asked. */
export class CollectingReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Sum of the points of counter `name` whose attributes include every entry of `match`; 0 when absent. */
export function counterSum(metrics: readonly MetricData[], name: string, match: Attributes = {}): number {
  const metric = metrics.find((m) => m.descriptor.name === name);
  return ((metric?.dataPoints ?? []) as DataPoint<number>[])
    .filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))
    .reduce((sum, p) => sum + p.value, 0);
}
