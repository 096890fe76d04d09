/**
 * The differences from openai-node that README lists ("Differences from openai-node"), each asserted: what
 * resilient-chat does instead, and that openai-node does otherwise. The rest of the parity suite asserts
 * that nothing else differs.
 */
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { describe, expect, test, vi } from 'vitest';
import { createResilientClient } from '../../../src/index.js';
import { quietLogger } from '../../support/assertions.js';
import { TEST_API_KEY } from '../../support/clients.js';
import {
  chatParams,
  completion,
  makeClient,
  modelList,
  observe,
  RESILIENT,
  startParityServer,
} from '../../support/parity.js';

describe('differences from openai-node', () => {
  test('an Idempotency-Key on POST, PUT and PATCH, the same on every attempt; none on GET', async () => {
    const run = {
      handler: (request: { method: string }, index: number) =>
        request.method === 'GET'
          ? { json: modelList(['a']) }
          : index === 0
            ? { status: 503, headers: { 'retry-after-ms': '0' }, json: { error: { message: 'busy' } } }
            : { json: completion() },
      scenario: async (
        client: import('openai').OpenAI,
        server: { requests: { headers: Record<string, string> }[] },
      ) => {
        await client.chat.completions.create(chatParams);
        await client.models.list();
        return server.requests.map((r) => r.headers['idempotency-key']);
      },
    };
    const bare = await observe('bare', run);
    expect(bare.idempotencyKeys).toEqual([false, false, false]);
    for (const variant of RESILIENT) {
      const ours = await observe(variant, run);
      expect(ours.idempotencyKeys, variant).toEqual([true, true, false]);
      const [first, retry] = ours.caller as string[];
      expect(retry, variant).toBe(first);
    }
  });

  test('chat completions and embeddings need a model: a TypeError (InvalidRequestError) before anything is sent', async () => {
    const run = {
      handler: () => ({ status: 400, json: { error: { message: 'you must provide a model parameter' } } }),
      scenario: (client: import('openai').OpenAI) =>
        client.chat.completions.create({ messages: chatParams.messages } as never).then(
          () => 'resolved',
          (error: Error) => `${error.constructor.name}${error instanceof TypeError ? ' (a TypeError)' : ''}`,
        ),
    };
    const bare = await observe('bare', run);
    expect([bare.caller, bare.server.length]).toEqual(['BadRequestError', 1]);
    for (const variant of RESILIENT) {
      const ours = await observe(variant, run);
      expect([ours.caller, ours.server.length], variant).toEqual(['InvalidRequestError (a TypeError)', 0]);
    }
  });

  test('through a ClientPool, responses are of the pool’s undici (same API, another Response class)', async () => {
    const run = {
      handler: () => ({ json: modelList(['a']) }),
      scenario: async (client: import('openai').OpenAI) => {
        const raw = await client.models.list().asResponse();
        return { global: raw instanceof Response, json: await raw.json() };
      },
    };
    const bare = await observe('bare', run);
    expect(bare.caller).toEqual({ global: true, json: modelList(['a']) });
    expect((await observe('single', run)).caller).toEqual(bare.caller);
    expect((await observe('pool', run)).caller).toEqual({ global: false, json: modelList(['a']) });
  });
  test('over one instance, a method patched on the resilient client (a spy on buildRequest) is not called; on the instance it is', async () => {
    const server = await startParityServer(() => ({ json: completion() }));
    const bare = makeClient('bare', server);
    const resilient = createResilientClient({ clients: bare.client, logger: quietLogger });
    const onInstance = vi.spyOn(bare.client, 'buildRequest');
    const onResilient = vi.spyOn(resilient, 'buildRequest');
    await resilient.chat.completions.create(chatParams);
    expect([onResilient.mock.calls.length, onInstance.mock.calls.length]).toEqual([0, 1]);
    await bare.client.chat.completions.create(chatParams);
    expect(onInstance.mock.calls.length).toBe(2);
    await Promise.all([bare.close(), server.close()]);
  });

  test('over one instance, the resilient client is one more client object of its class (openai-node’s copy)', async () => {
    let constructed = 0;
    class Counting extends OpenAI {
      constructor(options: ConstructorParameters<typeof OpenAI>[0]) {
        super(options);
        constructed++; // as a provider's configure() runs, once per client object
      }
    }
    const options = { apiKey: TEST_API_KEY, baseURL: 'http://127.0.0.1:9/v1' };
    new Counting(options).withOptions({ timeout: 1 });
    expect(constructed).toBe(2);
    constructed = 0;
    createResilientClient({ clients: new Counting(options), logger: quietLogger }).withOptions({
      timeout: 1,
    });
    expect(constructed).toBe(4);
  });

  test('a Responses stream’s lifecycle events reach the caller with its first event of substance', async () => {
    const event = (data: object) =>
      `event: ${(data as { type: string }).type}\ndata: ${JSON.stringify(data)}\n\n`;
    const created = {
      type: 'response.created',
      sequence_number: 0,
      response: { id: 'resp_1', status: 'in_progress' },
    };
    const delta = {
      type: 'response.output_text.delta',
      sequence_number: 1,
      item_id: 'msg_1',
      output_index: 0,
      content_index: 0,
      delta: 'Hi',
    };
    let held: ServerResponse | undefined;
    let createdSent!: () => void;
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(event(created), () => createdSent());
      held = res;
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const stream = (client: OpenAI) =>
      client.responses.create({ model: 'gpt-4o-mini', input: 'hi', stream: true });
    const bare = new OpenAI({ apiKey: TEST_API_KEY, baseURL });
    const ours = createResilientClient({
      clients: new OpenAI({ apiKey: TEST_API_KEY, baseURL }),
      logger: quietLogger,
    });

    // openai-node: create() resolves, and response.created is read, while the server holds the rest back.
    let sent = new Promise<void>((resolve) => {
      createdSent = resolve;
    });
    const bareStream = await stream(bare);
    const bareFirst = await bareStream[Symbol.asyncIterator]().next();
    expect((bareFirst.value as { type: string }).type).toBe('response.created');
    held?.end(event(delta));
    await sent;

    // resilient-chat: create() settles only once an event of substance came, then yields both in order.
    sent = new Promise<void>((resolve) => {
      createdSent = resolve;
    });
    let settledBeforeSubstance = false;
    let substanceSent = false;
    const pending = stream(ours).then((s) => {
      settledBeforeSubstance = !substanceSent;
      return s;
    });
    await sent;
    await new Promise((resolve) => setTimeout(resolve, 50)); // time enough for a wrong early settle to show
    substanceSent = true;
    held?.end(event(delta));
    const types: string[] = [];
    for await (const e of await pending) types.push((e as { type: string }).type);
    expect(settledBeforeSubstance).toBe(false);
    expect(types).toEqual(['response.created', 'response.output_text.delta']);
    server.close();
  });
});
