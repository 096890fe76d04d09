/**
 * Closed-client recovery against real undici dispatchers that are really closed or destroyed, under real
 * openai-node clients talking to a loopback env.server.
 */

import { once } from 'node:events';
import { createReadStream, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SpanStatusCode } from '@opentelemetry/api';
import OpenAI from 'openai';
import { ProxyAgent } from 'undici';
import { afterEach, describe, expect, test } from 'vitest';
import {
  attemptErrors,
  ClientClosedError,
  ClientNotReplaceableError,
  ClientPool,
  classifyError,
  createResilientChat,
  createResilientClient,
  telemetryNames,
} from '../../src/index.js';
import { giveUpEvents, onlySpan, quietLogger, retryEvents } from '../support/assertions.js';
import { newClient, RecordingSource } from '../support/clients.js';
import { useLoopback } from '../support/loopback.js';
import { params } from '../support/params.js';

const { METRIC_RETRIES, METRIC_CLOSED_CLIENT_RECOVERIES, ATTR_RETRY_REASON, ATTR_RECOVERY_OUTCOME } =
  telemetryNames;

const env = useLoopback();
let source: RecordingSource;

afterEach(async () => {
  await source?.close();
});

function chatOver(clients: RecordingSource, retry = {}) {
  source = clients;
  return createResilientChat({
    clients,
    retry: { baseDelayMs: 5, ...retry },
    tracerProvider: env.harness.tracerProvider,
    meterProvider: env.harness.meterProvider,
    logger: quietLogger,
  });
}

/** The call's one span: not failed, and one immediate retry for `reason` recorded on it. */
async function expectOneImmediateRetry(
  reason: 'client_closed' | 'upstream_client_closed',
  expectedErrorType: string,
  maybeSent: boolean,
) {
  const span = await onlySpan(env.harness);
  expect(span.status.code).toBe(SpanStatusCode.UNSET);
  expect(span.attributes['error.type']).toBeUndefined();
  expect(span.attributes[telemetryNames.ATTR_ATTEMPTS]).toBe(2);
  expect(span.attributes[telemetryNames.ATTR_CLOSED_CLIENT_RECOVERIES]).toBe(
    reason === 'client_closed' ? 1 : 0,
  );
  expect(retryEvents(span)).toEqual([
    {
      [telemetryNames.ATTR_ATTEMPT]: 1,
      [ATTR_RETRY_REASON]: reason,
      [telemetryNames.ATTR_RETRY_DELAY_MS]: 0,
      'error.type': expectedErrorType,
      [telemetryNames.ATTR_CLIENT_REPLACED]: reason === 'client_closed',
      [telemetryNames.ATTR_RETRY_MAYBE_SENT]: maybeSent,
    },
  ]);
}

async function expectOneRecovery(expectedErrorType: string, maybeSent: boolean) {
  await expectOneImmediateRetry('client_closed', expectedErrorType, maybeSent);
  expect(await env.harness.counter(METRIC_RETRIES, { [ATTR_RETRY_REASON]: 'client_closed' })).toBe(1);
  expect(
    await env.harness.counter(METRIC_CLOSED_CLIENT_RECOVERIES, { [ATTR_RECOVERY_OUTCOME]: 'recovered' }),
  ).toBe(1);
  expect(
    await env.harness.counter(METRIC_CLOSED_CLIENT_RECOVERIES, { [ATTR_RECOVERY_OUTCOME]: 'failed' }),
  ).toBe(0);
}

