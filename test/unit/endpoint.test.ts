/**
 * The breaker's endpoint: what tells two upstreams apart (base URL with its path, credentials, model), what
 * does not (a client rebuilt with the same settings, a trailing slash, a default port), and that no
 * credential is shown. Real openai clients; nothing is sent.
 */
import OpenAI from 'openai';
import { describe, expect, test } from 'vitest';
import { endpointOf, requestEndpoint, serverAttributes } from '../../src/clients/endpoint.js';

const KEY = 'sk-SECRET-0123456789abcdef';
const client = (options: ConstructorParameters<typeof OpenAI>[0] = {}) =>
  new OpenAI({ apiKey: KEY, baseURL: 'https://gateway.example/route-a/v1', ...options });
const idOf = (options?: ConstructorParameters<typeof OpenAI>[0], model = 'gpt-4o-mini') =>
  endpointOf(client(options), model).id;

describe('one breaker per upstream', () => {
  test('a client rebuilt with the same settings (a pool after a TTL) shares the breaker', () => {
    expect(idOf()).toBe(idOf());
    expect(idOf({ organization: 'org-1', project: 'p' })).toBe(idOf({ organization: 'org-1', project: 'p' }));
  });

  test('the same base URL written another way is the same upstream', () => {
    const base = idOf({ baseURL: 'https://gateway.example/route-a/v1' });
    expect(idOf({ baseURL: 'https://gateway.example/route-a/v1/' })).toBe(base);
    expect(idOf({ baseURL: 'https://GATEWAY.example:443/route-a/v1' })).toBe(base);
  });

  test('another path, host, port, scheme, key, organization, project or model is another breaker', () => {
    const base = idOf();
    const others = [
      idOf({ baseURL: 'https://gateway.example/route-b/v1' }),
      idOf({ baseURL: 'https://other.example/route-a/v1' }),
      idOf({ baseURL: 'https://gateway.example:8443/route-a/v1' }),
      idOf({ baseURL: 'http://gateway.example/route-a/v1' }),
      idOf({ apiKey: 'sk-another' }),
      idOf({ organization: 'org-2' }),
      idOf({ project: 'proj-2' }),
      idOf({}, 'gpt-4.1'),
    ];
    expect(new Set([base, ...others]).size).toBe(others.length + 1);
  });

  test('a key function is one identity, whatever key it yields', () => {
    const keys = () => Promise.resolve(KEY);
    expect(idOf({ apiKey: keys })).toBe(idOf({ apiKey: keys }));
    expect(idOf({ apiKey: keys })).not.toBe(idOf({ apiKey: () => Promise.resolve(KEY) }));
  });
});

describe('never a credential', () => {
  test('neither the key, the user info nor the query appears; the error name is base URL and model', () => {
    const endpoint = endpointOf(
      client({ organization: 'org-SECRET', project: 'proj-SECRET' }),
      'gpt-4o-mini',
    );
    expect(endpoint.key).toBe('https://gateway.example/route-a/v1 gpt-4o-mini');
    const shown = JSON.stringify(endpoint);
    for (const secret of [KEY, 'org-SECRET', 'proj-SECRET']) expect(shown).not.toContain(secret);

    const withUser = endpointOf(
      client({ baseURL: 'http://user:pw-SECRET@127.0.0.1:4000/v1?key=q-SECRET' }),
      'm',
    );
    expect(withUser.key).toBe('http://127.0.0.1:4000/v1 m');
    expect(JSON.stringify(withUser)).not.toMatch(/SECRET/);
  });

  test('a base URL that is not http(s) is never shown (it may hold credentials) and names no server', () => {
    for (const baseURL of ['localhost:4000/v1', 'user:pw-SECRET@localhost:4000/v1']) {
      const c = client({ baseURL });
      const endpoint = endpointOf(c, 'm');
      expect(JSON.stringify(endpoint)).not.toMatch(/SECRET|localhost/);
      expect(endpoint.key).toBe('a base URL that is not http(s) m');
      expect(serverAttributes(c)).toEqual({});
    }
    expect(idOf({ baseURL: 'localhost:4000/v1' })).not.toBe(idOf({ baseURL: 'localhost:5000/v1' }));
  });

  test('telemetry gets server.address, server.port and the model only', () => {
    expect(endpointOf(client({ baseURL: 'http://[::1]:4000/route-a/v1' }), 'm').attributes).toEqual({
      'server.address': '::1',
      'server.port': 4000,
      'gen_ai.request.model': 'm',
    });
    expect(serverAttributes(client())).toEqual({ 'server.address': 'gateway.example', 'server.port': 443 });
  });
});

describe("a request's own upstream (resilientFetch)", () => {
  const requestId = (headers: Record<string, string>, baseURL = 'https://gateway.example/route-a/v1') =>
    requestEndpoint(baseURL, new Headers(headers), 'gpt-4o-mini').id;

  test('each credential header, the path and the query tell upstreams apart; the same ones share', () => {
    const base = requestId({ authorization: `Bearer ${KEY}` });
    expect(requestId({ authorization: `Bearer ${KEY}`, 'content-type': 'application/json' })).toBe(base);
    const others = [
      requestId({ authorization: 'Bearer sk-another' }),
      requestId({ 'api-key': KEY }),
      requestId({ 'x-api-key': KEY }),
      requestId({ authorization: `Bearer ${KEY}`, 'openai-organization': 'org-2' }),
      requestId({ authorization: `Bearer ${KEY}`, 'openai-project': 'proj-2' }),
      requestId({ authorization: `Bearer ${KEY}` }, 'https://gateway.example/route-b/v1'),
      requestId({ authorization: `Bearer ${KEY}` }, 'https://gateway.example/route-a/v1?api-version=2'),
    ];
    expect(new Set([base, ...others]).size).toBe(others.length + 1);
  });

  test('named and measured as a client is: base URL and model, no credential', () => {
    const endpoint = requestEndpoint(
      'http://user:pw-SECRET@127.0.0.1:4000/route-a/v1?key=q-SECRET',
      new Headers({ authorization: 'Bearer sk-SECRET', 'api-key': 'SECRET' }),
      'm',
    );
    expect(endpoint.key).toBe('http://127.0.0.1:4000/route-a/v1 m');
    expect(endpoint.attributes).toEqual({
      'server.address': '127.0.0.1',
      'server.port': 4000,
      'gen_ai.request.model': 'm',
    });
    expect(JSON.stringify(endpoint)).not.toMatch(/SECRET/);
  });
});
