/**
 * Requests that must not run twice: a request that changes the server's state (a Responses call with a
 * `conversation`, an upload) is replayed after a failure only when the failure shows it had no effect.
 */
import { toFile } from 'openai';
import { describe, expect, test } from 'vitest';
import { telemetryNames } from '../../src/index.js';
import { giveUpEvents, onlySpan, quietLogger } from '../support/assertions.js';
import { newClient, RecordingSource } from '../support/clients.js';
import { useLoopback } from '../support/loopback.js';

const env = useLoopback();
const fast = { retry: { baseDelayMs: 1, maxDelayMs: 1 } };
const inConversation = { model: 'gpt-4o-mini', input: 'add this', conversation: 'conv_1' };

async function giveUpReason(): Promise<unknown> {
  return giveUpEvents(await onlySpan(env.harness))[0]?.[telemetryNames.ATTR_GIVE_UP_REASON];
}

describe('a Responses call with a conversation', () => {
  test('is not sent again after a 500: its items may have been appended already', async () => {
    env.server.script({ type: 'status', status: 500 });
    const client = env.client(fast);

    await expect(client.responses.create(inConversation)).rejects.toMatchObject({ status: 500 });
    expect(env.server.requestCount).toBe(1);
    expect(await giveUpReason()).toBe('not_idempotent');
  });

  test('is not sent again after a connection reset mid-request', async () => {
    env.server.script({ type: 'reset' });
    await expect(env.client(fast).responses.create(inConversation)).rejects.toThrow('Connection error.');
    expect(env.server.requestCount).toBe(1);
    expect(await giveUpReason()).toBe('not_idempotent');
  });

  test('is sent again after a 429, which is refused before any work', async () => {
    env.server.script({ type: 'status', status: 429, headers: { 'retry-after-ms': '0' } });
    const response = await env.client(fast).responses.create(inConversation);
    expect(response.object).toBe('response');
    expect(env.server.requests.map((r) => r.step)).toEqual(['status', 'ok']);
  });

  test('is sent again on a fresh client when its client was dead before anything was sent', async () => {
    const dead = newClient(env.server);
    await dead.agent.destroy();
    const source = new RecordingSource([dead, env.testClient]);
    const response = await env.client({ ...fast, clients: source }).responses.create(inConversation);
    expect(response.object).toBe('response');
    expect(env.server.requestCount).toBe(1);
    expect(source.invalidated.map((i) => i.client)).toEqual([dead.client]);
  });

  test('without a conversation, a Responses call is retried as before', async () => {
    env.server.script({ type: 'status', status: 500 });
    const { conversation: _none, ...standalone } = inConversation;
    expect((await env.client(fast).responses.create(standalone)).object).toBe('response');
    expect(env.server.requestCount).toBe(2);
  });

  test('retry.replayNonIdempotent: true replays it, for a server that honours the Idempotency-Key', async () => {
    env.server.script({ type: 'status', status: 500 });
    const client = env.client({ retry: { ...fast.retry, replayNonIdempotent: true }, logger: quietLogger });
    expect((await client.responses.create(inConversation)).object).toBe('response');
    const keys = env.server.requests.map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
  });
});

describe('an upload', () => {
  test('is not sent again after a 503 (a file may have been created); a chat call is', async () => {
    env.server.script({ type: 'status', status: 503 }, { type: 'status', status: 503 });
    const client = env.client(fast);
    await expect(
      client.files.create({ file: await toFile(Buffer.from('{}\n'), 'a.jsonl'), purpose: 'batch' }),
    ).rejects.toMatchObject({ status: 503 });
    expect(env.server.requestCount).toBe(1);
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [] });
    expect(env.server.requestCount).toBe(3);
  });
});
