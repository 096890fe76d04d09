/**
 * Where a stream's failure surfaces: openai-node resolves `create({ stream: true })` once the response's
 * headers are in and throws a later failure from the iterator; an HTTP error status rejects `create`. The
 * resilient clients give up in the same places (after retrying what comes before the first event of
 * substance, where that failure is retryable).
 */
import { describe, expect, test } from 'vitest';
import { chatParams, chunk, expectParity, observe, RESILIENT, type Reply } from '../../support/parity.js';

/** Consumes a stream as a caller would, recording each event and where a failure was caught. */
async function consume(create: () => Promise<AsyncIterable<unknown>>): Promise<Record<string, unknown>> {
  let stream: AsyncIterable<unknown>;
  try {
    stream = await create();
  } catch (error) {
    return { where: 'create', ...describeError(error) };
  }
  const events: unknown[] = [];
  try {
    for await (const event of stream) events.push(event);
  } catch (error) {
    return { where: 'iterator', events, ...describeError(error) };
  }
  return { where: 'completed', events };
}

function describeError(error: unknown): Record<string, unknown> {
  const e = error as { constructor: { name: string }; message: string; status?: unknown; error?: unknown };
  return { class: e.constructor.name, message: e.message, status: e.status, body: e.error };
}

/** A final error: openai-node and the resilient clients give up on it at once (one request each). */
const finalError = {
  message: 'context too long',
  type: 'invalid_request_error',
  code: 'context_length_exceeded',
};

const streams: Record<string, () => Reply> = {
  'an SSE error event before any chunk': () => ({ sse: [{ error: finalError }] }),
  'a role-only chunk, then an SSE error event': () => ({
    sse: [chunk({ role: 'assistant', content: '' }), { error: finalError }],
  }),
  'a malformed data line': () => ({ sseRaw: 'data: {not json\n\n' }),
  'content, then an SSE error event': () => ({
    sse: [chunk({ role: 'assistant', content: 'Hel' }), { error: finalError }],
  }),
  'a complete stream': () => ({
    sse: [
      chunk({ role: 'assistant', content: 'Hel' }),
      chunk({ content: 'lo' }),
      chunk({}, 'stop'),
      '[DONE]',
    ],
  }),
};

describe('chat completions stream', () => {
  for (const [name, reply] of Object.entries(streams)) {
    test(`${name}: surfaces where openai-node surfaces it`, async () => {
      const bare = await expectParity({
        handler: reply,
        scenario: (client) => consume(() => client.chat.completions.create({ ...chatParams, stream: true })),
      });
      expect(bare.caller).toHaveProperty('where', name === 'a complete stream' ? 'completed' : 'iterator');
    });
  }

  test('an HTTP error status rejects create() on both', async () => {
    const bare = await expectParity({
      handler: () => ({ status: 400, json: { error: finalError } }),
      scenario: (client) => consume(() => client.chat.completions.create({ ...chatParams, stream: true })),
    });
    expect(bare.caller).toMatchObject({ where: 'create', class: 'BadRequestError', status: 400 });
  });

  test('a retryable SSE error before any chunk: retried, then surfaced from the iterator as openai-node does', async () => {
    const serverError = { message: 'overloaded', type: 'server_error' };
    const run = {
      handler: (): Reply => ({ sse: [{ error: serverError }] }),
      resilient: { retry: { baseDelayMs: 1, maxDelayMs: 1 } },
      scenario: (client: import('openai').OpenAI) =>
        consume(() => client.chat.completions.create({ ...chatParams, stream: true })),
    };
    const bare = await observe('bare', run);
    expect(bare.caller).toMatchObject({ where: 'iterator', class: 'APIError', message: 'overloaded' });
    expect(bare.server).toHaveLength(1); // openai-node retries nothing after the headers
    for (const variant of RESILIENT) {
      const ours = await observe(variant, run);
      expect(ours.caller, variant).toEqual(bare.caller);
      // The documented difference: a failure before the first event of substance is retried (README).
      expect(ours.server, variant).toHaveLength(3);
    }
  });
});

describe('Responses API stream', () => {
  test('an error event before any output surfaces from the iterator on both', async () => {
    await expectParity({
      handler: () => ({
        sse: [
          { type: 'response.created', sequence_number: 0, response: { id: 'resp_1', status: 'in_progress' } },
          { type: 'error', sequence_number: 1, code: 'invalid_prompt', message: 'bad prompt', param: null },
        ],
      }),
      scenario: (client) =>
        consume(() => client.responses.create({ model: 'gpt-4o-mini', input: 'hi', stream: true })),
    });
  });
});
