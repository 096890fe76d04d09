/** classifyError on errors that real openai-node clients throw against a real server and real dispatchers. */
import { createRequire } from 'node:module';
import { runInNewContext } from 'node:vm';
import OpenAI from 'openai';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  CircuitOpenError,
  ClientClosedError,
  ClientNotReplaceableError,
  ClientPool,
  ClientSettingUnavailableError,
  classifyError,
  createResilientClient,
  InvalidClientError,
  InvalidOptionError,
  InvalidRequestError,
  MissingPackageError,
  PoolClosedError,
  type ResilientClientOptions,
  StreamConsumedError,
} from '../../src/index.js';
import { type MockOpenAI, type MockStep, startMockOpenAI } from '../../src/testing/index.js';
import { newClient, TEST_API_KEY } from '../support/clients.js';
import { params } from '../support/params.js';

let server: MockOpenAI;

beforeAll(async () => {
  server = await startMockOpenAI();
});
afterAll(() => server.close());

/** The error a bare openai-node client (no retries of its own) throws for one scripted response. */
async function errorFor(step: MockStep): Promise<unknown> {
  const { client, agent } = newClient(server, { maxRetries: 0 });
  server.script(step);
  try {
    return await client.chat.completions.create(params).then(
      () => expect.fail('expected the call to fail'),
      (e: unknown) => e,
    );
  } finally {
    await agent.destroy();
  }
}

async function destroyedClientError(): Promise<unknown> {
  const { client, agent } = newClient(server, { maxRetries: 0 });
  await agent.destroy();
  return client.chat.completions.create(params).catch((e: unknown) => e);
}

describe('closed clients', () => {
  test('a destroyed undici dispatcher, three causes deep', async () => {
    const error = await destroyedClientError();
    expect(error).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(classifyError(error)).toEqual({
      reason: 'client_closed',
      retryable: true,
      errorType: 'UND_ERR_DESTROYED',
    });
  });

  test('still found when another layer wraps it, or aggregates it', async () => {
    const error = await destroyedClientError();
    const wrapped = new Error('litellm.InternalServerError: OpenAIException - Connection error.', {
      cause: error,
    });
    const aggregated = new AggregateError([new Error('unrelated'), wrapped], 'several attempts failed');
    expect(classifyError(wrapped).reason).toBe('client_closed');
    expect(classifyError(aggregated)).toMatchObject({
      reason: 'client_closed',
      errorType: 'UND_ERR_DESTROYED',
    });
  });

  test('a cause chain that loops back on itself terminates', async () => {
    const error = (await destroyedClientError()) as Error;
    const outer = new Error('outer', { cause: error });
    (error.cause as Error).cause = outer; // fetch failed -> outer -> APIConnectionError -> ...
    expect(classifyError(outer).reason).toBe('connection');
  });

  test("a LiteLLM proxy's HTTP 500 body is the proxy's closed client, not ours", async () => {
    const error = await errorFor({ type: 'litellm_closed_client' });
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(classifyError(error)).toEqual({
      reason: 'upstream_client_closed',
      retryable: true,
      errorType: 'InternalServerError',
      status: 500,
    });
  });

  test('the httpx message deep in a relayed stack trace (the incident body)', async () => {
    const error = await errorFor({
      type: 'status',
      status: 500,
      body: {
        detail: {
          message: 'litellm.InternalServerError: InternalServerError: OpenAIException - Connection error.',
          stacktrace: ['...', 'RuntimeError: Cannot send a request, as the client has been closed.'],
        },
      },
    });
    expect(classifyError(error).reason).toBe('upstream_client_closed');
  });

  test("undici's closed codes in a server's body never say our client is dead", async () => {
    const error = await errorFor({
      type: 'status',
      status: 500,
      body: { error: { message: 'upstream failed', type: 'server_error', code: 'UND_ERR_DESTROYED' } },
    });
    expect(classifyError(error)).toMatchObject({ reason: 'server_error', status: 500 });
  });
});

