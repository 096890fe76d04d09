/**
 * The package as npm publishes it, for tests that use it the way a service does. `packTarball` builds and
 * packs a copy of the project in a directory of its own (test files run in parallel, and the repository's
 * dist/ is not theirs to rebuild), so it tests the current sources, not whatever dist/ happens to hold.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const run = promisify(execFile);
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const repoModules = join(repoRoot, 'node_modules');

const scratchDirs: string[] = [];

/** A new directory under the system's temporary directory, removed by `removeScratchDirs`. */
export async function scratchDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}

/** Removes every directory `scratchDir` made in this test file (installed projects are large). */
export async function removeScratchDirs(): Promise<void> {
  await Promise.all(scratchDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** npm from the Node that runs the tests, so scripts run on the same Node (npm puts its dir on PATH). */
export function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  return run('npm', args, { cwd, env: { ...env, npm_config_fund: 'false', npm_config_audit: 'false' } });
}

export async function packTarball(): Promise<string> {
  const work = await scratchDir('resilient-chat-pack-');
  for (const entry of [
    'package.json',
    'tsconfig.json',
    'tsconfig.build.json',
    'README.md',
    '.ci',
    'src',
  ]) {
    await cp(join(repoRoot, entry), join(work, entry), { recursive: true });
  }
  await symlink(repoModules, join(work, 'node_modules'), 'dir');
  const { stdout } = await npm(['pack', '--json', '--pack-destination', work], work);
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string }[];
  if (!packed) throw new Error(`npm pack reported no tarball:\n${stdout}`);
  return join(work, packed.filename);
}

/**
 * A consumer project in a fresh directory: the tarball unpacked as node_modules/resilient-chat, and every
 * other package the repository has installed linked beside it (openai, @opentelemetry/*, undici...), so it
 * needs no registry. `type` is the project's own module system.
 */
export async function consumerProject(tarball: string, type: 'commonjs' | 'module'): Promise<string> {
  const dir = await scratchDir(`resilient-chat-consumer-${type}-`);
  const modules = join(dir, 'node_modules');
  await mkdir(join(modules, 'resilient-chat'), { recursive: true });
  await run('tar', ['xzf', tarball, '-C', join(modules, 'resilient-chat'), '--strip-components', '1']);
  for (const name of await readdir(repoModules)) {
    if (name.startsWith('.') || name === 'resilient-chat') continue;
    await symlink(join(repoModules, name), join(modules, name), 'dir');
  }
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name: `consumer-${type}`, private: true, type }),
  );
  return dir;
}
