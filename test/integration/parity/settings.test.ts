/**
 * The client's own settings as a library reads them: over a single instance they are that instance's (every
 * one openai-node copies, read and written through); over a factory, a source or a pool they are nobody's,
 * and reading one says so instead of making one up.
 */
import { createHmac } from 'node:crypto';
import OpenAI from 'openai';
import { OpenAIRealtimeWebSocket } from 'openai/realtime/websocket';
import { describe, expect, test } from 'vitest';
import {
  ClientSettingUnavailableError,
  createResilientClient,
  type SharedSettings,
} from '../../../src/index.js';
import { quietLogger } from '../../support/assertions.js';
import {
  type ClientOptions,
  chatParams,
  completion,
  expectParity,
  makeClient,
  modelList,
  type ParityServer,
  startParityServer,
} from '../../support/parity.js';

const SETTINGS = [
  'apiKey',
  'adminAPIKey',
  'organization',
  'project',
  'webhookSecret',
  'baseURL',
  'timeout',
  'fetchOptions',
  'logger',
  'logLevel',
] as const;

const configured: ClientOptions = {
  organization: 'org-1',
  project: 'proj-1',
  webhookSecret: `whsec_${Buffer.from('webhook secret of sixteen+ bytes').toString('base64')}`,
  adminAPIKey: 'sk-admin-test',
  defaultQuery: { tenant: 'a' },
  defaultHeaders: { 'x-team': 'core' },
  timeout: 12_345,
  logLevel: 'error',
};

function signed(secret: string, payload: string): Record<string, string> {
  const id = 'wh_1';
  const timestamp = String(Math.floor(Date.now() / 1000));
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${payload}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}

describe('over a single instance', () => {
  test('every setting reads as the instance has it, and a write reaches the instance', async () => {
    const server = await startParityServer(() => ({ json: modelList(['a']) }));
    const single = makeClient('bare', server, configured);
    const resilient = createResilientClient({ clients: single.client, logger: quietLogger });
    for (const name of SETTINGS) expect(resilient[name], name).toBe(single.client[name]);
    expect(resilient).toBeInstanceOf(OpenAI);
    expect(resilient.constructor.name).toBe('OpenAI');

    const other = await startParityServer(() => ({ json: modelList(['moved']) }));
    resilient.baseURL = other.url;
    expect(single.client.baseURL).toBe(other.url);
    expect((await resilient.models.list()).data.map((m) => m.id)).toEqual(['moved']);
    expect(server.requests).toHaveLength(0);
    await Promise.all([single.close(), server.close(), other.close()]);
  });

  test('webhooks.unwrap() verifies with the instance’s webhookSecret', async () => {
    const payload = JSON.stringify({
      id: 'evt_1',
      type: 'response.completed',
      created_at: 1,
      data: { id: 'r' },
    });
    await expectParity(
      {
        handler: () => ({ json: {} }),
        options: configured,
        scenario: async (client) => {
          const event = await client.webhooks.unwrap(
            payload,
            signed(String(configured.webhookSecret), payload),
          );
          const forged = await client.webhooks
            .unwrap(payload, { ...signed(String(configured.webhookSecret), payload), 'webhook-id': 'x' })
            .catch((e: Error) => e.constructor.name);
          return { event, forged };
        },
      },
      ['single'],
    );
  });

  test('buildURL() and buildRequest() carry defaultQuery, defaultHeaders and the credentials', async () => {
    await expectParity(
      {
        handler: () => ({ json: {} }),
        options: configured,
        scenario: async (client, server) => {
          const url = client.buildURL('/models', { limit: 2 }).replace(server.url, '<server>');
          const { req } = await client.buildRequest({
            method: 'post',
            path: '/chat/completions',
            body: chatParams,
          });
          const headers = Object.fromEntries(
            [...new Headers(req.headers as ConstructorParameters<typeof Headers>[0]).entries()].filter(
              ([name]) => !name.startsWith('x-stainless-'),
            ),
          );
          return { url, headers, method: req.method, body: req.body };
        },
      },
      ['single'],
    );
  });

  test('withOptions(): dataResidency, a new baseURL, and the instance’s own checks at once', async () => {
    await expectParity(
      {
        handler: () => ({ json: completion() }),
        scenario: async (client, server) => {
          // openai 7.0 knows no dataResidency (it keeps the base URL): compare the URL without the port.
          const eu = client.withOptions({ dataResidency: 'eu' }).baseURL.replace(server.url, '<server>');
          const invalid = (() => {
            try {
              client.withOptions({ dataResidency: 'mars' as never });
              return 'accepted';
            } catch (error) {
              return (error as Error).message;
            }
          })();
          const both = (() => {
            try {
              client.withOptions({ dataResidency: 'eu', baseURL: server.url });
              return 'accepted';
            } catch (error) {
              return (error as Error).message;
            }
          })();
          const derived = client.withOptions({ defaultHeaders: { 'x-derived': '1' }, timeout: 5_000 });
          const answer = await derived.chat.completions.create(chatParams);
          return { eu, invalid, both, timeout: derived.timeout, id: answer.id };
        },
      },
      ['single'],
    );
  });

  test('a realtime WebSocket opens with the instance’s endpoint and key', async () => {
    const server = await startParityServer(() => ({ json: {} }));
    const single = makeClient('bare', server);
    const resilient = createResilientClient({ clients: single.client, logger: quietLogger });
    const urls = [single.client, resilient].map((client) => {
      const rt = new OpenAIRealtimeWebSocket({ model: 'gpt-realtime' }, client);
      rt.on('error', () => {}); // nothing listens on the other end
      rt.socket.close();
      return rt.url.toString();
    });
    expect(urls[1]).toBe(urls[0]);
    expect(urls[0]).toContain('127.0.0.1');
    await Promise.all([single.close(), server.close()]);
  });
});

