/** The errors resilient-chat raises: literal codes that narrow, the parents they keep, and a brand that survives two copies. */
import OpenAI from 'openai';
import { describe, expect, expectTypeOf, test } from 'vitest';
import * as errors from '../../src/errors.js';
import {
  CircuitOpenError,
  ClientNotReplaceableError,
  InvalidClientError,
  InvalidOptionError,
  InvalidRequestError,
  isResilientChatError,
  MissingPackageError,
  PoolClosedError,
  type ResilientChatError,
  type ResilientChatErrorCode,
  StreamConsumedError,
} from '../../src/index.js';

type Module = typeof errors;

/** Every code of the union: a code added to it and not here fails to compile, one missing from the list of classes fails below. */
const EVERY_CODE: Record<ResilientChatErrorCode, true> = {
  RESILIENT_CHAT_INVALID_OPTION: true,
  RESILIENT_CHAT_INVALID_CLIENT: true,
  RESILIENT_CHAT_INVALID_REQUEST: true,
  RESILIENT_CHAT_CIRCUIT_OPEN: true,
  RESILIENT_CHAT_POOL_CLOSED: true,
  RESILIENT_CHAT_CLIENT_NOT_REPLACEABLE: true,
  RESILIENT_CHAT_STREAM_CONSUMED: true,
  RESILIENT_CHAT_MISSING_PACKAGE: true,
  RESILIENT_CHAT_SETTING_UNAVAILABLE: true,
  RESILIENT_CHAT_SETTING_MISMATCH: true,
  RESILIENT_CHAT_CLIENT_CLOSED: true,
};

/** One of every class, made by `module` (this copy or another), with the code and parent it must have. */
function everyError(module: Module) {
  return [
    [new module.InvalidOptionError('retry', 'an object', 1), 'RESILIENT_CHAT_INVALID_OPTION', TypeError],
    [new module.InvalidClientError('the `clients` factory', {}), 'RESILIENT_CHAT_INVALID_CLIENT', TypeError],
    [
      new module.InvalidRequestError('signal', 'an AbortSignal', {}),
      'RESILIENT_CHAT_INVALID_REQUEST',
      TypeError,
    ],
    [new module.CircuitOpenError('https://api.openai.com/v1 m', 5), 'RESILIENT_CHAT_CIRCUIT_OPEN', Error],
    [new module.PoolClosedError(), 'RESILIENT_CHAT_POOL_CLOSED', Error],
    [
      new module.ClientNotReplaceableError('dispatcher', undefined),
      'RESILIENT_CHAT_CLIENT_NOT_REPLACEABLE',
      OpenAI.APIConnectionError,
    ],
    [new module.StreamConsumedError(), 'RESILIENT_CHAT_STREAM_CONSUMED', OpenAI.OpenAIError],
    [
      new module.MissingPackageError('undici', 'resilient-chat: ClientPool', undefined),
      'RESILIENT_CHAT_MISSING_PACKAGE',
      Error,
    ],
    [new module.ClientSettingUnavailableError('baseURL'), 'RESILIENT_CHAT_SETTING_UNAVAILABLE', Error],
    [new module.ClientSettingMismatchError('webhookSecret'), 'RESILIENT_CHAT_SETTING_MISMATCH', Error],
    [new module.ClientClosedError(), 'RESILIENT_CHAT_CLIENT_CLOSED', OpenAI.APIConnectionError],
  ] as const;
}

