/**
 * A real Prometheus server and promtool for the tests, installed by the repository itself from Debian's
 * packages, downloaded with apt and unpacked into .tools/ (no root install, cached between runs):
 *
 * - `bookworm`: Prometheus 2.42 (`prometheus`, whose .deb holds promtool too), from the machine's own sources.
 * - `sid`: Prometheus 3.5 (`prometheus` and `promtool`, separate packages there), from Debian unstable. The
 *   compose stack runs Prometheus 3, so the rules are checked by a 3.x promtool as well. The machine's apt
 *   sources are left alone: a throwaway apt directory holds a sources list naming sid (signed by the same
 *   Debian archive keyring) and its package lists.
 *
 * Debian's builds lack the OTLP receiver, so the tests feed Prometheus by scraping (see otel-stack.test.ts).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type PrometheusRelease = 'bookworm' | 'sid';

const TOOLS: Record<PrometheusRelease, string> = {
  bookworm: fileURLToPath(new URL('../../.tools/prometheus/', import.meta.url)),
  sid: fileURLToPath(new URL('../../.tools/prometheus-sid/', import.meta.url)),
};
const PACKAGES: Record<PrometheusRelease, string[]> = {
  bookworm: ['prometheus'],
  sid: ['prometheus', 'promtool'],
};
const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

export interface PrometheusBinaries {
  prometheus: string;
  promtool: string;
  /** First line of `promtool --version`. */
  version: string;
}

function apt(args: string[], cwd: string): void {
  execFileSync('apt-get', args, { cwd, stdio: 'pipe' });
}

/** apt options that point apt-get at a sources list and package lists of its own, under `dir`. */
function sidAptOptions(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const sources = join(dir, 'sources.list');
  const signedBy = existsSync(DEBIAN_KEYRING) ? `[signed-by=${DEBIAN_KEYRING}] ` : '';
  writeFileSync(sources, `deb ${signedBy}http://deb.debian.org/debian sid main\n`);
  for (const sub of ['lists/partial', 'cache/archives/partial'])
    mkdirSync(join(dir, sub), { recursive: true });
  return [
    '-o',
    `Dir::Etc::sourcelist=${sources}`,
    '-o',
    'Dir::Etc::sourceparts=-',
    '-o',
    `Dir::State::Lists=${join(dir, 'lists')}`,
    '-o',
    `Dir::Cache=${join(dir, 'cache')}`,
    // The download lands in a directory the unprivileged _apt user cannot write; say so instead of warning.
    '-o',
    'APT::Sandbox::User=root',
  ];
}

function download(release: PrometheusRelease, dir: string): void {
  if (release === 'sid') {
    const options = sidAptOptions(join(dir, 'apt'));
    apt([...options, 'update'], dir);
    apt([...options, 'download', ...PACKAGES.sid], dir);
    return;
  }
  try {
    apt(['download', ...PACKAGES.bookworm], dir);
  } catch {
    apt(['update'], dir); // a fresh machine has no package lists yet
    apt(['download', ...PACKAGES.bookworm], dir);
  }
}

/** The binaries of `release`, fetched and unpacked into .tools/ on first use. */
export function prometheusBinaries(release: PrometheusRelease = 'bookworm'): PrometheusBinaries {
  const tools = TOOLS[release];
  const prometheus = join(tools, 'usr/bin/prometheus');
  const promtool = join(tools, 'usr/bin/promtool');
  if (!existsSync(prometheus) || !existsSync(promtool)) {
    const dir = mkdtempSync(join(tmpdir(), `prometheus-deb-${release}-`));
    try {
      download(release, dir);
      const debs = readdirSync(dir).filter((f) => f.endsWith('.deb'));
      if (debs.length !== PACKAGES[release].length) {
        throw new Error(
          `expected .debs of ${PACKAGES[release].join(', ')}, got ${debs.join(', ') || 'none'}`,
        );
      }
      mkdirSync(tools, { recursive: true });
      for (const deb of debs) execFileSync('dpkg', ['-x', join(dir, deb), tools]);
    } catch (error) {
      throw new Error(
        `The tests need Prometheus from Debian ${release}: fetching its packages failed (${(error as Error).message}). ` +
          "They need apt-get (as root) and Debian's package archive; nothing else.",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const version = execFileSync(promtool, ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? '';
  return { prometheus, promtool, version };
}

export interface RunningPrometheus {
  url: string;
  /** GET /api/v1/<path> and return `data`, failing on any error status. */
  api<T = unknown>(path: string, params?: Record<string, string>): Promise<T>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** More command-line flags. */
  args?: string[];
  /** Fills the (empty) data directory before the server starts, e.g. with backfilled blocks. */
  seed?: (dataDir: string) => void;
}

/**
 * Starts Prometheus with `config` (YAML text) in a throwaway data directory, on a loopback port the kernel
 * picks (`127.0.0.1:0`); the port is read back from Prometheus's own log line.
 */
export async function startPrometheus(
  binary: string,
  config: string,
  options: StartOptions = {},
): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
  writeFileSync(join(dir, 'prometheus.yml'), config);
  mkdirSync(join(dir, 'data'));
  options.seed?.(join(dir, 'data'));
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      '--web.listen-address=127.0.0.1:0',
      '--log.level=info',
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir },
  );
  // Keep draining stderr for the server's whole life (a full pipe would block it); keep the tail for errors.
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-20_000);
      // 2.x and 3.x both log the bound address: `msg="Listening on" [component=web] address=127.0.0.1:40259`.
      const bound = /msg="Listening on"[^\n]*?address=127\.0\.0\.1:(\d+)/.exec(log);
      if (bound?.[1]) resolve(`http://127.0.0.1:${bound[1]}`);
    });
    child.once('exit', (code) => reject(new Error(`prometheus exited (${code}): ${log}`)));
  });
  // Ready once it has loaded its config and rules: /-/ready answers 503 until then. Poll the server (an event
  // Prometheus does not push), bounded by a generous deadline for busy machines.
  const deadline = Date.now() + 60_000;
  while (
    !(await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
    if (Date.now() > deadline) throw new Error(`prometheus not ready after 60 s: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async api<T>(path: string, params: Record<string, string> = {}) {
      const response = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params)}`);
      const body = (await response.json()) as { status: string; data: T; error?: string };
      if (body.status !== 'success')
        throw new Error(`prometheus ${path} ${JSON.stringify(params)}: ${body.error}`);
      return body.data;
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Why the system tier cannot run here, or undefined when it can (both Prometheus releases present, fetched if
 * need be). Fetching needs apt-get as root; a contributor's laptop may have neither, and then the tier is
 * skipped with this reason. In CI (`CI` set) nothing is skipped: the error is thrown and the run fails.
 */
export function prometheusUnavailable(): string | undefined {
  try {
    prometheusBinaries('bookworm');
    prometheusBinaries('sid');
    return undefined;
  } catch (error) {
    if (process.env.CI) throw error;
    return (error as Error).message;
  }
}
