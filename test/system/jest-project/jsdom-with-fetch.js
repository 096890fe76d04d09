/**
 * jest's jsdom environment has no fetch, Response or web streams, and its own AbortController, Blob and
 * FormData that Node's fetch refuses: openai-node does not even load there ("Response is not defined"). A
 * jsdom test suite that uses openai-node gives the window Node's own (as jest-fixed-jsdom does); the
 * messaging globals and setImmediate are undici's (an Agent of the test's, resilient-chat/testing). npm undici's
 * own fetch (ClientPool, resilientFetch) needs Node's timers too, which this leaves to jsdom.
 */
const { TestEnvironment } = require('jest-environment-jsdom');

const NODE_GLOBALS = [
  'fetch',
  'Request',
  'Response',
  'Headers',
  'FormData',
  'Blob',
  'File',
  'ReadableStream',
  'TextEncoder',
  'TextDecoder',
  'AbortController',
  'AbortSignal',
  'MessagePort',
  'MessageChannel',
  'BroadcastChannel',
  'setImmediate',
  'clearImmediate',
];

module.exports = class JsdomWithFetch extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of NODE_GLOBALS) this.global[name] = globalThis[name];
  }
};
