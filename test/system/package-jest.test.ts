/**
 * The packed package under real jest, as a CommonJS service tests itself (NestJS's default setup): `npm install`
 * of the tarball beside jest, jest-environment-jsdom, openai and undici, from the npm registry, into a scratch
 * project with no jest config, no transform of node_modules and no Babel config: jest's own module runtime
 * loads `require('resilient-chat')`. The test files in jest-project/ run a retried call and a stream against
 * `require('resilient-chat/testing').startMockOpenAI`, a closed-client recovery, and `instanceof` of what we
 * throw against `require('openai')`'s classes, once in jest's node environment and once in jsdom (openai-node
 * with `dangerouslyAllowBrowser`, given the Node globals it needs there: jsdom-with-fetch.js).
 *
 * Controls: a require entry that reaches an ES module (what ours was) fails under the same jest with "Must use
 * import to load ES Module"; under jest's unchanged jsdom environment resilient-chat loads exactly where
 * openai-node does.
 *
 * Needs the registry (CI has it). npm's cache is used first, so reruns fetch little.
 */
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { npm, packTarball, removeScratchDirs, repoRoot, run, scratchDir } from '../support/packed.js';

const INSTALL_TIMEOUT = 300_000;
const fixture = join(repoRoot, 'test', 'system', 'jest-project');
let dir: string;

/** The version the repository itself tests with, so this run and the rest of the suite use the same openai. */
async function installed(name: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8'));
  return pkg.version as string;
}

beforeAll(async () => {
  const tarball = await packTarball();
  dir = await scratchDir('resilient-chat-jest-');
  for (const name of await readdir(fixture)) await cp(join(fixture, name), join(dir, name));
  const { stdout, stderr } = await npm(
    [
      'install',
      '--prefer-offline',
      '--ignore-scripts',
      tarball,
      `openai@${await installed('openai')}`,
      `undici@${await installed('undici')}`,
      'jest@^30',
      'jest-environment-jsdom@^30',
    ],
    dir,
  );
  expect(stdout + stderr).not.toContain('ERESOLVE');
  // The control's package: a CommonJS entry that requires its ES module build.
  const esmEntry = join(dir, 'node_modules', 'esm-entry');
  await mkdir(esmEntry);
  await writeFile(
    join(esmEntry, 'package.json'),
    JSON.stringify({ name: 'esm-entry', exports: { require: './index.cjs', default: './index.mjs' } }),
  );
  await writeFile(join(esmEntry, 'index.mjs'), "export const hello = 'hi';\n");
  await writeFile(join(esmEntry, 'index.cjs'), "module.exports = require('./index.mjs');\n");
}, INSTALL_TIMEOUT);
afterAll(removeScratchDirs);

interface JestReport {
  numTotalTestSuites: number;
  testResults: {
    name: string;
    message: string;
    assertionResults: { fullName: string; status: string; failureMessages: string[] }[];
  }[];
}

/**
 * Runs jest (its own bin, on this Node) on the given test files; returns each test's outcome by name, 'passed'
 * or its failure message, and a suite that failed to load as `load: <message>`.
 */
async function jest(files: string[], args: string[] = []): Promise<Record<string, string>> {
  const bin = join(dir, 'node_modules', 'jest', 'bin', 'jest.js');
  const out = join(dir, `report-${files.join('+')}.json`);
  // A failing run exits 1 and its report says why; a run that writes no report failed in jest itself.
  const stderr = await run(
    process.execPath,
    [bin, '--ci', '--json', `--outputFile=${out}`, ...args, ...files],
    {
      cwd: dir,
    },
  ).then(
    () => '',
    (error: { stderr?: string }) => error.stderr ?? String(error),
  );
  const text = await readFile(out, 'utf8').catch(() => {
    throw new Error(`jest wrote no report:\n${stderr}`);
  });
  const report = JSON.parse(text) as JestReport;
  expect(report.numTotalTestSuites).toBe(files.length);
  const outcome: Record<string, string> = {};
  for (const suite of report.testResults) {
    if (suite.assertionResults.length === 0)
      outcome[`load ${suite.name.slice(dir.length + 1)}`] = suite.message;
    for (const t of suite.assertionResults)
      outcome[t.fullName] =
        t.status === 'passed' || t.status === 'pending' ? t.status : t.failureMessages.join('\n');
  }
  return outcome;
}

const SCENARIOS = {
  'a call against the mock, retried after a 503, on a copy of the client that is an OpenAI': 'passed',
  'a stream': 'passed',
  'closed-client recovery: a client whose transport was destroyed is invalidated and replaced': 'passed',
  'one instance whose transport was destroyed: ClientNotReplaceableError, an APIConnectionError of require("openai")':
    'passed',
  'giving up on 503s: the error openai-node throws, and attemptErrors the earlier ones, of require("openai")':
    'passed',
  'resilientFetch: a fetch retried after a 503': 'passed',
  'a ClientPool as the source': 'passed',
  'an invalid option: InvalidOptionError, a TypeError of the test file': 'passed',
};

test("jest's node environment, zero config: every entry point loads, and the calls, recovery and errors are openai's", async () => {
  expect(await jest(['service.test.js'])).toEqual({ 'every entry point loads': 'passed', ...SCENARIOS });
}, 60_000);

test('the same with no transform at all (transform: {}): nothing of ours needs Babel', async () => {
  const outcome = await jest(['service.test.js'], ['--config', JSON.stringify({ transform: {} })]);
  expect(outcome).toEqual({ 'every entry point loads': 'passed', ...SCENARIOS });
}, 60_000);

test("jest's jsdom environment with openai-node's dangerouslyAllowBrowser and Node's fetch globals: the same", async () => {
  expect(await jest(['browser.test.js'])).toEqual({
    'is browser-like: openai-node refuses a client without dangerouslyAllowBrowser': 'passed',
    ...SCENARIOS,
    // npm undici's own fetch needs Node's timers (README, "CommonJS").
    'resilientFetch: a fetch retried after a 503': 'pending',
    'a ClientPool as the source': 'pending',
  });
}, 60_000);

test("jest's unchanged jsdom environment: resilient-chat loads exactly where openai-node does", async () => {
  const openai = await jest(['plain-jsdom-openai.test.js']);
  const ours = await jest(['plain-jsdom-resilient.test.js']);
  // Each outcome's first line ('passed', or the error: the stacks differ, ours requires openai on the way).
  const verdict = (outcome: Record<string, string>) =>
    Object.values(outcome).map((o) => o.trim().split('\n')[0]);
  // openai 7 reads Response at load and jsdom has none: today both fail, with openai's ReferenceError.
  expect(verdict(ours)).toEqual(verdict(openai));
}, 60_000);

test('control: a require entry that reaches an ES module fails under the same jest', async () => {
  const outcome = await jest(['require-esm.test.js']);
  expect(outcome['a require(esm) entry loads']).toContain('Must use import to load ES Module');
}, 60_000);
