/**
 * OTLP export for the demo when OTEL_EXPORTER_OTLP_ENDPOINT is set: traces through the global tracer
 * provider, and one metric reader per demo mode (cumulative, as Prometheus wants).
 */
import { trace } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { Resource } from '@opentelemetry/resources';
import { AggregationTemporality, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

export interface DemoTelemetry {
  endpoint: string;
  metricReader(instance: string): PeriodicExportingMetricReader;
  shutdown(): Promise<void>;
}

/** `resource` names the demo's traces (the metric providers carry their own). */
export async function startDemoTelemetry(resource?: Resource): Promise<DemoTelemetry | undefined> {
  const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return undefined;
  process.env.OTEL_SERVICE_NAME ??= 'resilient-chat-demo';
  const tracerProvider = new TracerProvider({
    ...(resource ? { resource } : {}),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })],
  });
  trace.setGlobalTracerProvider(tracerProvider);
  const readers: PeriodicExportingMetricReader[] = [];
  return {
    endpoint,
    metricReader(_instance) {
      const reader = new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ temporalityPreference: AggregationTemporality.CUMULATIVE }),
        exportIntervalMillis: 5_000,
      });
      readers.push(reader);
      return reader;
    },
    async shutdown() {
      await Promise.allSettled([tracerProvider.shutdown(), ...readers.map((r) => r.shutdown())]);
    },
  };
}
