/**
 * A real Prometheus server and promtool for the tests, installed by the repository itself: Debian's
 * `prometheus` package, downloaded with apt and unpacked into .tools/ (no root install, cached between runs).
 * Debian's build lacks the OTLP receiver, so the tests feed it by scraping (see otel-stack.test.ts).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TOOLS = fileURLToPath(new URL('../../.tools/prometheus/', import.meta.url));

export interface PrometheusBinaries {
  prometheus: string;
  promtool: string;
  version: string;
}

function apt(args: string[], cwd: string): void {
  execFileSync('apt-get', args, { cwd, stdio: 'pipe' });
}

export function prometheusBinaries(): PrometheusBinaries {
  const prometheus = join(TOOLS, 'usr/bin/prometheus');
  const promtool = join(TOOLS, 'usr/bin/promtool');
  if (!existsSync(prometheus) || !existsSync(promtool)) {
    const download = mkdtempSync(join(tmpdir(), 'prometheus-deb-'));
    try {
      try {
        apt(['download', 'prometheus'], download);
      } catch {
        apt(['update'], download); // a fresh machine has no package lists yet
        apt(['download', 'prometheus'], download);
      }
      const deb = readdirSync(download).find((f) => f.endsWith('.deb'));
      if (!deb) throw new Error('apt-get download prometheus produced no .deb');
      mkdirSync(TOOLS, { recursive: true });
      execFileSync('dpkg', ['-x', join(download, deb), TOOLS]);
    } catch (error) {
      throw new Error(
        `The tests need a Prometheus server: fetching Debian's prometheus package failed (${(error as Error).message}). ` +
          'They need apt-get (as root) and the Debian package archive; nothing else.',
      );
    } finally {
      rmSync(download, { recursive: true, force: true });
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

/** Starts Prometheus on a free loopback port with `config` (YAML text) in a throwaway data directory. */
export async function startPrometheus(
  binary: string,
  config: string,
  port: number,
): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${stderr}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`prometheus not ready after 20 s: ${stderr}`);
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
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
