/**
 * Runs an overhead contender (contenders.ts) in a child process and measures it on
 * request. Each contender has a process of its own, as a service has one client library: in one shared
 * process, the inline caches and heap of one SDK copy are shaped by the others, and the figures of each
 * then depend on who else ran.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { ContenderName, RequestName, Transport } from './contenders.js';

export interface Measured {
  cps: number;
  /** Process CPU per call (µs). */
  cpuUs: number;
  /** Main-thread CPU per call (µs). */
  threadCpuUs: number;
  /** Latencies (µs) of calls made one at a time after the throughput run. */
  latenciesUs: number[];
}

export type ToContender =
  | {
      kind: 'measure';
      id: number;
      request: RequestName;
      calls: number;
      concurrency: number;
      latencyCalls: number;
    }
  | { kind: 'stop'; id: number };
export type FromContender =
  | { kind: 'ready' }
  | ({ kind: 'measured'; id: number } & Measured)
  | { kind: 'stopped'; id: number; spans: number };

export interface ContenderProcess {
  name: ContenderName;
  measure(
    request: RequestName,
    sizes: { calls: number; concurrency: number; latencyCalls: number },
  ): Promise<Measured>;
  /** Shuts the contender's SDK down and ends the process; resolves to the spans it exported. */
  stop(): Promise<number>;
}

export async function startContender(
  name: ContenderName,
  serverUrl: string,
  transport: Transport,
  warmUpCalls: number,
): Promise<ContenderProcess> {
  const main = fileURLToPath(new URL('./contender-main.ts', import.meta.url));
  const child: ChildProcess = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', main, name, serverUrl, transport, String(warmUpCalls)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const exited = once(child, 'exit');
  const replies = new Map<number, (message: FromContender) => void>();
  let nextId = 0;
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  child.on('message', (message: FromContender) => {
    if (message.kind === 'ready') onReady();
    else replies.get(message.id)?.(message);
  });
  const died = exited.then(([code]) => {
    throw new Error(`overhead: the contender process "${name}" exited (code ${code})`);
  });
  died.catch(() => undefined); // observed through the races below
  await Promise.race([ready, died]);
  const ask = <T extends FromContender>(message: ToContender): Promise<T> =>
    Promise.race([
      new Promise<T>((resolve, reject) => {
        replies.set(message.id, (reply) => {
          replies.delete(message.id);
          resolve(reply as T);
        });
        child.send(message, (error) => error && reject(error));
      }),
      died,
    ]);
  let stopping: Promise<number> | undefined;
  return {
    name,
    async measure(request, sizes) {
      const {
        kind: _kind,
        id: _id,
        ...measured
      } = await ask<FromContender & { kind: 'measured' }>({
        kind: 'measure',
        id: nextId++,
        request,
        ...sizes,
      });
      return measured;
    },
    stop() {
      stopping ??= (async () => {
        const { spans } = await ask<FromContender & { kind: 'stopped' }>({ kind: 'stop', id: nextId++ });
        child.disconnect();
        await exited;
        return spans;
      })();
      return stopping;
    },
  };
}

/**
 * Every contender in a process of its own, warmed up alone to a steady state (a fresh process needs about
 * 10,000 calls before its JIT and heap settle), then measured in turns, the start of the order rotating each
 * round so that no contender always runs first after the others' garbage. Results are keyed
 * `contender: request`, one per round; `spans` is what each contender's SDK exported.
 */
export async function measureInTurns(
  contenders: readonly { name: ContenderName; requests: readonly RequestName[] }[],
  transport: Transport,
  serverUrl: string,
  sizes: { calls: number; rounds: number; concurrency: number; warmUpCalls: number },
): Promise<{ results: Record<string, Measured[]>; spans: Partial<Record<ContenderName, number>> }> {
  // One at a time a call over the loopback shows latency; from memory it would show nothing worth a table.
  const latencyCalls = transport === 'loopback' ? Math.floor(sizes.calls / 8) : 0;
  // A call from memory costs a fifth of one over the loopback: five times as many make a measurement as long.
  const scale = transport === 'memory' ? 5 : 1;
  const processes: { process: ContenderProcess; requests: readonly RequestName[] }[] = [];
  try {
    for (const { name, requests } of contenders) {
      const process = await startContender(name, serverUrl, transport, sizes.warmUpCalls * scale);
      processes.push({ process, requests });
    }
    const results: Record<string, Measured[]> = {};
    for (let round = 0; round < sizes.rounds; round++) {
      for (let i = 0; i < processes.length; i++) {
        const { process, requests } = processes[(i + round) % processes.length] as (typeof processes)[number];
        for (const request of requests) {
          const key = `${process.name}: ${request}`;
          const measured = await process.measure(request, {
            calls: sizes.calls * scale,
            concurrency: sizes.concurrency,
            latencyCalls,
          });
          results[key] = [...(results[key] ?? []), measured];
        }
      }
    }
    const spans: Partial<Record<ContenderName, number>> = {};
    for (const { process } of processes) spans[process.name] = await process.stop();
    return { results, spans };
  } finally {
    await Promise.allSettled(processes.map(({ process }) => process.stop()));
  }
}
