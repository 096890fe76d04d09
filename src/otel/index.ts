/**
 * resilient-chat/otel: one call that starts OpenTelemetry for a service that has none yet (and for the demo):
 * the Node SDK with OTLP/HTTP export of traces and of metrics. Metrics are exported with cumulative
 * temporality, because Prometheus drops delta series arriving over OTLP.
 *
 * The standard environment variables apply: OTEL_EXPORTER_OTLP_ENDPOINT (and the per-signal variants and
 * headers) for where to send, OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES for the resource,
 * OTEL_METRIC_EXPORT_INTERVAL for how often metrics go out.
 *
 * The SDK packages are optional peer dependencies: install @opentelemetry/sdk-node, sdk-trace, sdk-metrics,
 * exporter-trace-otlp-http and exporter-metrics-otlp-http to use this entry point.
 */
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { AggregationTemporality, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { startNodeSdk } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import { InvalidOptionError } from '../errors.js';

export interface StartTelemetryOptions {
  /** `service.name`, unless OTEL_SERVICE_NAME is set (the environment wins, as operators expect). */
  serviceName: string;
  /** `service.version`, when given. */
  serviceVersion?: string;
  /** How often metrics are exported, in ms. Default: OTEL_METRIC_EXPORT_INTERVAL, else 60000. */
  metricExportIntervalMs?: number;
}

export interface Telemetry {
  /** Flushes every pending span and metric point, then stops the SDK. */
  shutdown(): Promise<void>;
}

export function startTelemetry(options: StartTelemetryOptions): Telemetry {
  if (typeof options?.serviceName !== 'string' || options.serviceName === '') {
    throw new InvalidOptionError('serviceName', 'a non-empty string', options?.serviceName);
  }
  const interval =
    options.metricExportIntervalMs ?? Number(process.env.OTEL_METRIC_EXPORT_INTERVAL ?? 60_000);
  if (!Number.isFinite(interval) || interval <= 0) {
    throw new InvalidOptionError('metricExportIntervalMs', 'a number of milliseconds above 0', interval);
  }
  const resourceAttributes: Record<string, string> = {};
  if (!process.env.OTEL_SERVICE_NAME) resourceAttributes['service.name'] = options.serviceName;
  if (options.serviceVersion) resourceAttributes['service.version'] = options.serviceVersion;

  const sdk = startNodeSdk({
    resourceAttributes,
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })],
    metricReaders: [
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ temporalityPreference: AggregationTemporality.CUMULATIVE }),
        exportIntervalMillis: interval,
      }),
    ],
  });
  return { shutdown: () => sdk.shutdown() };
}
