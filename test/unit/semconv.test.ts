/**
 * Our own copies of the GenAI names (src/telemetry/semconv.ts) against the published ones of the
 * semantic-conventions package they follow: a rename upstream fails here, not silently in a dashboard.
 */
import { readFileSync } from 'node:fs';
import * as stable from '@opentelemetry/semantic-conventions';
import * as incubating from '@opentelemetry/semantic-conventions/incubating';
import { expect, test } from 'vitest';
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

test('our own names live under resilient_chat.*', () => {
  const own = Object.entries(ours).filter(
    ([name]) =>
      /^(ATTR|METRIC|EVENT)_/.test(name) && !/GEN_AI|OPENAI|ERROR_TYPE|SERVER_|HTTP_|EXCEPTION_/.test(name),
  );
  for (const [, value] of own) expect(value).toMatch(/^resilient_chat\./);
});
