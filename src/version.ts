/** Reported as the instrumentation scope version; kept in step with package.json by test/system/package.test.ts. */
export const VERSION = '0.1.0';