describe('error bodies that say a request can never succeed as sent', () => {
  test.each([
    [429, 'insufficient_quota'],
    [429, 'billing_hard_limit_reached'],
    [400, 'context_length_exceeded'],
    [400, 'content_filter'],
  ])('%i %s: not retried, reported by its code', async (status, code) => {
    const error = await errorFor({
      type: 'status',
      status,
      body: { error: { message: 'no', type: code, param: null, code } },
    });
    expect(classifyError(error)).toEqual({
      reason: 'not_retryable',
      retryable: false,
      errorType: code,
      status,
    });
  });
});

describe('setup errors', () => {
  test('a dispatcher that is not one fails at once as a setup error', async () => {
    const client = new OpenAI({
      apiKey: 'k',
      baseURL: server.url,
      maxRetries: 0,
      fetchOptions: { dispatcher: {} } as Record<string, unknown>,
    });
    const error = await client.chat.completions.create(params).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(classifyError(error)).toMatchObject({
      reason: 'setup_error',
      retryable: false,
      errorType: 'TypeError',
    });
  });

  test('a request undici itself rejects as invalid (UND_ERR_INVALID_ARG)', async () => {
    // A real undici Agent whose requests carry a method undici refuses: undici's own validation throws.
    class BadMethodAgent extends Agent {
      override dispatch(options: Agent.DispatchOptions, handler: Parameters<Agent['dispatch']>[1]): boolean {
        return super.dispatch(
          { ...options, method: 'BAD METHOD' as Agent.DispatchOptions['method'] },
          handler,
        );
      }
    }
    const agent = new BadMethodAgent();
    const client = new OpenAI({
      apiKey: 'k',
      baseURL: server.url,
      maxRetries: 0,
      fetchOptions: { dispatcher: agent } as Record<string, unknown>,
    });
    const error = await client.chat.completions.create(params).catch((e: unknown) => e);
    await agent.close();
    expect(classifyError(error)).toMatchObject({ reason: 'setup_error', errorType: 'UND_ERR_INVALID_ARG' });
  });
});

describe("setup errors that undici's fetch reports without a code", () => {
  // Each request fails before anything leaves the process, the same way every time.
  const configurations: [string, () => ConstructorParameters<typeof OpenAI>[0]][] = [
    ['a base URL without a scheme (unknown scheme)', () => ({ baseURL: `localhost:${server.port}/v1` })],
    ['credentials in the base URL', () => ({ baseURL: `http://user:pw@127.0.0.1:${server.port}/v1` })],
    ['a scheme fetch cannot send (file:)', () => ({ baseURL: 'file:///tmp/v1' })],
    ['a port fetch blocks (bad port)', () => ({ baseURL: 'http://127.0.0.1:6000/v1' })],
    [
      'a bad fetchOptions value (redirect)',
      () => ({ baseURL: server.url, fetchOptions: { redirect: 'nope' as 'follow' } }),
    ],
    [
      'a bad fetchOptions value (mode)',
      () => ({ baseURL: server.url, fetchOptions: { mode: 'navigate' as 'cors' } }),
    ],
  ];
  test.each(configurations)('%s', async (_, options) => {
    const requestsBefore = server.requestCount;
    const client = new OpenAI({ apiKey: TEST_API_KEY, maxRetries: 0, ...options() });
    const error = await client.chat.completions.create(params).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(classifyError(error)).toEqual({ reason: 'setup_error', retryable: false, errorType: 'TypeError' });
    expect(server.requestCount).toBe(requestsBefore);
  });

  test('failures of a request fetch did send are not setup errors', async () => {
    // A body cut off mid-read (`TypeError: terminated`, undici's code as its cause), a reset connection.
    const { client, agent } = newClient(server, { maxRetries: 0 });
    server.script({ type: 'stall', at: 'body' });
    const call = client.chat.completions.create(params).catch((e: unknown) => e);
    await server.stalled();
    await agent.destroy();
    expect(classifyError(await call)).toMatchObject({ reason: 'client_closed' });
    expect(classifyError(await errorFor({ type: 'reset' }))).toMatchObject({ reason: 'connection' });
  });
});

