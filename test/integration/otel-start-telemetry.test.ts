/**
 * resilient-chat/otel by the OpenTelemetry environment rules, against a real OTLP/HTTP receiver on loopback
 * that decodes protobuf with the official definitions. Each case runs a small traced service as its own
 * process (test/support/traced-service.ts): the SDK's globals, signals and beforeExit belong to a process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { InvalidOptionError } from '../../src/index.js';
import { MissingPackageError, startTelemetry } from '../../src/otel/index.js';
import { packageLoader } from '../../src/otel/optional-package.js';
import { TEST_API_KEY } from '../support/clients.js';
import {
  attr,
  metricsOf,
  type OtlpExport,
  type OtlpReceiver,
  resourceAttributes,
  spansOf,
  startOtlpReceiver,
} from '../support/otlp-receiver.js';

const service = fileURLToPath(new URL('../support/traced-service.ts', import.meta.url));
let receiver: OtlpReceiver;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(() => receiver.close());

interface Run {
  child: ChildProcess;
  stdout: string;
  /** Exports this run sent (each run has its own service.instance.id). */
  exports(): OtlpExport[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the service with only the given OTEL_* variables (plus the endpoint) and waits for its call. */
async function runService(
  env: Record<string, string>,
  mode: 'wait' | 'exit',
  options = {},
  args: string[] = [],
): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));
  const child = spawn(process.execPath, ['--import', 'tsx', service, mode, ...args], {
    env: {
      ...clean,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      TRACED_SERVICE_OPTIONS: JSON.stringify(options),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Run = {
    child,
    stdout: '',
    exports: () => receiver.exports.filter((e) => instanceOf(e) === pid(run)),
    exited: once(child, 'exit').then(([code, signal]) => ({ code, signal })),
  };
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  child.stdout?.on('data', (d) => {
    run.stdout += d;
  });
  const called = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', () => {
      if (run.stdout.includes('called\n')) resolve();
    });
    void run.exited.then(() => reject(new Error(`service ended before its call:\n${run.stdout}\n${stderr}`)));
  });
  await called;
  return run;
}

const instanceOf = (e: OtlpExport) => attr(resourceAttributes(e), 'process.pid')?.intValue?.toString();
const pid = (run: Run) => run.child.pid?.toString();

