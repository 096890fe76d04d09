/**
 * What the circuit breaker holds against whom: one tenant, route or misconfiguration must not lock out the
 * others. Real openai clients, a ClientPool per API key, loopback servers and a real gateway in front.
 */
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  CircuitOpenError,
  ClientPool,
  type ClientSource,
  classifyError,
  createResilientClient,
  type ResilientClientOptions,
  type ResilientFetchOptions,
  resilientFetch,
  telemetryNames,
} from '../../src/index.js';
import { type MockOpenAI, startMockOpenAI } from '../../src/testing/index.js';
import { quietLogger } from '../support/assertions.js';
import { trackedDispatchers } from '../support/frameworks.js';
import { type Gateway, startGateway } from '../support/gateway.js';
import { params } from '../support/params.js';
import { createTelemetryHarness, type TelemetryHarness } from '../support/telemetry.js';

const KEYS: Record<string, string> = {
  a: 'sk-tenant-a-SECRET-000000000000',
  b: 'sk-tenant-b-SECRET-111111111111',
};

// Not useLoopback: each test or block starts its servers with fallbacks of its own (a failing one beside a
// healthy one, a gateway in front), and sends through pools and dispatchers rather than one test client.
let server: MockOpenAI;
let harness: TelemetryHarness;
let pool: ClientPool | undefined;
let logged: unknown[];

beforeEach(async () => {
  harness = createTelemetryHarness();
  logged = [];
});

afterEach(async () => {
  await pool?.close({ timeoutMs: 100 });
  pool = undefined;
  await server?.close();
  await harness.shutdown();
});

/** A resilient client over a ClientPool per API key, as docs/examples/pool-per-api-key.ts builds it. */
function perTenant(baseURL: string, options: Partial<ResilientClientOptions> = {}) {
  const tenant = { current: 'a' };
  pool = new ClientPool({
    key: () => tenant.current,
    create: (key, transport) => new OpenAI({ apiKey: KEYS[key], baseURL, ...transport }),
  });
  const openai = createResilientClient({
    clients: pool,
    tracerProvider: harness.tracerProvider,
    meterProvider: harness.meterProvider,
    logger: { warn: (...args) => logged.push(args) },
    ...options,
  });
  return {
    as: (name: string) => {
      tenant.current = name;
      return openai.chat.completions.create(params).then(
        () => 'ok',
        (error: unknown) => error,
      );
    },
  };
}

/** No tenant's key in any span, event, metric point, log line or `error`'s text. */
async function expectNoKeyRecorded(error?: unknown): Promise<void> {
  const spans = (await harness.spans()).map((s) => ({ attributes: s.attributes, events: s.events }));
  const points = (await harness.metrics()).map((m) => m.dataPoints);
  const recorded = JSON.stringify([spans, points, logged, `${error}`]);
  for (const key of Object.values(KEYS)) expect(recorded).not.toContain(key);
}

const sentBy = (name: string) =>
  server.requests.filter((r) => r.headers.authorization === `Bearer ${KEYS[name]}`);

describe('tenants: a ClientPool per API key', () => {
  test("one tenant's 429s lock out neither the other tenant nor itself (default settings)", async () => {
    // A's key is over its limit; the server says when to come back (retry-after-ms: 0, as OpenAI sends it).
    server = await startMockOpenAI({
      fallback: (request) =>
        request.headers.authorization === `Bearer ${KEYS.a}`
          ? { type: 'status', status: 429, headers: { 'retry-after-ms': '0' } }
          : { type: 'ok' },
    });
    const tenants = perTenant(server.url);
    const a = new Set<string>();
    for (let i = 0; i < 120; i++) a.add(classifyError(await tenants.as('a')).reason);

    const b = [];
    for (let i = 0; i < 10; i++) b.push(await tenants.as('b'));
    expect(b).toEqual(Array.from({ length: 10 }, () => 'ok'));
    expect(sentBy('b')).toHaveLength(10);
    expect([...a]).toEqual(['rate_limited']); // every one of A's calls got A's own 429, none a CircuitOpenError
    // A itself is still sent: a 429 is the key's limit, which Retry-After and the budget deal with.
    const before = sentBy('a').length;
    expect(await tenants.as('a')).not.toBeInstanceOf(CircuitOpenError);
    expect(sentBy('a').length).toBeGreaterThan(before);
    expect(await harness.counter(telemetryNames.METRIC_CIRCUIT_TRANSITIONS)).toBe(0);
    expect(logged.length).toBeGreaterThan(0); // the retries were logged...
    await expectNoKeyRecorded(); // ...with no key in them
  });

  test("one tenant's failing upstream opens its own breaker, not the other tenant's", async () => {
    // A gateway that routes by key: A's upstream is down (503), B's serves.
    server = await startMockOpenAI({
      fallback: (request) =>
        request.headers.authorization === `Bearer ${KEYS.a}`
          ? { type: 'status', status: 503 }
          : { type: 'ok' },
    });
    const tenants = perTenant(server.url, {
      retry: { maxRetries: 0 },
      circuitBreaker: { minimumThroughput: 10, breakDurationMs: 60_000 },
    });
    for (let i = 0; i < 10; i++) await tenants.as('a');
    expect(await tenants.as('a')).toBeInstanceOf(CircuitOpenError); // A's breaker opened
    const sentToA = sentBy('a').length;

    const b = [];
    for (let i = 0; i < 10; i++) b.push(await tenants.as('b'));
    expect(b).toEqual(Array.from({ length: 10 }, () => 'ok'));
    expect(sentBy('b')).toHaveLength(10);
    expect(sentBy('a')).toHaveLength(sentToA);

    // Telemetry: one series for the server and model (the worst of its breakers), no tenant in it.
    const metrics = await harness.metrics();
    const gauge = metrics.find((m) => m.descriptor.name === telemetryNames.METRIC_CIRCUIT_STATE);
    expect(gauge?.dataPoints.map((p) => [p.attributes, p.value])).toEqual([
      [
        { 'server.address': '127.0.0.1', 'server.port': server.port, 'gen_ai.request.model': 'gpt-4o-mini' },
        2,
      ],
    ]);
    await expectNoKeyRecorded(await tenants.as('a'));
  });
});