describe('over a factory, a source or a pool', () => {
  for (const variant of ['factory', 'pool'] as const) {
    test(`${variant}: a setting read or written throws ClientSettingUnavailableError, naming it`, async () => {
      const server = await startParityServer(() => ({ json: completion() }));
      const { client, close } = makeClient(variant, server, configured);
      for (const name of SETTINGS.filter((s) => s !== 'logger' && s !== 'logLevel')) {
        expect(() => client[name], name).toThrow(ClientSettingUnavailableError);
        expect(() => client[name], name).toThrow(`client.${name}`);
        expect(() => {
          (client as unknown as Record<string, unknown>)[name] = 'x';
        }, name).toThrow(ClientSettingUnavailableError);
      }
      // What the resilient client itself has: its own log settings, and its own maxRetries (the policy's).
      expect(client.logLevel).toBeDefined();
      expect(client.maxRetries).toBe(2);
      // Requests still go through the source's clients, with their settings.
      expect((await client.chat.completions.create(chatParams)).id).toBe('chatcmpl-1');
      expect(server.requests[0]?.url).toBe('/v1/chat/completions?tenant=a');
      expect(server.requests[0]?.headers['openai-organization']).toBe('org-1');
      await Promise.all([close(), server.close()]);
    });
  }

  test('nothing made up reaches a request: webhooks and realtime fail clearly, never with a placeholder', async () => {
    const server = await startParityServer(() => ({ json: {} }));
    const { client, close } = makeClient('factory', server, configured);
    await expect(client.webhooks.unwrap('{}', {})).rejects.toThrow(ClientSettingUnavailableError);
    // An explicit secret needs nothing of the client's.
    const payload = '{"id":"evt_1"}';
    const secret = String(configured.webhookSecret);
    await expect(client.webhooks.unwrap(payload, signed(secret, payload), secret)).resolves.toEqual({
      id: 'evt_1',
    });
    // Either resilient-chat's refusal, or (openai 7.0, which looks at the credentials' function first)
    // openai-node's own, pointing to `create()`; never a connection with a made-up key.
    expect(() => new OpenAIRealtimeWebSocket({ model: 'gpt-realtime' }, client)).toThrow(
      /`client\.apiKey` is not known|function-based apiKey/,
    );
    // openai-node asks for the key and wraps what it learns: our error, as the cause, and in the message.
    const asked = await OpenAIRealtimeWebSocket.create(client, { model: 'gpt-realtime' }).catch(
      (e: Error) => e,
    );
    expect((asked as Error).message).toContain('`client.apiKey` is not known');
    expect((asked as Error).cause).toBeInstanceOf(ClientSettingUnavailableError);
    expect(() => client.buildURL('/models', {})).toThrow(ClientSettingUnavailableError);
    await Promise.all([close(), server.close()]);
  });
});

/** The four settings a source's clients can be declared to share, as `configured` has them. */
const DECLARED = ['baseURL', 'organization', 'project', 'webhookSecret'] as const;
const declared = (server: ParityServer): SharedSettings => ({
  baseURL: server.url,
  organization: configured.organization,
  project: configured.project,
  webhookSecret: configured.webhookSecret,
});

