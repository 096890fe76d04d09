/**
 * openai-node's private parts are touched in one file, src/openai-internals.ts (its deep imports are refused
 * by Biome's noRestrictedImports; its private property names, which no import rule can see, are refused here).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, test } from 'vitest';

const SRC = join(import.meta.dirname, '../../src');
const DOOR = 'openai-internals.ts';

/** openai-node's (and undici's) non-public names, as code reaching them would spell them. */
const PRIVATE_NAMES: [RegExp, string][] = [
  [/\._options\b/, "a client's protected `_options`"],
  [/__metadata/, "a request's `__metadata`"],
  [/\.responsePromise\b/, "APIPromise's private `responsePromise`"],
  [/\.parseResponse\b/, "APIPromise's private `parseResponse`"],
  [/\.(closed|destroyed) === true/, "an undici dispatcher's `closed`/`destroyed`"],
  [/__binaryResponse|__streamClass|__security/, "openai-node's private request options"],
];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

test('no file but src/openai-internals.ts reaches openai-node’s private parts', () => {
  const reaches: string[] = [];
  for (const file of sources(SRC)) {
    if (relative(SRC, file) === DOOR) continue;
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, index) => {
      // Comments may name them; code may not.
      const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '');
      for (const [pattern, what] of PRIVATE_NAMES)
        if (pattern.test(code)) reaches.push(`${relative(SRC, file)}:${index + 1}: ${what}`);
    });
  }
  expect(reaches).toEqual([]);
});

test('the check sees a reach when there is one', () => {
  const [pattern] = PRIVATE_NAMES[0] ?? [];
  expect(pattern?.test('const fetch = client._options.fetch;')).toBe(true);
});
