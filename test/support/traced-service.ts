/**
 * A small traced service, run as its own process by the startTelemetry tests (the SDK registers process-wide
 * globals once, and signals and beforeExit are about a process's end). It starts telemetry as a service
 * would, makes one chat call that is retried once, prints `called`, then, by its argument:
 * - `wait`: stays up (a timer) until a signal ends it;
 * - `exit`: lets the event loop run dry, so the process ends through beforeExit.
 * Options for startTelemetry come as JSON in TRACED_SERVICE_OPTIONS.
 */
import OpenAI from 'openai';
import { createResilientChat } from '../../src/index.js';
import { type StartTelemetryOptions, startTelemetry } from '../../src/otel/index.js';
import { startMockOpenAI } from '../../src/testing/index.js';
import { TEST_API_KEY } from './clients.js';

const mode = process.argv[2] ?? 'exit';
const options: StartTelemetryOptions = {
  serviceName: 'code-service',
  serviceVersion: '1.2.3',
  ...JSON.parse(process.env.TRACED_SERVICE_OPTIONS ?? '{}'),
};
startTelemetry(options);

const server = await startMockOpenAI({ script: [{ type: 'status', status: 503 }] });
const chat = createResilientChat({
  clients: new OpenAI({ apiKey: TEST_API_KEY, baseURL: server.url }),
  retry: { baseDelayMs: 1 },
  logger: false,
});
await chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
await server.close();
process.stdout.write('called\n');
if (mode === 'wait') setInterval(() => {}, 1_000);
