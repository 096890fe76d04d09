/**
 * Propagation with startTelemetry alone: each HTTP attempt is a child span of the chat span (undici's
 * instrumentation, registered by default), and the server receives a `traceparent` whose parent id is that
 * attempt's span. Both fetches a service meets: Node's global fetch (a plain openai client) and npm undici's
 * fetch (ClientPool's transport).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ClientPool, createResilientChat } from '../../src/index.js';
import { startTelemetry, type Telemetry } from '../../src/otel/index.js';
import { type MockOpenAI, startMockOpenAI } from '../../src/testing/index.js';
import { TEST_API_KEY } from '../support/clients.js';
import { type OtlpReceiver, type OtlpSpan, spansOf, startOtlpReceiver } from '../support/otlp-receiver.js';

let receiver: OtlpReceiver;
let telemetry: Telemetry;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  process.env.OTEL_METRICS_EXPORTER = 'none';
  process.env.OTEL_LOGS_EXPORTER = 'none';
  // Spans go out soon after they end, so the test waits on their arrival rather than on a shutdown.
  process.env.OTEL_BSP_SCHEDULE_DELAY = '50';
  telemetry = startTelemetry({ serviceName: 'propagation-test', shutdownOnSignals: false });
});

afterAll(async () => {
  await telemetry.shutdown();
  await receiver.close();
});

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

/** Two attempts (a 503, then an answer) through `clients`; returns the traceparent each request carried. */
async function callTwice(server: MockOpenAI, clients: OpenAI | ClientPool, model: string) {
  const chat = createResilientChat({ clients, retry: { baseDelayMs: 1 }, logger: false });
  await chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
  return server.requests.map((r) => String(r.headers.traceparent));
}

/** Waits for the chat span of `model` and the spans the traceparents name, all exported over OTLP. */
async function exportedTree(model: string, traceparents: string[]) {
  const ids = traceparents.map((t) => TRACEPARENT.exec(t)?.[2]);
  const find = (match: (s: OtlpSpan) => boolean) =>
    receiver.waitFor((e) => spansOf([e]).some(match)).then((e) => spansOf([e]).find(match) as OtlpSpan);
  const chatSpan = await find((s) => s.name === `chat ${model}`);
  const httpSpans = await Promise.all(ids.map((id) => find((s) => s.spanId === id)));
  return { chatSpan, httpSpans };
}

function expectAttemptTree(traceparents: string[], chatSpan: OtlpSpan, httpSpans: OtlpSpan[]) {
  expect(traceparents).toHaveLength(2);
  for (const [i, header] of traceparents.entries()) {
    const [, traceId, parentId] = TRACEPARENT.exec(header) ?? [];
    const http = httpSpans[i];
    expect(traceId).toBe(chatSpan.traceId);
    // The header's parent is the attempt's HTTP span, itself a CLIENT child of the logical chat span.
    expect(http?.spanId).toBe(parentId);
    expect(http?.parentSpanId).toBe(chatSpan.spanId);
    expect(http?.kind).toBe(3);
    expect(http?.name).toBe('POST');
  }
  expect(httpSpans[0]?.spanId).not.toBe(httpSpans[1]?.spanId);
}

test("Node's global fetch: one HTTP span per attempt, each sending its own traceparent", async () => {
  const server = await startMockOpenAI({ script: [{ type: 'status', status: 503 }] });
  const client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: server.url });
  const traceparents = await callTwice(server, client, 'model-global-fetch');
  await server.close();
  const { chatSpan, httpSpans } = await exportedTree('model-global-fetch', traceparents);
  expectAttemptTree(traceparents, chatSpan, httpSpans);
});

test("npm undici's fetch (ClientPool's transport): the same tree", async () => {
  const server = await startMockOpenAI({ script: [{ type: 'status', status: 503 }] });
  const pool = new ClientPool({
    create: (_key, transport) => new OpenAI({ apiKey: TEST_API_KEY, baseURL: server.url, ...transport }),
  });
  const traceparents = await callTwice(server, pool, 'model-pool-fetch');
  await pool.close();
  await server.close();
  const { chatSpan, httpSpans } = await exportedTree('model-pool-fetch', traceparents);
  expectAttemptTree(traceparents, chatSpan, httpSpans);
});
