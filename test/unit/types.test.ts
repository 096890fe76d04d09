/**
 * Type tests: the overloads and promise types a call site relies on, checked by `npm run typecheck` (this file
 * is compiled with the rest) and run as ordinary tests. Nothing here sends a request.
 */
import OpenAI from 'openai';
import type { APIPromise } from 'openai/core/api-promise';
import type { Stream } from 'openai/core/streaming';
import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { CreateEmbeddingResponse } from 'openai/resources/embeddings';
import type { Response as OpenAIResponse, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { describe, expectTypeOf, test } from 'vitest';
import { createResilientChat, createResilientClient, type ResilientCompletions } from '../../src/index.js';

// The calls are typed, never made: each is a function whose return type is checked.
const base = new OpenAI({ apiKey: 'sk-types', baseURL: 'http://127.0.0.1:9/v1' });
const client = createResilientClient({ clients: base, logger: false });
const chat = createResilientChat({ clients: base, logger: false });
const messages = [{ role: 'user' as const, content: 'hi' }];

describe('createResilientClient', () => {
  test('returns an OpenAI: assignable wherever one is expected', () => {
    expectTypeOf(client).toEqualTypeOf<OpenAI>();
    expectTypeOf(client).toMatchTypeOf<OpenAI>();
  });

  test('chat.completions.create: stream false, true and boolean pick the overload', () => {
    expectTypeOf(() => client.chat.completions.create({ model: 'm', messages })).returns.toEqualTypeOf<
      APIPromise<ChatCompletion>
    >();
    expectTypeOf(() =>
      client.chat.completions.create({ model: 'm', messages, stream: true }),
    ).returns.toEqualTypeOf<APIPromise<Stream<ChatCompletionChunk>>>();
    const stream = Math.random() > 2;
    expectTypeOf(() =>
      client.chat.completions.create({ model: 'm', messages, stream }),
    ).returns.toEqualTypeOf<APIPromise<Stream<ChatCompletionChunk> | ChatCompletion>>();
  });

  test('withResponse(), asResponse() and _request_id are typed as on openai-node', () => {
    const call = () => client.chat.completions.create({ model: 'm', messages });
    expectTypeOf<Awaited<ReturnType<ReturnType<typeof call>['withResponse']>>>().toEqualTypeOf<{
      data: ChatCompletion;
      response: Response;
      request_id: string | null;
    }>();
    expectTypeOf<ReturnType<ReturnType<typeof call>['asResponse']>>().toEqualTypeOf<Promise<Response>>();
    expectTypeOf<Awaited<ReturnType<typeof call>>['_request_id']>().toEqualTypeOf<
      string | null | undefined
    >();
  });

  test('the Responses API and embeddings keep their own overloads', () => {
    expectTypeOf(() => client.responses.create({ model: 'm', input: 'hi' })).returns.toEqualTypeOf<
      APIPromise<OpenAIResponse>
    >();
    expectTypeOf(() =>
      client.responses.create({ model: 'm', input: 'hi', stream: true }),
    ).returns.toEqualTypeOf<APIPromise<Stream<ResponseStreamEvent>>>();
    expectTypeOf(() => client.embeddings.create({ model: 'm', input: 'hi' })).returns.toEqualTypeOf<
      APIPromise<CreateEmbeddingResponse>
    >();
  });
});

describe('createResilientChat', () => {
  test("completions is openai-node's own completions resource type", () => {
    expectTypeOf(chat.completions).toEqualTypeOf<ResilientCompletions>();
    expectTypeOf(chat.completions).toEqualTypeOf<OpenAI['chat']['completions']>();
    expectTypeOf(() => chat.completions.create({ model: 'm', messages, stream: true })).returns.toEqualTypeOf<
      APIPromise<Stream<ChatCompletionChunk>>
    >();
  });
});
