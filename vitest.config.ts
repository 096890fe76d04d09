import { defineConfig } from 'vitest/config';

// openai 7 and OpenTelemetry JS 3 need Node >= 22. `npm test` runs on the Node LTS build that `npm install`
// puts in node_modules/.bin; running vitest some other way on an older Node fails here, saying why.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  throw new Error(
    `resilient-chat tests need Node >= 22 (this is ${process.version}). Run them with \`npm test\`, which uses the Node build from \`npm install\`.`,
  );
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests run real servers and real sockets; give slow CI machines room without hiding hangs.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
