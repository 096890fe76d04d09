/**
 * Every default, in the three places it is written: the docs' tables (docs/options.md for the client and
 * resilientFetch, docs/client-pool.md for ClientPool), the options' `@defaultValue` tags, and the value the
 * code resolves when the option is left out. A default changed in one place only, a documented option that
 * does not exist, or an option without a row fails here (as test/unit/semconv.test.ts holds our names
 * against the published ones).
 */
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { describe, expect, test, vi } from 'vitest';
import { FETCH_KEYS, resolveFetchOptions } from '../../src/fetch/resilient-fetch.js';
import { createResilientClient, InvalidOptionError } from '../../src/index.js';
import { keysOf } from '../../src/option-checks.js';
import { NESTED_KEYS, ROOT_KEYS, resolveOptions } from '../../src/options.js';
import { POOL_KEYS, resolvePoolOptions } from '../../src/pool/pool-options.js';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

/** One row of a docs table: the option's name and its default, as written. */
interface Row {
  option: string;
  written: string;
}

/** The rows of the table under `heading` (one with `option` and `default` columns). */
function tableUnder(markdown: string, heading: string): Row[] {
  const lines = markdown.split('\n');
  const at = lines.findIndex((line) => line.trim() === heading);
  expect(at, `no heading ${heading}`).toBeGreaterThanOrEqual(0);
  const start = lines.findIndex((line, index) => index > at && line.startsWith('|'));
  const table: string[][] = [];
  for (let index = start; lines[index]?.startsWith('|'); index++) {
    table.push(
      (lines[index] ?? '')
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
  }
  const [header = [], , ...body] = table;
  const option = header.indexOf('option');
  const written = header.indexOf('default');
  expect([option, written], `the columns of the table under ${heading}`).not.toContain(-1);
  return body.map((cells) => ({
    // `create(key, transport)` is the option `create`.
    option: (cells[option] ?? '').replace(/^`|`$/g, '').replace(/\(.*\)$/, ''),
    written: cells[written] ?? '',
  }));
}

/** `@defaultValue` of each member of the interfaces named, by member name; whitespace as one space. */
function defaultTags(path: string, ...interfaces: string[]): Map<string, string> {
  const source = read(path);
  const tags = new Map<string, string>();
  for (const name of interfaces) {
    const body = new RegExp(`^export interface ${name}\\b[^{]*\\{\\n([\\s\\S]*?)^\\}`, 'm').exec(source)?.[1];
    expect(body, `interface ${name} in ${path}`).toBeDefined();
    for (const [, comment = '', member = ''] of (body ?? '').matchAll(
      /\/\*\*([\s\S]*?)\*\/\s*(\w+)\??[(:]/g,
    )) {
      const tag = /@defaultValue\s+([\s\S]*)$/.exec(comment.replace(/^\s*\* ?/gm, ' '))?.[1];
      if (tag !== undefined) tags.set(member, tag.replace(/\s+/g, ' ').trim());
    }
  }
  return tags;
}

/** Defaults written as a leading code literal: a number, Infinity, a boolean, a quoted string, Math.random. */
function literal(code: string): { value: unknown } | undefined {
  if (/^-?\d[\d_]*(\.\d+)?$/.test(code)) return { value: Number(code.replaceAll('_', '')) };
  if (code === 'Infinity') return { value: Number.POSITIVE_INFINITY };
  if (code === 'true' || code === 'false') return { value: code === 'true' };
  if (/^'[^']*'$/.test(code)) return { value: code.slice(1, -1) };
  if (code === 'Math.random') return { value: Math.random };
  return undefined;
}

const ON = (value: unknown) => typeof value === 'object' && value !== null;
const LEFT_TO_LATER = (value: unknown) => value === undefined;

/**
 * Defaults the docs give in words, and what the code must then resolve: mostly nothing, for a default that is
 * not ours to fill in here (the client's own timeout, the global providers, the undici loaded later).
 */
const IN_WORDS: Record<string, (value: unknown) => boolean> = {
  none: LEFT_TO_LATER,
  "the client's `timeout` (openai's default: 10 minutes)": LEFT_TO_LATER,
  "the request's `timeout` (openai's default: 10 minutes)": LEFT_TO_LATER,
  'the global one of `@opentelemetry/api`': LEFT_TO_LATER,
  'the global one, looked up on each call': LEFT_TO_LATER,
  'global, read at construction': LEFT_TO_LATER,
  "resilient-chat's own, lazily": LEFT_TO_LATER,
  "resilient-chat's `undici`, loaded lazily": LEFT_TO_LATER,
  'an undici `Agent` per origin': LEFT_TO_LATER,
  on: ON,
  'the console': (logger) => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      (logger as { warn(message: string, fields: object): void }).warn('probe', {});
      return warn.mock.calls.length === 1;
    } finally {
      warn.mockRestore();
    }
  },
  'one client for everything': (key) => {
    const keyOf = key as (context: object) => string;
    const context = (model: string) => ({
      params: { model },
      signal: undefined,
      request: { method: 'post', path: '/' },
    });
    return keyOf(context('a')) === keyOf(context('b'));
  },
};

