/** The package's own metadata stays consistent with what the code reports. */
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { VERSION } from '../../src/version.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));

test('the instrumentation scope version is the package version', () => {
  expect(VERSION).toBe(pkg.version);
});

test('openai and the OpenTelemetry API are peers, not bundled', () => {
  expect(Object.keys(pkg.peerDependencies)).toEqual(expect.arrayContaining(['openai', '@opentelemetry/api']));
  expect(Object.keys(pkg.dependencies)).not.toContain('openai');
  expect(Object.keys(pkg.dependencies)).not.toContain('@opentelemetry/api');
});

test('the semantic conventions are pinned to one exact version', () => {
  expect(pkg.dependencies['@opentelemetry/semantic-conventions']).toMatch(/^\d+\.\d+\.\d+$/);
});
