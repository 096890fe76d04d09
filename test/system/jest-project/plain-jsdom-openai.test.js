/**
 * @jest-environment jsdom
 */
// Control: jest's own jsdom environment, unchanged, and openai-node alone.
test('openai-node loads', () => {
  expect(typeof require('openai').OpenAI).toBe('function');
});
