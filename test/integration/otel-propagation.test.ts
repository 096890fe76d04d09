/**
 * Propagation with startTelemetry alone: each HTTP attempt is a child span of the chat span (undici's
 * instrumentation, registered by default), and the server receives a `traceparent` whose parent id is that
 * attempt's span. Both fetches a service meets: Node's global fetch (a plain openai client) and npm undici's
 * fetch (ClientPool's transport). Every HTTP span of a retried attempt says it is a resend
 * (`http.request.resend_count`) and why (`resilient_chat.retry.reason`, as on the chat span's retry event).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ClientPool, createResilientChat } from '../../src/index.js';
import { startTelemetry, type Telemetry } from '../../src/otel/index.js';
import { type MockOpenAI, startMockOpenAI } from '../../src/testing/index.js';
import { TEST_API_KEY } from '../support/clients.js';
import {
  attr,
  type OtlpReceiver,
  type OtlpSpan,
  spansOf,
  startOtlpReceiver,
} from '../support/otlp-receiver.js';

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
  expectResends(chatSpan, httpSpans, ['server_error']);
}

/** The HTTP attempt spans in order: the first is no resend; each later one is resend n, for the reason given. */
function expectResends(chatSpan: OtlpSpan, httpSpans: OtlpSpan[], reasons: string[]) {
  expect(httpSpans).toHaveLength(reasons.length + 1);
  const retryEvents = (chatSpan.events ?? []).filter((e) => e.name === 'resilient_chat.retry');
  for (const [i, http] of httpSpans.entries()) {
    const tags = http.attributes;
    expect(attr(tags, 'resilient_chat.attempt')?.intValue).toBe(String(i + 1));
    if (i === 0) {
      expect(attr(tags, 'http.request.resend_count')).toBeUndefined();
      expect(attr(tags, 'resilient_chat.retry.reason')).toBeUndefined();
      continue;
    }
    expect(attr(tags, 'http.request.resend_count')?.intValue).toBe(String(i));
    const reason = attr(tags, 'resilient_chat.retry.reason')?.stringValue;
    expect(reason).toBe(reasons[i - 1]);
    // The same reason as the retry event after the attempt before, so a trace view links the two.
    const event = retryEvents.find(
      (e) => attr(e.attributes, 'resilient_chat.attempt')?.intValue === String(i),
    );
    expect(attr(event?.attributes, 'resilient_chat.retry.reason')?.stringValue).toBe(reason);
  }
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

test('three attempts: resend 1 and 2, each with its reason; an HTTP request the source makes is no attempt', async () => {
  const server = await startMockOpenAI({
    script: [
      { type: 'status', status: 503 },
      { type: 'status', status: 429, headers: { 'retry-after-ms': '1' } },
    ],
  });
  const discovery = await startMockOpenAI();
  const client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: server.url });
  const chat = createResilientChat({
    // A source that looks something up over HTTP before each attempt (runs in the call's context).
    clients: async () => {
      await fetch(`${discovery.url}/models`);
      return client;
    },
    retry: { baseDelayMs: 1 },
    logger: false,
  });
  const model = 'model-three-attempts';
  await chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
  const traceparents = server.requests.map((r) => String(r.headers.traceparent));
  const lookups = discovery.requests.map((r) => TRACEPARENT.exec(String(r.headers.traceparent))?.[2]);
  await server.close();
  await discovery.close();

  const { chatSpan, httpSpans } = await exportedTree(model, traceparents);
  expectResends(chatSpan, httpSpans, ['server_error', 'rate_limited']);
  expect(lookups).toHaveLength(3);
  const { httpSpans: lookupSpans } = await exportedTree(
    model,
    lookups.map((id) => `00-${chatSpan.traceId}-${id}-01`),
  );
  for (const lookup of lookupSpans) {
    expect(lookup.name).toBe('GET');
    expect(attr(lookup.attributes, 'http.request.resend_count')).toBeUndefined();
    expect(attr(lookup.attributes, 'resilient_chat.attempt')).toBeUndefined();
  }
});
