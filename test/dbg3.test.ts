import { createRequire } from 'node:module';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import { test } from 'vitest';
import { createTelemetryHarness } from './support/telemetry.js';
const require = createRequire(import.meta.url);
const harness = createTelemetryHarness();
class F extends OpenAIInstrumentation { override init() { const d = super.init(); for (const x of d) x.supportedVersions = ['>=4.19.0']; return d; } }
test('x', () => {
const i = new F({ enabled: false });
i.setTracerProvider(harness.tracerProvider);
i.enable();
const m = require('openai');
const c = new m.OpenAI({ apiKey: 'k' });
console.log('WRAPPED', (c.chat.completions.create as any).__wrapped);
});
