/**
 * The published package: only what users need, every export's types inside it, and source maps whose sources
 * ship with them (a map pointing at files left out of the tarball is worse than none).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { packTarball, removeScratchDirs, scratchDir } from '../support/packed.js';

let unpacked: string;
let files: string[];

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

beforeAll(async () => {
  const tarball = await packTarball();
  const into = await scratchDir('resilient-chat-tarball-');
  execFileSync('tar', ['-xzf', tarball, '-C', into]);
  unpacked = join(into, 'package');
  files = walk(unpacked).map((f) => relative(unpacked, f));
}, 120_000);
afterAll(removeScratchDirs);

test('holds only dist/, src/ and the package files', () => {
  const top = new Set(files.map((f) => f.split('/')[0] ?? f));
  expect(
    [...top].filter((f) => !['LICENSE', 'README.md', 'dist', 'package.json', 'src'].includes(f)),
  ).toEqual([]);
  for (const needed of ['dist', 'src', 'package.json', 'README.md'])
    expect(top.has(needed), needed).toBe(true);
  expect(files.some((f) => f.endsWith('.test.ts'))).toBe(false);
});

test('every export resolves to files in the tarball, types included', () => {
  const pkg = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8'));
  const targets: string[] = [pkg.main, pkg.types];
  for (const entry of Object.values(pkg.exports) as unknown[]) {
    if (typeof entry === 'string') continue;
    const {
      require,
      types,
      default: main,
    } = entry as { require: { types: string; default: string }; types: string; default: string };
    targets.push(require.types, require.default, types, main);
  }
  for (const target of targets) expect(existsSync(join(unpacked, target)), target).toBe(true);
});

test("every source map's sources ship with it, and every map a file names exists", () => {
  const maps = files.filter((f) => f.endsWith('.map'));
  expect(maps.length).toBeGreaterThan(10);
  for (const map of maps) {
    const { sources } = JSON.parse(readFileSync(join(unpacked, map), 'utf8')) as { sources: string[] };
    for (const source of sources)
      expect(existsSync(join(unpacked, dirname(map), source)), `${map} -> ${source}`).toBe(true);
  }
  for (const file of files.filter((f) => /\.(js|d\.ts)$/.test(f))) {
    const named = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(unpacked, file), 'utf8'))?.[1];
    if (named) expect(existsSync(join(unpacked, dirname(file), named)), `${file} -> ${named}`).toBe(true);
  }
});