describe('a dispatcher closed or destroyed before the request', () => {
  test('destroyed: one failed attempt that sends nothing, then a fresh client at once', async () => {
    const dead = newClient(env.server);
    const fresh = newClient(env.server);
    await dead.agent.destroy();
    const chat = chatOver(new RecordingSource([dead, fresh]));

    const completion = await chat.completions.create(params);

    expect(completion.choices[0]?.message.content).toBe('Resilient chat answers every time.');
    expect(env.server.requests).toHaveLength(1); // the dead client never reached the server
    expect(source.invalidated.map((i) => i.client)).toEqual([dead.client]);
    expect(classifyError(source.invalidated[0]?.error).reason).toBe('client_closed');
    expect(source.released).toEqual([dead.client, fresh.client]);
    await expectOneRecovery('UND_ERR_DESTROYED', false);
  });

  test('close() still pending: UND_ERR_CLOSED is recovered the same way', async () => {
    const closing = newClient(env.server);
    const fresh = newClient(env.server);
    await closing.client.chat.completions.create(params); // a kept-alive connection makes close() take time
    const closed = closing.agent.close();
    const chat = chatOver(new RecordingSource([closing, fresh]));

    await chat.completions.create(params);
    await closed;

    expect(env.server.requests).toHaveLength(2); // the warm-up and the fresh client's; none from the closed one
    await expectOneRecovery('UND_ERR_CLOSED', false);
  });

  test('openai-node alone fails on the same dead dispatcher, retrying it', async () => {
    const dead = newClient(env.server, { maxRetries: 1 });
    await dead.agent.destroy();
    const error = await dead.client.chat.completions.create(params).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(classifyError(error)).toMatchObject({
      reason: 'client_closed',
      retryable: true,
      errorType: 'UND_ERR_DESTROYED',
    });
  });
});

describe('a dispatcher destroyed while the request is in flight', () => {
  test('before the response headers', async () => {
    const dying = newClient(env.server);
    const fresh = newClient(env.server);
    env.server.script({ type: 'stall', at: 'headers' });
    const chat = chatOver(new RecordingSource([dying, fresh]));

    const call = chat.completions.create(params);
    await env.server.stalled();
    await dying.agent.destroy();
    const completion = await call;

    expect(completion.object).toBe('chat.completion');
    expect(env.server.requests.map((r) => r.step)).toEqual(['stall', 'ok']);
    await expectOneRecovery('UND_ERR_DESTROYED', true);
  });

  test('while the JSON body is read', async () => {
    const dying = newClient(env.server);
    const fresh = newClient(env.server);
    env.server.script({ type: 'stall', at: 'body' });
    const chat = chatOver(new RecordingSource([dying, fresh]));

    const call = chat.completions.create(params);
    await env.server.stalled();
    await dying.agent.destroy();
    await call;

    expect(env.server.requests.map((r) => r.step)).toEqual(['stall', 'ok']);
    await expectOneRecovery('UND_ERR_DESTROYED', true);
  });

  test('a stream before its first chunk is retried transparently', async () => {
    const dying = newClient(env.server);
    const fresh = newClient(env.server);
    env.server.script({ type: 'stall', at: 'headers' });
    const chat = chatOver(new RecordingSource([dying, fresh]));

    const call = chat.completions.create({ ...params, stream: true });
    await env.server.stalled();
    await dying.agent.destroy();
    const text: string[] = [];
    for await (const chunk of await call) text.push(chunk.choices[0]?.delta.content ?? '');

    expect(text.join('')).toBe('Resilient chat answers');
    expect(env.server.requests.map((r) => r.step)).toEqual(['stall', 'ok']);
    await expectOneRecovery('UND_ERR_DESTROYED', true);
  });

  test('a stream after its first chunk: surfaced to the consumer, never retried, client retired', async () => {
    const dying = newClient(env.server);
    const fresh = newClient(env.server);
    env.server.script({ type: 'stall', at: 'chunk' });
    const chat = chatOver(new RecordingSource([dying, fresh]));

    const stream = await chat.completions.create({ ...params, stream: true });
    const received: string[] = [];
    const error = await (async () => {
      for await (const chunk of stream) {
        received.push(chunk.choices[0]?.delta.content ?? '');
        await dying.agent.destroy();
      }
    })().catch((e: unknown) => e);

    expect(received).toEqual(['Resilient']);
    expect(classifyError(error)).toMatchObject({ reason: 'client_closed', errorType: 'UND_ERR_DESTROYED' });
    expect(env.server.requests).toHaveLength(1);
    expect(source.invalidated.map((i) => i.client)).toEqual([dying.client]);
    expect(source.released).toEqual([dying.client]);
    const span = await onlySpan(env.harness);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe('UND_ERR_DESTROYED');
    expect(giveUpEvents(span)).toEqual([
      {
        [telemetryNames.ATTR_GIVE_UP_REASON]: 'stream_interrupted',
        [telemetryNames.ATTR_ATTEMPTS]: 1,
        'error.type': 'UND_ERR_DESTROYED',
      },
    ]);
    expect(
      await env.harness.counter(METRIC_CLOSED_CLIENT_RECOVERIES, { [ATTR_RECOVERY_OUTCOME]: 'failed' }),
    ).toBe(1);
  });
});

