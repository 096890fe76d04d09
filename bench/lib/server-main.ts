/** A mock OpenAI server in its own process, so the client under measurement has its core to itself. */
import { startMockOpenAI } from '../../src/testing/index.js';

const server = await startMockOpenAI();
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
