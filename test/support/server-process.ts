/**
 * Runs the mock OpenAI server (src/testing) in a child process, for benchmarks and load tests alike: the
 * process under measurement or test then has its core to itself, and a starved event loop on one side cannot
 * make the other side's answers late.
 *
 * Functions cannot cross a process boundary, so what the server does with each request comes from a
 * *behaviour module* that the child imports: its default export turns a JSON `config` into the server's
 * options, and may `report` JSON messages back (they arrive at `onReport` here, over the IPC channel).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { MockOpenAIOptions } from '../../src/testing/index.js';

/** The default export of a behaviour module. */
export type ServerBehaviour<Config = unknown> = (
  config: Config,
  report: (message: unknown) => void,
) => MockOpenAIOptions;

export interface ServerProcessOptions {
  /** A module whose default export is a `ServerBehaviour`. Default: every request gets a normal answer. */
  behaviour?: URL;
  /** Handed to the behaviour; must survive JSON. */
  config?: unknown;
  /** Receives every message the behaviour reports, in order. */
  onReport?: (message: unknown) => void;
}

export interface ServerStats {
  requestCount: number;
  connections: number;
  openConnections: number;
}

export interface ServerProcess {
  /** Base URL for `new OpenAI({ baseURL })`, ending in /v1. */
  url: string;
  /** The server's counters, read in the child. */
  stats(): Promise<ServerStats>;
  /** The server's counters once it has no open connection (say, after the clients closed their sockets). */
  idle(): Promise<ServerStats>;
  stop(): Promise<void>;
}

/** Messages between the two processes. */
export type ToParent =
  | { kind: 'ready'; url: string }
  | { kind: 'report'; message: unknown }
  | { kind: 'stats'; id: number; stats: ServerStats };
export type ToChild = { kind: 'stats'; id: number; idle?: boolean };

export async function startServerProcess(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const main = fileURLToPath(new URL('./server-main.ts', import.meta.url));
  const args = JSON.stringify({ behaviour: options.behaviour?.href, config: options.config });
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', main, args], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pendingStats = new Map<number, (stats: ServerStats) => void>();
  let nextId = 0;
  let onReady: (url: string) => void = () => undefined;
  const ready = new Promise<string>((resolve) => {
    onReady = resolve;
  });
  child.on('message', (message: ToParent) => {
    if (message.kind === 'ready') onReady(message.url);
    else if (message.kind === 'report') options.onReport?.(message.message);
    else pendingStats.get(message.id)?.(message.stats);
  });
  const exited = once(child, 'exit');
  const url = await Promise.race([
    ready,
    exited.then(([code]) => {
      throw new Error(`the mock server process exited (code ${code}) before it was ready`);
    }),
  ]);
  const stats = (idle: boolean) => {
    const id = nextId++;
    return new Promise<ServerStats>((resolve, reject) => {
      pendingStats.set(id, (stats) => {
        pendingStats.delete(id);
        resolve(stats);
      });
      child.send({ kind: 'stats', id, idle } satisfies ToChild, (error) => error && reject(error));
    });
  };
  return {
    url,
    stats: () => stats(false),
    idle: () => stats(true),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
