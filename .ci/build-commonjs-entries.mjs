/**
 * CommonJS entry points for the ESM build, run after `tsc`.
 *
 * Why not a second, CommonJS build: Node 22.12+ can require() an ES module, so one runtime copy serves both
 * module systems and a service that both imports and requires resilient-chat still has one ClientPool
 * registry, one set of error classes and one telemetry state (a dual build would load two).
 *
 * What `require` still needs is type declarations that TypeScript reads as CommonJS: declarations in an ESM
 * scope resolve `openai` to its ESM declaration copy, while a CommonJS caller's `require('openai')` gets the
 * CommonJS copy, and the two `OpenAI` classes do not assign to each other (TS2322). So dist/cjs/ holds:
 * - package.json `{"type": "commonjs"}`, making everything below it CommonJS to Node and to TypeScript;
 * - every `.d.ts` of dist/, copied unchanged (same text, read as CommonJS there, so `openai` resolves to its
 *   CommonJS types);
 * - for each `require` target in package.json's exports map, a one-line module that requires the ESM entry.
 * Nothing here lists source files: new files under src/ are covered as they are.
 */
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const cjs = join(dist, 'cjs');

await rm(cjs, { recursive: true, force: true });
await mkdir(cjs, { recursive: true });
await writeFile(join(cjs, 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);

for (const entry of await readdir(dist, { recursive: true, withFileTypes: true })) {
  const from = join(entry.parentPath, entry.name);
  if (!entry.isFile() || !entry.name.endsWith('.d.ts') || from.startsWith(cjs + sep)) continue;
  const to = join(cjs, relative(dist, from));
  await mkdir(dirname(to), { recursive: true });
  await copyFile(from, to);
}

const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
for (const [subpath, target] of Object.entries(pkg.exports)) {
  if (typeof target !== 'object' || !target.require) continue;
  const shim = join(root, target.require.default);
  const esm = join(root, target.default);
  if (!shim.startsWith(cjs + sep)) throw new Error(`exports["${subpath}"].require must point into dist/cjs/`);
  let specifier = relative(dirname(shim), esm).split(sep).join('/');
  if (!specifier.startsWith('.')) specifier = `./${specifier}`;
  await mkdir(dirname(shim), { recursive: true });
  await writeFile(
    shim,
    `'use strict';\n// require(esm): the one ESM build, so both module systems share one copy.\nmodule.exports = require('${specifier}');\n`,
  );
}
