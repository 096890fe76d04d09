/**
 * `npm install` of the packed package beside the usual OpenTelemetry setup, from the npm registry, as a new
 * user would: the latest sdk-node and auto-instrumentations-node, and the releases before them. Any peer
 * conflict fails (ERESOLVE, or `npm ls` finding an invalid or missing peer). Each project then runs a traced
 * call through resilient-chat/otel, ESM and CommonJS, which must load the SDK and the undici instrumentation
 * the project installed and send `traceparent`; the CommonJS one also on Node 22.12, the oldest we support.
 *
 * Needs the registry (CI has it). npm's cache is used first, so reruns fetch little.
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type OtlpReceiver, spansOf, startOtlpReceiver } from '../support/otlp-receiver.js';
import { npm, packTarball, removeScratchDirs, run, scratchDir } from '../support/packed.js';

const INSTALL_TIMEOUT = 300_000;
let tarball: string;
let receiver: OtlpReceiver;

beforeAll(async () => {
  [tarball, receiver] = await Promise.all([packTarball(), startOtlpReceiver()]);
}, 120_000);
afterAll(async () => {
  await receiver?.close();
  await removeScratchDirs();
});

async function view(spec: string, field: string): Promise<unknown> {
  const { stdout } = await npm(['view', spec, field, '--json'], tmpdir());
  return JSON.parse(stdout);
}

/** The newest release of `name` whose 0.x minor is below the latest's. */
async function previousMinor(name: string): Promise<string> {
  const versions = (await view(name, 'versions')) as string[];
  const latest = (await view(name, 'version')) as string;
  const minor = (v: string) => Number(v.split('.')[1]);
  const older = versions.filter((v) => /^0\.\d+\.\d+$/.test(v) && minor(v) < minor(latest));
  const previous = older.at(-1);
  if (!previous) throw new Error(`${name} has no release before ${latest}`);
  return previous;
}

/** A fresh project that installs the given packages and our tarball in one `npm install`. */
async function installBeside(packages: string[]): Promise<{ dir: string; output: string }> {
  const dir = await scratchDir('resilient-chat-install-');
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'traced-service', private: true }));
  const { stdout, stderr } = await npm(
    ['install', '--prefer-offline', '--ignore-scripts', tarball, 'openai', ...packages],
    dir,
  );
  const output = stdout + stderr;
  expect(output).not.toContain('ERESOLVE');
  await npm(['ls', '--all'], dir); // rejects on an invalid, missing or extraneous package
  return { dir, output };
}

const ESM_SERVICE = `
import OpenAI from 'openai';
import { createResilientChat } from 'resilient-chat';
import { startTelemetry } from 'resilient-chat/otel';
import { startMockOpenAI } from 'resilient-chat/testing';
const telemetry = startTelemetry({ serviceName: 'installed-esm', shutdownOnSignals: false });
const server = await startMockOpenAI();
const chat = createResilientChat({ clients: new OpenAI({ apiKey: 'k', baseURL: server.url }), logger: false });
await chat.completions.create({ model: 'installed-esm', messages: [{ role: 'user', content: 'hi' }] });
await server.close();
await telemetry.shutdown();
console.log(JSON.stringify({ traceparent: server.requests[0].headers.traceparent ?? null }));
`;
const CJS_SERVICE = `
const { OpenAI } = require('openai');
const { createResilientChat } = require('resilient-chat');
const { startTelemetry } = require('resilient-chat/otel');
const { startMockOpenAI } = require('resilient-chat/testing');
(async () => {
  const telemetry = startTelemetry({ serviceName: 'installed-cjs', shutdownOnSignals: false });
  const server = await startMockOpenAI();
  const chat = createResilientChat({ clients: new OpenAI({ apiKey: 'k', baseURL: server.url }), logger: false });
  await chat.completions.create({ model: process.argv[2], messages: [{ role: 'user', content: 'hi' }] });
  await server.close();
  await telemetry.shutdown();
  console.log(JSON.stringify({ traceparent: server.requests[0].headers.traceparent ?? null }));
})();
`;