describe('over a factory or a pool with sharedSettings', () => {
  for (const variant of ['factory', 'pool'] as const) {
    test(`${variant}: a declared setting reads as a bare client built with it has it; the others still throw`, async () => {
      const server = await startParityServer(() => ({ json: completion() }));
      const bare = makeClient('bare', server, configured);
      const { client, close } = makeClient(variant, server, configured, { sharedSettings: declared(server) });
      for (const name of DECLARED) {
        expect(client[name], name).toBe(bare.client[name]);
        // Shown, not movable: a write could not reach the source's clients.
        expect(() => {
          (client as unknown as Record<string, unknown>)[name] = 'x';
        }, name).toThrow(ClientSettingUnavailableError);
      }
      for (const name of SETTINGS.filter((s) => !(DECLARED as readonly string[]).includes(s))) {
        if (name === 'logger' || name === 'logLevel') continue;
        expect(() => client[name], name).toThrow(`client.${name}`);
      }
      // The source's clients' own defaultQuery is not the resilient client's to fill into a URL.
      expect(() => client.buildURL('/models', {})).toThrow('`client.defaultQuery` is not known');
      expect((await client.chat.completions.create(chatParams)).id).toBe('chatcmpl-1');
      expect(server.requests[0]?.headers['openai-project']).toBe('proj-1');
      await Promise.all([close(), bare.close(), server.close()]);
    });
  }

  test('a trailing slash in the declared baseURL is shown as written, and matches the clients without it', async () => {
    const server = await startParityServer(() => ({ json: completion() }));
    const { client, close } = makeClient(
      'factory',
      server,
      {},
      { sharedSettings: { baseURL: `${server.url}/` } },
    );
    expect(client.baseURL).toBe(`${server.url}/`);
    expect(client.baseURL).toBe(new OpenAI({ apiKey: 'sk-unused', baseURL: `${server.url}/` }).baseURL);
    expect((await client.chat.completions.create(chatParams)).id).toBe('chatcmpl-1');
    await Promise.all([close(), server.close()]);
  });

  test('webhooks.unwrap() verifies a signed payload, and refuses a forged one, as the bare client does', async () => {
    const payload = JSON.stringify({
      id: 'evt_1',
      type: 'response.completed',
      created_at: 1,
      data: { id: 'r' },
    });
    const secret = String(configured.webhookSecret);
    const observed = await expectParity(
      {
        handler: () => ({ json: {} }),
        options: configured,
        resilient: (server) => ({ sharedSettings: declared(server) }),
        scenario: async (client, server) => {
          const event = await client.webhooks.unwrap(payload, signed(secret, payload));
          const forged = await client.webhooks
            .unwrap(payload, { ...signed(secret, payload), 'webhook-id': 'x' })
            .catch((e: Error) => e.constructor.name);
          const settings = DECLARED.map((name) => String(client[name]).replace(server.url, '<server>'));
          return { event, forged, settings };
        },
      },
      ['factory', 'pool'],
    );
    expect(observed.caller).toMatchObject({ event: { id: 'evt_1' }, forged: 'InvalidWebhookSignatureError' });
  });

  test('withOptions(): the copy shows the value it was given, and its requests go out with it', async () => {
    const server = await startParityServer(() => ({ json: modelList(['first']) }));
    const other = await startParityServer(() => ({ json: modelList(['other']) }));
    const { client, close } = makeClient('pool', server, configured, { sharedSettings: declared(server) });
    const copy = client.withOptions({ baseURL: other.url, organization: 'org-2' });
    expect([copy.baseURL, copy.organization, copy.project]).toEqual([other.url, 'org-2', 'proj-1']);
    expect([client.baseURL, client.organization]).toEqual([server.url, 'org-1']);
    expect((await copy.models.list()).data.map((m) => m.id)).toEqual(['other']);
    expect(other.requests[0]?.headers['openai-organization']).toBe('org-2');
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(['first']);
    // A copy of a copy keeps what both set; undeclared settings stay unknown on every copy.
    expect(copy.withOptions({ timeout: 1_000 }).baseURL).toBe(other.url);
    expect(() => copy.apiKey).toThrow(ClientSettingUnavailableError);
    await Promise.all([close(), server.close(), other.close()]);
  });

  test('withOptions(): a copy whose options leave its base URL unknown shows none, and nothing made up', async () => {
    const server = await startParityServer(() => ({ json: modelList(['first']) }));
    const { client, close } = makeClient('pool', server, configured, { sharedSettings: declared(server) });
    // baseURL: null is openai's default (from the environment); dataResidency and provider derive their own.
    for (const options of [{ baseURL: null }, { dataResidency: 'eu' as const }]) {
      const copy = client.withOptions(options);
      expect(() => copy.baseURL).toThrow(ClientSettingUnavailableError);
      expect(copy.organization).toBe('org-1'); // what the options leave alone is still declared
    }
    // A value of the wrong type is not shown either: openai-node's own checks decide what it means.
    expect(() => client.withOptions({ organization: 42 as never }).organization).toThrow(
      ClientSettingUnavailableError,
    );
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(['first']);
    await Promise.all([close(), server.close()]);
  });
});
