/**
 * Duplicate GenAI telemetry: the official @opentelemetry/instrumentation-openai, forced onto openai 7 the way
 * a one-line range change would (its module definition's supportedVersions widened before it hooks
 * require), really patches openai's methods and records its own spans; warnIfOpenAIInstrumented sees the
 * patch on any client of that openai, warns once, and says how to keep one.
 */
import { createRequire } from 'node:module';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import OpenAI from 'openai';
import { afterAll, expect, test } from 'vitest';
import { createResilientClient } from '../../src/index.js';
import { consoleLogger } from '../../src/logger.js';
import {
  DUPLICATE_INSTRUMENTATION_MESSAGE,
  type DuplicateInstrumentationFields,
  warnIfOpenAIInstrumented,
} from '../../src/telemetry/duplicate-instrumentation.js';
import { startMockOpenAI } from '../../src/testing/index.js';
import { TEST_API_KEY } from '../support/clients.js';
import { enableOfficialInstrumentation as enableForced } from '../support/official-instrumentation.js';
import { createTelemetryHarness } from '../support/telemetry.js';

const require = createRequire(import.meta.url);
const harness = createTelemetryHarness();
const instrumentations: OpenAIInstrumentation[] = [];

afterAll(async () => {
  for (const instrumentation of instrumentations) instrumentation.disable();
  await harness.shutdown();
});

function recordingLogger() {
  const warnings: { message: string; fields: DuplicateInstrumentationFields }[] = [];
  return {
    warnings,
    warn: (message: string, fields: DuplicateInstrumentationFields) => warnings.push({ message, fields }),
  };
}

/** The forced official instrumentation, hooking require() for openai. */
function enableOfficialInstrumentation(): OpenAIInstrumentation {
  const instrumentation = enableForced(harness.tracerProvider);
  instrumentations.push(instrumentation);
  return instrumentation;
}

test('an openai 7 client nobody else instruments: nothing found, no warning', () => {
  const logger = recordingLogger();
  const client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: 'http://127.0.0.1:9/v1' });
  expect(warnIfOpenAIInstrumented(client, logger)).toEqual([]);
  expect(logger.warnings).toEqual([]);
  // The wrapper passes resilient-chat's own Logger, which must fit.
  expect(warnIfOpenAIInstrumented(client, consoleLogger)).toEqual([]);
});

test('as published, the official instrumentation stops below openai 7, hence the forcing', () => {
  // Its require hook caches what it saw per file, so an unforced run here would hide the forced one below.
  const [definition] = new OpenAIInstrumentation({ enabled: false }).getModuleDefinitions();
  expect(definition?.supportedVersions).toEqual(['>=4.19.0 <7']);
});

test('forced onto openai 7, it patches and traces; the wrapper warns once, naming the methods and the way out', async () => {
  enableOfficialInstrumentation();
  // openai's CommonJS build, loaded through the hook the instrumentation installed, as in a CommonJS service.
  const { OpenAI: RequiredOpenAI } = require('openai') as typeof import('openai');
  const server = await startMockOpenAI();
  const client = new RequiredOpenAI({ apiKey: TEST_API_KEY, baseURL: server.url, maxRetries: 0 });

  // The patch is real: a plain openai call now makes the official instrumentation's span.
  await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  await server.close();
  const official = (await harness.spans()).filter(
    (s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-openai',
  );
  expect(official.map((s) => s.name)).toEqual(['chat gpt-4o-mini']);

  // Wrapping the patched client is what warns: createResilientClient checks the client it is given.
  const logger = recordingLogger();
  createResilientClient({ clients: client, logger, tracerProvider: harness.tracerProvider });
  const methods = ['chat.completions.create', 'responses.create', 'embeddings.create'];
  expect(logger.warnings).toEqual([{ message: DUPLICATE_INSTRUMENTATION_MESSAGE, fields: { methods } }]);
  expect(warnIfOpenAIInstrumented(client, logger)).toEqual(methods);
  expect(DUPLICATE_INSTRUMENTATION_MESSAGE).toContain('OTEL_NODE_DISABLED_INSTRUMENTATIONS=openai');

  // Once: another client, another wrapper, the same patched openai.
  const again = new RequiredOpenAI({ apiKey: TEST_API_KEY });
  expect(warnIfOpenAIInstrumented(again, logger)).toEqual(methods);
  expect(logger.warnings).toHaveLength(1);
});
