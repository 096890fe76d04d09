// jest's default environment (node), no transform of node_modules: jest's own module runtime loads
// resilient-chat's require entry and everything it requires.
const OpenAI = require('openai');
const undici = require('undici');
const rc = require('resilient-chat');
const testing = require('resilient-chat/testing');
const otel = require('resilient-chat/otel');
const scenarios = require('./scenarios');

test('every entry point loads', () => {
  expect(typeof rc.createResilientClient).toBe('function');
  expect(typeof testing.startMockOpenAI).toBe('function');
  expect(typeof otel.startTelemetry).toBe('function');
});

scenarios({ OpenAI, rc, testing, undici, clientOptions: {} });