/** What `written` says the default is, checked against `resolved` (its siblings for a default named after one). */
function expectDefault(
  option: string,
  written: string,
  resolved: unknown,
  siblings: Record<string, unknown>,
) {
  const code = /^`([^`]+)`/.exec(written)?.[1];
  const sibling = code !== undefined && Object.hasOwn(siblings, code) ? { value: siblings[code] } : undefined;
  const value = code === undefined ? undefined : (literal(code) ?? sibling);
  if (value) {
    expect({ [option]: resolved }).toEqual({ [option]: value.value });
    return;
  }
  const meaning = IN_WORDS[written];
  expect(meaning, `${option}'s default "${written}": say in IN_WORDS what it resolves to`).toBeDefined();
  expect(meaning?.(resolved), `${option} resolves to ${String(resolved)}, not "${written}"`).toBe(true);
}

/** The one option the entry point cannot do without: the one its error names when every option is left out. */
function requiredOption(make: () => unknown): string | undefined {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return (error as InvalidOptionError).option;
  }
  return undefined;
}

interface Surface {
  rows: Row[];
  /** Every option path the code knows; `groups` may have a row of their own (`circuitBreaker: false`). */
  paths: readonly string[];
  groups: string[];
  tags: Map<string, string>;
  required: string | undefined;
  resolvedAt(path: string): { value: unknown; siblings: Record<string, unknown> };
}

const client = new OpenAI({ apiKey: 'sk-unused', baseURL: 'http://127.0.0.1:9/v1' });
const optionsMd = read('docs/options.md');

function clientSurface(): Surface {
  const resolved = resolveOptions({ clients: client }, {});
  const homes: Record<string, Record<string, unknown> | undefined> = {
    retry: { ...resolved.retry },
    streams: { ...resolved.retry },
    closedClient: { ...resolved.retry, fallbackToGlobalDispatcher: resolved.fallbackToGlobalDispatcher },
    circuitBreaker: resolved.circuitBreaker ? { ...resolved.circuitBreaker } : undefined,
    retryBudget: resolved.retryBudget ? { ...resolved.retryBudget } : undefined,
  };
  const topLevel: Record<string, unknown> = { ...resolved };
  const groups = Object.keys(NESTED_KEYS);
  const nested = Object.entries(NESTED_KEYS).flatMap(([group, keys]) =>
    keysOf(keys).map((key) => `${group}.${key}`),
  );
  const tags = new Map<string, string>();
  const tagged: [string, string, string][] = [
    ['', 'src/types.ts', 'ResilientClientOptions'],
    ['retry.', 'src/policy/retry-options.ts', 'RetryOptions'],
    ['streams.', 'src/policy/retry-options.ts', 'StreamOptions'],
    ['closedClient.', 'src/policy/retry-options.ts', 'ClosedClientOptions'],
    ['circuitBreaker.', 'src/policy/circuit-breaker.ts', 'CircuitBreakerOptions'],
    ['retryBudget.', 'src/policy/retry-budget.ts', 'RetryBudgetOptions'],
  ];
  for (const [prefix, path, name] of tagged)
    for (const [member, tag] of defaultTags(path, name)) tags.set(`${prefix}${member}`, tag);
  return {
    rows: tableUnder(optionsMd, '## Every option'),
    paths: [...keysOf(ROOT_KEYS).filter((key) => !groups.includes(key)), ...nested],
    groups: groups.filter((group) => group === 'circuitBreaker' || group === 'retryBudget'),
    tags,
    required: requiredOption(() => createResilientClient({} as never)),
    resolvedAt(path) {
      const [group = '', key] = path.split('.');
      if (key === undefined) return { value: topLevel[path], siblings: topLevel };
      const home = homes[group] ?? {};
      expect(Object.hasOwn(home, key), `${path} is resolved nowhere`).toBe(true);
      return { value: home[key], siblings: home };
    },
  };
}

