/**
 * One contract test per reach into openai-node's (and undici's) non-public parts, all of which live in
 * src/openai-internals.ts. When an openai upgrade moves one, the test named after it fails here, once.
 */
import OpenAI, { AzureOpenAI } from 'openai';
import { Agent } from 'undici';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  APIPromise,
  constructorOptions,
  copyClientAs,
  dispatcherOf,
  isDispatcherDead,
  isReplayable,
  ownTransport,
  PagePromise,
  requestParts,
  Stream,
  withRequestId,
} from '../../src/openai-internals.js';
import { type MockOpenAI, startMockOpenAI } from '../../src/testing/index.js';
import { TEST_API_KEY } from '../support/clients.js';
import { params } from '../support/params.js';

let server: MockOpenAI;
beforeEach(async () => {
  server = await startMockOpenAI();
});
afterEach(() => server.close());

const client = () => new OpenAI({ apiKey: TEST_API_KEY, baseURL: server.url });

describe('openai-node internals', () => {
  test('an APIPromise keeps its response and its parse apart (`responsePromise`, `parseResponse`)', async () => {
    const c = client();
    const promise = c.request({ method: 'post', path: '/chat/completions', body: params });
    const fields = promise as unknown as Record<string, unknown>;
    expect(fields.responsePromise, 'APIPromise#responsePromise').toBeInstanceOf(Promise);
    expect(typeof fields.parseResponse, 'APIPromise#parseResponse').toBe('function');
    const parts = requestParts(c, promise as APIPromise<unknown>);
    const props = await parts.response;
    expect(props.response.bodyUsed, 'the response comes at its headers, unread').toBe(false);
    const data = (await parts.parse(props)) as { id: string; _request_id?: string };
    expect(data.id).toMatch(/^chatcmpl/);
    expect(data._request_id).toBe(props.response.headers.get('x-request-id'));
  });

  test('the parse of a stream request is an openai Stream over the response (`openai/core/streaming`)', async () => {
    const c = client();
    const parts = requestParts(
      c,
      c.request({
        method: 'post',
        path: '/chat/completions',
        body: { ...params, stream: true },
        stream: true,
      }),
    );
    const stream = await parts.parse(await parts.response);
    expect(stream).toBeInstanceOf(Stream);
    for await (const _ of stream as Stream<unknown>) {
      // drain
    }
  });

  test('the deep imports: APIPromise, PagePromise and Stream are the classes openai-node returns', () => {
    const c = client();
    const list = c.models.list();
    expect(list).toBeInstanceOf(PagePromise);
    expect(list).toBeInstanceOf(APIPromise);
  });

  test('a streaming body is not replayable; JSON, text and files are (`__metadata.hasStreamingBody`)', () => {
    const base = { method: 'post' as const, path: '/files' };
    expect(isReplayable({ ...base, body: { a: 1 } })).toBe(true);
    expect(isReplayable({ ...base, body: new Blob(['x']) })).toBe(true);
    expect(isReplayable({ ...base, body: new ReadableStream() })).toBe(false);
    expect(isReplayable({ ...base, body: { a: 1 }, __metadata: { hasStreamingBody: true } })).toBe(false);
  });

  test('the transport a client brought: `fetchOptions.dispatcher` or a `fetch` in the protected `_options`', () => {
    const agent = new Agent();
    const withDispatcher = new OpenAI({ apiKey: 'k', fetchOptions: { dispatcher: agent } as never });
    expect(dispatcherOf(withDispatcher)).toBe(agent);
    expect(ownTransport(withDispatcher)).toBe('dispatcher');
    expect(ownTransport(new OpenAI({ apiKey: 'k', fetch: (...args) => fetch(...args) }))).toBe('fetch');
    expect(ownTransport(new OpenAI({ apiKey: 'k' }))).toBeUndefined();
    void agent.destroy();
  });

  test('what the constructor was given is kept in the protected `_options`, an apiKey function included', () => {
    const apiKey = async () => 'k';
    const given = constructorOptions(new OpenAI({ apiKey, organization: 'org-1' }));
    expect(given.apiKey, '_options.apiKey').toBe(apiKey);
    expect(given.organization, '_options.organization').toBe('org-1');
  });

  test('an undici dispatcher says `closed` after close() and `destroyed` after destroy()', async () => {
    const closing = new Agent();
    expect(isDispatcherDead(closing)).toBe(false);
    const closed = closing.close();
    expect(isDispatcherDead(closing), 'closed while close() is pending').toBe(true);
    await closed;
    const destroyed = new Agent();
    await destroyed.destroy();
    expect(isDispatcherDead(destroyed)).toBe(true);
  });

  test('withOptions() builds its copy with `new this.constructor(...)`: a copy as another class, settings intact', () => {
    const original = new AzureOpenAI({
      apiKey: 'k',
      apiVersion: '2025-04-01-preview',
      endpoint: 'https://example.openai.azure.com',
      deployment: 'd',
      defaultQuery: { q: '1' },
      webhookSecret: 'secret',
    });
    class Marked extends AzureOpenAI {}
    const copy = copyClientAs(original, Marked);
    expect(copy).toBeInstanceOf(Marked);
    expect(original.constructor).toBe(AzureOpenAI); // the original is left as it was
    expect([copy.baseURL, copy.apiVersion, copy.deploymentName, copy.webhookSecret]).toEqual([
      original.baseURL,
      original.apiVersion,
      original.deploymentName,
      original.webhookSecret,
    ]);
    expect(copy.buildURL('/models', {})).toBe(original.buildURL('/models', {}));
  });

  test('`_request_id` is set as openai-node sets it: not enumerable, from x-request-id', () => {
    const response = new Response('{}', { headers: { 'x-request-id': 'req_1' } });
    const value = withRequestId({ a: 1 }, response);
    expect((value as { _request_id?: string })._request_id).toBe('req_1');
    expect(Object.keys(value)).toEqual(['a']);
    expect(withRequestId([1], response)).toEqual([1]);
  });
});
