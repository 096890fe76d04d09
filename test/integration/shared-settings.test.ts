/**
 * `sharedSettings` is checked, not trusted: a client of the source that has another value of a declared
 * setting fails the call before anything is sent, is never retried, and goes back to the source (it is
 * healthy, only not what was declared). The message names the setting and both values, never a secret.
 */
import OpenAI from 'openai';
import { describe, expect, test } from 'vitest';
import {
  ClientPool,
  ClientSettingMismatchError,
  classifyError,
  createResilientClient,
  isResilientChatError,
  telemetryNames,
} from '../../src/index.js';
import { quietLogger } from '../support/assertions.js';
import { newClient, RecordingSource, TEST_API_KEY } from '../support/clients.js';
import { useLoopback } from '../support/loopback.js';
import { params as chatParams } from '../support/params.js';

const { METRIC_RETRIES, METRIC_GIVE_UPS, ATTR_GIVE_UP_REASON } = telemetryNames;

const env = useLoopback();

/** A base URL no client of these tests sends to. */
const ELSEWHERE = 'http://127.0.0.1:9/v1';

async function failure(promise: Promise<unknown>): Promise<ClientSettingMismatchError> {
  const error = await promise.then(
    () => expect.fail('the call was to fail'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ClientSettingMismatchError);
  return error as ClientSettingMismatchError;
}

describe('a client of the source that differs from sharedSettings', () => {
  test('another baseURL: the call fails before anything is sent, without a retry, and the client goes back', async () => {
    const source = new RecordingSource([env.testClient]);
    const client = env.client({ clients: source, sharedSettings: { baseURL: ELSEWHERE } });
    const error = await failure(client.chat.completions.create(chatParams));
    expect(error.code).toBe('RESILIENT_CHAT_SETTING_MISMATCH');
    expect(error.setting).toBe('baseURL');
    expect(error.message).toContain(`has baseURL ${env.server.url}`);
    expect(error.message).toContain(`\`sharedSettings.baseURL\` declares ${ELSEWHERE}`);
    expect(isResilientChatError(error)).toBe(true);
    expect(classifyError(error)).toMatchObject({ reason: 'setup_error', retryable: false });

    expect(env.server.requestCount).toBe(0);
    expect(source.acquired).toEqual([env.testClient.client]);
    expect(source.released).toEqual([env.testClient.client]);
    expect(source.invalidated).toEqual([]);
    expect(await env.harness.counter(METRIC_RETRIES)).toBe(0);
    expect(await env.harness.counter(METRIC_GIVE_UPS, { [ATTR_GIVE_UP_REASON]: 'not_retryable' })).toBe(1);
  });

  test('a promise-returning source and a ClientPool: the client is released, the pool holds no lease', async () => {
    const source = new RecordingSource([env.testClient]);
    const later = env.client({
      clients: { acquire: async () => source.acquire(), release: (c) => source.release(c) },
      sharedSettings: { baseURL: ELSEWHERE },
    });
    await failure(later.chat.completions.create(chatParams));
    expect(source.released).toEqual([env.testClient.client]);

    const pool = new ClientPool({
      create: (_key, transport) =>
        new OpenAI({ apiKey: TEST_API_KEY, baseURL: env.server.url, ...transport }),
    });
    try {
      const overPool = env.client({ clients: pool, sharedSettings: { baseURL: ELSEWHERE } });
      await failure(overPool.chat.completions.create(chatParams));
      expect(pool.stats().leases).toBe(0);
    } finally {
      await pool.close({ timeoutMs: 0 });
    }
    expect(env.server.requestCount).toBe(0);
  });

  test('organization and project are named with both values; a webhookSecret with neither', async () => {
    const org = await failure(
      env
        .client({ clients: () => env.testClient.client, sharedSettings: { organization: 'org-a' } })
        .models.list(),
    );
    expect(org.message).toContain(
      'has organization null, but `sharedSettings.organization` declares "org-a"',
    );

    const secret = 'whsec_c2VjcmV0IG9mIHRoZSBjbGllbnQ=';
    const declaredSecret = 'whsec_ZGVjbGFyZWQgc2VjcmV0';
    const withSecret = newClient(env.server);
    withSecret.client.webhookSecret = secret;
    try {
      const mismatch = await failure(
        env
          .client({ clients: () => withSecret.client, sharedSettings: { webhookSecret: declaredSecret } })
          .chat.completions.create(chatParams),
      );
      expect(mismatch.setting).toBe('webhookSecret');
      expect(mismatch.message).toContain('a secret: neither is shown');
      expect(mismatch.message).not.toContain(secret);
      expect(mismatch.message).not.toContain(declaredSecret);
    } finally {
      await withSecret.agent.destroy();
    }
    expect(env.server.requestCount).toBe(0);
  });

  test("a base URL's user info and query are never shown, even when they are all that differs", async () => {
    const declared = `${env.server.url.replace('://', '://user:pw-secret@')}?key=query-secret`;
    const error = await failure(
      env
        .client({ clients: () => env.testClient.client, sharedSettings: { baseURL: declared } })
        .models.list(),
    );
    expect(error.message).not.toMatch(/pw-secret|query-secret|user:/);
    expect(error.message).toContain('with other user info or query, not shown');
  });

  test('a trailing slash on either side is no difference', async () => {
    const client = env.client({
      clients: () => env.testClient.client,
      sharedSettings: { baseURL: `${env.server.url}//` },
    });
    expect((await client.chat.completions.create(chatParams)).id).toBeDefined();
    expect(env.server.requestCount).toBe(1);
  });
});

test('over a source without sharedSettings nothing is compared: the settings stay unknown', async () => {
  const client = createResilientClient({ clients: () => env.testClient.client, logger: quietLogger });
  expect(() => client.baseURL).toThrow('`client.baseURL` is not known');
  expect((await client.chat.completions.create(chatParams)).id).toBeDefined();
});
