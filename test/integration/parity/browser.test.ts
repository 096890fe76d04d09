// @vitest-environment jsdom
/**
 * In a browser-like environment (jsdom, as frontend and some jest setups run), openai-node refuses to build a
 * client unless `dangerouslyAllowBrowser` is set; with it set, the resilient client builds and works as the
 * bare one does, over an instance, a factory or a pool.
 */
import OpenAI from 'openai';
import { describe, expect, test } from 'vitest';
import { createResilientClient } from '../../../src/index.js';
import { chatParams, completion, expectParity } from '../../support/parity.js';

describe('a browser-like environment', () => {
  test('is one: openai-node refuses a client without dangerouslyAllowBrowser', () => {
    expect(typeof (globalThis as { window?: unknown }).window).toBe('object');
    expect(() => new OpenAI({ apiKey: 'k' })).toThrow(/browser-like environment/);
  });

  test('with dangerouslyAllowBrowser: the same answers, on every variant', async () => {
    await expectParity({
      handler: () => ({ json: completion() }),
      options: { dangerouslyAllowBrowser: true },
      scenario: async (client) => {
        const answer = await client.chat.completions.create(chatParams);
        return { id: answer.id, again: client.withOptions({ timeout: 1_000 }) instanceof OpenAI };
      },
    });
  });

  test('a resilient client over a factory needs no credentials of its own, so no browser consent either', () => {
    const client = createResilientClient({
      clients: () => new OpenAI({ apiKey: 'k', dangerouslyAllowBrowser: true }),
      logger: false,
    });
    expect(client).toBeInstanceOf(OpenAI);
  });
});
