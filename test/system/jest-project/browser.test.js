/**
 * @jest-environment ./jsdom-with-fetch.js
 */
// jsdom (a browser-like window), with the Node globals openai-node needs to load and send there.
const OpenAI = require('openai');
const undici = require('undici');
const rc = require('resilient-chat');
const testing = require('resilient-chat/testing');
const scenarios = require('./scenarios');

test('is browser-like: openai-node refuses a client without dangerouslyAllowBrowser', () => {
  expect(typeof window.document).toBe('object');
  expect(() => new OpenAI({ apiKey: 'k' })).toThrow(/browser-like environment/);
});

scenarios({
  OpenAI,
  rc,
  testing,
  undici,
  clientOptions: { dangerouslyAllowBrowser: true },
  undiciFetch: false,
});