describe("a proxy that relays its own closed client (LiteLLM): the server's fault, not ours", () => {
  test('HTTP 500 with the httpx message: retried at once on the same client, which is kept', async () => {
    const proxied = newClient(env.server);
    env.server.script({ type: 'litellm_closed_client' });
    const chat = chatOver(new RecordingSource([proxied]), { baseDelayMs: 2_000 });

    const started = performance.now();
    await chat.completions.create(params);

    expect(performance.now() - started).toBeLessThan(1_000); // a backoff would have cost up to 2 s
    expect(env.server.requests.map((r) => r.step)).toEqual(['litellm_closed_client', 'ok']);
    expect(source.invalidated).toEqual([]);
    expect(source.acquired).toEqual([proxied.client, proxied.client]);
    await expectOneUpstreamRetry('InternalServerError');
  });

  test('an SSE error frame before the first chunk: the same', async () => {
    const proxied = newClient(env.server);
    env.server.script({ type: 'sse_error', afterChunks: 0 });
    const chat = chatOver(new RecordingSource([proxied]));

    const chunks = [];
    for await (const chunk of await chat.completions.create({ ...params, stream: true })) chunks.push(chunk);

    expect(chunks).toHaveLength(3);
    expect(env.server.requests.map((r) => r.step)).toEqual(['sse_error', 'ok']);
    expect(source.invalidated).toEqual([]);
    await expectOneUpstreamRetry('APIError');
  });

  test('a second one in the same call backs off and spends the transient retries like any 5xx', async () => {
    env.server.script({ type: 'litellm_closed_client' }, { type: 'litellm_closed_client' });
    const chat = chatOver(new RecordingSource([newClient(env.server)]), { maxRetries: 1 });

    await chat.completions.create(params);

    const span = await onlySpan(env.harness);
    expect(
      retryEvents(span).map((e) => [e[ATTR_RETRY_REASON], e[telemetryNames.ATTR_RETRY_DELAY_MS]]),
    ).toEqual([
      ['upstream_client_closed', 0],
      ['upstream_client_closed', expect.any(Number)],
    ]);
    expect(source.invalidated).toEqual([]);
  });
});

test("through a ClientPool, a proxy's closed-client 500 never evicts the healthy pooled client", async () => {
  const pool = new ClientPool({
    create: (_key, transport) =>
      new OpenAI({ apiKey: 'k', baseURL: env.server.url, maxRetries: 0, ...transport }),
    connectionsPerClient: 1,
    meterProvider: env.harness.meterProvider,
  });
  const chat = createResilientChat({
    clients: pool,
    meterProvider: env.harness.meterProvider,
    logger: quietLogger,
  });
  for (let i = 0; i < 30; i++) {
    env.server.script({ type: 'litellm_closed_client' });
    await chat.completions.create(params);
  }

  expect(env.server.requests).toHaveLength(60);
  expect(env.server.connections).toBe(1); // one pooled client, one socket, kept throughout
  expect(pool.stats()).toMatchObject({ active: 1, draining: 0 });
  await pool.close();
});

