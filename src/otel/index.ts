/**
 * resilient-chat/otel: one call that starts OpenTelemetry for a service that has none yet (and for the demo).
 *
 * Everything an operator sets through the standard OTEL_* environment variables is obeyed, because the SDK is
 * sdk-node's `NodeSDK` left to configure itself from the environment rather than given exporters we pick
 * (NodeSDK rather than the newer `startNodeSdk`, which only 0.301+ has with these semantics; NodeSDK behaves the
 * same on the 0.2xx line of @opentelemetry/api 1.9 and on 0.30x):
 * OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER (otlp, console, none),
 * OTEL_EXPORTER_OTLP_PROTOCOL and its per-signal variants (http/protobuf by default, http/json, grpc), the
 * endpoints and headers, OTEL_METRIC_EXPORT_INTERVAL, OTEL_PROPAGATORS, the samplers and limits.
 * What we add: our service name and version as the lowest-priority resource attributes (OTEL_SERVICE_NAME and
 * OTEL_RESOURCE_ATTRIBUTES win), the undici instrumentation so every HTTP attempt is a child span that sends
 * `traceparent`, and a flush on SIGTERM, SIGINT and beforeExit.
 *
 * The SDK is not a dependency of resilient-chat: install @opentelemetry/sdk-node (and, unless `instrumentFetch`
 * is false, @opentelemetry/instrumentation-undici) to use this entry point. See optional-package.ts for why.
 */
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { UndiciInstrumentationConfig } from '@opentelemetry/instrumentation-undici';
import type { Resource } from '@opentelemetry/resources';
import type { NodeSDK, NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import { InvalidOptionError } from '../errors.js';
import { httpAttemptAttributes } from '../telemetry/http-attempts.js';
import { EXIT_SIGNALS, flushOnExit } from './flush-on-exit.js';
import { packageLoader } from './optional-package.js';

export { httpAttemptAttributes } from '../telemetry/http-attempts.js';
export { MissingPackageError } from './missing-package-error.js';

export interface StartTelemetryOptions {
  /** `service.name`, unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES set one (the operator's wins). */
  serviceName: string;
  /** `service.version`, unless OTEL_RESOURCE_ATTRIBUTES sets one. */
  serviceVersion?: string;
  /**
   * Registers @opentelemetry/instrumentation-undici, which traces both Node's global fetch and npm undici's
   * (ClientPool's): each HTTP attempt becomes a child span of the chat span and carries `traceparent` to the
   * server; each retried attempt's span carries `http.request.resend_count` and the retry's reason. Default
   * true; set false when the service registers it itself (auto-instrumentations-node does), and give that one
   * `startSpanHook: () => httpAttemptAttributes()`.
   */
  instrumentFetch?: boolean;
  /** Flush and shut down on SIGTERM and SIGINT (then exit as the signal would have). Default true. */
  shutdownOnSignals?: boolean;
}

export interface Telemetry {
  /** Flushes every pending span and metric point, then stops the SDK. Safe to call more than once. */
  shutdown(): Promise<void>;
}

const NEEDED_FOR = 'resilient-chat/otel (startTelemetry)';

type SdkNode = { NodeSDK: new (configuration: Partial<NodeSDKConfiguration>) => NodeSDK };
type Detector = { detect(config?: unknown): { attributes?: Record<string, unknown> } };
type Resources = {
  defaultResource(): Resource;
  resourceFromAttributes(attributes: Record<string, string>): Resource;
  envDetector: Detector;
  hostDetector: Detector;
  osDetector: Detector;
  processDetector: Detector;
  serviceInstanceIdDetector: Detector;
};

/**
 * sdk-node's default detectors, with the process detector's command line left out: a key passed on the
 * command line (`--api-key sk-...`) would otherwise ride on every span and metric. OTEL_NODE_RESOURCE_DETECTORS,
 * when set, is sdk-node's to apply as it stands.
 */
function defaultDetectors(resources: Resources): Detector[] {
  const processWithoutCommandLine: Detector = {
    detect(config) {
      const detected = resources.processDetector.detect(config);
      const {
        'process.command_args': _args,
        'process.command_line': _line,
        'process.command': _command,
        ...attributes
      } = detected.attributes ?? {};
      return { ...detected, attributes };
    },
  };
  return [
    resources.serviceInstanceIdDetector,
    processWithoutCommandLine,
    resources.hostDetector,
    resources.osDetector,
    resources.envDetector,
  ];
}
type Core = { getBooleanFromEnv(name: string): boolean };
type UndiciModule = {
  UndiciInstrumentation: new (config: UndiciInstrumentationConfig) => Instrumentation;
};

/**
 * Starts OpenTelemetry for a service that has none yet: sdk-node with OTLP export of traces and metrics, the
 * undici (fetch) instrumentation so each attempt is an HTTP span carrying `traceparent`, and a flush on
 * SIGTERM, SIGINT and `beforeExit`. The OTEL_* variables win over these defaults (OTEL_SDK_DISABLED,
 * OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER, OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_METRIC_EXPORT_INTERVAL...). Call it once, before the first request; a
 * second call while it runs returns the same handle (with other options it throws, as they would not apply),
 * and after `shutdown()` it starts anew.
 * Throws MissingPackageError naming the package to install when an SDK package is missing.
 *
 * @example
 * import { startTelemetry } from 'resilient-chat/otel';
 * const telemetry = startTelemetry({ serviceName: 'my-service' });
 * // ... at exit: await telemetry.shutdown();
 */
export function startTelemetry(options: StartTelemetryOptions): Telemetry {
  if (typeof options?.serviceName !== 'string' || options.serviceName === '') {
    throw new InvalidOptionError('serviceName', 'a non-empty string', options?.serviceName);
  }
  const { serviceVersion } = options;
  if (serviceVersion !== undefined && (typeof serviceVersion !== 'string' || serviceVersion === '')) {
    throw new InvalidOptionError('serviceVersion', 'a non-empty string', serviceVersion);
  }
  for (const name of ['instrumentFetch', 'shutdownOnSignals'] as const) {
    const value = options[name];
    if (value !== undefined && typeof value !== 'boolean') {
      throw new InvalidOptionError(name, 'true or false', value);
    }
  }

  const started = running();
  const settings = JSON.stringify([
    options.serviceName,
    serviceVersion,
    options.instrumentFetch !== false,
    options.shutdownOnSignals !== false,
  ]);
  if (started) {
    if (started.settings === settings) return started.telemetry;
    throw new InvalidOptionError(
      differingOption(started.settings, settings),
      `the running one's, or shutdown() on the first before starting again`,
      undefined,
      `differs from that of the startTelemetry() already started (serviceName ${JSON.stringify(
        started.serviceName,
      )}): a second SDK would trace every request twice`,
    );
  }

  const packages = packageLoader();
  const { NodeSDK } = packages.load<SdkNode>('@opentelemetry/sdk-node', NEEDED_FOR);
  // The copies sdk-node itself uses: the base resource must be of the class it merges with, and the
  // environment is read by the same rules.
  const sdkPackages = packages.within('@opentelemetry/sdk-node');
  const resources = sdkPackages.load<Resources>('@opentelemetry/resources', NEEDED_FOR);
  const { getBooleanFromEnv } = sdkPackages.load<Core>('@opentelemetry/core', NEEDED_FOR);
  const instrumentations: Instrumentation[] = [];
  // A disabled SDK starts nothing; the instrumentation would still hook fetch from its constructor on.
  if (options.instrumentFetch !== false && !getBooleanFromEnv('OTEL_SDK_DISABLED')) {
    const { UndiciInstrumentation } = packages.load<UndiciModule>(
      '@opentelemetry/instrumentation-undici',
      `${NEEDED_FOR}, to trace HTTP attempts and propagate traceparent (opt out with instrumentFetch: false),`,
    );
    // Each attempt's HTTP span says which attempt it is; every one after the first is a resend.
    instrumentations.push(new UndiciInstrumentation({ startSpanHook: () => httpAttemptAttributes() }));
  }

  const defaults: Record<string, string> = { 'service.name': options.serviceName };
  if (serviceVersion) defaults['service.version'] = serviceVersion;
  const sdk = new NodeSDK({
    // The resource given is the base: the detectors, OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES among
    // them, are merged over it (NodeSDK's `serviceName` option would override the environment instead).
    resource: resources.defaultResource().merge(resources.resourceFromAttributes(defaults)),
    ...(process.env.OTEL_NODE_RESOURCE_DETECTORS ? {} : { resourceDetectors: defaultDetectors(resources) }),
    instrumentations,
  });
  sdk.start();

  let stopping: Promise<void> | undefined;
  const shutdown = () => {
    removeHooks();
    if (running()?.telemetry === telemetry) setRunning(undefined);
    stopping ??= sdk.shutdown();
    return stopping;
  };
  const removeHooks = flushOnExit(shutdown, options.shutdownOnSignals === false ? [] : EXIT_SIGNALS);
  const telemetry: Telemetry = { shutdown };
  setRunning({ telemetry, settings, serviceName: options.serviceName });
  return telemetry;
}

/** The option of `startTelemetry` whose value differs between two calls' settings (see `settings` above). */
function differingOption(before: string, now: string): string {
  const names = ['serviceName', 'serviceVersion', 'instrumentFetch', 'shutdownOnSignals'];
  try {
    const [a, b] = [JSON.parse(before), JSON.parse(now)] as unknown[][];
    const index = names.findIndex((_, i) => JSON.stringify(a?.[i]) !== JSON.stringify(b?.[i]));
    return names[index] ?? 'startTelemetry options';
  } catch {
    return 'startTelemetry options'; // started by another copy of the package, with settings of its own
  }
}

interface Running {
  telemetry: Telemetry;
  /** The options it was started with, as compared with a later call's. */
  settings: string;
  serviceName: string;
}

/**
 * The telemetry this process started and has not shut down. Kept on the global object under a registered
 * symbol, like the OpenTelemetry API keeps its globals, so two copies of this module (two installed versions)
 * still start one SDK: a second NodeSDK and undici instrumentation would send every request two traceparents
 * in one header and install a second set of exit hooks.
 */
const RUNNING = Symbol.for('resilient-chat.otel.startTelemetry');
const running = () => (globalThis as { [RUNNING]?: Running })[RUNNING];
function setRunning(value: Running | undefined): void {
  (globalThis as { [RUNNING]?: Running })[RUNNING] = value;
}
