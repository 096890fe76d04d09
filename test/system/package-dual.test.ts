/**
 * Both builds of the packed package in one process, as in a service whose own code is ESM while a CommonJS
 * dependency (or the service's other half) requires resilient-chat: `import` gets the ESM build, `require` the
 * CommonJS one, two copies of the code, each on the openai copy of its own module system. What must hold
 * across them (README, "CommonJS"): an error raised by either copy is an instance of the other's class and
 * isResilientChatError to both; attemptErrors of either copy finds the earlier attempts of a call made by the
 * other; both copies report into the one global MeterProvider, into the same metric streams, with no
 * duplicate-instrument warning; and one copy's ClientPool, mock server and openai client serve the other.
 *
 * What does not hold, and is asserted so README stays true: openai's own two builds do not recognise each
 * other's classes, so an openai error (what a call that gives up rethrows, what attemptErrors holds) is an
 * instance of the classes of its client's openai copy only, and our errors that extend openai's
 * (ClientNotReplaceableError, ClientClosedError) extend the openai of the resilient-chat copy that threw them.
 * classifyError of either copy reads openai errors of either build alike.
 * Needs no registry: the consumer links the repository's packages.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { consumerProject, packTarball, removeScratchDirs, run } from '../support/packed.js';

let tarball: string;

beforeAll(async () => {
  tarball = await packTarball();
}, 120_000);
afterAll(removeScratchDirs);

const SERVICE = `
import { createRequire } from 'node:module';
import { diag, DiagLogLevel, metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import OpenAI from 'openai';
import { Agent } from 'undici';
import * as esm from 'resilient-chat';
import * as esmTesting from 'resilient-chat/testing';

const require = createRequire(import.meta.url);
const cjs = require('resilient-chat');
const cjsTesting = require('resilient-chat/testing');
const CjsOpenAI = require('openai').OpenAI;

const warnings = [];
diag.setLogger({ error: (m) => warnings.push(m), warn: (m) => warnings.push(m), info() {}, debug() {}, verbose() {} },
  DiagLogLevel.WARN);
class Reader extends MetricReader { onForceFlush() { return Promise.resolve(); } onShutdown() { return Promise.resolve(); } }
const reader = new Reader();
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));

const messages = [{ role: 'user', content: 'hi' }];
const out = { twoCopies: esm.createResilientClient !== cjs.createResilientClient };

// A mock server of the CommonJS copy, called through the ESM copy and an ESM openai client, and the other way.
const server = await cjsTesting.startMockOpenAI();
const esmClient = new OpenAI({ apiKey: 'k', baseURL: server.url });
const cjsClient = new CjsOpenAI({ apiKey: 'k', baseURL: server.url });
const retry = { baseDelayMs: 1, maxRetries: 1 };

// One retry each (503, then an answer): both copies count into the one resilient_chat.retries stream.
server.script({ type: 'status', status: 503 });
await esm.createResilientClient({ clients: esmClient, retry, logger: false })
  .chat.completions.create({ model: 'from-esm', messages });
server.script({ type: 'status', status: 503 });
await cjs.createResilientClient({ clients: cjsClient, retry, logger: false })
  .chat.completions.create({ model: 'from-cjs', messages });
const { resourceMetrics } = await reader.collect();
const retries = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)
  .filter((m) => m.descriptor.name === esm.telemetryNames.METRIC_RETRIES);
out.retryStreams = retries.length;
out.retriesCounted = retries.flatMap((m) => m.dataPoints).reduce((sum, p) => sum + p.value, 0);

// A call that gives up (two 503s, one retry): its earlier attempt is found by either copy's attemptErrors.
server.script({ type: 'status', status: 503 }, { type: 'status', status: 503 });
const esmGaveUp = await esm.createResilientClient({ clients: esmClient, retry, logger: false })
  .chat.completions.create({ model: 'm', messages }).catch((e) => e);
server.script({ type: 'status', status: 503 }, { type: 'status', status: 503 });
const cjsGaveUp = await cjs.createResilientClient({ clients: cjsClient, retry, logger: false })
  .chat.completions.create({ model: 'm', messages }).catch((e) => e);
out.attemptErrors = {
  esmCallByCjs: cjs.attemptErrors(esmGaveUp).map((e) => e.status),
  cjsCallByEsm: esm.attemptErrors(cjsGaveUp).map((e) => e.status),
};
// What a call throws, and what attemptErrors holds, are openai's errors as its client's openai copy made them:
// instances of that copy's classes only (openai's own dual-package hazard), read alike by both classifiers.
const [esmEarlier] = cjs.attemptErrors(esmGaveUp);
out.openaiErrors = {
  esmCallIsEsmOpenAIError: esmGaveUp instanceof OpenAI.InternalServerError,
  esmCallIsCjsOpenAIError: esmGaveUp instanceof CjsOpenAI.InternalServerError,
  esmAttemptIsEsmOpenAIError: esmEarlier instanceof OpenAI.InternalServerError,
  esmAttemptIsCjsOpenAIError: esmEarlier instanceof CjsOpenAI.InternalServerError,
  cjsCallIsCjsOpenAIError: cjsGaveUp instanceof CjsOpenAI.InternalServerError,
  cjsCallIsEsmOpenAIError: cjsGaveUp instanceof OpenAI.InternalServerError,
  classifiedAlike:
    JSON.stringify(cjs.classifyError(esmGaveUp)) === JSON.stringify(esm.classifyError(esmGaveUp)) &&
    JSON.stringify(esm.classifyError(cjsGaveUp)) === JSON.stringify(cjs.classifyError(cjsGaveUp)),
  classification: esm.classifyError(cjsGaveUp),
};

// A client of one openai copy given to the other resilient-chat copy: the copy made of it keeps its class.
const crossed = cjs.createResilientClient({ clients: esmClient, retry, logger: false });
server.script({ type: 'status', status: 503 }, { type: 'status', status: 503 });
const crossedGaveUp = await crossed.chat.completions.create({ model: 'm', messages }).catch((e) => e);
// Our own errors extend the openai of the resilient-chat copy that threw them, whoever's client it was.
const crossedAgent = new Agent();
const crossedOwn = new OpenAI({ apiKey: 'k', baseURL: server.url, fetchOptions: { dispatcher: crossedAgent } });
await crossedAgent.destroy();
const crossedNotReplaceable = await cjs.createResilientClient({ clients: crossedOwn, logger: false })
  .chat.completions.create({ model: 'm', messages }).catch((e) => e);
out.crossedClient = {
  isEsmOpenAI: crossed instanceof OpenAI,
  isCjsOpenAI: crossed instanceof CjsOpenAI,
  errorIsEsmOpenAIError: crossedGaveUp instanceof OpenAI.InternalServerError,
  attemptErrors: esm.attemptErrors(crossedGaveUp).map((e) => e.status),
  notReplaceableToEsm: crossedNotReplaceable instanceof esm.ClientNotReplaceableError,
  notReplaceableIsCjsOpenAIError: crossedNotReplaceable instanceof CjsOpenAI.APIConnectionError,
  notReplaceableIsEsmOpenAIError: crossedNotReplaceable instanceof OpenAI.APIConnectionError,
};

// Errors each copy raises, recognised by the other's classes.
const agent = new Agent();
const own = new OpenAI({ apiKey: 'k', baseURL: server.url, fetchOptions: { dispatcher: agent } });
await agent.destroy();
const notReplaceable = await esm.createResilientClient({ clients: own, logger: false })
  .chat.completions.create({ model: 'm', messages }).catch((e) => e);
let invalidOption;
try { cjs.createResilientClient({ clients: cjsClient, retry: { maxRetries: -1 } }); } catch (e) { invalidOption = e; }
out.errors = {
  esmErrorIsCjsClass: notReplaceable instanceof cjs.ClientNotReplaceableError,
  esmErrorIsResilientToCjs: cjs.isResilientChatError(notReplaceable),
  esmErrorIsEsmOpenAIError: notReplaceable instanceof OpenAI.APIConnectionError,
  // openai's own two builds: its CommonJS classes do not recognise its ESM copy's errors.
  esmErrorIsCjsOpenAIError: notReplaceable instanceof CjsOpenAI.APIConnectionError,
  cjsErrorIsEsmClass: invalidOption instanceof esm.InvalidOptionError,
  cjsErrorIsResilientToEsm: esm.isResilientChatError(invalidOption),
  notTakenForAnother: invalidOption instanceof esm.CircuitOpenError,
};

// The ESM copy's ClientPool (ESM openai clients) as the source of the CommonJS copy's client.
const pool = new esm.ClientPool({ create: (_key, transport) => new OpenAI({ ...transport, apiKey: 'k', baseURL: server.url }) });
const pooled = await cjs.createResilientClient({ clients: pool, logger: false })
  .chat.completions.create({ model: 'pooled', messages });
out.pooled = typeof pooled.choices[0].message.content;
await pool.close();

// And the ESM copy's mock server behind the CommonJS copy.
const esmServer = await esmTesting.startMockOpenAI();
const viaEsmServer = await cjs.createResilientClient({ clients: new CjsOpenAI({ apiKey: 'k', baseURL: esmServer.url }), logger: false })
  .chat.completions.create({ model: 'm', messages });
out.esmServer = typeof viaEsmServer.choices[0].message.content;

await Promise.all([server.close(), esmServer.close()]);
out.warnings = warnings;
console.log(JSON.stringify(out));
`;

test('import and require in one process: two copies that recognise each other and share the telemetry', async () => {
  const dir = await consumerProject(tarball, 'module');
  await writeFile(join(dir, 'service.js'), SERVICE);
  const { stdout } = await run(process.execPath, ['service.js'], { cwd: dir });
  expect(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}')).toEqual({
    twoCopies: true,
    retryStreams: 1,
    retriesCounted: 2,
    attemptErrors: { esmCallByCjs: [503], cjsCallByEsm: [503] },
    errors: {
      esmErrorIsCjsClass: true,
      esmErrorIsResilientToCjs: true,
      esmErrorIsEsmOpenAIError: true,
      esmErrorIsCjsOpenAIError: false,
      cjsErrorIsEsmClass: true,
      cjsErrorIsResilientToEsm: true,
      notTakenForAnother: false,
    },
    openaiErrors: {
      esmCallIsEsmOpenAIError: true,
      esmCallIsCjsOpenAIError: false,
      esmAttemptIsEsmOpenAIError: true,
      esmAttemptIsCjsOpenAIError: false,
      cjsCallIsCjsOpenAIError: true,
      cjsCallIsEsmOpenAIError: false,
      classifiedAlike: true,
      classification: {
        reason: 'server_error',
        retryable: true,
        errorType: 'InternalServerError',
        status: 503,
      },
    },
    crossedClient: {
      isEsmOpenAI: true,
      isCjsOpenAI: false,
      errorIsEsmOpenAIError: true,
      attemptErrors: [503],
      notReplaceableToEsm: true,
      notReplaceableIsCjsOpenAIError: true,
      notReplaceableIsEsmOpenAIError: false,
    },
    pooled: 'string',
    esmServer: 'string',
    warnings: [],
  });
});
