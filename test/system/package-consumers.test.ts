/**
 * The packed package used from both module systems, as services do: require() and import of every entry
 * point run a real call, each build on the openai copy of its own module system (what it returns and throws
 * are that copy's classes), and TypeScript accepts openai's CommonJS client in .cts files and
 * "module": "commonjs" projects (the TS2322 a CommonJS service met when our declarations pointed at openai's
 * ESM declaration copy). Needs no registry: the consumer links the repository's packages. Both builds in one
 * process: package-dual.test.ts; under jest: package-jest.test.ts.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { consumerProject, packTarball, removeScratchDirs, repoRoot, run } from '../support/packed.js';

const tsc = join(repoRoot, 'node_modules', '.bin', 'tsc');
let tarball: string;

beforeAll(async () => {
  tarball = await packTarball();
}, 120_000);
afterAll(removeScratchDirs);

/**
 * Makes a real call against the package's own mock server, through an openai client of the same system, and
 * one on a client whose own dispatcher is destroyed: the ClientNotReplaceableError it throws must be an
 * APIConnectionError of that same openai copy, and the resilient client an instance of its OpenAI class
 * (with one ESM build, a CommonJS service got the ESM copy's classes and both checks failed).
 */
const CALL = `
  const server = await testing.startMockOpenAI({ script: [{ type: 'status', status: 503 }] });
  const chat = rc.createResilientChat({
    clients: new OpenAI({ apiKey: 'sk-consumer', baseURL: server.url }),
    retry: { baseDelayMs: 1 },
    logger: false,
  });
  const answer = await chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  const agent = new Agent();
  const own = new OpenAI({ apiKey: 'sk-consumer', baseURL: server.url, fetchOptions: { dispatcher: agent } });
  await agent.destroy();
  const client = rc.createResilientClient({ clients: own, logger: false });
  const error = await client.chat.completions
    .create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
    .catch((e) => e);
  await server.close();
  console.log(JSON.stringify({
    answered: typeof answer.choices[0].message.content,
    requests: server.requests.length,
    startTelemetry: typeof otel.startTelemetry,
    clientIsOpenAI: client instanceof OpenAI,
    notReplaceable: error instanceof rc.ClientNotReplaceableError,
    isAPIConnectionError: error instanceof OpenAI.APIConnectionError,
  }));
`;
const ANSWERED = {
  answered: 'string',
  requests: 2,
  startTelemetry: 'function',
  clientIsOpenAI: true,
  notReplaceable: true,
  isAPIConnectionError: true,
};

async function node(dir: string, file: string) {
  const { stdout } = await run(process.execPath, [file], { cwd: dir });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
}

describe('runtime', () => {
  test('require() of every entry point, with the CommonJS openai, on this Node', async () => {
    const dir = await consumerProject(tarball, 'commonjs');
    await writeFile(
      join(dir, 'main.js'),
      `const { OpenAI } = require('openai');
       const { Agent } = require('undici');
       const rc = require('resilient-chat');
       const testing = require('resilient-chat/testing');
       const otel = require('resilient-chat/otel');
       (async () => {
         ${CALL}
       })();`,
    );
    expect(await node(dir, 'main.js')).toEqual(ANSWERED);
  });

  test('import of every entry point, with the ESM openai', async () => {
    const dir = await consumerProject(tarball, 'module');
    await writeFile(
      join(dir, 'main.js'),
      `import OpenAI from 'openai';
       import { Agent } from 'undici';
       import * as rc from 'resilient-chat';
       import * as testing from 'resilient-chat/testing';
       import * as otel from 'resilient-chat/otel';
       ${CALL}`,
    );
    expect(await node(dir, 'main.js')).toEqual(ANSWERED);
  });
});

describe('types', () => {
  const USE = (openaiImport: string, rcImport: string) => `
    ${openaiImport}
    ${rcImport}
    const options: rc.ResilientChatOptions = { clients: new openai.OpenAI({ apiKey: 'k' }) };
    export const chat = rc.createResilientChat(options);
    export const start: typeof otel.startTelemetry = otel.startTelemetry;
    export const mock: typeof testing.startMockOpenAI = testing.startMockOpenAI;
  `;
  const CJS_IMPORTS = `import rc = require('resilient-chat');
    import otel = require('resilient-chat/otel');
    import testing = require('resilient-chat/testing');`;

  async function typecheck(dir: string, compilerOptions: object, files: Record<string, string>) {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, types: [], skipLibCheck: true, ...compilerOptions },
        files: Object.keys(files),
      }),
    );
    return run(tsc, ['-p', dir]).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );
  }

  test('.cts with module nodenext: openai required as CommonJS is the client our types take', async () => {
    const dir = await consumerProject(tarball, 'module');
    const errors = await typecheck(
      dir,
      { module: 'nodenext' },
      { 'service.cts': USE(`import openai = require('openai');`, CJS_IMPORTS) },
    );
    expect(errors).toBe('');
  });

  test('a "module": "commonjs" project', async () => {
    const dir = await consumerProject(tarball, 'commonjs');
    const errors = await typecheck(
      dir,
      { module: 'commonjs' },
      { 'service.ts': USE(`import openai = require('openai');`, CJS_IMPORTS) },
    );
    expect(errors).toBe('');
  });

  test('the examples in docs/examples type-check against the packed package, as a service would write them', async () => {
    const dir = await consumerProject(tarball, 'module');
    const examples = join(repoRoot, 'docs', 'examples');
    const files: Record<string, string> = {};
    for (const name of await readdir(examples)) {
      if (/\.(ts|mts|cts)$/.test(name)) files[name] = await readFile(join(examples, name), 'utf8');
    }
    expect(Object.keys(files).length).toBeGreaterThanOrEqual(5);
    const errors = await typecheck(dir, { module: 'nodenext', types: ['node'], lib: ['es2023'] }, files);
    expect(errors).toBe('');
  });

  test('ESM (.mts): openai imported as ESM', async () => {
    const dir = await consumerProject(tarball, 'module');
    const errors = await typecheck(
      dir,
      { module: 'nodenext' },
      {
        'service.mts': USE(
          `import * as openai from 'openai';`,
          `import * as rc from 'resilient-chat';
           import * as otel from 'resilient-chat/otel';
           import * as testing from 'resilient-chat/testing';`,
        ),
      },
    );
    expect(errors).toBe('');
  });

  test('control: our ESM declarations with a CommonJS openai client are the TS2322 CommonJS services met', async () => {
    const dir = await consumerProject(tarball, 'module');
    const errors = await typecheck(
      dir,
      { module: 'nodenext' },
      {
        'service.cts': `import openai = require('openai');
          import type { ResilientChatOptions } from 'resilient-chat' with { 'resolution-mode': 'import' };
          export const options: ResilientChatOptions = { clients: new openai.OpenAI({ apiKey: 'k' }) };`,
      },
    );
    expect(errors).toContain('TS2322');
  });
});
