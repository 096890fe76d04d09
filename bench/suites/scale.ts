/**
 * Scale: 1,000 and 5,000 calls in flight at once, each answer held 200 ms by the server, through bare
 * openai-node 7, resilient-chat over one client (and without each OpenTelemetry signal, to see which costs
 * the event loop), and resilient-chat over ClientPool with its default and with the old default of 10
 * connections. Per setup and size, in a process of its own (bench/lib/scale-main.ts): retained heap per call
 * in flight, time until all are done, event-loop delay while they run, sockets, main-thread CPU.
 *
 * Each setup runs `runs` times, the runs interleaved (every setup once, then again), so a machine that gets
 * busier part-way through weighs on every setup alike. One run cannot resolve the event-loop delay: its p99
 * over a run of about 1.5 s is the length of its three or four longest turns (the turn in which undici writes
 * the requests out, the turns in which a few hundred answers complete at once), and on a shared 2-core machine
 * the same setup's p99 moved from 80 to 185 ms between runs.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { ScaleResult } from '../lib/results.js';
import { HOLD_MS, type ScaleMeasured, type ScalePlan, type Setup } from '../lib/scale-plan.js';

const MAIN = fileURLToPath(new URL('../lib/scale-main.ts', import.meta.url));

async function measureOne(plan: ScalePlan): Promise<ScaleMeasured> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', MAIN, JSON.stringify(plan)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  const [measured] = (await Promise.race([
    once(child, 'message'),
    exited.then(([code]) => {
      throw new Error(`scale: the process of "${plan.setup}" exited (code ${code}) before it reported`);
    }),
  ])) as [ScaleMeasured];
  await exited;
  return measured;
}

export async function runScale(options: {
  sizes: readonly number[];
  setups: readonly Setup[];
  timeoutMs: number;
  warmUpCalls: number;
  runs: number;
  log?: (message: string) => void;
}): Promise<ScaleResult> {
  const runs: ScaleMeasured[] = [];
  for (let run = 1; run <= options.runs; run++) {
    for (const inFlight of options.sizes) {
      for (const setup of options.setups) {
        options.log?.(`scale: ${setup}, ${inFlight} in flight (run ${run} of ${options.runs})`);
        runs.push(
          await measureOne({
            setup,
            inFlight,
            timeoutMs: options.timeoutMs,
            warmUpCalls: options.warmUpCalls,
          }),
        );
      }
    }
  }
  return { holdMs: HOLD_MS, timeoutMs: options.timeoutMs, runs };
}
