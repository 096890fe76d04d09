import { defineConfig } from 'vitest/config';

// openai 7 and OpenTelemetry JS 3 need Node >= 22. `npm test` runs on the Node LTS build that `npm install`
// puts in node_modules/.bin; running vitest some other way on an older Node fails here, saying why.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  throw new Error(
    `resilient-chat tests need Node >= 22 (this is ${process.version}). Run them with \`npm test\`, which uses the Node build from \`npm install\`.`,
  );
}

/**
 * Three tiers, all run by `npm test` (and so in CI):
 * - unit: pure logic under controlled clocks; no sockets.
 * - integration: real openai-node clients, real undici dispatchers, loopback servers, the real OTel SDK.
 * - oldest-openai: the parity suite and openai's internals' contracts again, on the oldest openai 7.
 * - system: what needs more than node_modules: a real Prometheus and promtool (fetched by the repository
 *   itself, skipped with a reason where apt-get as root is missing, never in CI), the packed package.
 * One tier: `npm run test:unit`, `npm run test:integration`, `npm run test:system`.
 */
export default defineConfig({
  test: {
    // Tests run real servers and real sockets; give slow CI machines room without hiding hangs.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'] } },
      // The drop-in promise holds across the peer range: the parity suite and the contracts of openai's
      // internals run again on the oldest openai 7 (the `openai-oldest` devDependency), src/ included.
      {
        extends: true,
        resolve: { alias: [{ find: /^openai(\/.*)?$/, replacement: 'openai-oldest$1' }] },
        test: {
          name: 'oldest-openai',
          include: ['test/integration/parity/**/*.test.ts', 'test/integration/openai-internals.test.ts'],
        },
      },
      { extends: true, test: { name: 'system', include: ['test/system/**/*.test.ts'] } },
    ],
  },
});
