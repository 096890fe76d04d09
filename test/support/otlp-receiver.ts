/**
 * A loopback OTLP/HTTP receiver for tests. Bodies are decoded as the collector would: protobuf with protobufjs
 * against the official OTLP definitions, JSON as JSON. Both come out in the same
 * shape (camelCase fields, ids as lowercase hex, 64-bit integers as strings), so assertions do not care which
 * protocol was used, and `protocol` says which one was.
 */

import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/**
 * The official OTLP .proto files, as OpenTelemetry JS itself shipped them in an npm package (its gRPC exporter
 * loaded them at run time until 0.3x): fetched from the npm registry with `npm pack` and unpacked into .tools/
 * on first use, like the tests' Prometheus. Nothing is installed (the package's old peer ranges do not matter),
 * and no definition is copied into the repository. OTLP is wire-compatible across these versions: newer fields
 * the exporters send are skipped by these definitions, and none is asserted on.
 */
const PROTO_PACKAGE = '@opentelemetry/otlp-grpc-exporter-base@0.34.0';

function otlpProtoRoot(): string {
  const tools = fileURLToPath(new URL('../../.tools/otlp-proto/', import.meta.url));
  if (existsSync(join(tools, 'opentelemetry/proto/collector/trace/v1/trace_service.proto'))) return tools;
  const work = mkdtempSync(join(tmpdir(), 'otlp-proto-'));
  try {
    execFileSync('npm', ['pack', '--silent', PROTO_PACKAGE, '--pack-destination', work], { stdio: 'pipe' });
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack ${PROTO_PACKAGE} left no tarball`);
    execFileSync('tar', ['-xzf', join(work, tarball), '-C', work, 'package/build/protos']);
    mkdirSync(tools, { recursive: true });
    execFileSync('cp', ['-R', `${join(work, 'package/build/protos')}/.`, tools]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return tools;
}

const protoRoot = otlpProtoRoot();
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => `${protoRoot}${target}`;
root.loadSync([
  'opentelemetry/proto/collector/trace/v1/trace_service.proto',
  'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
]);
const requestTypes: Record<string, protobuf.Type> = {
  '/v1/traces': root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
  '/v1/metrics': root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest'),
};

export type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean };
export type KeyValue = { key: string; value: AnyValue };
export type OtlpSpan = {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: KeyValue[];
  events?: { name: string; attributes?: KeyValue[] }[];
};
export type OtlpMetric = {
  name: string;
  unit?: string;
  sum?: { aggregationTemporality: number };
  histogram?: { aggregationTemporality: number };
};
export interface OtlpExport {
  path: string;
  protocol: 'http/protobuf' | 'http/json';
  body: {
    resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[];
    resourceMetrics?: {
      resource?: { attributes?: KeyValue[] };
      scopeMetrics?: { metrics?: OtlpMetric[] }[];
    }[];
  };
}

export interface OtlpReceiver {
  url: string;
  exports: OtlpExport[];
  /** Resolves with the first export (already received or still to come) that `match` accepts. */
  waitFor(match: (e: OtlpExport) => boolean): Promise<OtlpExport>;
  close(): Promise<void>;
}

export const attr = (list: KeyValue[] | undefined, key: string) => list?.find((a) => a.key === key)?.value;

export function spansOf(exports: OtlpExport[]): OtlpSpan[] {
  return exports.flatMap((e) =>
    (e.body.resourceSpans ?? []).flatMap((r) => (r.scopeSpans ?? []).flatMap((s) => s.spans ?? [])),
  );
}

export function metricsOf(exports: OtlpExport[]): OtlpMetric[] {
  return exports.flatMap((e) =>
    (e.body.resourceMetrics ?? []).flatMap((r) => (r.scopeMetrics ?? []).flatMap((s) => s.metrics ?? [])),
  );
}

export function resourceAttributes(e: OtlpExport | undefined): KeyValue[] {
  return (e?.body.resourceSpans?.[0]?.resource ?? e?.body.resourceMetrics?.[0]?.resource)?.attributes ?? [];
}

function decode(path: string, contentType: string, raw: Buffer): OtlpExport {
  if (contentType.startsWith('application/json')) {
    return { path, protocol: 'http/json', body: JSON.parse(raw.toString('utf8')) };
  }
  const type = requestTypes[path];
  if (!contentType.startsWith('application/x-protobuf') || !type) {
    throw new Error(`unexpected OTLP request ${path} (${contentType})`);
  }
  const body = type.toObject(type.decode(raw), { longs: String, enums: Number, bytes: String });
  return { path, protocol: 'http/protobuf', body: hexIds(body) as OtlpExport['body'] };
}

/** OTLP/JSON writes trace and span ids as hex; protobufjs gives base64 for bytes fields. */
function hexIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(hexIds);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    out[key] =
      (key === 'traceId' || key === 'spanId' || key === 'parentSpanId') && typeof field === 'string'
        ? Buffer.from(field, 'base64').toString('hex')
        : hexIds(field);
  }
  return out;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const exports: OtlpExport[] = [];
  const waiters = new Set<{ match: (e: OtlpExport) => boolean; resolve: (e: OtlpExport) => void }>();
  const server = createServer(async (req: IncomingMessage, res) => {
    const parts: Buffer[] = [];
    for await (const part of req) parts.push(part as Buffer);
    const path = req.url ?? '';
    if (path === '/v1/logs') {
      res.writeHead(200).end();
      return;
    }
    const received = decode(path, req.headers['content-type'] ?? '', Buffer.concat(parts));
    exports.push(received);
    for (const waiter of waiters) {
      if (waiter.match(received)) {
        waiters.delete(waiter);
        waiter.resolve(received);
      }
    }
    res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/json' }).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exports,
    waitFor(match) {
      const found = exports.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.add({ match, resolve }));
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