async function expectOneUpstreamRetry(expectedErrorType: string) {
  await expectOneImmediateRetry('upstream_client_closed', expectedErrorType, true);
  expect(await env.harness.counter(METRIC_CLOSED_CLIENT_RECOVERIES)).toBe(0);
}

describe('limits', () => {
  test('gives up after closedClient.maxRecoveries, rethrowing the last error unchanged', async () => {
    const dead = [newClient(env.server), newClient(env.server), newClient(env.server), newClient(env.server)];
    await Promise.all(dead.map((d) => d.agent.destroy()));
    source = new RecordingSource(dead);
    const chat = createResilientChat({
      clients: source,
      closedClient: { maxRecoveries: 2 },
      tracerProvider: env.harness.tracerProvider,
      meterProvider: env.harness.meterProvider,
      logger: quietLogger,
    });

    const error = await chat.completions.create(params).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(source.invalidated.map((i) => i.error)).toEqual([...attemptErrors(error), error]);
    expect(attemptErrors(error)).toHaveLength(2);
    expect(source.acquired).toHaveLength(3);
    const span = await onlySpan(env.harness);
    expect(retryEvents(span)).toHaveLength(2);
    expect(giveUpEvents(span)[0]?.[telemetryNames.ATTR_GIVE_UP_REASON]).toBe('recoveries_exhausted');
    expect(span.attributes['error.type']).toBe('UND_ERR_DESTROYED');
    expect(
      await env.harness.counter(METRIC_CLOSED_CLIENT_RECOVERIES, { [ATTR_RECOVERY_OUTCOME]: 'failed' }),
    ).toBe(3);
    expect(await env.harness.counter(telemetryNames.METRIC_GIVE_UPS)).toBe(1);
  });

  test('a closed client is recovered once the call gets past it, even when the call then fails otherwise', async () => {
    const dead = newClient(env.server);
    const fresh = newClient(env.server);
    await dead.agent.destroy();
    env.server.script({ type: 'status', status: 400 });
    const chat = chatOver(new RecordingSource([dead, fresh]));

    await expect(chat.completions.create(params)).rejects.toBeInstanceOf(OpenAI.BadRequestError);

    // The fresh client got an answer: the race was behind the call when it ended, on something else.
    const recoveries = (outcome: string) =>
      env.harness.counter(METRIC_CLOSED_CLIENT_RECOVERIES, { [ATTR_RECOVERY_OUTCOME]: outcome });
    expect([await recoveries('recovered'), await recoveries('failed')]).toEqual([1, 0]);
  });

  test('recoveries do not spend the transient retries', async () => {
    const dead = newClient(env.server);
    const fresh = newClient(env.server);
    await dead.agent.destroy();
    env.server.script({ type: 'status', status: 503 }, { type: 'status', status: 503 });
    const chat = chatOver(new RecordingSource([dead, fresh]), { maxRetries: 2 });

    await chat.completions.create(params);

    expect(env.server.requests.map((r) => r.step)).toEqual(['status', 'status', 'ok']);
    const span = await onlySpan(env.harness);
    expect(retryEvents(span).map((e) => e[ATTR_RETRY_REASON])).toEqual([
      'client_closed',
      'server_error',
      'server_error',
    ]);
  });
});

