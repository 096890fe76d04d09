/**
 * The unhandled rejections of each test, recorded instead of left to vitest, so a test can assert there were
 * none. Node reports one once the microtasks have run, before the next macrotask: wait a `setImmediate`
 * (a real one) after the last settlement before reading.
 */
import { afterEach, beforeEach } from 'vitest';

export function useUnhandledRejections(): readonly unknown[] {
  const rejections: unknown[] = [];
  const record = (reason: unknown) => rejections.push(reason);
  beforeEach(() => {
    rejections.length = 0;
    process.on('unhandledRejection', record);
  });
  afterEach(() => {
    process.off('unhandledRejection', record);
  });
  return rejections;
}
