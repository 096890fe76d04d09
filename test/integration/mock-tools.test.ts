/**
 * The mock server as a test bench for agents: scripted tool calls (chat completions `tool_calls`, Responses
 * `function_call` items, JSON and streamed), steps that see the request (its body, the tool results it
 * carries), and scripts checked as they are given. Real openai-node clients, bare and resilient, read what it
 * sends through openai's own stream helpers and its own agent loop (`runTools`).
 */
import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createResilientClient, InvalidOptionError } from '../../src/index.js';
import { type MockOpenAI, type MockStep, startMockOpenAI } from '../../src/testing/index.js';
import { quietLogger } from '../support/assertions.js';
import { newClient, type TestClient } from '../support/clients.js';

const model = 'gpt-4o-mini';
const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const askWeather: MockStep = {
  type: 'tool_call',
  name: 'get_weather',
  arguments: { city: 'Paris' },
  callId: 'call_weather_1',
};

let server: MockOpenAI;
let testClient: TestClient;

beforeEach(async () => {
  server = await startMockOpenAI();
  testClient = newClient(server);
});

afterEach(async () => {
  await testClient.agent.destroy();
  await server.close();
});

const kinds = {
  bare: () => testClient.client,
  resilient: () =>
    createResilientClient({ clients: testClient.client, retry: { baseDelayMs: 1 }, logger: quietLogger }),
};