describe("a single OpenAI instance: its transport is the user's policy", () => {
  function chatOn(client: OpenAI, closedClient = {}) {
    return createResilientChat({
      clients: client,
      closedClient,
      tracerProvider: env.harness.tracerProvider,
      meterProvider: env.harness.meterProvider,
      logger: quietLogger,
    });
  }

  test('a dead own dispatcher is never swapped for a direct connection: a clear error instead', async () => {
    const { client, agent } = newClient(env.server);
    await agent.destroy();
    const chat = chatOn(client);

    for (let i = 0; i < 2; i++) {
      const error = await chat.completions.create(params).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClientNotReplaceableError);
      expect(error).toBeInstanceOf(OpenAI.APIConnectionError); // openai-node's catch blocks still match
      expect((error as ClientNotReplaceableError).code).toBe('RESILIENT_CHAT_CLIENT_NOT_REPLACEABLE');
      expect((error as Error).message).toMatch(/factory, a source or a ClientPool/);
      expect(classifyError((error as Error).cause).errorType).toBe('UND_ERR_DESTROYED');
    }
    expect(env.server.requests).toHaveLength(0);
    const spans = await env.harness.spans();
    expect(spans.map((s) => giveUpEvents(s)[0]?.[telemetryNames.ATTR_GIVE_UP_REASON])).toEqual([
      'client_not_replaceable',
      'client_not_replaceable',
    ]);
  });

  test('an egress ProxyAgent that was closed: no request ever bypasses the proxy', async () => {
    const proxy = await startForwardProxy();
    const agent = new ProxyAgent(proxy.url);
    const client = new OpenAI({
      apiKey: 'k',
      baseURL: env.server.url,
      maxRetries: 0,
      fetchOptions: { dispatcher: agent } as Record<string, unknown>,
    });
    const chat = chatOn(client);
    await chat.completions.create(params);
    expect(proxy.tunnels).toBe(1);
    await agent.close();

    for (let i = 0; i < 3; i++) {
      await expect(chat.completions.create(params)).rejects.toBeInstanceOf(ClientNotReplaceableError);
    }
    expect(env.server.requests).toHaveLength(1); // only the one that went through the proxy
    expect(proxy.tunnels).toBe(1);
    await proxy.close();
  });

  test("a proxy's closed-client 500 keeps the user's healthy ProxyAgent", async () => {
    const proxy = await startForwardProxy();
    const agent = new ProxyAgent(proxy.url);
    const client = new OpenAI({
      apiKey: 'k',
      baseURL: env.server.url,
      maxRetries: 0,
      fetchOptions: { dispatcher: agent } as Record<string, unknown>,
    });
    env.server.script({ type: 'litellm_closed_client' }, { type: 'litellm_closed_client' });
    const chat = chatOn(client);
    for (let i = 0; i < 4; i++) await chat.completions.create(params);

    expect(env.server.requests).toHaveLength(6);
    const state = agent as unknown as { closed: boolean; destroyed: boolean };
    expect(state.closed || state.destroyed).toBe(false);
    // Every connection the server saw came through a tunnel of the user's proxy: none went direct.
    expect(env.server.connections).toBe(proxy.tunnels);
    await agent.close();
    await proxy.close();
  });

  test('fallbackToGlobalDispatcher: the opt-in replacement is logged and marked on the span, every time', async () => {
    const { client, agent } = newClient(env.server);
    await agent.destroy();
    const warnings: { message: string; fields: unknown }[] = [];
    const chat = createResilientChat({
      clients: client,
      closedClient: { fallbackToGlobalDispatcher: true },
      tracerProvider: env.harness.tracerProvider,
      meterProvider: env.harness.meterProvider,
      logger: { warn: (message, fields) => warnings.push({ message, fields }) },
    });

    await chat.completions.create(params);
    await chat.completions.create(params);

    expect(env.server.requests).toHaveLength(2);
    const spans = await env.harness.spans();
    expect(spans.map((s) => s.attributes[telemetryNames.ATTR_ATTEMPTS])).toEqual([2, 1]);
    expect(spans[0]?.events.map((e) => e.name)).toContain(telemetryNames.EVENT_DISPATCHER_FALLBACK);
    const fallback = warnings.filter(
      (w) => (w.fields as { fallback?: string }).fallback === 'global_dispatcher',
    );
    expect(fallback).toHaveLength(1);
    expect(fallback[0]?.message).toMatch(/global dispatcher/);
  });
});

