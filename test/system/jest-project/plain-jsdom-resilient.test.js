/**
 * @jest-environment jsdom
 */
// jest's own jsdom environment, unchanged: resilient-chat loads wherever openai-node does.
test('resilient-chat loads', () => {
  expect(typeof require('resilient-chat').createResilientClient).toBe('function');
});