describe('statuses, as openai-node decides', () => {
  test.each([
    [429, 'rate_limited', true, 'RateLimitError'],
    [408, 'timeout', true, 'APIError'],
    [409, 'server_error', true, 'ConflictError'],
    [500, 'server_error', true, 'InternalServerError'],
    [503, 'server_error', true, 'InternalServerError'],
    [400, 'not_retryable', false, 'BadRequestError'],
    [401, 'not_retryable', false, 'AuthenticationError'],
    [404, 'not_retryable', false, 'NotFoundError'],
  ])('%i is %s', async (status, reason, retryable, errorType) => {
    expect(classifyError(await errorFor({ type: 'status', status }))).toEqual({
      reason,
      retryable,
      errorType,
      status,
    });
  });

  test('x-should-retry wins over the status, both ways', async () => {
    const yes = await errorFor({ type: 'status', status: 400, headers: { 'x-should-retry': 'true' } });
    const no = await errorFor({ type: 'status', status: 500, headers: { 'x-should-retry': 'false' } });
    expect(classifyError(yes)).toMatchObject({ retryable: true, reason: 'server_error' });
    expect(classifyError(no)).toMatchObject({ retryable: false, reason: 'not_retryable' });
  });

  test('Retry-After is read into retryAfterMs', async () => {
    const error = await errorFor({ type: 'status', status: 429, headers: { 'retry-after': '2' } });
    expect(classifyError(error).retryAfterMs).toBe(2000);
  });
});

describe('transport failures and cancellation', () => {
  test('a reset connection', async () => {
    expect(classifyError(await errorFor({ type: 'reset' }))).toMatchObject({
      reason: 'connection',
      retryable: true,
    });
  });

  test('a refused connection', async () => {
    const gone = await startMockOpenAI();
    const { client, agent } = newClient(gone, { maxRetries: 0 });
    await gone.close();
    const error = await client.chat.completions.create(params).catch((e: unknown) => e);
    await agent.destroy();
    expect(classifyError(error)).toEqual({
      reason: 'connection',
      retryable: true,
      errorType: 'ECONNREFUSED',
    });
  });

  test("openai-node's own timeout", async () => {
    const { client, agent } = newClient(server, { maxRetries: 0 });
    server.script({ type: 'stall', at: 'headers' });
    const error = await client.chat.completions.create(params, { timeout: 50 }).catch((e: unknown) => e);
    await agent.destroy();
    expect(classifyError(error)).toEqual({
      reason: 'timeout',
      retryable: true,
      errorType: 'APIConnectionTimeoutError',
    });
  });

  test("the caller's abort", async () => {
    const { client, agent } = newClient(server, { maxRetries: 0 });
    const error = await client.chat.completions
      .create(params, { signal: AbortSignal.abort() })
      .catch((e: unknown) => e);
    await agent.destroy();
    expect(classifyError(error)).toEqual({
      reason: 'aborted',
      retryable: false,
      errorType: 'APIUserAbortError',
    });
  });

  test('anything else is not retryable', () => {
    expect(classifyError(new RangeError('bad'))).toEqual({
      reason: 'not_retryable',
      retryable: false,
      errorType: 'RangeError',
    });
    expect(classifyError(undefined)).toMatchObject({ reason: 'not_retryable', errorType: 'undefined' });
  });
});