/** Runs a service file of the project with `node`; returns the traceparent its server received. */
async function tracedCall(dir: string, nodeBinary: string, file: string, model: string) {
  const { stdout } = await run(nodeBinary, [file, model], {
    cwd: dir,
    env: {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
    },
  });
  const { traceparent } = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
  const [, traceId] = /^00-([0-9a-f]{32})-[0-9a-f]{16}-01$/.exec(String(traceparent)) ?? [];
  // The chat span was exported, in the same trace as the header the server got.
  const chat = spansOf(receiver.exports).find((s) => s.name === `chat ${model}`);
  expect(chat?.traceId).toBe(traceId);
  return traceparent as string;
}

async function runBoth(dir: string, label: string) {
  await writeFile(join(dir, 'service.mjs'), ESM_SERVICE.replaceAll('installed-esm', `${label}-esm`));
  await writeFile(join(dir, 'service.cjs'), CJS_SERVICE);
  await tracedCall(dir, process.execPath, 'service.mjs', `${label}-esm`);
  await tracedCall(dir, process.execPath, 'service.cjs', `${label}-cjs`);
}

describe('npm install beside the OpenTelemetry setup', () => {
  test(
    'latest sdk-node and auto-instrumentations-node; ESM and CommonJS also on Node 22.12',
    async () => {
      const { dir } = await installBeside([
        '@opentelemetry/api',
        '@opentelemetry/sdk-node',
        '@opentelemetry/auto-instrumentations-node',
      ]);
      await runBoth(dir, 'latest');

      const nodeDir = await scratchDir('node-22.12-');
      await writeFile(join(nodeDir, 'package.json'), JSON.stringify({ private: true }));
      const binary = `node-${process.platform}-${process.arch}@22.12.0`;
      await npm(['install', '--prefer-offline', '--ignore-scripts', binary], nodeDir);
      const node22 = join(nodeDir, 'node_modules', `node-${process.platform}-${process.arch}`, 'bin', 'node');
      const { stdout: version } = await run(node22, ['--version']);
      expect(version.trim()).toBe('v22.12.0');
      const { stderr } = await run(node22, ['service.cjs', 'latest-node22-cjs'], {
        cwd: dir,
        env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_METRICS_EXPORTER: 'none' },
      });
      // The CommonJS build loads on 22.12 with no warning (no require(esm) of ours on the way).
      expect(stderr).not.toContain('ExperimentalWarning');
      expect(spansOf(receiver.exports).some((s) => s.name === 'chat latest-node22-cjs')).toBe(true);
      await writeFile(
        join(dir, 'service22.mjs'),
        ESM_SERVICE.replaceAll('installed-esm', 'latest-node22-esm'),
      );
      await tracedCall(dir, node22, 'service22.mjs', 'latest-node22-esm');
    },
    INSTALL_TIMEOUT,
  );

  test(
    'the previous sdk-node beside the latest auto-instrumentations-node',
    async () => {
      const sdkNode = await previousMinor('@opentelemetry/sdk-node');
      const { dir } = await installBeside([
        '@opentelemetry/api',
        `@opentelemetry/sdk-node@${sdkNode}`,
        '@opentelemetry/auto-instrumentations-node',
      ]);
      await runBoth(dir, 'previous-sdk');
    },
    INSTALL_TIMEOUT,
  );

  test(
    'the previous auto-instrumentations-node with the sdk-node and api it goes with',
    async () => {
      const auto = await previousMinor('@opentelemetry/auto-instrumentations-node');
      const sdkRange = (await view(
        `@opentelemetry/auto-instrumentations-node@${auto}`,
        'dependencies.@opentelemetry/sdk-node',
      )) as string;
      const sdkPeers = (await view(`@opentelemetry/sdk-node@${sdkRange}`, 'peerDependencies')) as
        | Record<string, string>
        | Record<string, string>[];
      const apiRange = [sdkPeers].flat().at(-1)?.['@opentelemetry/api'] ?? '*';
      const { dir } = await installBeside([
        `@opentelemetry/api@${apiRange}`,
        `@opentelemetry/sdk-node@${sdkRange}`,
        `@opentelemetry/auto-instrumentations-node@${auto}`,
      ]);
      await runBoth(dir, 'previous-auto');
    },
    INSTALL_TIMEOUT,
  );
});