describe.each(Object.entries(kinds))('%s openai-node client', (_kind, make) => {
  test('chat completions, JSON: the tool call as `tool_calls`, finish_reason tool_calls', async () => {
    server.script(askWeather);
    const completion = await make().chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [weatherTool],
    });
    expect(completion.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_weather_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
    });
  });

  test('chat completions, streamed: name first, then the arguments over `chunks` deltas', async () => {
    server.script(askWeather);
    const stream = await make().chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [weatherTool],
      stream: true,
      stream_options: { include_usage: true },
    });
    const deltas = [];
    const finishes = [];
    let usage: unknown;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices) {
        deltas.push(...(choice.delta.tool_calls ?? []));
        if (choice.finish_reason) finishes.push(choice.finish_reason);
      }
    }
    expect(deltas[0]).toEqual({
      index: 0,
      id: 'call_weather_1',
      type: 'function',
      function: { name: 'get_weather', arguments: '' },
    });
    const pieces = deltas.slice(1);
    expect(pieces).toHaveLength(3); // the default `chunks`
    for (const piece of pieces) expect(Object.keys(piece).sort()).toEqual(['function', 'index']);
    expect(pieces.map((p) => p.function?.arguments).join('')).toBe('{"city":"Paris"}');
    expect(finishes).toEqual(['tool_calls']);
    expect(usage).toMatchObject({ completion_tokens: 3 });
  });

  test("chat completions, streamed: openai-node's stream helper assembles the tool call", async () => {
    server.script(askWeather);
    const runner = make().chat.completions.stream({
      model,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [weatherTool],
    });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    expect(final.choices[0]?.message.tool_calls).toEqual([
      {
        id: 'call_weather_1',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      },
    ]);
  });

  test('chat completions: parallel tool calls, streamed and JSON', async () => {
    const both: MockStep = {
      type: 'tool_calls',
      calls: [
        { name: 'get_weather', arguments: { city: 'Paris' } },
        { name: 'get_weather', arguments: '{"city":"Oslo"}' },
      ],
    };
    server.script(both, both);
    const client = make();
    const params = { model, messages: [{ role: 'user' as const, content: 'Paris and Oslo?' }] };
    const json = await client.chat.completions.create(params);
    const streamed = await client.chat.completions.stream(params).finalChatCompletion();
    for (const completion of [json, streamed]) {
      const calls = completion.choices[0]?.message.tool_calls ?? [];
      expect(calls.map((c) => (c.type === 'function' ? c.function.arguments : ''))).toEqual([
        '{"city":"Paris"}',
        '{"city":"Oslo"}',
      ]);
      expect(new Set(calls.map((c) => c.id)).size).toBe(2);
    }
  });

  test("an agent loop on openai-node's runTools: the tool's result comes back, the model answers with it", async () => {
    server.script(askWeather, (request) => ({
      type: 'ok',
      text: `It is ${request.toolOutputs[0]?.output} in Paris.`,
    }));
    const seen: unknown[] = [];
    const runner = make().chat.completions.runTools({
      model,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'The weather in a city',
            parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
            function: (args: string) => {
              seen.push(JSON.parse(args));
              return 'sunny';
            },
          },
        },
      ],
    });
    expect(await runner.finalContent()).toBe('It is sunny in Paris.');
    expect(seen).toEqual([{ city: 'Paris' }]);
    expect(server.requests.map((r) => r.step)).toEqual(['tool_call', 'ok']);
    expect(server.requests[1]?.toolOutputs).toEqual([{ callId: 'call_weather_1', output: 'sunny' }]);
    expect(server.requests[1]?.body?.messages).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      expect.objectContaining({
        role: 'assistant',
        tool_calls: [expect.objectContaining({ id: 'call_weather_1' })],
      }),
      { role: 'tool', tool_call_id: 'call_weather_1', content: 'sunny' },
    ]);
  });

  test('Responses, JSON: a `function_call` output item', async () => {
    server.script(askWeather);
    const response = await make().responses.create({ model, input: 'Weather in Paris?' });
    expect(response.output).toEqual([
      {
        type: 'function_call',
        id: expect.stringMatching(/^fc_/),
        call_id: 'call_weather_1',
        name: 'get_weather',
        arguments: '{"city":"Paris"}',
        status: 'completed',
      },
    ]);
    expect(response.output_text).toBe('');
  });

  test("Responses, streamed: the events OpenAI sends for a function call, and openai's stream helper", async () => {
    server.script(askWeather, askWeather);
    const client = make();
    const events: ResponseStreamEvent[] = [];
    for await (const event of await client.responses.create({ model, input: 'Weather?', stream: true })) {
      events.push(event);
    }
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const added = events[2];
    expect(added).toMatchObject({
      output_index: 0,
      item: {
        type: 'function_call',
        call_id: 'call_weather_1',
        name: 'get_weather',
        arguments: '',
        status: 'in_progress',
      },
    });
    const itemId = added?.type === 'response.output_item.added' ? added.item.id : undefined;
    const deltas = events.filter((e) => e.type === 'response.function_call_arguments.delta');
    for (const delta of deltas) expect(delta).toMatchObject({ item_id: itemId, output_index: 0 });
    expect(deltas.map((d) => d.delta).join('')).toBe('{"city":"Paris"}');
    expect(events[6]).toMatchObject({ item_id: itemId, output_index: 0, arguments: '{"city":"Paris"}' });
    expect(events[7]).toMatchObject({
      item: { id: itemId, arguments: '{"city":"Paris"}', status: 'completed' },
    });

    const final = await client.responses.stream({ model, input: 'Weather?' }).finalResponse();
    expect(final.output).toEqual([
      expect.objectContaining({
        type: 'function_call',
        call_id: 'call_weather_1',
        arguments: '{"city":"Paris"}',
      }),
    ]);
  });

  test('Responses: the loop by hand, the result sent back as `function_call_output`', async () => {
    server.script(askWeather, (request) => ({
      type: 'ok',
      text: `Paris: ${request.toolOutputs[0]?.output}`,
    }));
    const client = make();
    const first = await client.responses.create({ model, input: 'Weather in Paris?' });
    const call = first.output[0];
    if (call?.type !== 'function_call') throw new Error('expected a function call');
    const second = await client.responses.stream({
      model,
      input: [
        { role: 'user', content: 'Weather in Paris?' },
        call,
        { type: 'function_call_output', call_id: call.call_id, output: 'rain' },
      ],
    });
    const deltas: string[] = [];
    second.on('response.output_text.delta', (event) => deltas.push(event.delta));
    const final = await second.finalResponse();
    expect(final.output_text).toBe('Paris: rain');
    expect(deltas.join('')).toBe('Paris: rain');
    expect(deltas.length).toBe(3);
    expect(server.requests[1]?.toolOutputs).toEqual([{ callId: 'call_weather_1', output: 'rain' }]);
  });
});

