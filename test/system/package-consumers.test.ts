/**
 * The packed package used from both module systems, as services do: require() and import of every entry
 * point run a real call, both share one copy of the code, and TypeScript accepts openai's CommonJS client in
 * .cts files and "module": "commonjs" projects (the TS2322 a CommonJS service met when our declarations
 * pointed at openai's ESM declaration copy). Needs no registry: the consumer links the repository's packages.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { consumerProject, packTarball, removeScratchDirs, repoRoot, run } from '../support/packed.js';

const tsc = join(repoRoot, 'node_modules', '.bin', 'tsc');
let tarball: string;

beforeAll(async () => {
  tarball = await packTarball();
}, 120_000);
afterAll(removeScratchDirs);

/** Makes a real call against the package's own mock server, through an openai client of the same system. */
const CALL = `
  const server = await testing.startMockOpenAI({ script: [{ type: 'status', status: 503 }] });
  const chat = rc.createResilientChat({
    clients: new OpenAI({ apiKey: 'sk-consumer', baseURL: server.url }),
    retry: { baseDelayMs: 1 },
    logger: false,
  });
  const answer = await chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  await server.close();
  console.log(JSON.stringify({
    answered: typeof answer.choices[0].message.content,
    requests: server.requests.length,
    startTelemetry: typeof otel.startTelemetry,
  }));
`;

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
       const rc = require('resilient-chat');
       const testing = require('resilient-chat/testing');
       const otel = require('resilient-chat/otel');
       (async () => {
         ${CALL}
         // require() and import() must give the same module: one copy of the code, not a dual-package pair.
         const esm = await import('resilient-chat');
         console.log(JSON.stringify({ sameCopy: esm.createResilientChat === rc.createResilientChat }));
       })();`,
    );
    const { stdout } = await run(process.execPath, ['main.js'], { cwd: dir });
    const [call, copy] = stdout
      .trim()
      .split('\n')
      .slice(-2)
      .map((l) => JSON.parse(l));
    expect(call).toEqual({ answered: 'string', requests: 2, startTelemetry: 'function' });
    expect(copy).toEqual({ sameCopy: true });
  });

  test('import of every entry point, with the ESM openai', async () => {
    const dir = await consumerProject(tarball, 'module');
    await writeFile(
      join(dir, 'main.js'),
      `import OpenAI from 'openai';
       import * as rc from 'resilient-chat';
       import * as testing from 'resilient-chat/testing';
       import * as otel from 'resilient-chat/otel';
       ${CALL}`,
    );
    expect(await node(dir, 'main.js')).toEqual({
      answered: 'string',
      requests: 2,
      startTelemetry: 'function',
    });
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
