/**
 * What a CommonJS service's jest tests do with resilient-chat, run by service.test.js (jest's node
 * environment) and browser.test.js (jsdom). The modules come from the test file's own require(), so they are
 * the copies jest's module registry gives that file; `clientOptions` is what the environment needs of openai,
 * `undiciFetch` whether npm undici's own fetch can run there.
 */
module.exports = function scenarios({ OpenAI, rc, testing, undici, clientOptions, undiciFetch = true }) {
  const messages = [{ role: 'user', content: 'hi' }];
  const retry = { baseDelayMs: 1, maxRetries: 1 };
  let server;

  beforeAll(async () => {
    server = await testing.startMockOpenAI();
  });
  afterAll(() => server.close());

  const openai = (options) =>
    new OpenAI({ apiKey: 'sk-jest', baseURL: server.url, ...clientOptions, ...options });

  test('a call against the mock, retried after a 503, on a copy of the client that is an OpenAI', async () => {
    const client = rc.createResilientClient({ clients: openai(), retry, logger: false });
    expect(client).toBeInstanceOf(OpenAI);
    const before = server.requests.length;
    server.script({ type: 'status', status: 503 });
    const answer = await client.chat.completions.create({ model: 'm', messages });
    expect(typeof answer.choices[0].message.content).toBe('string');
    expect(server.requests.length - before).toBe(2);
  });

  test('a stream', async () => {
    const client = rc.createResilientClient({ clients: openai(), logger: false });
    const stream = await client.chat.completions.create({ model: 'm', messages, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text.length).toBeGreaterThan(0);
  });

  test('closed-client recovery: a client whose transport was destroyed is invalidated and replaced', async () => {
    const made = [];
    const make = () => {
      const agent = new undici.Agent();
      const client = openai({ fetchOptions: { dispatcher: agent } });
      made.push({ client, agent });
      return client;
    };
    let current = make();
    const invalidated = [];
    const client = rc.createResilientClient({
      clients: {
        acquire: () => current,
        invalidate: (dead) => {
          invalidated.push(dead);
          if (dead === current) current = make();
        },
      },
      logger: false,
    });
    await made[0].agent.destroy();
    const answer = await client.chat.completions.create({ model: 'm', messages });
    expect(typeof answer.choices[0].message.content).toBe('string');
    expect(invalidated).toEqual([made[0].client]);
    expect(made).toHaveLength(2);
    await made[1].agent.close();
  });

  test('one instance whose transport was destroyed: ClientNotReplaceableError, an APIConnectionError of require("openai")', async () => {
    const agent = new undici.Agent();
    const client = rc.createResilientClient({
      clients: openai({ fetchOptions: { dispatcher: agent } }),
      logger: false,
    });
    await agent.destroy();
    const call = client.chat.completions.create({ model: 'm', messages });
    await expect(call).rejects.toThrow(OpenAI.APIConnectionError);
    const error = await call.catch((e) => e);
    expect(error).toBeInstanceOf(rc.ClientNotReplaceableError);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('RESILIENT_CHAT_CLIENT_NOT_REPLACEABLE');
    expect(rc.isResilientChatError(error)).toBe(true);
  });

  test('giving up on 503s: the error openai-node throws, and attemptErrors the earlier ones, of require("openai")', async () => {
    server.script({ type: 'status', status: 503 });
    const bare = await openai({ maxRetries: 0 })
      .chat.completions.create({ model: 'm', messages })
      .catch((e) => e);
    server.script({ type: 'status', status: 503 }, { type: 'status', status: 503 });
    const client = rc.createResilientClient({ clients: openai(), retry, logger: false });
    const error = await client.chat.completions.create({ model: 'm', messages }).catch((e) => e);
    expect(bare).toBeInstanceOf(OpenAI.InternalServerError);
    expect(error.constructor).toBe(bare.constructor);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error.status).toBe(503);
    const earlier = rc.attemptErrors(error);
    expect(earlier).toHaveLength(1);
    expect(earlier[0]).toBeInstanceOf(OpenAI.InternalServerError);
    expect(rc.classifyError(error)).toMatchObject({ retryable: true, status: 503 });
  });

  // resilientFetch and ClientPool send with npm undici's own fetch, which needs Node's timers and
  // performance: not jsdom's (`this.timeout?.unref is not a function` ends the jest process there).
  (undiciFetch ? test : test.skip)('resilientFetch: a fetch retried after a 503', async () => {
    const fetch = rc.resilientFetch({ retry, logger: false });
    server.script({ type: 'status', status: 503 });
    const before = server.requests.length;
    const response = await fetch(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages }),
    });
    expect(response.status).toBe(200);
    expect((await response.json()).choices).toHaveLength(1);
    expect(server.requests.length - before).toBe(2);
  });

  (undiciFetch ? test : test.skip)('a ClientPool as the source', async () => {
    const pool = new rc.ClientPool({ create: (_key, transport) => openai(transport) });
    const client = rc.createResilientClient({ clients: pool, logger: false });
    const answer = await client.chat.completions.create({ model: 'm', messages });
    expect(typeof answer.choices[0].message.content).toBe('string');
    await pool.close();
  });

  test('an invalid option: InvalidOptionError, a TypeError of the test file', () => {
    const build = () => rc.createResilientClient({ clients: openai(), retry: { maxRetries: -1 } });
    expect(build).toThrow(rc.InvalidOptionError);
    expect(build).toThrow(TypeError);
  });
};
