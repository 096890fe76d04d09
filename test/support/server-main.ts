/**
 * The child side of server-process.ts: a mock OpenAI server in its own process. argv[2] is JSON
 * `{ behaviour?: module URL, config?: unknown }`; the server's URL, reports and stats go to the parent over IPC.
 */
import { startMockOpenAI } from '../../src/testing/index.js';
import type { ServerBehaviour, ToChild, ToParent } from './server-process.js';

const send = (message: ToParent) => process.send?.(message);
const { behaviour, config } = JSON.parse(process.argv[2] ?? '{}') as { behaviour?: string; config?: unknown };
const makeOptions: ServerBehaviour = behaviour
  ? ((await import(behaviour)) as { default: ServerBehaviour }).default
  : () => ({});
const server = await startMockOpenAI(makeOptions(config, (message) => send({ kind: 'report', message })));

process.on('message', (message: ToChild) => {
  if (message.kind === 'stats') void replyStats(message.id, message.idle === true);
});

async function replyStats(id: number, idle: boolean): Promise<void> {
  // The mock server has no event for "last connection closed"; its count is checked on each timer turn
  // until it reaches 0 (the caller's own timeout bounds the wait).
  while (idle && server.openConnections > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const { requestCount, connections, openConnections } = server;
  send({ kind: 'stats', id, stats: { requestCount, connections, openConnections } });
}
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
// The parent is gone (crashed or killed): nobody will stop this server otherwise.
process.on('disconnect', () => process.exit(0));
send({ kind: 'ready', url: server.url });