describe('routes: two base URLs on one gateway', () => {
  let failing: MockOpenAI;
  let gateway: Gateway;

  beforeEach(async () => {
    failing = await startMockOpenAI({ fallback: () => ({ type: 'status', status: 503 }) });
    server = await startMockOpenAI();
    gateway = await startGateway({ 'route-a': failing.url, 'route-b': server.url });
  });

  afterEach(async () => {
    await gateway.close();
    await failing.close();
  });

  test('route-a failing with 503 opens its breaker only; route-b on the same host and port is still served', async () => {
    const route = { current: 'route-a' };
    const clients = {
      'route-a': new OpenAI({ apiKey: KEYS.a, baseURL: gateway.url('route-a') }),
      'route-b': new OpenAI({ apiKey: KEYS.a, baseURL: gateway.url('route-b') }),
    };
    const source: ClientSource = { acquire: () => clients[route.current as keyof typeof clients] };
    const openai = createResilientClient({
      clients: source,
      retry: { maxRetries: 0 },
      circuitBreaker: { minimumThroughput: 10, breakDurationMs: 60_000 },
      tracerProvider: harness.tracerProvider,
      meterProvider: harness.meterProvider,
      logger: quietLogger,
    });
    const call = () =>
      openai.chat.completions.create(params).then(
        () => 'ok',
        (error: unknown) => error,
      );
    for (let i = 0; i < 10; i++) await call();
    const refused = await call();
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect(failing.requests).toHaveLength(10);

    route.current = 'route-b';
    const b = [];
    for (let i = 0; i < 10; i++) b.push(await call());
    expect(b).toEqual(Array.from({ length: 10 }, () => 'ok'));
    expect(server.requests).toHaveLength(10);
    // The error names the route whose breaker refused, not just the host and port the two routes share.
    expect((refused as CircuitOpenError).endpoint).toBe(`${gateway.url('route-a')} gpt-4o-mini`);
  });
});

describe('a misconfiguration: nothing ever leaves the process', () => {
  beforeEach(async () => {
    server = await startMockOpenAI();
  });

  test.each([
    ['a base URL without a scheme', () => `localhost:${server.port}/v1`],
    ['credentials in the base URL', () => `http://user:pw-SECRET@127.0.0.1:${server.port}/v1`],
  ])(
    '%s: every call fails at once with the real error, none is retried, the breaker never opens',
    async (_, url) => {
      const openai = createResilientClient({
        clients: new OpenAI({ apiKey: KEYS.a, baseURL: url() }),
        // Default breaker. A zero base delay only keeps the run short where the error would be retried.
        retry: { baseDelayMs: 0 },
        tracerProvider: harness.tracerProvider,
        meterProvider: harness.meterProvider,
        logger: { warn: (...args) => logged.push(args) },
      });
      const errors = [];
      for (let i = 0; i < 120; i++)
        errors.push(await openai.chat.completions.create(params).catch((e: unknown) => e));

      expect(errors.filter((e) => e instanceof CircuitOpenError)).toHaveLength(0);
      expect(new Set(errors.map((e) => classifyError(e).reason))).toEqual(new Set(['setup_error']));
      expect(errors[119]).toBeInstanceOf(OpenAI.APIConnectionError);
      expect(await harness.counter(telemetryNames.METRIC_RETRIES)).toBe(0);
      expect(
        await harness.counter(telemetryNames.METRIC_GIVE_UPS, {
          'resilient_chat.give_up.reason': 'not_retryable',
        }),
      ).toBe(120);
      expect(server.requestCount).toBe(0);
      expect(JSON.stringify([logged, (await harness.spans()).map((s) => s.attributes)])).not.toContain(
        'SECRET',
      );
    },
  );
});

