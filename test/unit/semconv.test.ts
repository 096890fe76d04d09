/**
 * Our own copies of the GenAI names (src/telemetry/semconv.ts) against the published ones of the
 * semantic-conventions package they follow: a rename upstream fails here, not silently in a dashboard. The
 * public `telemetryNames` holds only our own names (src/telemetry/own-names.ts).
 */
import { readFileSync } from 'node:fs';
import * as stable from '@opentelemetry/semantic-conventions';
import * as incubating from '@opentelemetry/semantic-conventions/incubating';
import { expect, test } from 'vitest';
import { telemetryNames } from '../../src/index.js';
import * as own from '../../src/telemetry/own-names.js';
import * as ours from '../../src/telemetry/semconv.js';

const published = { ...incubating, ...stable } as Record<string, unknown>;

test(`every GenAI, OpenAI and general name equals the published one (semantic-conventions ${ours.GENAI_CONVENTIONS_VERSION})`, () => {
  const copied = Object.entries(ours).filter(([name]) =>
    /^(ATTR|METRIC|EVENT)_(GEN_AI|OPENAI|ERROR|SERVER|HTTP|EXCEPTION)_|^(GEN_AI|OPENAI)_.*_VALUE_/.test(name),
  );
  expect(copied.length).toBeGreaterThan(40);
  for (const [name, value] of copied) expect({ [name]: published[name] }).toEqual({ [name]: value });
});

test('the version named is the one installed', () => {
  const pkg = JSON.parse(
    readFileSync(
      new URL('../../node_modules/@opentelemetry/semantic-conventions/package.json', import.meta.url),
      'utf8',
    ),
  ) as { version: string };
  expect(pkg.version).toBe(ours.GENAI_CONVENTIONS_VERSION);
});

test('our own names live under resilient_chat.*, and only they are public (telemetryNames)', () => {
  expect(Object.keys(telemetryNames).sort()).toEqual(Object.keys(own).sort());
  const names = Object.entries(own).filter(([name]) => /^(ATTR|METRIC|EVENT)_/.test(name));
  expect(names.length).toBeGreaterThan(20);
  for (const [, value] of names) expect(value).toMatch(/^resilient_chat\./);
  expect(telemetryNames.INSTRUMENTATION_SCOPE).toBe('resilient-chat');
});
