/** Which request shapes may be sent twice (src/call/replay-safety.ts), and the policy's use of it. */
import { describe, expect, test } from 'vitest';
import type { Classification } from '../../src/call/classify.js';
import { isReplaySafe } from '../../src/call/replay-safety.js';
import { resolveRetryPolicy } from '../../src/policy/retry-options.js';
import { RetryPolicy } from '../../src/policy/retry-policy.js';

describe('isReplaySafe', () => {
  test.each([
    ['get', '/models', {}, true],
    ['delete', '/files/file-1', {}, true],
    ['post', '/chat/completions', { model: 'm' }, true],
    ['post', '/chat/completions?x=1', { model: 'm' }, true],
    ['post', '/chat/completions/', { model: 'm' }, true],
    ['post', '/embeddings#f', { model: 'm' }, true],
    ['post', '/responses/?x=1', { model: 'm', conversation: 'conv_1' }, false],
    ['post', '/files/', {}, false],
    ['post', '/responses', { model: 'm', store: true, previous_response_id: 'resp_1' }, true],
    ['post', '/responses', { model: 'm', conversation: 'conv_1' }, false],
    ['post', '/responses', { model: 'm', conversation: { id: 'conv_1' } }, false],
    ['post', '/responses/input_tokens', { model: 'm', conversation: 'conv_1' }, true],
    ['post', '/embeddings', { model: 'm' }, true],
    ['post', '/files', {}, false],
    ['post', '/batches', {}, false],
    ['post', '/vector_stores/vs_1/files', {}, false],
    ['post', '/conversations/conv_1/items', {}, false],
    ['post', '/chat/completions/chatcmpl-1', {}, false],
    ['patch', '/anything', {}, false],
  ] as const)('%s %s %j: %s', (method, path, params, safe) => {
    expect(isReplaySafe(method, path, params)).toBe(safe);
  });
});

describe('RetryPolicy and requests that are not idempotent', () => {
  const serverError: Classification = {
    reason: 'server_error',
    retryable: true,
    errorType: 'E',
    status: 500,
  };
  const rateLimited: Classification = {
    reason: 'rate_limited',
    retryable: true,
    errorType: 'E',
    status: 429,
  };
  const policy = (replayNonIdempotent = false) =>
    new RetryPolicy(resolveRetryPolicy({ retry: { replayNonIdempotent } }), undefined, () => 0);
  const tally = policy().startCall(undefined);
  const facts = (maybeSent: boolean) => ({ maybeSent, replayable: true, idempotent: false });

  test('gives up after a failure that may have taken effect', () => {
    expect(policy().decide(serverError, tally, facts(true))).toEqual({
      action: 'give_up',
      reason: 'not_idempotent',
    });
  });

  test('retries what provably had no effect: never sent, or refused with a 429', () => {
    expect(policy().decide(serverError, tally, facts(false)).action).toBe('retry');
    expect(policy().decide(rateLimited, tally, facts(true)).action).toBe('retry');
  });

  test('retries it anyway when replayNonIdempotent is set', () => {
    expect(policy(true).decide(serverError, tally, facts(true)).action).toBe('retry');
  });
});

test('retry.replayNonIdempotent must be a boolean', async () => {
  const { InvalidOptionError } = await import('../../src/errors.js');
  expect(() => resolveRetryPolicy({ retry: { replayNonIdempotent: 'yes' as never } })).toThrow(
    InvalidOptionError,
  );
});