describe('codes and parents', () => {
  test('every class has its own literal code, its name, and the parent a catch block written for it expects', () => {
    const made = everyError(errors);
    for (const [error, code, parent] of made) {
      expect(error.code).toBe(code);
      expect(error).toBeInstanceOf(parent);
      expect(error.name).toBe(error.constructor.name);
      expect(error.message).toMatch(/\S/);
      expect(isResilientChatError(error)).toBe(true);
    }
    // One class per code, every code once, and no code left out.
    expect(new Set(made.map(([, code]) => code)).size).toBe(made.length);
    expect(made.map(([, code]) => code).sort()).toEqual(Object.keys(EVERY_CODE).sort());
  });

  test('checking `code` narrows to the class; the union of classes has every code', () => {
    const error = new CircuitOpenError('https://api.openai.com/v1 gpt-4o-mini', 1_000) as ResilientChatError;
    if (error.code === 'RESILIENT_CHAT_CIRCUIT_OPEN') {
      expectTypeOf(error).toEqualTypeOf<CircuitOpenError>();
      expect(error.retryAfterMs).toBe(1_000);
    } else {
      expect.fail('the code names the class');
    }
    expectTypeOf<ResilientChatError['code']>().toEqualTypeOf<ResilientChatErrorCode>();
    expectTypeOf(
      new InvalidRequestError('signal', 'x', 1).code,
    ).toEqualTypeOf<'RESILIENT_CHAT_INVALID_REQUEST'>();
  });

  test('a bad request names the option or field and what was expected, and never echoes a string', () => {
    const signal = new InvalidRequestError('signal', 'an AbortSignal', 'sk-looks-like-a-key');
    expect(signal.option).toBe('signal');
    expect(signal.message).toBe(
      'resilient-chat: request option `signal` must be an AbortSignal; received a string of 19 characters',
    );
    const model = new InvalidRequestError('body.model', 'a non-empty string', undefined, 'chat');
    expect(model.message).toBe(
      'resilient-chat: chat: `body.model` must be a non-empty string; received undefined',
    );
  });

  test('a missing package says how to install it, and the other way out when there is one', () => {
    const cause = new Error("Cannot find package 'undici'");
    const error = new MissingPackageError(
      'undici',
      'resilient-chat: ClientPool',
      cause,
      "pass your own as `undici: await import('undici')`",
    );
    expect(error.packageName).toBe('undici');
    expect(error.cause).toBe(cause);
    expect(error.message).toBe(
      "resilient-chat: ClientPool needs the package undici, which is not installed: run `npm install undici`, or pass your own as `undici: await import('undici')`.",
    );
  });

  test("a stream iterated twice says what to do, like openai-node's own", () => {
    expect(new StreamConsumedError().message).toContain('.tee()');
  });
});

describe('two copies of the package in one process', () => {
  test('instanceof and isResilientChatError hold across copies, for every class; unrelated errors are not taken', async () => {
    // A second, separate instance of the errors module, as a CommonJS copy beside the ESM one would be.
    const secondCopy = '../../src/errors.js?second-copy'; // a module id of its own: vite loads it again
    const copy = (await import(secondCopy)) as Module;
    expect(copy.CircuitOpenError).not.toBe(CircuitOpenError);

    const ours = everyError(errors).map(([error]) => error.constructor);
    for (const [fromCopy] of everyError(copy)) {
      expect(isResilientChatError(fromCopy)).toBe(true);
      // Each is an instance of its own class here, and of no other of ours.
      expect(ours.filter((type) => fromCopy instanceof type).map((type) => type.name)).toEqual([
        fromCopy.constructor.name,
      ]);
    }

    expect(isResilientChatError(new Error('x'))).toBe(false);
    expect(isResilientChatError({ code: 'RESILIENT_CHAT_CIRCUIT_OPEN' })).toBe(false);
    expect({ code: 'RESILIENT_CHAT_CIRCUIT_OPEN' }).not.toBeInstanceOf(CircuitOpenError);
    expect(new TypeError('x')).not.toBeInstanceOf(InvalidOptionError);
    expect(new OpenAI.APIConnectionError({ message: 'x' })).not.toBeInstanceOf(ClientNotReplaceableError);
    expect(new Error('x')).not.toBeInstanceOf(PoolClosedError);
    expect(new TypeError('x')).not.toBeInstanceOf(InvalidClientError);
  });
});
