/**
 * What a retried request tells the server, and how many requests a request's own `maxRetries` allows.
 * Replies ask for `retry-after-ms: 0`, which openai-node and resilient-chat both honour, so both retry at
 * once and the comparison takes no backoff time.
 */
import { describe, expect, test } from 'vitest';
import {
  chatParams,
  completion,
  expectParity,
  observe,
  RESILIENT,
  type Reply,
} from '../../support/parity.js';

const unavailable: Reply = {
  status: 503,
  headers: { 'retry-after-ms': '0' },
  json: { error: { message: 'busy', type: 'server_error' } },
};
const failTwiceThenAnswer = (_: unknown, index: number): Reply =>
  index < 2 ? unavailable : { json: completion() };

async function outcome(promise: Promise<{ id: string }>): Promise<Record<string, unknown>> {
  try {
    return { id: (await promise).id };
  } catch (error) {
    return { error: (error as Error).constructor.name, status: (error as { status?: number }).status };
  }
}

describe('each attempt is numbered for the server', () => {
  test('X-Stainless-Retry-Count 0, 1, 2 and the same X-Stainless-Timeout on every attempt', async () => {
    const bare = await expectParity({
      handler: failTwiceThenAnswer,
      scenario: (client) => outcome(client.chat.completions.create(chatParams, { timeout: 30_000 })),
    });
    expect(bare.server.map((r) => r.headers['x-stainless-retry-count'])).toEqual(['0', '1', '2']);
    expect(bare.server.map((r) => r.headers['x-stainless-timeout'])).toEqual(['30', '30', '30']);
  });

  test('a caller’s own X-Stainless-Retry-Count is sent as given', async () => {
    await expectParity({
      handler: failTwiceThenAnswer,
      scenario: (client) =>
        outcome(client.chat.completions.create(chatParams, { headers: { 'X-Stainless-Retry-Count': '7' } })),
    });
  });
});

describe('a request’s own maxRetries', () => {
  for (const maxRetries of [0, 1, 2]) {
    test(`maxRetries: ${maxRetries} sends ${maxRetries + 1} request(s) for an endpoint that stays down`, async () => {
      const bare = await expectParity({
        handler: () => unavailable,
        scenario: (client) => outcome(client.chat.completions.create(chatParams, { maxRetries })),
      });
      expect(bare.server).toHaveLength(maxRetries + 1);
      expect(bare.caller).toEqual({ error: 'InternalServerError', status: 503 });
    });
  }

  test('withOptions({ maxRetries: 0 }) is the derived client’s default for its requests', async () => {
    const bare = await expectParity({
      handler: () => unavailable,
      scenario: (client) =>
        outcome(client.withOptions({ maxRetries: 0 }).chat.completions.create(chatParams)),
    });
    expect(bare.server).toHaveLength(1);
  });

  test('the client’s own maxRetries is not resilient-chat’s: `retry.maxRetries` bounds a call (a documented difference)', async () => {
    const run = {
      handler: () => unavailable,
      options: { maxRetries: 0 },
      scenario: (client: import('openai').OpenAI) => outcome(client.chat.completions.create(chatParams)),
    };
    expect((await observe('bare', run)).server).toHaveLength(1);
    for (const variant of RESILIENT) expect((await observe(variant, run)).server, variant).toHaveLength(3);
  });
});
