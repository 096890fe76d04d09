/**
 * One promise, several reads: `then`, `asResponse()`, `withResponse()` and `_request_id`, in any order,
 * repeated, early or late, on the bare client and on every resilient one (README, "One line to change").
 */
import diagnostics from 'node:diagnostics_channel';
import { describe, expect, test } from 'vitest';
import {
  ALL,
  chatParams,
  completion,
  expectParity,
  modelList,
  nextMacrotask,
  observe,
} from '../../support/parity.js';

const models = () => ({ json: modelList(['a', 'b']) });

/** Resolves when the client (Node's fetch or npm undici's) has received the headers of a response. */
function headersReceived(): Promise<void> {
  return new Promise((resolve) => {
    const channel = diagnostics.channel('undici:request:headers');
    const onHeaders = () => {
      channel.unsubscribe(onHeaders);
      // The fetch layer resolves its response in a later turn; one macrotask lets it get there.
      setImmediate(resolve);
    };
    channel.subscribe(onHeaders);
  });
}

describe('one promise, several reads', () => {
  test('asResponse() first, then await, then withResponse(): the raw response, the value, both', async () => {
    await expectParity({
      handler: models,
      scenario: async (client) => {
        const p = client.models.list();
        const raw = await p.asResponse();
        const page = await p;
        const again = await p;
        const { data, response, request_id } = await p.withResponse();
        return {
          raw: { status: raw.status, bodyUsedBefore: false, type: raw.headers.get('content-type') },
          ids: page.data.map((m) => m.id),
          same: page === again,
          withResponse: { ids: data.data.map((m) => m.id), same: response === raw, request_id },
          bodyUsedAfter: raw.bodyUsed,
        };
      },
    });
  });

  test('asResponse() after a tick: the body is unread, and can be read', async () => {
    const bare = await expectParity({
      handler: models,
      scenario: async (client) => {
        const p = client.models.list();
        await nextMacrotask();
        const raw = await p.asResponse();
        return { used: raw.bodyUsed, body: JSON.parse(await raw.text()) };
      },
    });
    expect(bare.caller).toEqual({ used: false, body: modelList(['a', 'b']) });
  });

  test('asResponse() after the response arrived, before any other read: still unread', async () => {
    for (const variant of ALL) {
      const seen = await observe(variant, {
        handler: () => ({ json: completion() }),
        scenario: async (client) => {
          const arrived = headersReceived();
          const p = client.chat.completions.create(chatParams);
          await arrived;
          await nextMacrotask();
          const raw = await p.asResponse();
          const text = await raw.text();
          return { text: JSON.parse(text).id, used: raw.bodyUsed };
        },
      });
      expect(seen.caller, variant).toEqual({ text: 'chatcmpl-1', used: true });
    }
  });

  test('await first, then asResponse(): the response of that request, its body read', async () => {
    await expectParity({
      handler: () => ({ json: completion() }),
      scenario: async (client) => {
        const p = client.chat.completions.create(chatParams);
        const value = await p;
        const raw = await p.asResponse();
        return { id: value.id, requestId: value._request_id, used: raw.bodyUsed, status: raw.status };
      },
    });
  });

  test('reads in parallel: Promise.all of the value, the raw response and withResponse()', async () => {
    await expectParity({
      handler: () => ({ json: completion() }),
      scenario: async (client) => {
        const p = client.chat.completions.create(chatParams);
        const [value, raw, both] = await Promise.all([p, p.asResponse(), p.withResponse()]);
        return {
          id: value.id,
          status: raw.status,
          sameValue: both.data === value,
          sameResponse: both.response === raw,
          requestId: both.request_id,
        };
      },
    });
  });

  test('_request_id on the value and on a derived value (_thenUnwrap), not enumerable', async () => {
    await expectParity({
      handler: () => ({ json: completion() }),
      scenario: async (client) => {
        const value = await client.chat.completions.create(chatParams);
        const derived = await client.chat.completions
          .create(chatParams)
          ._thenUnwrap((data) => ({ wrapped: data.id }));
        return {
          requestId: value._request_id,
          enumerable: Object.keys(value).includes('_request_id'),
          derived,
          derivedRequestId: (derived as { _request_id?: unknown })._request_id,
        };
      },
    });
  });

  test('catch() and finally() on a failing request: the same error, once', async () => {
    await expectParity({
      handler: () => ({ status: 400, json: { error: { message: 'bad', type: 'invalid_request_error' } } }),
      scenario: async (client) => {
        const p = client.models.list();
        const caught = await p.catch((e: Error) => e.constructor.name);
        let finallyRan = false;
        const final = await p
          .finally(() => {
            finallyRan = true;
          })
          .then(
            () => 'resolved',
            (e: Error) => e.message,
          );
        const raw = await p.asResponse().then(
          () => 'resolved',
          (e: Error) => e.constructor.name,
        );
        return { caught, final, finallyRan, raw };
      },
    });
  });
});
