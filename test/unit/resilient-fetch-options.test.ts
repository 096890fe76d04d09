/** resilientFetch's options: the client's, validated the same way, without `clients`, with its own three. */
import { describe, expect, test } from 'vitest';
import { SEND_ATTEMPT } from '../../src/call/attempt-sender.js';
import { FetchAttemptClient } from '../../src/fetch/fetch-attempt.js';
import { classifyError, InvalidOptionError, InvalidRequestError, resilientFetch } from '../../src/index.js';

describe('resilientFetch options', () => {
  test('nothing, or the client options without clients, are accepted', () => {
    expect(typeof resilientFetch()).toBe('function');
    expect(typeof resilientFetch({ retry: { maxRetries: 1 }, genAISpan: 'own', logger: false })).toBe(
      'function',
    );
  });

  test('`clients` is refused, saying what to use instead', () => {
    expect(() => resilientFetch({ clients: {} } as never)).toThrow(
      /`clients` is not an option of resilientFetch/,
    );
    expect(() => resilientFetch({ clients: {} } as never)).toThrow(InvalidOptionError);
  });

  test('`sharedSettings` is refused as an unknown key: there is no client object to show them on', () => {
    let thrown: unknown;
    try {
      resilientFetch({ sharedSettings: { baseURL: 'http://127.0.0.1:9/v1' } } as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidOptionError);
    expect((thrown as InvalidOptionError).option).toBe('sharedSettings');
    expect((thrown as Error).message).toMatch(/`sharedSettings` is not an option/);
  });

  test('bad values are named as the client’s options are', () => {
    expect(() => resilientFetch({ retry: { maxRetries: -1 } })).toThrow(/retry\.maxRetries/);
    expect(() => resilientFetch({ retyr: {} } as never)).toThrow(/retyr.*retry/s);
    expect(() => resilientFetch({ dispatchers: 'agent' as never })).toThrow(/`dispatchers`/);
    expect(() => resilientFetch({ undici: {} as never })).toThrow(/`undici`/);
    expect(() => resilientFetch({ genAISpan: 'mine' as never })).toThrow(/`genAISpan`.*'auto'/);
  });
});

describe('the attempt client refuses what it cannot send, with a code', () => {
  const attemptClient = () =>
    new FetchAttemptClient('http://127.0.0.1:1', {
      fetch: () => Promise.reject(new Error('never called')),
      fetchOptions: { dispatcher: {} as never },
    });

  test("openai-node's request() and a request resilientFetch did not prepare are InvalidRequestErrors", () => {
    const client = attemptClient();
    for (const refused of [
      () => client.request(),
      () => client.requestAPIList(),
      () => client[SEND_ATTEMPT]({ method: 'post', path: '/chat/completions' } as never),
    ]) {
      expect(refused).toThrow(InvalidRequestError);
      let thrown: unknown;
      try {
        refused();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ code: 'RESILIENT_CHAT_INVALID_REQUEST', option: 'path' });
      expect(classifyError(thrown)).toMatchObject({ reason: 'setup_error', retryable: false });
    }
  });
});
