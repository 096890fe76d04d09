/** The errors resilient-chat raises: literal codes that narrow, and a brand that survives two copies. */
import { describe, expect, expectTypeOf, test } from 'vitest';
import {
  CircuitOpenError,
  ClientNotReplaceableError,
  InvalidOptionError,
  isResilientChatError,
  PoolClosedError,
  type ResilientChatError,
} from '../../src/index.js';

describe('codes', () => {
  test('checking `code` narrows to the class', () => {
    const error = new CircuitOpenError('127.0.0.1:443 gpt-4o-mini', 1_000) as ResilientChatError;
    if (error.code === 'RESILIENT_CHAT_CIRCUIT_OPEN') {
      expectTypeOf(error).toEqualTypeOf<CircuitOpenError>();
      expect(error.retryAfterMs).toBe(1_000);
    } else {
      expect.fail('the code names the class');
    }
    expectTypeOf(
      new InvalidOptionError('retry', 'an object', 1).code,
    ).toEqualTypeOf<'RESILIENT_CHAT_INVALID_OPTION'>();
  });

  test('parents stay what they were: TypeError for bad input, APIConnectionError for a dead transport', () => {
    expect(new InvalidOptionError('retry', 'an object', 1)).toBeInstanceOf(TypeError);
    expect(new ClientNotReplaceableError('dispatcher', new Error('x'))).toBeInstanceOf(Error);
  });
});

describe('two copies of the package in one process', () => {
  test('instanceof and isResilientChatError hold across copies; unrelated errors are not taken', async () => {
    // A second, separate instance of the errors module, as a CommonJS copy beside the ESM one would be.
    const secondCopy = '../../src/errors.js?second-copy'; // a module id of its own: vite loads it again
    const copy = (await import(secondCopy)) as typeof import('../../src/errors.js');
    expect(copy.CircuitOpenError).not.toBe(CircuitOpenError);

    const fromCopy = new copy.CircuitOpenError('127.0.0.1:443 m', 5);
    expect(fromCopy).toBeInstanceOf(CircuitOpenError);
    expect(fromCopy).not.toBeInstanceOf(PoolClosedError);
    expect(isResilientChatError(fromCopy)).toBe(true);
    expect(new copy.PoolClosedError()).toBeInstanceOf(PoolClosedError);

    expect(isResilientChatError(new Error('x'))).toBe(false);
    expect(isResilientChatError({ code: 'RESILIENT_CHAT_CIRCUIT_OPEN' })).toBe(false);
    expect({ code: 'RESILIENT_CHAT_CIRCUIT_OPEN' }).not.toBeInstanceOf(CircuitOpenError);
  });
});
