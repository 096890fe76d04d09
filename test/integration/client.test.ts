/**
 * The whole resilient client: every resource through the one attempt loop, openai's promise semantics, the
 * Responses API, embeddings, pagination, uploads, and openai-node's own helpers, against a loopback server
 * with real openai-node clients whose real undici dispatchers are destroyed under the call.
 */
import { SpanStatusCode } from '@opentelemetry/api';
import OpenAI, { toFile } from 'openai';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { describe, expect, expectTypeOf, test } from 'vitest';
import { createResilientClient, telemetryNames } from '../../src/index.js';
import { giveUpEvents, onlySpan, quietLogger, retryEvents } from '../support/assertions.js';
import { newClient, RecordingSource } from '../support/clients.js';
import { useLoopback } from '../support/loopback.js';

const env = useLoopback();
const messages = [{ role: 'user' as const, content: 'hi' }];
const { ATTR_RETRY_REASON, METRIC_RETRIES, ATTR_OPERATION } = telemetryNames;

/** A resilient client whose first client is already dead, then healthy ones: every call recovers once. */
async function recoveringClient(extra: Partial<Parameters<typeof createResilientClient>[0]> = {}) {
  const dead = newClient(env.server);
  await dead.agent.destroy();
  const source = new RecordingSource([dead, env.testClient]);
  const client = createResilientClient({
    clients: source,
    tracerProvider: env.harness.tracerProvider,
    meterProvider: env.harness.meterProvider,
    logger: quietLogger,
    ...extra,
  });
  return { client, source };
}

describe('typed as openai-node', () => {
  test('the client is an OpenAI and can be handed to anything that takes one', () => {
    const client = env.client();
    expectTypeOf(client).toEqualTypeOf<OpenAI>();
    const takesOpenAI = (c: OpenAI) => c;
    expect(takesOpenAI(client)).toBeInstanceOf(OpenAI);
    expect(client.baseURL).toBe(env.testClient.client.baseURL);
    // A method that does not exist is undefined, as on openai's client.
    expect((client as unknown as Record<string, unknown>).noSuchResource).toBeUndefined();
  });

  test('create() keeps its overloads and _request_id', () => {
    const client = env.client();
    const json = () => client.chat.completions.create({ model: 'm', messages });
    expectTypeOf<Awaited<ReturnType<typeof json>>>().toMatchTypeOf<ChatCompletion>();
    expectTypeOf<Awaited<ReturnType<typeof json>>['_request_id']>().toEqualTypeOf<
      string | null | undefined
    >();
    const streamed = () => client.chat.completions.create({ model: 'm', messages, stream: true });
    expectTypeOf<Awaited<ReturnType<typeof streamed>>>().toHaveProperty('controller');
  });
});

describe("openai's promise semantics, with the attempt that succeeded", () => {
  test('withResponse() on JSON after a recovery: the response and request id of the successful attempt', async () => {
    const { client } = await recoveringClient();
    const { data, response, request_id } = await client.chat.completions
      .create({ model: 'm', messages })
      .withResponse();

    expect(data.choices[0]?.message.content).toMatch(/Resilient/);
    expect(request_id).toBe(env.server.requests[0]?.requestId);
    expect(response.headers.get('x-request-id')).toBe(request_id);
    expect(retryEvents(await onlySpan(env.harness)).map((e) => e[ATTR_RETRY_REASON])).toEqual([
      'client_closed',
    ]);
    const completion = await client.chat.completions.create({ model: 'm', messages });
    expect(completion._request_id).toBe(env.server.requests[1]?.requestId); // typed, as on openai's client
  });

  test('withResponse() on a stream: the request id of a stream is reachable', async () => {
    env.server.script({ type: 'sse_error', afterChunks: 0 });
    const { data: stream, request_id } = await env
      .client()
      .chat.completions.create({ model: 'm', messages, stream: true })
      .withResponse();
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';

    expect(text).toBe('Resilient chat answers');
    expect(env.server.requests.map((r) => r.step)).toEqual(['sse_error', 'ok']);
    expect(request_id).toBe(env.server.requests[1]?.requestId);
  });

  test('asResponse(): the raw response, body unread, after a retried 503', async () => {
    env.server.script({ type: 'status', status: 503 });
    const response = await env
      .client({ retry: { baseDelayMs: 1 } })
      .chat.completions.create({ model: 'm', messages })
      .asResponse();

    expect(response.bodyUsed).toBe(false);
    expect(response.headers.get('x-request-id')).toBe(env.server.requests[1]?.requestId);
    expect(((await response.json()) as ChatCompletion).object).toBe('chat.completion');
  });

  test("the last attempt's error is rethrown unchanged, as openai-node's own class", async () => {
    env.server.script({ type: 'status', status: 400 });
    const error = await env
      .client()
      .models.retrieve('gpt-mock')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
  });
});

