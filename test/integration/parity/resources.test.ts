/**
 * Resources as a call site uses them: pagination, uploads, openai-node's helpers, errors, request options.
 */
import { createReadStream, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { toFile } from 'openai';
import type { RunnableToolFunctionWithoutParse } from 'openai/lib/RunnableFunction';
import { describe, expect, test } from 'vitest';
import {
  chatParams,
  chunk,
  completion,
  errorRecord,
  expectParity,
  type Reply,
  type SeenRequest,
} from '../../support/parity.js';

/** Files in cursor pages of two: `after` names the last id of the page before. */
function files(request: SeenRequest): Reply {
  const all = ['file-1', 'file-2', 'file-3', 'file-4', 'file-5'];
  const after = new URL(request.url, 'http://x').searchParams.get('after');
  const start = after ? all.indexOf(after) + 1 : 0;
  const page = all.slice(start, start + 2);
  return {
    json: {
      object: 'list',
      data: page.map((id) => ({
        id,
        object: 'file',
        bytes: 1,
        created_at: 1,
        filename: id,
        purpose: 'batch',
      })),
      has_more: start + 2 < all.length,
      first_id: page[0],
      last_id: page.at(-1),
    },
  };
}

describe('pagination', () => {
  test('for await over every page, getNextPage, hasNextPage, iterPages', async () => {
    const bare = await expectParity({
      handler: files,
      scenario: async (client) => {
        const ids: string[] = [];
        for await (const file of client.files.list({ limit: 2 })) ids.push(file.id);
        const first = await client.files.list({ limit: 2 });
        const second = await first.getNextPage();
        const pages: string[][] = [];
        for await (const page of first.iterPages()) pages.push(page.data.map((f) => f.id));
        return {
          ids,
          hasNext: [first.hasNextPage(), second.hasNextPage()],
          second: second.data.map((f) => f.id),
          pages,
          requestId: (first as unknown as { _request_id?: string })._request_id,
        };
      },
    });
    expect((bare.caller as { ids: string[] }).ids).toHaveLength(5);
  });

  test('a page promise read raw, then awaited', async () => {
    await expectParity({
      handler: files,
      scenario: async (client) => {
        const p = client.files.list({ limit: 2 });
        const raw = await p.asResponse();
        const page = await p;
        return { status: raw.status, ids: page.data.map((f) => f.id), next: page.hasNextPage() };
      },
    });
  });
});

describe('uploads', () => {
  const answer = (): Reply => ({
    json: { id: 'file-up', object: 'file', bytes: 5, created_at: 1, filename: 'a.jsonl', purpose: 'batch' },
  });

  test('toFile(buffer): the same multipart body', async () => {
    await expectParity({
      handler: answer,
      multipart: true,
      scenario: async (client) =>
        (
          await client.files.create({
            file: await toFile(Buffer.from('{"a":1}\n'), 'a.jsonl'),
            purpose: 'batch',
          })
        ).id,
    });
  });

  test('a file stream: the same multipart body', async () => {
    const path = join(tmpdir(), `parity-${process.pid}.jsonl`);
    writeFileSync(path, '{"b":2}\n');
    await expectParity({
      handler: answer,
      multipart: true,
      scenario: async (client) =>
        (await client.files.create({ file: createReadStream(path), purpose: 'batch' })).id,
    });
  });
});

/** A tool the runner calls: adds its two arguments. */
const add: RunnableToolFunctionWithoutParse = {
  type: 'function',
  function: {
    name: 'add',
    description: 'Adds a and b',
    parameters: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } },
    function: (args: string) => {
      const { a, b } = JSON.parse(args) as { a: number; b: number };
      return String(a + b);
    },
  },
};

