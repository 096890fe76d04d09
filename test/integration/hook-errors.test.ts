/**
 * No hook can crash the process: a `release`, `invalidate` or `logger.warn` that throws or returns a promise
 * that rejects never breaks the call, and its error becomes a process warning (RESILIENT_CHAT_HOOK_FAILED),
 * the same for both kinds. An unhandled rejection would end the process with code 1 (Node's default): a
 * child process shows the real exit code, and in this one a real `unhandledRejection` listener races the
 * warning.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { type ClientSource, createResilientClient, type Logger } from '../../src/index.js';
import { newClient, TEST_API_KEY } from '../support/clients.js';
import { useLoopback } from '../support/loopback.js';
import { enableOfficialInstrumentation } from '../support/official-instrumentation.js';
import { params } from '../support/params.js';
import { createTelemetryHarness } from '../support/telemetry.js';

const require = createRequire(import.meta.url);

const service = fileURLToPath(new URL('../support/hook-service.ts', import.meta.url));
const HOOKS = ['release', 'invalidate', 'logger'] as const;
type Hook = (typeof HOOKS)[number];
type Kind = 'sync' | 'async';

/** What the next hook failure becomes: the documented warning, or an unhandled rejection. */
function nextHookFailure(): Promise<{ warning: string } | { unhandledRejection: unknown }> {
  return new Promise((resolve) => {
    const onWarning = (warning: Error & { code?: string }) => {
      if (warning.code !== 'RESILIENT_CHAT_HOOK_FAILED') return;
      done();
      resolve({ warning: warning.message });
    };
    const onRejection = (reason: unknown) => {
      done();
      resolve({ unhandledRejection: reason });
    };
    const done = () => {
      process.off('warning', onWarning);
      process.off('unhandledRejection', onRejection);
    };
    process.on('warning', onWarning);
    process.on('unhandledRejection', onRejection);
  });
}

function failing(kind: Kind, what: string, value: unknown = new Error(`${what} broke`)): () => undefined {
  // A hook typed `void` may still return a promise: a JavaScript caller, or an `async` method.
  return (kind === 'sync'
    ? () => {
        throw value;
      }
    : () => Promise.reject(value)) as unknown as () => undefined;
}

describe('in a process of its own: the exit code', () => {
  test.each(HOOKS.flatMap((hook) => (['async', 'sync'] as const).map((kind) => [hook, kind] as const)))(
    'a failing %s (%s): the call succeeds, Node is warned, the process exits 0',
    async (hook, kind) => {
      const child = spawn(process.execPath, ['--import', 'tsx', service, hook, kind], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      const [code] = await once(child, 'exit');
      expect({ code, stdout }, stderr).toEqual({ code: 0, stdout: 'called\n' });
      expect(stderr).toContain('[RESILIENT_CHAT_HOOK_FAILED]');
      expect(stderr).toContain(`${hook} broke`);
    },
  );
});

describe('in this process: a warning, never an unhandled rejection', () => {
  const env = useLoopback();

  async function callWith(hook: Hook, fail: () => undefined) {
    const fresh = newClient(env.server);
    const dead = newClient(env.server);
    await dead.agent.destroy();
    let calls = 0;
    const source: ClientSource = {
      acquire: () => (hook === 'invalidate' && calls++ === 0 ? dead.client : fresh.client),
      release: hook === 'release' ? fail : () => {},
      invalidate: hook === 'invalidate' ? fail : () => {},
    };
    const logger: Logger = { warn: hook === 'logger' ? fail : () => {} };
    if (hook === 'logger')
      env.server.script({ type: 'status', status: 503, headers: { 'retry-after-ms': '0' } });
    try {
      return await env.client({ clients: source, logger }).chat.completions.create(params);
    } finally {
      await fresh.agent.close();
    }
  }

  test.each(HOOKS.flatMap((hook) => (['async', 'sync'] as const).map((kind) => [hook, kind] as const)))(
    'a failing %s (%s)',
    async (hook, kind) => {
      const failure = nextHookFailure();
      const completion = await callWith(hook, failing(kind, hook));
      expect(completion.object).toBe('chat.completion');
      const name = hook === 'logger' ? 'logger.warn()' : `clients.${hook}()`;
      expect(await failure).toEqual({
        warning: `resilient-chat: ${name} ${kind === 'sync' ? 'threw' : 'rejected'}: ${hook} broke`,
      });
    },
  );

  test('a hook failing with a value that cannot be printed is still only a warning', async () => {
    const failure = nextHookFailure();
    await callWith('release', failing('async', 'release', Object.create(null)));
    expect(await failure).toEqual({
      warning: 'resilient-chat: clients.release() rejected: a value that cannot be printed',
    });
    const thrown = nextHookFailure();
    await callWith('release', failing('sync', 'release', Object.create(null)));
    expect(await thrown).toEqual({
      warning: 'resilient-chat: clients.release() threw: a value that cannot be printed',
    });
  });
});

describe('the duplicate-instrumentation warning, given when the client is created', () => {
  const harness = createTelemetryHarness();
  const instrumentation = enableOfficialInstrumentation(harness.tracerProvider);
  afterAll(async () => {
    instrumentation.disable();
    await harness.shutdown();
  });

  test.each(['async', 'sync'] as const)(
    'a failing logger (%s) neither breaks createResilientClient nor the process',
    async (kind) => {
      // It warns once per patched method: patching again makes new ones to warn about.
      instrumentation.disable();
      instrumentation.enable();
      // openai's CommonJS build, patched through the hook, as in a CommonJS service.
      const { OpenAI: PatchedOpenAI } = require('openai') as typeof import('openai');
      const failure = nextHookFailure();
      const logger = { warn: failing(kind, 'logger') };
      createResilientClient({ clients: new PatchedOpenAI({ apiKey: TEST_API_KEY }), logger });
      expect(await failure).toEqual({
        warning: `resilient-chat: logger.warn() ${kind === 'sync' ? 'threw' : 'rejected'}: logger broke`,
      });
    },
  );
});
