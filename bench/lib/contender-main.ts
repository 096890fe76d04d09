/**
 * The child side of contender-process.ts: one overhead contender in a process of its own. argv[2] is the
 * contender's name, argv[3] the mock server's base URL, argv[4] the transport, argv[5] the warm-up calls per
 * request. It warms up, says `ready`, then runs each measurement the parent asks for and replies with what it
 * measured.
 */

import type { FromContender, ToContender } from './contender-process.js';
import { buildContender, type ContenderName, REQUESTS, type Transport } from './contenders.js';
import { inParallel } from './drive.js';

const send = (message: FromContender) => process.send?.(message);
const [name, serverUrl = '', transport, warmUp] = process.argv.slice(2);
const contender = await buildContender(name as ContenderName, serverUrl, transport as Transport);

type Call = () => Promise<unknown>;

/** Calls per second at `concurrency`, and the process's and main thread's CPU time per call (µs). */
async function throughput(call: Call, calls: number, concurrency: number) {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const thread = process.threadCpuUsage();
  await inParallel(call, calls, concurrency);
  const usedThread = process.threadCpuUsage(thread);
  const used = process.cpuUsage(cpu);
  return {
    cps: calls / ((performance.now() - started) / 1000),
    cpuUs: (used.user + used.system) / calls,
    threadCpuUs: (usedThread.user + usedThread.system) / calls,
  };
}

async function latencies(call: Call, calls: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await call();
    out.push((performance.now() - t0) * 1000);
  }
  return out;
}

process.on('message', (message: ToContender) => {
  void (async () => {
    if (message.kind === 'stop') {
      const spans = contender.spans();
      await contender.shutdown();
      send({ kind: 'stopped', id: message.id, spans });
      return;
    }
    const call = contender.call[message.request];
    // From the same heap each time: a major collection owed to earlier garbage would land in this figure.
    globalThis.gc?.();
    const measured = await throughput(call, message.calls, message.concurrency);
    send({
      kind: 'measured',
      id: message.id,
      ...measured,
      latenciesUs: await latencies(call, message.latencyCalls),
    });
  })();
});
// The parent is gone (crashed or killed): nothing will ask this process for anything again.
process.on('disconnect', () => process.exit(0));

for (const request of REQUESTS) await throughput(contender.call[request], Number(warmUp), 16);
send({ kind: 'ready' });