describe('steps that see the request', () => {
  test('a fallback picks by body: a tool call until a result comes back, then the answer', async () => {
    const local = await startMockOpenAI({
      fallback: (request) =>
        request.toolOutputs.length === 0
          ? { type: 'tool_call', name: 'lookup', arguments: { q: request.body?.input } }
          : { type: 'ok', text: 'done' },
    });
    const client = createResilientClient({ clients: newClient(local).client, logger: quietLogger });
    const first = await client.responses.create({ model, input: 'x' });
    expect(first.output[0]).toMatchObject({ type: 'function_call', name: 'lookup', arguments: '{"q":"x"}' });
    const second = await client.responses.create({
      model,
      input: [
        { type: 'function_call_output', call_id: 'c1', output: [{ type: 'input_text', text: 'found' }] },
      ],
    });
    expect(second.output_text).toBe('done');
    expect(local.requests[1]?.toolOutputs).toEqual([{ callId: 'c1', output: 'found' }]);
    await local.close();
  });

  test('an async step function, and one per request index', async () => {
    server.script(async (_request, index) => ({ type: 'ok', text: `request ${index}` }));
    const completion = await testClient.client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(completion.choices[0]?.message.content).toBe('request 0');
  });

  test('a step function that throws or returns no step: HTTP 400 naming it, not retried', async () => {
    const resilient = createResilientClient({
      clients: testClient.client,
      retry: { baseDelayMs: 1 },
      logger: quietLogger,
    });
    server.script(() => {
      throw new Error('no tool result found');
    });
    const thrown = await resilient.chat.completions
      .create({ model, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(OpenAI.BadRequestError);
    expect((thrown as Error).message).toContain(
      'startMockOpenAI: the step function for request 1 (POST /v1/chat/completions) threw: no tool result found',
    );

    server.script(() => ({ type: 'tool_call', arguments: {} }) as unknown as MockStep);
    const invalid = await resilient.responses.create({ model, input: 'hi' }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(OpenAI.BadRequestError);
    expect((invalid as Error).message).toContain(
      "the step function for request 2 (POST /v1/responses) returned no valid step: resilient-chat: option `step.name` must be the function's name",
    );

    expect(server.requests.map((r) => r.step)).toEqual(['script_error', 'script_error']);
    expect(server.requestCount).toBe(2);
  });

  test('a tool call scripted for a request that is not chat or Responses: HTTP 400 saying so', async () => {
    server.script(askWeather);
    const error = await testClient.client.embeddings.create({ model, input: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as Error).message).toContain('answers chat completions and Responses requests only');
  });
});

describe('scripts are checked when they are given', () => {
  const cases: [string, unknown, string][] = [
    ['an unknown step type', { script: [{ type: 'tool' }] }, '`script[0].type` must be one of'],
    ['a misspelt key', { script: [{ type: 'ok', delayMS: 5 }] }, 'did you mean `script[0].delayMs`?'],
    ['a tool call without a name', { script: [{ type: 'ok' }, { type: 'tool_call' }] }, '`script[1].name`'],
    [
      'arguments JSON cannot encode',
      { script: [{ type: 'tool_call', name: 'f', arguments: 1n }] },
      '`script[0].arguments`',
    ],
    [
      'no calls',
      { script: [{ type: 'tool_calls', calls: [] }] },
      '`script[0].calls` must be a non-empty array',
    ],
    [
      'a call without a name',
      { script: [{ type: 'tool_calls', calls: [{ arguments: '{}' }] }] },
      '`script[0].calls[0].name`',
    ],
    ['a status out of range', { script: [{ type: 'status', status: 42 }] }, '`script[0].status`'],
    ['a stall point', { script: [{ type: 'stall', at: 'middle' }] }, '`script[0].at`'],
    ['a step that is not an object', { script: ['ok'] }, '`script[0]` must be a step object'],
    ['chunks: 0', { chunks: 0 }, '`chunks` must be a whole number above 0'],
    ['an unknown option', { scripts: [] }, 'did you mean `script`?'],
  ];
  test.each(cases)('%s', async (_name, options, message) => {
    const error = await startMockOpenAI(options as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toContain(message);
  });

  test('server.script() throws at once, and appends nothing', () => {
    expect(() => server.script({ type: 'ok' }, { type: 'tool_call', name: '' } as MockStep)).toThrow(
      /`script\(\)\[1\]\.name` must be the function's name/,
    );
    expect(() => server.script({ type: 'ok', text: 5 } as unknown as MockStep)).toThrow(InvalidOptionError);
  });
});
