/**
 * resilient-chat/otel against a real OTLP/HTTP receiver on loopback: the exporters the SDK really uses send
 * the chat span (with its retry event) and the metrics, cumulative, and nothing secret.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createResilientChat, InvalidOptionError } from '../../src/index.js';
import { startTelemetry } from '../../src/otel/index.js';
import { startMockOpenAI } from '../../src/testing/index.js';
import { TEST_API_KEY } from '../support/clients.js';

interface Received {
  path: string;
  contentType: string | undefined;
  body: unknown;
}

const received: Received[] = [];
const receiver = createServer(async (req: IncomingMessage, res) => {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  const text = Buffer.concat(parts).toString('utf8');
  received.push({ path: req.url ?? '', contentType: req.headers['content-type'], body: JSON.parse(text) });
  res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
});

beforeAll(async () => {
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  delete process.env.OTEL_SERVICE_NAME;
});

afterAll(async () => {
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  await new Promise((resolve) => receiver.close(resolve));
});

type AnyValue = {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  arrayValue?: unknown;
};
type KeyValue = { key: string; value: AnyValue };
const attr = (list: KeyValue[] | undefined, key: string) => list?.find((a) => a.key === key)?.value;

test('traces and cumulative metrics reach an OTLP/HTTP receiver, and shutdown flushes them', async () => {
  expect(() => startTelemetry({ serviceName: '' })).toThrow(InvalidOptionError);
  const telemetry = startTelemetry({ serviceName: 'otel-test-service', metricExportIntervalMs: 60_000 });
  const server = await startMockOpenAI({ script: [{ type: 'status', status: 503 }] });
  const chat = createResilientChat({
    clients: new OpenAI({ apiKey: TEST_API_KEY, baseURL: server.url }),
    retry: { baseDelayMs: 1 },
    logger: false,
  });

  await chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
  await telemetry.shutdown();
  await server.close();

  const traces = received.filter((r) => r.path === '/v1/traces');
  const metrics = received.filter((r) => r.path === '/v1/metrics');
  expect(traces.length).toBeGreaterThan(0);
  expect(metrics.length).toBeGreaterThan(0);
  expect(traces[0]?.contentType).toContain('application/json');

  type Span = {
    name: string;
    kind: number;
    attributes: KeyValue[];
    events: { name: string; attributes: KeyValue[] }[];
  };
  const resourceSpans = traces.flatMap(
    (t) =>
      (
        t.body as {
          resourceSpans: { resource: { attributes: KeyValue[] }; scopeSpans: { spans: Span[] }[] }[];
        }
      ).resourceSpans,
  );
  expect(attr(resourceSpans[0]?.resource.attributes, 'service.name')?.stringValue).toBe('otel-test-service');
  const spans = resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
  const span = spans.find((s) => s.name === 'chat gpt-4o-mini');
  expect(span?.kind).toBe(3); // CLIENT in OTLP's numbering
  expect(attr(span?.attributes, 'gen_ai.provider.name')?.stringValue).toBe('openai');
  expect(Number(attr(span?.attributes, 'resilient_chat.attempts')?.intValue)).toBe(2);
  const retry = span?.events.find((e) => e.name === 'resilient_chat.retry');
  expect(attr(retry?.attributes, 'resilient_chat.retry.reason')?.stringValue).toBe('server_error');
  expect(attr(retry?.attributes, 'error.type')?.stringValue).toBe('InternalServerError');

  type Metric = {
    name: string;
    unit: string;
    sum?: { aggregationTemporality: number };
    histogram?: { aggregationTemporality: number };
  };
  const exported = metrics.flatMap((m) =>
    (m.body as { resourceMetrics: { scopeMetrics: { metrics: Metric[] }[] }[] }).resourceMetrics.flatMap(
      (r) => r.scopeMetrics.flatMap((s) => s.metrics),
    ),
  );
  const retries = exported.find((m) => m.name === 'resilient_chat.retries');
  const duration = exported.find((m) => m.name === 'gen_ai.client.operation.duration');
  expect(retries?.unit).toBe('{retry}');
  expect(retries?.sum?.aggregationTemporality).toBe(2); // CUMULATIVE
  expect(duration?.histogram?.aggregationTemporality).toBe(2);

  expect(JSON.stringify(received)).not.toContain(TEST_API_KEY);
});
