/**
 * A service whose hook fails, run as its own process so the test sees the exit code Node gives it (an
 * unhandled rejection ends a process with code 1 by default). Argument: which hook fails, `release`,
 * `invalidate` or `logger`; `sync` as a second argument makes it throw instead of rejecting. It makes one
 * call that needs that hook, prints `called`, and lets the event loop run dry.
 */
import OpenAI from 'openai';
import { Agent } from 'undici';
import { createResilientClient } from '../../src/index.js';
import { startMockOpenAI } from '../../src/testing/index.js';
import { TEST_API_KEY } from './clients.js';

const [hook = 'release', kind = 'async'] = process.argv.slice(2);
const fail = (what: string) => {
  if (kind === 'sync') throw new Error(`${what} broke`);
  return Promise.reject(new Error(`${what} broke`));
};

// `logger`: the first request is a 503 (the retry is logged); the server asks for no wait.
const server = await startMockOpenAI({
  script: hook === 'logger' ? [{ type: 'status', status: 503, headers: { 'retry-after-ms': '0' } }] : [],
});
const agents = [new Agent(), new Agent()];
await agents[0]?.destroy(); // `invalidate`: the first client's transport is dead, so the source is told
const clients = agents.map(
  (agent) =>
    new OpenAI({
      apiKey: TEST_API_KEY,
      baseURL: server.url,
      fetchOptions: { dispatcher: agent } as Record<string, unknown>,
    }),
);
let next = hook === 'invalidate' ? 0 : 1;
const openai = createResilientClient({
  clients: {
    acquire: () => clients[Math.min(next++, 1)] as OpenAI,
    release: () => (hook === 'release' ? fail('release') : undefined),
    invalidate: () => (hook === 'invalidate' ? fail('invalidate') : undefined),
  },
  logger: { warn: () => (hook === 'logger' ? fail('logger') : undefined) },
});
await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
process.stdout.write('called\n');
await Promise.all([server.close(), agents[1]?.close()]);
