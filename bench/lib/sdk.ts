/**
 * The OpenTelemetry SDK set up as a traced service would have it: a TracerProvider with a BatchSpanProcessor
 * and a MeterProvider with a periodic reader. The exporters count and drop, so what is measured is the cost
 * of recording, not of a network.
 */
import { ExportResultCode } from '@opentelemetry/core';
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import {
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
  TracerProvider,
} from '@opentelemetry/sdk-trace';

class DroppingSpanExporter implements SpanExporter {
  exported = 0;
  export(spans: ReadableSpan[], done: (result: { code: ExportResultCode }) => void): void {
    this.exported += spans.length;
    done({ code: ExportResultCode.SUCCESS });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const droppingMetricExporter: PushMetricExporter = {
  export: (_metrics, done) => done({ code: ExportResultCode.SUCCESS }),
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
  selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
};

/**
 * `clock: 'none'` leaves out the work that a clock drives rather than calls (a metric collection every 10 s,
 * a span batch every 5 s however few it holds): under valgrind, where a call takes fifty times as long, it
 * would land on a call fifty times as often. Spans are then exported in full batches of 512, as they are
 * under load at full speed.
 */
export function tracedServiceSdk(clock: 'wall' | 'none' = 'wall') {
  const hour = 3_600_000;
  const spanExporter = new DroppingSpanExporter();
  const tracerProvider = new TracerProvider({
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: spanExporter,
        ...(clock === 'none' ? { scheduledDelayMillis: hour } : {}),
      }),
    ],
  });
  const meterProvider = new MeterProvider({
    readers: [
      new PeriodicExportingMetricReader({
        exporter: droppingMetricExporter,
        exportIntervalMillis: clock === 'none' ? hour : 10_000,
      }),
    ],
  });
  return {
    tracerProvider,
    meterProvider,
    spanExporter,
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}