describe('classification edges', () => {
  test('the closed-client message in a 4xx body is not a closed client', async () => {
    const { client, agent } = newClient(server, { maxRetries: 0 });
    server.script({
      type: 'status',
      status: 400,
      body: { error: { message: 'Cannot send a request, as the client has been closed.' } },
    });
    const error = await client.chat.completions.create(params).catch((e: unknown) => e);
    await agent.destroy();
    expect(classifyError(error)).toMatchObject({ reason: 'not_retryable', status: 400 });
  });

  test("OpenAI's server_error SSE frame (no code) is a server error", async () => {
    server.script({
      type: 'sse_error',
      afterChunks: 0,
      error: { message: 'The server had an error', type: 'server_error' },
    });
    const { client, agent } = newClient(server, { maxRetries: 0 });
    const error = await (async () => {
      for await (const _ of await client.chat.completions.create({ ...params, stream: true })) {
        // consume
      }
    })().catch((e: unknown) => e);
    await agent.destroy();
    expect(classifyError(error)).toMatchObject({ reason: 'server_error', retryable: true, status: 500 });
  });

  test("errors from openai's CommonJS build (a CJS app) are classified like the ESM ones", async () => {
    const require = createRequire(import.meta.url);
    const OpenAICjs = require('openai') as typeof OpenAI;
    expect(OpenAICjs.APIError).not.toBe(OpenAI.APIError); // really another copy
    const client = new OpenAICjs({ apiKey: TEST_API_KEY, baseURL: server.url, maxRetries: 0 });
    server.script(
      { type: 'status', status: 429, headers: { 'retry-after': '1' } },
      { type: 'status', status: 503 },
    );
    const rateLimited = await client.chat.completions.create(params).catch((e: unknown) => e);
    const unavailable = await client.chat.completions.create(params).catch((e: unknown) => e);
    const timedOut = await (async () => {
      server.script({ type: 'stall', at: 'headers' });
      return client.chat.completions.create(params, { timeout: 50 }).catch((e: unknown) => e);
    })();

    expect(classifyError(rateLimited)).toMatchObject({ reason: 'rate_limited', retryAfterMs: 1000 });
    expect(classifyError(unavailable)).toMatchObject({ reason: 'server_error', status: 503 });
    expect(classifyError(timedOut)).toMatchObject({
      reason: 'timeout',
      errorType: 'APIConnectionTimeoutError',
    });
  });
});