describe('the Responses API', () => {
  test('responses.create JSON: recovered, output_text kept, GenAI span with openai.api.type', async () => {
    const { client } = await recoveringClient();
    const response = await client.responses.create({ model: 'gpt-4.1-mini', input: 'hello' });

    expect(response.output_text).toBe('Resilient chat answers every time.');
    const span = await onlySpan(env.harness);
    expect(span.name).toBe('chat gpt-4.1-mini');
    expect(span.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'openai.api.type': 'responses',
      'gen_ai.response.id': response.id,
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 6,
      'gen_ai.usage.cache_read.input_tokens': 4,
      'gen_ai.usage.reasoning.output_tokens': 2,
      'openai.response.service_tier': 'default',
      [telemetryNames.ATTR_CLOSED_CLIENT_RECOVERIES]: 1,
    });
  });

  test('a stream is retried transparently until its first event of substance (lifecycle events held back)', async () => {
    // The frame comes after response.created and response.in_progress, before any output.
    env.server.script({ type: 'sse_error', afterChunks: 0 });
    const stream = await env.client().responses.create({ model: 'gpt-4.1-mini', input: 'hi', stream: true });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);

    expect(env.server.requests.map((r) => r.step)).toEqual(['sse_error', 'ok']);
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    const span = await onlySpan(env.harness);
    expect(span.attributes['gen_ai.usage.output_tokens']).toBe(6);
    expect(span.attributes['gen_ai.response.time_to_first_chunk']).toEqual(expect.any(Number));
  });

  test('after the first event of substance a failure is surfaced, and the span ends', async () => {
    env.server.script({ type: 'sse_error', afterChunks: 1 });
    const stream = await env.client().responses.create({ model: 'gpt-4.1-mini', input: 'hi', stream: true });
    const error = await (async () => {
      for await (const _ of stream) {
        // read until it fails
      }
    })().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(env.server.requests).toHaveLength(1);
    const span = await onlySpan(env.harness);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(giveUpEvents(span)[0]?.[telemetryNames.ATTR_GIVE_UP_REASON]).toBe('stream_interrupted');
  });

  test('responses.stream() and responses.parse() through the resilient client, recovered', async () => {
    const { client } = await recoveringClient();
    const final = await client.responses.stream({ model: 'gpt-4.1-mini', input: 'hi' }).finalResponse();
    expect(final.output_text).toBe('Resilient chat answers');

    const parsed = await client.responses.parse({ model: 'gpt-4.1-mini', input: 'hi' });
    expect(parsed.output_text).toMatch(/Resilient/);
  });
});

describe('embeddings', () => {
  test('embeddings.create recovered; dimension count and input tokens, no output messages', async () => {
    const { client } = await recoveringClient({ captureContent: true });
    const result = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });

    expect(result.data).toHaveLength(2);
    expect(result.data[0]?.embedding).toHaveLength(8); // openai-node decoded its own base64 request
    const span = await onlySpan(env.harness);
    expect(span.name).toBe('embeddings text-embedding-3-small');
    expect(span.attributes).toMatchObject({
      'gen_ai.operation.name': 'embeddings',
      'gen_ai.embeddings.dimension.count': 8,
      'gen_ai.usage.input_tokens': 16,
      'gen_ai.request.encoding_formats': ['base64'],
    });
    expect(span.attributes['gen_ai.output.messages']).toBeUndefined();
    expect(span.attributes['openai.api.type']).toBeUndefined();
  });
});