describe('startTelemetry', () => {
  test('the command line never leaves the process: a key passed as an argument is in no resource', async () => {
    const secret = 'sk-cmdline-SECRET-0123';
    const run = await runService({}, 'exit', {}, [`--api-key=${secret}`]);
    await run.exited;
    const sent = run.exports();
    expect(sent.length).toBeGreaterThan(0);
    expect(JSON.stringify(sent)).not.toContain(secret);
    expect(attr(resourceAttributes(sent[0]), 'process.command_args')).toBeUndefined();
    expect(attr(resourceAttributes(sent[0]), 'process.pid')).toBeDefined(); // the rest of the process is kept
  });

  test('rejects bad options before touching the SDK', () => {
    expect(() => startTelemetry({ serviceName: '' })).toThrow(InvalidOptionError);
    expect(() => startTelemetry({ serviceName: 's', instrumentFetch: 'yes' as never })).toThrow(
      /`instrumentFetch`/,
    );
    expect(() => startTelemetry({ serviceName: 's', serviceVersion: 3 as never })).toThrow(
      /`serviceVersion`/,
    );
  });

  test('defaults: http/protobuf traces and cumulative metrics, the code service name; SIGTERM flushes, then the process ends by SIGTERM', async () => {
    const run = await runService({}, 'wait');
    run.child.kill('SIGTERM');
    const { signal } = await run.exited;
    expect(signal).toBe('SIGTERM');

    const sent = run.exports();
    const traces = sent.filter((e) => e.path === '/v1/traces');
    const metrics = sent.filter((e) => e.path === '/v1/metrics');
    expect(traces.length).toBeGreaterThan(0);
    expect(metrics.length).toBeGreaterThan(0);
    expect(sent.every((e) => e.protocol === 'http/protobuf')).toBe(true);
    expect(attr(resourceAttributes(traces[0]), 'service.name')?.stringValue).toBe('code-service');
    expect(attr(resourceAttributes(traces[0]), 'service.version')?.stringValue).toBe('1.2.3');

    const span = spansOf(traces).find((s) => s.name === 'chat gpt-4o-mini');
    expect(span?.kind).toBe(3); // CLIENT in OTLP's numbering
    expect(attr(span?.attributes, 'gen_ai.provider.name')?.stringValue).toBe('openai');
    expect(Number(attr(span?.attributes, 'resilient_chat.attempts')?.intValue)).toBe(2);
    const retry = span?.events?.find((e) => e.name === 'resilient_chat.retry');
    expect(attr(retry?.attributes, 'resilient_chat.retry.reason')?.stringValue).toBe('server_error');
    // The undici instrumentation is on by default: one HTTP child span per attempt.
    const attempts = spansOf(traces).filter((s) => s.parentSpanId === span?.spanId && s.name === 'POST');
    expect(attempts).toHaveLength(2);

    const exported = metricsOf(metrics);
    const retries = exported.find((m) => m.name === 'resilient_chat.retries');
    const duration = exported.find((m) => m.name === 'gen_ai.client.operation.duration');
    expect(retries?.unit).toBe('{retry}');
    expect(retries?.sum?.aggregationTemporality).toBe(2); // CUMULATIVE, which Prometheus keeps
    expect(duration?.histogram?.aggregationTemporality).toBe(2);
    expect(JSON.stringify(sent)).not.toContain(TEST_API_KEY);
  });

  test('OTEL_SERVICE_NAME beats OTEL_RESOURCE_ATTRIBUTES and the code; OTEL_TRACES_EXPORTER=none; OTEL_METRIC_EXPORT_INTERVAL; per-signal metrics protocol; SIGINT flushes', async () => {
    const run = await runService(
      {
        OTEL_SERVICE_NAME: 'env-service',
        OTEL_RESOURCE_ATTRIBUTES: 'service.name=attr-service,deployment.environment.name=test',
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_METRIC_EXPORT_INTERVAL: '200',
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json',
      },
      'wait',
    );
    // A periodic export arrives while the service is still up: the interval is the operator's.
    const periodic = await receiver.waitFor((e) => e.path === '/v1/metrics' && instanceOf(e) === pid(run));
    expect(run.child.exitCode).toBe(null);
    run.child.kill('SIGINT');
    expect((await run.exited).signal).toBe('SIGINT');

    expect(periodic.protocol).toBe('http/json');
    expect(attr(resourceAttributes(periodic), 'service.name')?.stringValue).toBe('env-service');
    expect(attr(resourceAttributes(periodic), 'deployment.environment.name')?.stringValue).toBe('test');
    expect(run.exports().filter((e) => e.path === '/v1/traces')).toEqual([]);
  });

  test('OTEL_RESOURCE_ATTRIBUTES beats the code; per-signal http/json; OTEL_METRICS_EXPORTER=none; beforeExit flushes; instrumentFetch: false', async () => {
    const run = await runService(
      {
        OTEL_RESOURCE_ATTRIBUTES: 'service.name=attr-service,service.version=9.9.9',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        OTEL_METRICS_EXPORTER: 'none',
      },
      'exit',
      { instrumentFetch: false },
    );
    expect((await run.exited).code).toBe(0);
    const sent = run.exports();
    expect(sent.map((e) => `${e.path} ${e.protocol}`)).toEqual(
      expect.arrayContaining(['/v1/traces http/json']),
    );
    expect(sent.filter((e) => e.path === '/v1/metrics')).toEqual([]);
    expect(attr(resourceAttributes(sent[0]), 'service.name')?.stringValue).toBe('attr-service');
    expect(attr(resourceAttributes(sent[0]), 'service.version')?.stringValue).toBe('9.9.9');
    expect(spansOf(sent).map((s) => s.name)).toEqual(['chat gpt-4o-mini']);
  });

  test('OTEL_EXPORTER_OTLP_PROTOCOL=http/json for both signals; console writes spans to stdout beside OTLP', async () => {
    const run = await runService(
      { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_TRACES_EXPORTER: 'console,otlp' },
      'exit',
    );
    await run.exited;
    const sent = run.exports();
    expect(new Set(sent.map((e) => `${e.path} ${e.protocol}`))).toEqual(
      new Set(['/v1/traces http/json', '/v1/metrics http/json']),
    );
    expect(run.stdout).toContain("name: 'chat gpt-4o-mini'");
  });

  test('OTEL_SDK_DISABLED=true: nothing is sent, and the service still works', async () => {
    const before = receiver.exports.length;
    const run = await runService({ OTEL_SDK_DISABLED: 'true' }, 'exit');
    expect((await run.exited).code).toBe(0);
    expect(receiver.exports.length).toBe(before);
  });

  test('shutdownOnSignals: false leaves SIGTERM to the service (Node default: it ends, nothing flushed)', async () => {
    const run = await runService({}, 'wait', { shutdownOnSignals: false });
    run.child.kill('SIGTERM');
    expect((await run.exited).signal).toBe('SIGTERM');
    expect(run.exports().filter((e) => e.path === '/v1/traces')).toEqual([]);
  });
});

test('a missing SDK package is named, with the command that installs it', () => {
  // Resolution from a directory with no node_modules, as in a service that has not installed the SDK.
  const loader = packageLoader(createRequire(join(tmpdir(), 'no-such-service', 'index.js')));
  expect(() => loader.load('@opentelemetry/sdk-node', 'resilient-chat/otel (startTelemetry)')).toThrow(
    new MissingPackageError('@opentelemetry/sdk-node', 'resilient-chat/otel (startTelemetry)', undefined)
      .message,
  );
  let thrown: unknown;
  try {
    loader.load('@opentelemetry/instrumentation-undici', 'x');
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(MissingPackageError);
  expect((thrown as MissingPackageError).packageName).toBe('@opentelemetry/instrumentation-undici');
  expect((thrown as Error).message).toContain('npm install @opentelemetry/instrumentation-undici');
});
