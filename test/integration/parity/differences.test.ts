/**
 * The differences from openai-node that README lists ("Differences from openai-node"), each asserted: what
 * resilient-chat does instead, and that openai-node does otherwise. The rest of the parity suite asserts
 * that nothing else differs.
 */
import { describe, expect, test } from 'vitest';
import { chatParams, completion, modelList, observe, RESILIENT } from '../../support/parity.js';

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
});