function fetchSurface(): Surface {
  const resolved: Record<string, unknown> = { ...resolveFetchOptions({}, {}) };
  return {
    rows: tableUnder(optionsMd, '## `resilientFetch` options'),
    paths: keysOf(FETCH_KEYS),
    groups: [],
    tags: defaultTags('src/fetch/resilient-fetch.ts', 'ResilientFetchOptions'),
    required: requiredOption(() => resolveFetchOptions({}, {})),
    resolvedAt: (path) => ({ value: resolved[path], siblings: resolved }),
  };
}

function poolSurface(): Surface {
  const create = () => client;
  const resolved: Record<string, unknown> = { ...resolvePoolOptions({ create }) };
  return {
    rows: tableUnder(read('docs/client-pool.md'), '# ClientPool: a cache that never closes a client in use'),
    paths: keysOf(POOL_KEYS),
    groups: [],
    tags: new Map([
      ...defaultTags('src/pool/pool-options.ts', 'ClientPoolOptions'),
      ...defaultTags('src/pool/transport.ts', 'TransportOptions'),
    ]),
    required: requiredOption(() => resolvePoolOptions({} as never)),
    resolvedAt: (path) => ({ value: resolved[path], siblings: resolved }),
  };
}

describe.each([
  ['createResilientClient (docs/options.md)', clientSurface],
  ['resilientFetch (docs/options.md)', fetchSurface],
  ['ClientPool (docs/client-pool.md)', poolSurface],
])('the defaults of %s', (_, surfaceOf) => {
  const surface = surfaceOf();

  test('every option has a row, and every row is an option', () => {
    const documented = surface.rows.map((row) => row.option);
    expect(
      documented.filter((option) => !surface.paths.includes(option) && !surface.groups.includes(option)),
    ).toEqual([]);
    expect(surface.paths.filter((path) => !documented.includes(path))).toEqual([]);
    expect(new Set(documented).size).toBe(documented.length);
  });

  test('each documented default is what the code resolves when the option is left out', () => {
    for (const { option, written } of surface.rows) {
      if (written === '(required)') {
        expect(surface.required).toBe(option);
        continue;
      }
      const { value, siblings } = surface.resolvedAt(option);
      expectDefault(option, written, value, siblings);
    }
  });

  test("each option's @defaultValue says what its row says", () => {
    for (const { option, written } of surface.rows) {
      if (written === '(required)') continue;
      expect({ [option]: surface.tags.get(option) }).toEqual({ [option]: written });
    }
  });
});

test('every default written in words is still written somewhere, so none is left describing nothing', () => {
  const written = new Set(
    [clientSurface(), fetchSurface(), poolSurface()].flatMap(({ rows }) => rows.map((row) => row.written)),
  );
  expect(Object.keys(IN_WORDS).filter((words) => !written.has(words))).toEqual([]);
});

test('the reading of a written default sees a wrong one', () => {
  expect(() => expectDefault('retry.maxRetries', '`3`', 2, {})).toThrow();
  expect(() =>
    expectDefault('circuitBreaker.probeTimeoutMs', '`breakDurationMs`', 1, { breakDurationMs: 5 }),
  ).toThrow();
  expect(() => expectDefault('retry.totalTimeoutMs', 'none', 30_000, {})).toThrow();
  expect(() => expectDefault('retry.totalTimeoutMs', 'forever and a day', undefined, {})).toThrow(/IN_WORDS/);
});