describe("resilient-chat's own errors, read by their code first", () => {
  const chat = (clients: ResilientClientOptions['clients'], options: Partial<ResilientClientOptions> = {}) =>
    createResilientClient({ clients, logger: false, ...options }).chat.completions;

  test('ClientNotReplaceableError: a single instance whose own transport died is a setup error, never retried', async () => {
    const { client, agent } = newClient(server);
    await agent.destroy();
    const error = await chat(client)
      .create(params)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientNotReplaceableError);
    expect(classifyError(error)).toEqual({
      reason: 'setup_error',
      retryable: false,
      errorType: 'ClientNotReplaceableError',
    });
  });

  test('CircuitOpenError: circuit_open, with the time until a probe goes through', async () => {
    const failing = await startMockOpenAI({ fallback: () => ({ type: 'status', status: 503 }) });
    const { client, agent } = newClient(failing);
    const completions = chat(client, {
      retry: { maxRetries: 0 },
      circuitBreaker: { minimumThroughput: 1, breakDurationMs: 60_000 },
    });
    await completions.create(params).catch(() => undefined);
    const error = await completions.create(params).catch((e: unknown) => e);
    await agent.destroy();
    await failing.close();
    expect(error).toBeInstanceOf(CircuitOpenError);
    const { retryAfterMs } = error as CircuitOpenError;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(classifyError(error)).toEqual({
      reason: 'circuit_open',
      retryable: true,
      errorType: 'CircuitOpenError',
      retryAfterMs,
    });
  });

  test('bad options and clients are setup errors; a closed pool is not retryable', async () => {
    const badOption = (() => {
      try {
        return createResilientClient({
          clients: new OpenAI({ apiKey: TEST_API_KEY }),
          retry: { maxRetries: -1 },
        });
      } catch (error) {
        return error;
      }
    })();
    const badClient = await chat(() => ({}) as OpenAI)
      .create(params)
      .catch((e: unknown) => e);
    const pool = new ClientPool({
      create: (_, transport) => new OpenAI({ apiKey: TEST_API_KEY, ...transport }),
    });
    await pool.close();
    const poolClosed = await chat(pool)
      .create(params)
      .catch((e: unknown) => e);

    expect(badOption).toBeInstanceOf(InvalidOptionError);
    expect(classifyError(badOption)).toEqual({
      reason: 'setup_error',
      retryable: false,
      errorType: 'InvalidOptionError',
    });
    expect(badClient).toBeInstanceOf(InvalidClientError);
    expect(classifyError(badClient)).toMatchObject({
      reason: 'setup_error',
      errorType: 'InvalidClientError',
    });
    expect(poolClosed).toBeInstanceOf(PoolClosedError);
    expect(classifyError(poolClosed)).toMatchObject({
      reason: 'not_retryable',
      errorType: 'PoolClosedError',
    });
  });

  test('a bad request field, a stream read twice, a setting a source has not: through real calls', async () => {
    const { client, agent } = newClient(server);
    const completions = chat(client);
    const noModel = await completions.create({ ...params, model: '' }).catch((e: unknown) => e);
    const badSignal = await completions
      .create(params, { signal: {} as AbortSignal })
      .catch((e: unknown) => e);
    const stream = await completions.create({ ...params, stream: true });
    for await (const _ of stream) {
      // drain
    }
    const readTwice = await (async () => {
      for await (const _ of stream) {
        // the second read throws
      }
    })().catch((e: unknown) => e);
    const overFactory = createResilientClient({ clients: () => client, logger: false });
    const unavailable = (() => {
      try {
        return overFactory.baseURL;
      } catch (error) {
        return error;
      }
    })();
    await agent.destroy();

    for (const [error, type] of [
      [noModel, InvalidRequestError],
      [badSignal, InvalidRequestError],
      [unavailable, ClientSettingUnavailableError],
    ] as const) {
      expect(error).toBeInstanceOf(type);
      expect(classifyError(error)).toEqual({ reason: 'setup_error', retryable: false, errorType: type.name });
    }
    expect(readTwice).toBeInstanceOf(StreamConsumedError);
    expect(classifyError(readTwice)).toEqual({
      reason: 'not_retryable',
      retryable: false,
      errorType: 'StreamConsumedError',
    });
  });

  test('a missing package, an attempt not made on a dead dispatcher, and one from another copy', async () => {
    expect(classifyError(new MissingPackageError('undici', 'ClientPool', undefined))).toMatchObject({
      reason: 'setup_error',
    });
    // An APIConnectionError of ours that a fresh client can make good: client_closed, its code as the type.
    expect(classifyError(new ClientClosedError())).toEqual({
      reason: 'client_closed',
      retryable: true,
      errorType: 'RESILIENT_CHAT_CLIENT_CLOSED',
    });
    // Our code is read before any rule the parent class would match, from another copy of the package too.
    const secondCopy = '../../src/errors.js?second-copy';
    const copy = (await import(secondCopy)) as typeof import('../../src/errors.js');
    expect(classifyError(new copy.CircuitOpenError('x', 7))).toEqual({
      reason: 'circuit_open',
      retryable: true,
      errorType: 'CircuitOpenError',
      retryAfterMs: 7,
    });
    const notReplaceable = new copy.ClientNotReplaceableError('dispatcher', await destroyedClientError());
    expect(classifyError(notReplaceable)).toMatchObject({ reason: 'setup_error' });
  });
});

/**
 * Under jest a test's modules run in a VM context of their own, so the npm undici, the test's TypeError and
 * openai's errors are not those of Node's bundled fetch. jest-project/ (package-jest.test.ts) meets these
 * shapes for real; here they are made with node:vm.
 */
