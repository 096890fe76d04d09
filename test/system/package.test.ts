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

test('the GenAI names are our own constants: the semantic-conventions package is only checked against, pinned', () => {
  expect(pkg.dependencies['@opentelemetry/semantic-conventions']).toBeUndefined();
  expect(pkg.devDependencies['@opentelemetry/semantic-conventions']).toMatch(/^\d+\.\d+\.\d+$/);
});

test('only openai and the OpenTelemetry API are peers: the SDK is loaded by resilient-chat/otel when used', () => {
  // SDK peers pinned to one 0.x minor made `npm install` fail (ERESOLVE) beside auto-instrumentations-node.
  expect(Object.keys(pkg.peerDependencies).sort()).toEqual(['@opentelemetry/api', 'openai']);
  expect(pkg.peerDependenciesMeta).toBeUndefined();
});

test('every entry point has a require condition (the CommonJS build and its declarations) before the ESM one', () => {
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (subpath === './package.json') continue;
    const entry = target as { require: { types: string; default: string }; types: string; default: string };
    expect(Object.keys(entry)).toEqual(['require', 'types', 'default']);
    expect(entry.require.types).toBe(entry.types.replace('./dist/', './dist/cjs/'));
    expect(entry.require.default).toBe(entry.default.replace('./dist/', './dist/cjs/'));
  }
});