describe('helpers', () => {
  const streamed = (): Reply => ({
    sse: [
      chunk({ role: 'assistant', content: 'Hel' }),
      chunk({ content: 'lo' }),
      chunk({}, 'stop'),
      '[DONE]',
    ],
  });

  test('chat.completions.stream(): events and the final completion', async () => {
    await expectParity({
      handler: streamed,
      scenario: async (client) => {
        const stream = client.chat.completions.stream(chatParams);
        const deltas: string[] = [];
        stream.on('content', (delta) => deltas.push(delta));
        const final = await stream.finalChatCompletion();
        return { deltas, content: final.choices[0]?.message.content };
      },
    });
  });

  test('chat.completions.parse(): the parsed message', async () => {
    await expectParity({
      handler: () => ({ json: completion('chatcmpl-1', '{"answer":42}') }),
      scenario: async (client) => {
        const parsed = await client.chat.completions.parse({
          ...chatParams,
          response_format: {
            type: 'json_schema',
            json_schema: {
              name: 'a',
              schema: { type: 'object', properties: { answer: { type: 'number' } } },
            },
          },
        });
        return parsed.choices[0]?.message.content;
      },
    });
  });

  test('runTools(): the tool is called and its result sent back', async () => {
    await expectParity({
      handler: (_request, index) =>
        index === 0
          ? {
              json: {
                ...completion(),
                choices: [
                  {
                    index: 0,
                    finish_reason: 'tool_calls',
                    logprobs: null,
                    message: {
                      role: 'assistant',
                      content: null,
                      tool_calls: [
                        {
                          id: 'call_1',
                          type: 'function',
                          function: { name: 'add', arguments: '{"a":1,"b":2}' },
                        },
                      ],
                    },
                  },
                ],
              },
            }
          : { json: completion('chatcmpl-2', 'It is 3') },
      scenario: async (client) => {
        const runner = client.chat.completions.runTools({
          ...chatParams,
          tools: [add],
        });
        return await runner.finalContent();
      },
    });
  });
});

describe('errors and request options', () => {
  for (const [status, type] of [
    [400, 'invalid_request_error'],
    [401, 'authentication_error'],
    [404, 'not_found_error'],
    [422, 'invalid_request_error'],
  ] as const) {
    test(`HTTP ${status}: the same error class, message, status and body`, async () => {
      await expectParity({
        handler: () => ({ status, json: { error: { message: `no (${status})`, type, code: 'some_code' } } }),
        scenario: async (client) => {
          try {
            await client.chat.completions.create(chatParams);
            return 'resolved';
          } catch (error) {
            const e = error as { error?: unknown; headers?: Headers; requestID?: unknown };
            return { ...errorRecord(error, 'create'), body: e.error, requestID: e.requestID };
          }
        },
      });
    });
  }

  test('an abort before the request: APIUserAbortError, nothing sent', async () => {
    const bare = await expectParity({
      handler: () => ({ json: completion() }),
      scenario: async (client) => {
        const controller = new AbortController();
        controller.abort();
        return client.chat.completions.create(chatParams, { signal: controller.signal }).then(
          () => 'resolved',
          (error) => errorRecord(error, 'create'),
        );
      },
    });
    expect(bare.server).toHaveLength(0);
  });

  test('a body and a signal made in another realm (node:vm, as jest environments and sandboxes make them)', async () => {
    const bare = await expectParity({
      handler: () => ({ json: completion() }),
      scenario: async (client) => {
        const foreign = runInNewContext(
          '({ params: { model: "gpt-test", messages: [{ role: "user", content: "hi" }] }, controller: new AbortController() })',
          { AbortController },
        ) as { params: typeof chatParams; controller: AbortController };
        expect(Object.getPrototypeOf(foreign.params)).not.toBe(Object.prototype);
        const created = await client.chat.completions.create(foreign.params, {
          signal: foreign.controller.signal,
        });
        return created.id;
      },
    });
    expect(bare.caller).toBe('chatcmpl-1');
    expect(bare.server).toHaveLength(1);
  });

  test('query, headers and a path of the caller’s own (client.get / client.post)', async () => {
    await expectParity({
      handler: () => ({ json: { ok: true } }),
      scenario: async (client) => {
        const got = await client.get('/custom/thing', { query: { q: '1' }, headers: { 'x-caller': 'yes' } });
        const posted = await client.post('/custom/thing', {
          body: { a: 1 },
          headers: { 'x-caller': 'post' },
        });
        return { got, posted };
      },
    });
  });
});