/**
 * resilientFetch sends every request of one origin through one attempt client: the upstream must come from
 * the request itself (its URL up to the operation's path, the credentials in its headers, its model), or
 * every key and route behind one host and port would share a breaker.
 */
describe('resilientFetch: the same isolation, read from each request', () => {
  let tracked: ReturnType<typeof trackedDispatchers>;
  let gateway: Gateway | undefined;
  let failing: MockOpenAI | undefined;

  beforeEach(() => {
    tracked = trackedDispatchers();
  });

  afterEach(async () => {
    await tracked.close();
    await gateway?.close();
    await failing?.close();
    gateway = undefined;
    failing = undefined;
  });

  function overFetch(options: Partial<ResilientFetchOptions> = {}) {
    const fetch = resilientFetch({
      dispatchers: tracked.dispatchers,
      retry: { maxRetries: 0 },
      circuitBreaker: { minimumThroughput: 10, breakDurationMs: 60_000 },
      tracerProvider: harness.tracerProvider,
      meterProvider: harness.meterProvider,
      logger: { warn: (...args) => logged.push(args) },
      ...options,
    });
    return (apiKey: string, baseURL: string) => {
      const openai = new OpenAI({ apiKey, baseURL, maxRetries: 0, fetch });
      return () =>
        openai.chat.completions.create(params).then(
          () => 'ok',
          (error: unknown) => error,
        );
    };
  }

  test("one tenant's failing key opens its own breaker, not the other tenant's", async () => {
    server = await startMockOpenAI({
      fallback: (request) =>
        request.headers.authorization === `Bearer ${KEYS.a}`
          ? { type: 'status', status: 503 }
          : { type: 'ok' },
    });
    const client = overFetch();
    const a = client(KEYS.a as string, server.url);
    const b = client(KEYS.b as string, server.url);
    for (let i = 0; i < 10; i++) await a();
    expect(classifyError(await a()).reason).toBe('circuit_open'); // A's breaker opened: nothing sent
    const sentToA = sentBy('a').length;
    expect(sentToA).toBe(10);

    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await b());
    expect(answers).toEqual(Array.from({ length: 10 }, () => 'ok'));
    expect(sentBy('b')).toHaveLength(10);
    expect(sentBy('a')).toHaveLength(sentToA);
    await expectNoKeyRecorded();
  });

  test('route-a failing with 503 opens its breaker only; route-b on the same host and port is still served', async () => {
    failing = await startMockOpenAI({ fallback: () => ({ type: 'status', status: 503 }) });
    server = await startMockOpenAI();
    gateway = await startGateway({ 'route-a': failing.url, 'route-b': server.url });
    const client = overFetch();
    const routeA = client(KEYS.a as string, gateway.url('route-a'));
    const routeB = client(KEYS.a as string, gateway.url('route-b'));
    for (let i = 0; i < 10; i++) await routeA();
    expect(classifyError(await routeA()).reason).toBe('circuit_open');
    expect(failing.requests).toHaveLength(10);

    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await routeB());
    expect(answers).toEqual(Array.from({ length: 10 }, () => 'ok'));
    expect(server.requests).toHaveLength(10);
  });

  test.each([
    ['a base URL without a scheme', () => `localhost:${server.port}/v1`],
    ['credentials in the base URL', () => `http://user:pw-SECRET@127.0.0.1:${server.port}/v1`],
  ])('%s: every call fails with the real error, none retried, the breaker never opens', async (_, url) => {
    server = await startMockOpenAI();
    const call = overFetch({ retry: { baseDelayMs: 0 }, circuitBreaker: {} })(KEYS.a as string, url());
    const errors = [];
    for (let i = 0; i < 120; i++) errors.push(await call());
    expect(new Set(errors.map((e) => classifyError(e).reason))).toEqual(new Set(['setup_error']));
    expect(await harness.counter(telemetryNames.METRIC_RETRIES)).toBe(0);
    expect(server.requestCount).toBe(0);
  });
});
