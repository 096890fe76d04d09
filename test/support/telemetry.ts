/** Real OpenTelemetry SDK providers with in-memory exporters, and readers for what a test asserts on. */

import type { Attributes } from '@opentelemetry/api';
import { type DataPoint, type Histogram, MeterProvider, type MetricData } from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { CollectingReader, counterSum } from './metric-reader.js';

export interface TelemetryHarness {
  tracerProvider: TracerProvider;
  meterProvider: MeterProvider;
  spans(): Promise<ReadableSpan[]>;
  metrics(): Promise<MetricData[]>;
  /** Sum of a counter's points whose attributes include `match`. */
  counter(name: string, match?: Attributes): Promise<number>;
  /** Data points of a histogram. */
  histogram(name: string): Promise<DataPoint<Histogram>[]>;
  shutdown(): Promise<void>;
}

export function createTelemetryHarness(): TelemetryHarness {
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor({ exporter });
  const tracerProvider = new TracerProvider({ spanProcessors: [processor] });
  const reader = new CollectingReader();
  const meterProvider = new MeterProvider({ readers: [reader] });

  const metrics = async () => {
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length > 0) throw new AggregateError(errors, 'metric collection failed');
    return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  };
  const find = async (name: string) => (await metrics()).find((m) => m.descriptor.name === name);

  return {
    tracerProvider,
    meterProvider,
    async spans() {
      await processor.forceFlush();
      return exporter.getFinishedSpans();
    },
    metrics,
    async counter(name, match = {}) {
      return counterSum(await metrics(), name, match);
    },
    async histogram(name) {
      const metric = await find(name);
      return (metric?.dataPoints ?? []) as DataPoint<Histogram>[];
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}