describe('errors from another realm (jest)', () => {
  test('an undici client destroyed in another realm reaches Node fetch as text, and is still ours, closed', async () => {
    const foreign = runInNewContext(`
      class ClientDestroyedError extends Error {
        constructor() { super('The client is destroyed'); this.name = 'ClientDestroyedError'; this.code = 'UND_ERR_DESTROYED'; }
      }
      new ClientDestroyedError();`);
    class ForeignAgent extends Agent {
      override dispatch(_options: unknown, handler: { onError?(error: unknown): void }): boolean {
        handler.onError?.(foreign); // what a destroyed Agent of the test's realm does
        return false;
      }
    }
    const dispatcher = new ForeignAgent();
    const client = new OpenAI({
      apiKey: TEST_API_KEY,
      baseURL: server.url,
      maxRetries: 0,
      fetchOptions: { dispatcher },
    });
    const error = await client.chat.completions.create(params).catch((e: unknown) => e);
    // Node's fetch: not an Error of its realm, so `new Error(String(error))`, the code gone.
    expect((error as Error).cause).toMatchObject({ message: 'fetch failed' });
    const text = ((error as Error).cause as Error).cause as Error & { code?: unknown };
    expect(text.message).toBe('ClientDestroyedError: The client is destroyed');
    expect(text.code).toBeUndefined();
    expect(classifyError(error)).toEqual({
      reason: 'client_closed',
      retryable: true,
      errorType: 'UND_ERR_DESTROYED',
    });
    await dispatcher.close();
  });

  test('the same text in a server error body is not our client', async () => {
    const error = await errorFor({
      type: 'status',
      status: 503,
      body: { error: { message: 'ClientClosedError: The client is closed', type: 'server_error' } },
    });
    expect(classifyError(error)).toMatchObject({ reason: 'server_error', status: 503 });
  });

  test('a TypeError of another realm, or recast by openai-node as an Error named TypeError', () => {
    const foreign = runInNewContext("new TypeError('terminated')") as Error;
    expect(foreign).not.toBeInstanceOf(TypeError);
    const recast = Object.assign(new Error('terminated'), { name: 'TypeError' });
    const setup = Object.assign(new Error('dispatcher.dispatch is not a function'), { name: 'TypeError' });
    expect(classifyError(foreign)).toMatchObject({ reason: 'connection' });
    expect(classifyError(recast)).toMatchObject({ reason: 'connection' });
    expect(classifyError(setup)).toMatchObject({ reason: 'setup_error' });
  });

  test("undici's code-less refusals from another realm are still setup errors; its network errors are not", () => {
    // Node's fetch throws its own realm's TypeErrors; under jest, openai-node (in the test's realm) recasts
    // them as an Error named TypeError, its cause kept.
    const foreign = (source: string) => runInNewContext(source) as Error;
    const recast = (error: Error) =>
      Object.assign(new Error(error.message, { cause: error.cause }), { name: error.name });
    const credentials = foreign(
      "new TypeError('Request cannot be constructed from a URL that includes credentials: http://u:p@h/v1')",
    );
    const unknownScheme = foreign(
      "Object.assign(new TypeError('fetch failed'), { cause: new Error('unknown scheme') })",
    );
    const network = foreign(
      "Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) })",
    );
    const wrapped = (cause: Error) => new OpenAI.APIConnectionError({ cause });
    for (const error of [credentials, unknownScheme]) {
      expect(error).not.toBeInstanceOf(TypeError);
      for (const seen of [wrapped(error), wrapped(recast(error))])
        expect(classifyError(seen)).toMatchObject({ reason: 'setup_error', retryable: false });
    }
    for (const seen of [wrapped(network), wrapped(recast(network))])
      expect(classifyError(seen)).toMatchObject({ reason: 'connection', errorType: 'ECONNREFUSED' });
  });

  test("a proxy's closed client in an error of openai's other build keeps its status", async () => {
    const require = createRequire(import.meta.url);
    const OpenAICjs = require('openai') as typeof OpenAI;
    const client = new OpenAICjs({ apiKey: TEST_API_KEY, baseURL: server.url, maxRetries: 0 });
    server.script({ type: 'litellm_closed_client' });
    const error = await client.chat.completions.create(params).catch((e: unknown) => e);
    expect(classifyError(error)).toEqual({
      reason: 'upstream_client_closed',
      retryable: true,
      errorType: 'InternalServerError',
      status: 500,
    });
  });
});
