/**
 * startTelemetry called a second time (a service's bootstrap and a library both calling it, a hot reload):
 * one SDK, one undici instrumentation, one set of exit hooks. Two would send every request with two
 * traceparents in one header (`00-T-A-01, 00-T-B-01`, which no server can parse) and flush twice at exit.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createResilientChat, InvalidOptionError } from '../../src/index.js';
import { startTelemetry, type Telemetry } from '../../src/otel/index.js';
import { startMockOpenAI } from '../../src/testing/index.js';
import { TEST_API_KEY } from '../support/clients.js';
import { type OtlpReceiver, startOtlpReceiver } from '../support/otlp-receiver.js';

let receiver: OtlpReceiver;
const handles: Telemetry[] = [];
const exitListeners = () => ({
  SIGTERM: process.listenerCount('SIGTERM'),
  SIGINT: process.listenerCount('SIGINT'),
  beforeExit: process.listenerCount('beforeExit'),
});

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  process.env.OTEL_METRICS_EXPORTER = 'none';
  process.env.OTEL_LOGS_EXPORTER = 'none';
});

afterAll(async () => {
  await Promise.all(handles.map((h) => h.shutdown()));
  await receiver.close();
});

test('a second call returns the running telemetry: one traceparent per request, one set of exit hooks', async () => {
  const before = exitListeners();
  const first = startTelemetry({ serviceName: 'twice-test' });
  handles.push(first);
  const afterFirst = exitListeners();
  const second = startTelemetry({ serviceName: 'twice-test' });
  handles.push(second);

  expect(second).toBe(first);
  expect(exitListeners()).toEqual(afterFirst);
  expect(afterFirst.SIGTERM).toBe(before.SIGTERM + 1);

  const server = await startMockOpenAI();
  const chat = createResilientChat({
    clients: new OpenAI({ apiKey: TEST_API_KEY, baseURL: server.url }),
    logger: false,
  });
  await chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  await server.close();
  expect(server.requests.map((r) => r.headers.traceparent)).toEqual([
    expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/),
  ]);
});

test('other options while it runs are refused, saying how to restart; after shutdown() it starts anew', async () => {
  const running = startTelemetry({ serviceName: 'twice-test' });
  expect(() => startTelemetry({ serviceName: 'another-name' })).toThrow(
    /already started .*twice-test.*shutdown\(\)/,
  );
  // An error of ours, with its code, naming the option that differs.
  const refusal = (() => {
    try {
      startTelemetry({ serviceName: 'twice-test', instrumentFetch: false });
    } catch (error) {
      return error;
    }
  })();
  expect(refusal).toBeInstanceOf(InvalidOptionError);
  expect(refusal).toMatchObject({ code: 'RESILIENT_CHAT_INVALID_OPTION', option: 'instrumentFetch' });
  await running.shutdown();
  const restarted = startTelemetry({ serviceName: 'another-name' });
  handles.push(restarted);
  expect(restarted).not.toBe(running);
});
