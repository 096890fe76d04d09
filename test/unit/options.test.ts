/** Bad options fail at createResilientChat with a TypeError naming the option. */
import OpenAI from 'openai';
import { describe, expect, test } from 'vitest';
import {
  classifyError,
  createResilientChat,
  createResilientClient,
  InvalidClientError,
  InvalidOptionError,
  type ResilientChatOptions,
} from '../../src/index.js';
import { resolvePoolOptions } from '../../src/pool/pool-options.js';

const client = new OpenAI({ apiKey: 'sk-unused', baseURL: 'http://127.0.0.1:9/v1' });

function rejects(options: unknown, option: string) {
  let thrown: unknown;
  try {
    createResilientChat(options as ResilientChatOptions);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(TypeError);
  expect(thrown).toBeInstanceOf(InvalidOptionError);
  expect((thrown as InvalidOptionError).option).toBe(option);
  expect((thrown as InvalidOptionError).code).toBe('RESILIENT_CHAT_INVALID_OPTION');
  expect((thrown as Error).message).toContain(`\`${option}\``);
}

/** The options as a test's name: the client by name, NaN and the infinities as themselves (`%j` printed `[Circular]`). */
function shown(options: unknown): string {
  const bare = (name: string) => `<<${name}>>`; // printed without quotes
  return JSON.stringify(options, (_, value: unknown) => {
    if (value === client) return bare('client');
    if (typeof value === 'number' && !Number.isFinite(value)) return bare(String(value));
    if (typeof value === 'function') return bare('function');
    return value;
  }).replace(/"<<(.*?)>>"/g, '$1');
}

describe('createResilientChat rejects', () => {
  test.each(
    (
      [
        [{ clients: client, retry: { maxRetries: -1 } }, 'retry.maxRetries'],
        [{ clients: client, retry: { maxRetries: Number.NaN } }, 'retry.maxRetries'],
        [{ clients: client, retry: { maxRetries: 1.5 } }, 'retry.maxRetries'],
        [{ clients: client, retry: { maxRetries: Number.POSITIVE_INFINITY } }, 'retry.maxRetries'],
        [{ clients: client, retry: { baseDelayMs: -5 } }, 'retry.baseDelayMs'],
        [{ clients: client, retry: { baseDelayMs: '500' } }, 'retry.baseDelayMs'],
        [{ clients: client, retry: { baseDelayMs: 1000, maxDelayMs: 500 } }, 'retry.maxDelayMs'],
        [{ clients: client, retry: { maxDelayMs: Number.NaN } }, 'retry.maxDelayMs'],
        [{ clients: client, retry: { attemptTimeoutMs: 0 } }, 'retry.attemptTimeoutMs'],
        [{ clients: client, retry: { totalTimeoutMs: Number.POSITIVE_INFINITY } }, 'retry.totalTimeoutMs'],
        [{ clients: client, retry: { maxRetryAfterMs: -1 } }, 'retry.maxRetryAfterMs'],
        [{ clients: client, retry: 3 }, 'retry'],
        [{ clients: client, retry: { random: 0.5 } }, 'retry.random'],
        [{ clients: client, circuitBreaker: { failureRatio: 0 } }, 'circuitBreaker.failureRatio'],
        [{ clients: client, circuitBreaker: { failureRatio: 1.5 } }, 'circuitBreaker.failureRatio'],
        [{ clients: client, circuitBreaker: { failureRatio: Number.NaN } }, 'circuitBreaker.failureRatio'],
        [{ clients: client, circuitBreaker: { minimumThroughput: -1 } }, 'circuitBreaker.minimumThroughput'],
        [{ clients: client, circuitBreaker: { minimumThroughput: 2.5 } }, 'circuitBreaker.minimumThroughput'],
        [
          { clients: client, circuitBreaker: { minimumThroughput: 1_000_001 } },
          'circuitBreaker.minimumThroughput',
        ],
        [{ clients: client, circuitBreaker: { samplingDurationMs: 0 } }, 'circuitBreaker.samplingDurationMs'],
        [
          { clients: client, circuitBreaker: { samplingDurationMs: '30s' } },
          'circuitBreaker.samplingDurationMs',
        ],
        [{ clients: client, circuitBreaker: true }, 'circuitBreaker'],
        [{ clients: client, retryBudget: { ratio: -0.1 } }, 'retryBudget.ratio'],
        [{ clients: client, retryBudget: { ratio: 1.01 } }, 'retryBudget.ratio'],
        [{ clients: client, retryBudget: { minRetriesPerSecond: -1 } }, 'retryBudget.minRetriesPerSecond'],
        [
          { clients: client, retryBudget: { minRetriesPerSecond: Number.POSITIVE_INFINITY } },
          'retryBudget.minRetriesPerSecond',
        ],
        [{ clients: client, retryBudget: { minRetriesPerSecond: '1' } }, 'retryBudget.minRetriesPerSecond'],
        [{ clients: client, retryBudget: 0.1 }, 'retryBudget'],
        [{ clients: client, idempotencyKeys: 'true' }, 'idempotencyKeys'],
        [{ clients: client, idempotencyKeys: 1 }, 'idempotencyKeys'],
        [{ clients: client, closedClient: { maxRecoveries: -1 } }, 'closedClient.maxRecoveries'],
        [{ clients: client, closedClient: [] }, 'closedClient'],
        [{ clients: client, streams: { idleTimeoutMs: 0 } }, 'streams.idleTimeoutMs'],
        [{ clients: client, streams: { firstEventTimeoutMs: '30s' } }, 'streams.firstEventTimeoutMs'],
        [{ clients: client, streams: true }, 'streams'],
        [{}, 'clients'],
        [{ clients: 'sk-my-key' }, 'clients'],
        [{ clients: { acquire: 'nope' } }, 'clients'],
        [{ clients: { acquire: () => client, release: 1 } }, 'clients.release'],
        [{ clients: { acquire: () => client, invalidate: {} } }, 'clients.invalidate'],
        [{ clients: client, tracerProvider: {} }, 'tracerProvider'],
        [{ clients: client, meterProvider: 'global' }, 'meterProvider'],
        [{ clients: client, logger: console.warn }, 'logger'],
        [{ clients: client, captureContent: 'yes' }, 'captureContent'],
        [null, 'options'],
      ] as [unknown, string][]
    ).map(([options, option]) => [shown(options), option, options] as const),
  )('%s naming %s', (_, option, options) => rejects(options, option));

  test.each([
    [{ retry: { totalTimeoutMS: 1000 } }, 'retry.totalTimeoutMS', 'retry.totalTimeoutMs'],
    [{ retry: { maxRetry: 3 } }, 'retry.maxRetry', 'retry.maxRetries'],
    [{ retries: 3 }, 'retries', 'retry'],
    [{ closedClients: {} }, 'closedClients', 'closedClient'],
    [{ streams: { idleTimeout: 1000 } }, 'streams.idleTimeout', 'streams.idleTimeoutMs'],
    [{ circuitbreaker: false }, 'circuitbreaker', 'circuitBreaker'],
    [{ captureContents: true }, 'captureContents', 'captureContent'],
    [{ retryBudget: { ration: 0.2 } }, 'retryBudget.ration', 'retryBudget.ratio'],
  ])('a misspelt key %j is refused, naming it and the nearest valid one', (extra, option, nearest) => {
    rejects({ clients: client, ...extra }, option);
    expect(() => createResilientChat({ clients: client, ...extra } as ResilientChatOptions)).toThrow(
      `did you mean \`${nearest}\`?`,
    );
  });

  test('a key that resembles nothing lists the valid ones', () => {
    expect(() => createResilientChat({ clients: client, zzzzzzzz: 1 } as never)).toThrow(
      /one of: clients, retry/,
    );
  });

  test.each([
    [{ circuitBreaker: { probeTimeoutMs: 2 ** 31 } }, 'circuitBreaker.probeTimeoutMs'],
    [{ circuitBreaker: { breakDurationMs: Number.POSITIVE_INFINITY } }, 'circuitBreaker.breakDurationMs'],
    [{ retryBudget: { windowMs: 2 ** 31 } }, 'retryBudget.windowMs'],
    [{ closedClient: { fallbackToGlobalDispatcher: 'yes' } }, 'closedClient.fallbackToGlobalDispatcher'],
  ])('durations past the timer limit and wrong types are refused: %j', (extra, option) => {
    rejects({ clients: client, ...extra }, option);
  });

  test('the message never echoes a string back (it may be an API key)', () => {
    const key = `sk-proj-${'A'.repeat(40)}`;
    expect(() => createResilientChat({ clients: key as never })).toThrow(
      /received a string of 48 characters$/,
    );
    expect(() => createResilientChat({ clients: key as never })).not.toThrow(/sk-proj/);
  });
});

describe('sharedSettings', () => {
  const factory = () => client;

  test.each([
    ['not an object', { clients: factory, sharedSettings: 'http://127.0.0.1:9/v1' }, 'sharedSettings'],
    [
      'over a single instance',
      { clients: client, sharedSettings: { baseURL: client.baseURL } },
      'sharedSettings',
    ],
    ['over a single instance, even empty', { clients: client, sharedSettings: {} }, 'sharedSettings'],
    [
      'an unknown key',
      { clients: factory, sharedSettings: { baseUrl: 'http://a/v1' } },
      'sharedSettings.baseUrl',
    ],
    [
      'apiKey, a secret never declared',
      { clients: factory, sharedSettings: { apiKey: 'sk-1' } },
      'sharedSettings.apiKey',
    ],
    [
      'a baseURL that is not a string',
      { clients: factory, sharedSettings: { baseURL: 1 } },
      'sharedSettings.baseURL',
    ],
    [
      'a baseURL new URL() refuses',
      { clients: factory, sharedSettings: { baseURL: '/v1' } },
      'sharedSettings.baseURL',
    ],
    [
      'an organization that is not a string',
      { clients: factory, sharedSettings: { organization: 1 } },
      'sharedSettings.organization',
    ],
    [
      'a project that is not a string',
      { clients: factory, sharedSettings: { project: {} } },
      'sharedSettings.project',
    ],
    [
      'a webhookSecret that is not a string',
      { clients: factory, sharedSettings: { webhookSecret: true } },
      'sharedSettings.webhookSecret',
    ],
  ] as const)('%s is refused, naming %s', (_, options, option) => {
    rejects(options, option);
  });

  test('a misspelt key names the nearest; one that resembles nothing lists the four', () => {
    expect(() =>
      createResilientChat({ clients: factory, sharedSettings: { baseUrl: 'http://a/v1' } } as never),
    ).toThrow('did you mean `sharedSettings.baseURL`?');
    expect(() =>
      createResilientChat({ clients: factory, sharedSettings: { apiKey: 'sk-1' } } as never),
    ).toThrow('one of: baseURL, organization, project, webhookSecret');
  });

  test('over a single instance, the error says its own settings are shown and where to set them', () => {
    expect(() => createResilientChat({ clients: client, sharedSettings: {} })).toThrow(
      /instance's own settings.*set them on the instance/,
    );
  });

  test('the base URL is never echoed', () => {
    expect(() =>
      createResilientChat({ clients: factory, sharedSettings: { baseURL: 'sk-proj-secret' } }),
    ).toThrow(/received a string of 14 characters$/);
  });

  test('accepted over a factory, a source and a pool-like source, nulls included', () => {
    for (const clients of [factory, { acquire: async () => client, release: () => {} }]) {
      expect(() =>
        createResilientChat({
          clients,
          sharedSettings: {
            baseURL: 'http://127.0.0.1:9/v1/',
            organization: null,
            project: 'p',
            webhookSecret: null,
          },
          logger: false,
        }),
      ).not.toThrow();
    }
  });
});

describe('the one whole-number check says the range of each option', () => {
  test.each([
    [
      'retry.maxRetries',
      () => createResilientChat({ clients: client, retry: { maxRetries: 101 } }),
      'a whole number from 0 to 100',
    ],
    [
      'circuitBreaker.minimumThroughput',
      () => createResilientChat({ clients: client, circuitBreaker: { minimumThroughput: -1 } }),
      'a whole number from 0 to 1000000',
    ],
    [
      'maxSize',
      () => resolvePoolOptions({ create: () => client, maxSize: 0 }),
      'a whole number above 0; received 0',
    ],
    [
      'connectionsPerClient',
      () => resolvePoolOptions({ create: () => client, connectionsPerClient: 1.5 }),
      'a whole number above 0, or Infinity; received 1.5',
    ],
  ] as const)('%s', (_, make, expected) => {
    expect(make).toThrow(expected);
  });

  test('Infinity is a connection limit (none) and nothing else', () => {
    expect(
      resolvePoolOptions({ create: () => client, connectionsPerClient: Infinity }).connectionsPerClient,
    ).toBe(Infinity);
    expect(() => resolvePoolOptions({ create: () => client, maxSize: Infinity })).toThrow(/`maxSize`/);
  });
});

describe('accepted shapes', () => {
  test('an instance, a factory and a source, with every option at a valid edge', () => {
    for (const clients of [client, () => client, { acquire: async () => client }]) {
      expect(() =>
        createResilientChat({
          clients,
          retry: {
            maxRetries: 0,
            baseDelayMs: 0,
            maxDelayMs: 0,
            attemptTimeoutMs: 1,
            totalTimeoutMs: 1,
            random: () => 0,
          },
          closedClient: { maxRecoveries: 0 },
          circuitBreaker: { failureRatio: 1, minimumThroughput: 0, samplingDurationMs: 1 },
          retryBudget: { ratio: 0, minRetriesPerSecond: 0 },
          idempotencyKeys: false,
          logger: false,
          captureContent: false,
        }),
      ).not.toThrow();
    }
  });
});

describe('bad call input', () => {
  test('a factory that returns something else fails the call with a named error and sends nothing', async () => {
    const chat = createResilientChat({ clients: () => ({}) as OpenAI, logger: false });
    const error = await chat.completions.create({ model: 'm', messages: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidClientError);
    expect((error as Error).message).toMatch(/the `clients` factory must return an OpenAI client/);
  });

  test('params without a model are rejected before any attempt', async () => {
    let acquired = 0;
    const factory = () => {
      acquired++;
      return client;
    };
    const chat = createResilientChat({ clients: factory, logger: false });
    await expect(chat.completions.create({ messages: [] } as never)).rejects.toThrow(/body.model/);
    expect(acquired).toBe(0);
  });
});

describe("a resilient client's class", () => {
  test('constructed directly (as a copy by `new client.constructor()` would), it throws InvalidOptionError', () => {
    const overInstance = createResilientClient({ clients: client, logger: false });
    const overFactory = createResilientClient({ clients: () => client, logger: false });
    for (const resilient of [overInstance, overFactory]) {
      const Resilient = resilient.constructor as typeof OpenAI;
      // With options openai-node accepts, and with none (its own check for an API key must not come first).
      for (const args of [[{ apiKey: 'sk-SECRET-copy', baseURL: 'http://127.0.0.1:9/v1' }], []] as const) {
        let thrown: unknown;
        try {
          new Resilient(...args);
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(InvalidOptionError);
        expect(thrown).toBeInstanceOf(TypeError);
        expect(thrown).toMatchObject({ code: 'RESILIENT_CHAT_INVALID_OPTION', option: 'new OpenAI()' });
        expect((thrown as Error).message).toMatch(/createResilientClient/);
        expect((thrown as Error).message).not.toContain('SECRET');
        expect(classifyError(thrown)).toMatchObject({ reason: 'setup_error', retryable: false });
      }
    }
    // The resilient client itself still copies: withOptions() makes one the supported way.
    expect(() => overInstance.withOptions({ timeout: 1_000 })).not.toThrow();
  });
});