test('fallbackToGlobalDispatcher: two calls that meet the same dead instance replace it once', async () => {
  const { client, agent } = newClient(env.server);
  await agent.destroy();
  const warnings: unknown[] = [];
  const chat = createResilientChat({
    clients: client,
    closedClient: { fallbackToGlobalDispatcher: true },
    tracerProvider: env.harness.tracerProvider,
    meterProvider: env.harness.meterProvider,
    logger: { warn: (_, fields) => warnings.push(fields) },
  });

  // Both calls acquire the dead instance before either has found it dead.
  await Promise.all([chat.completions.create(params), chat.completions.create(params)]);

  expect(env.server.requests).toHaveLength(2);
  const fallbacks = warnings.filter((f) => (f as { fallback?: string }).fallback === 'global_dispatcher');
  expect(fallbacks).toHaveLength(1); // the second call finds it already replaced
  const events = (await env.harness.spans()).flatMap((s) => s.events.map((e) => e.name));
  expect(events.filter((name) => name === telemetryNames.EVENT_DISPATCHER_FALLBACK)).toHaveLength(1);
});

/** A counting HTTP forward proxy (CONNECT tunnels, as undici's ProxyAgent uses) on loopback. */
async function startForwardProxy() {
  let tunnels = 0;
  const sockets = new Set<import('node:stream').Duplex>();
  const proxy = createServer();
  proxy.on('connect', (req, socket) => {
    tunnels++;
    sockets.add(socket);
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    sockets.add(upstream);
    const drop = () => {
      socket.destroy();
      upstream.destroy();
    };
    upstream.on('error', drop);
    socket.on('error', drop);
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  const { port } = proxy.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get tunnels() {
      return tunnels;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}

describe('a one-shot body on a client that was dead on arrival', () => {
  test('a file stream upload goes on at once on a fresh client, its body unread until then', async () => {
    const path = join(tmpdir(), `closed-client-upload-${process.pid}.jsonl`);
    writeFileSync(path, '{"custom_id":"1"}\n');
    const dead = newClient(env.server);
    await dead.agent.destroy();
    const recording = new RecordingSource([dead, newClient(env.server)]);
    source = recording;
    const client = createResilientClient({
      clients: recording,
      tracerProvider: env.harness.tracerProvider,
      meterProvider: env.harness.meterProvider,
      logger: quietLogger,
    });

    const file = await client.files.create({ file: createReadStream(path), purpose: 'batch' });

    expect(file.object).toBe('file');
    expect(env.server.requests).toHaveLength(1);
    expect(env.server.requests[0]?.bodyBytes).toBeGreaterThan(Buffer.byteLength('{"custom_id":"1"}\n'));
    expect(recording.invalidated.map((i) => i.client)).toEqual([dead.client]);
    expect(classifyError(recording.invalidated[0]?.error).reason).toBe('client_closed');
    expect(
      await env.harness.counter(METRIC_CLOSED_CLIENT_RECOVERIES, { [ATTR_RECOVERY_OUTCOME]: 'recovered' }),
    ).toBe(1);
  });

  test('out of fresh clients, the call fails with ClientClosedError, an APIConnectionError', async () => {
    const dead = newClient(env.server);
    await dead.agent.destroy();
    const recording = new RecordingSource([dead]);
    source = recording;
    const client = createResilientClient({ clients: recording, logger: quietLogger });

    const failure = await client.files
      .create({ file: Readable.from(['{"a":1}\n']) as never, purpose: 'batch' })
      .catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(ClientClosedError);
    expect(failure).toBeInstanceOf(OpenAI.APIConnectionError);
    expect((failure as ClientClosedError).code).toBe('RESILIENT_CHAT_CLIENT_CLOSED');
    expect(env.server.requests).toHaveLength(0);
  });
});