describe('every other request', () => {
  test('models.list() across a closed client: recovered, counted by operation, no GenAI span', async () => {
    const { client } = await recoveringClient();
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);

    expect(ids).toEqual(['gpt-mock', 'gpt-mock-mini']);
    expect(await env.harness.spans()).toEqual([]);
    expect(
      await env.harness.counter(METRIC_RETRIES, {
        [ATTR_OPERATION]: 'GET /models',
        [ATTR_RETRY_REASON]: 'client_closed',
      }),
    ).toBe(1);
  });

  test('pagination: every page fetch protected, ids templated out of the operation name', async () => {
    const client = env.client({ retry: { baseDelayMs: 1 } });
    // Page 2's fetch meets a 503 and is retried; pages 1 and 3 go through at once.
    const server = env.server;
    const ids: string[] = [];
    let page = 0;
    for await (const file of client.files.list({ limit: 2 })) {
      ids.push(file.id);
      if (ids.length === 2 && page++ === 0) server.script({ type: 'status', status: 503 });
    }
    expect(ids).toEqual(['file-a', 'file-b', 'file-c', 'file-d', 'file-e']);
    expect(await env.harness.counter(METRIC_RETRIES, { [ATTR_OPERATION]: 'GET /files' })).toBe(1);

    await client.files.delete('file-abc123');
    expect(server.requests.at(-1)?.path).toBe('/v1/files/file-abc123');
  });

  test('a multipart upload with a replayable body (a File) is sent again; one with a stream body is not', async () => {
    const client = env.client({ retry: { baseDelayMs: 1 } });
    // A 429 was refused before any work, so even an upload (which creates a file) is sent again.
    env.server.script({ type: 'status', status: 429, headers: { 'retry-after-ms': '0' } });
    const uploaded = await client.files.create({
      file: await toFile(Buffer.from('{"a":1}\n'), 'batch.jsonl'),
      purpose: 'batch',
    });
    expect(uploaded.object).toBe('file');
    expect(env.server.requests.map((r) => r.step)).toEqual(['status', 'ok']);

    env.server.script({ type: 'status', status: 503 });
    const before = env.server.requestCount;
    const error = await client
      .post('/files', {
        body: new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('raw bytes'));
            controller.close();
          },
        }),
        headers: { 'content-type': 'application/octet-stream' },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(env.server.requestCount - before).toBe(1); // sent once, never again
    const spans = await env.harness.spans();
    expect(spans).toEqual([]); // not a GenAI operation
    expect(
      await env.harness.counter(telemetryNames.METRIC_GIVE_UPS, {
        [telemetryNames.ATTR_GIVE_UP_REASON]: 'body_not_replayable',
      }),
    ).toBe(1);
  });
});

describe("openai-node's helpers, built on the resilient create", () => {
  test('chat.completions.stream() recovered before its first chunk', async () => {
    const { client } = await recoveringClient();
    const completion = await client.chat.completions.stream({ model: 'm', messages }).finalChatCompletion();
    expect(completion.choices[0]?.message.content).toBe('Resilient chat answers');
  });

  test('chat.completions.parse() (structured outputs) recovered', async () => {
    const { client } = await recoveringClient();
    env.server.script({
      type: 'status',
      status: 200,
      body: {
        id: 'chatcmpl-parse',
        object: 'chat.completion',
        created: 0,
        model: 'm',
        choices: [
          {
            index: 0,
            finish_reason: 'stop',
            logprobs: null,
            message: { role: 'assistant', content: '{"answer":"yes"}', refusal: null },
          },
        ],
      },
    });
    const result = await client.chat.completions.parse({
      model: 'm',
      messages,
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'answer',
          strict: true,
          schema: { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] },
        },
      },
    });
    expect(result.choices[0]?.message.parsed).toEqual({ answer: 'yes' });
  });

  test('chat.completions.runTools() recovered on every round', async () => {
    const { client } = await recoveringClient();
    const runner = client.chat.completions.runTools({
      model: 'm',
      messages,
      tools: [
        {
          type: 'function',
          function: {
            name: 'noop',
            description: 'does nothing',
            parameters: { type: 'object', properties: {} },
            function: (_args: string) => 'ok',
          },
        },
      ],
    });
    const content = await runner.finalContent();
    expect(content).toBe('Resilient chat answers every time.');
  });
});

describe('withOptions()', () => {
  test('a derived client keeps the resilience and applies the options to each source client', async () => {
    const { client, source } = await recoveringClient();
    const derived = client.withOptions({ defaultHeaders: { 'x-team': 'search' } });
    expect(derived).toBeInstanceOf(OpenAI);

    await derived.chat.completions.create({ model: 'm', messages });

    expect(env.server.requests[0]?.headers['x-team']).toBe('search');
    expect(source.invalidated).toHaveLength(1); // the dead client was retired through the derived client
    expect(retryEvents(await onlySpan(env.harness)).map((e) => e[ATTR_RETRY_REASON])).toEqual([
      'client_closed',
    ]);
  });
});
