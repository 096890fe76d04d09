/**
 * The CommonJS build, dist/cjs/, run after `tsc` has written the ESM build and the declarations to dist/.
 *
 * Why a second build: the `require` entry used to be a one-line module that required the ESM build through
 * Node's require(esm). jest's module runtime does not support require(esm) ("Must use import to load ES
 * Module"), and openai itself ships two builds: a service's `require('openai')` gets openai's CommonJS copy,
 * so a CommonJS resilient-chat must extend and throw that copy's classes (the client createResilientClient
 * returns is then an `OpenAI` to the service's `instanceof`, and ClientNotReplaceableError an
 * `APIConnectionError`). Two copies in one process are made safe in src/ (errors.ts: brands under
 * Symbol.for, a shared attemptErrors registry; README, "CommonJS", says what holds).
 *
 * Why rolldown and not `tsc --module commonjs`: src/otel/optional-package.ts uses `import.meta.url`, which
 * TypeScript refuses to compile to CommonJS (TS1343); rolldown rewrites it to the file's own URL and turns
 * the lazy `import('undici')` into a require() (jest cannot run a dynamic import without
 * --experimental-vm-modules). Each module of src/ stays a file of its own (preserveModules), as in dist/.
 * Types are checked by the ESM build's tsc; rolldown only strips them (isolatedModules holds in src/).
 *
 * dist/cjs/ then holds:
 * - package.json `{"type": "commonjs"}`, making everything below it CommonJS to Node, jest and TypeScript;
 * - the CommonJS JavaScript of every module the entry points reach, with source maps into src/;
 * - every `.d.ts` of dist/, copied unchanged: the same text read as CommonJS there, so `openai` resolves to its
 *   CommonJS declarations, the same copy of its classes that the service's `require('openai')` gives.
 * The entry points come from package.json's exports map; nothing here lists source files.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const cjs = join(dist, 'cjs');

await rm(cjs, { recursive: true, force: true });
await mkdir(cjs, { recursive: true });
await writeFile(join(cjs, 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);

// exports["./testing"] = { require: { default: "./dist/cjs/testing/index.js" }, default: "./dist/testing/index.js" }
// -> the input "testing/index" is src/testing/index.ts.
const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
const input = {};
for (const [subpath, target] of Object.entries(pkg.exports)) {
  if (typeof target !== 'object' || !target.require) continue;
  const name = relative(dist, join(root, target.default)).replace(/\.js$/, '');
  if (join(root, target.require.default) !== join(cjs, `${name}.js`))
    throw new Error(`exports["${subpath}"].require.default must be ./dist/cjs/${name}.js`);
  input[name.split(sep).join('/')] = join(root, 'src', `${name}.ts`);
}

await build({
  cwd: root,
  input,
  platform: 'node',
  tsconfig: join(root, 'tsconfig.build.json'),
  // Only our own modules are compiled; openai, @opentelemetry/api, undici, retry and node: stay require()s.
  external: (id) => !id.startsWith('.') && !isAbsolute(id),
  output: {
    dir: cjs,
    format: 'cjs',
    preserveModules: true,
    preserveModulesRoot: join(root, 'src'),
    entryFileNames: '[name].js',
    strict: true, // the ESM sources are strict code; keep them so
    esModule: true, // `__esModule`, as tsc's CommonJS output has, for consumers' interop helpers
    dynamicImportInCjs: false,
    sourcemap: true,
    sourcemapExcludeSources: true, // src/ ships in the package, as for the ESM build's maps
  },
});

for (const entry of await readdir(dist, { recursive: true, withFileTypes: true })) {
  const from = join(entry.parentPath, entry.name);
  if (!entry.isFile() || !entry.name.endsWith('.d.ts') || from.startsWith(cjs + sep)) continue;
  const to = join(cjs, relative(dist, from));
  await mkdir(dirname(to), { recursive: true });
  // The declaration map sits beside the ESM copy; point the CommonJS copy at it, one directory up.
  const text = await readFile(from, 'utf8');
  const mapped = text.replace(/\/\/# sourceMappingURL=(\S+)\s*$/, (_, map) => {
    const target = relative(dirname(to), join(dirname(from), map))
      .split(sep)
      .join('/');
    return `//# sourceMappingURL=${target}\n`;
  });
  await writeFile(to, mapped);
}
