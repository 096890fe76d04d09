/** resilientFetch's options: the client's, validated the same way, without `clients`, with its own three. */
import { describe, expect, test } from 'vitest';
import { InvalidOptionError, resilientFetch } from '../../src/index.js';

describe('resilientFetch options', () => {
  test('nothing, or the client options without clients, are accepted', () => {
    expect(typeof resilientFetch()).toBe('function');
    expect(typeof resilientFetch({ retry: { maxRetries: 1 }, genAISpan: 'own', logger: false })).toBe(
      'function',
    );
  });

  test('`clients` is refused, saying what to use instead', () => {
    expect(() => resilientFetch({ clients: {} } as never)).toThrow(
      /`clients` is not an option of resilientFetch/,
    );
    expect(() => resilientFetch({ clients: {} } as never)).toThrow(InvalidOptionError);
  });

  test('bad values are named as the client’s options are', () => {
    expect(() => resilientFetch({ retry: { maxRetries: -1 } })).toThrow(/retry\.maxRetries/);
    expect(() => resilientFetch({ retyr: {} } as never)).toThrow(/retyr.*retry/s);
    expect(() => resilientFetch({ dispatchers: 'agent' as never })).toThrow(/`dispatchers`/);
    expect(() => resilientFetch({ undici: {} as never })).toThrow(/`undici`/);
    expect(() => resilientFetch({ genAISpan: 'mine' as never })).toThrow(/`genAISpan`.*'auto'/);
  });
});
