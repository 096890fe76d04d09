/**
 * The child side of the instruction-count suite (bench/suites/instructions.ts), run under callgrind: one
 * contender of the overhead suite (contenders.ts) from memory, warmed up alone, then each request's
 * measured calls bracketed by two markers. The marker is `os.getPriority()`, the only caller of libuv's
 * `uv_os_getpriority`; callgrind runs with `--dump-before=uv_os_getpriority`, so what ran since the last
 * marker lands in a profile dump of its own: dump 2k (counted from 1) holds the k-th count of measured
 * calls and nothing else, the odd dumps the start, the warm-up and the collections between counts.
 *
 * Callgrind starts with its instrumentation off (`--instr-atstart=no`), so start-up and warm-up run at the
 * speed of a plain valgrind, several times faster: then this process writes `warm` on stdout, the parent
 * turns the instrumentation on (`callgrind_control -i on`) and answers `go` on stdin.
 *
 * argv[2] is the JSON plan below. Nothing goes back but the dumps.
 */
import { once } from 'node:events';
import { getPriority } from 'node:os';
import { buildContender, type ContenderName, type RequestName } from './contenders.js';
import { inParallel } from './drive.js';

export interface InstructionPlan {
  contender: ContenderName;
  serverUrl: string;
  concurrency: number;
  /** Each request's measured calls come in this many sections, each one dump per entry of its `counts`. */
  sections: number;
  /**
   * In order: each request's warm-up calls, then its measured sections: each section one count (one dump)
   * of each of `counts` calls, every count straight after a scavenge. No counts: warmed up only, so
   * that the requests counted run in a process shaped by the same mix as their base's.
   */
  requests: { request: RequestName; warmUpCalls: number; settleCalls: number; counts: number[] }[];
}

const plan = JSON.parse(process.argv[2] ?? '{}') as InstructionPlan;
const contender = await buildContender(plan.contender, plan.serverUrl, 'memory', 'none');
const mark = () => getPriority();

// Warm up every request first, as contender-main does, so each one's code is compiled beside the others'.
for (const { request, warmUpCalls } of plan.requests)
  await inParallel(contender.call[request], warmUpCalls, plan.concurrency);
process.stdout.write('warm\n');
await once(process.stdin, 'data');
process.stdin.destroy();
// Then a few more, instrumented: with V8's default heuristics, which pace collections by measured speeds, the
// counts straight after a warm-up at plain valgrind's speed varied by 20 % from section to section. The suite
// now fixes the schedule (--predictable-gc-schedule); whether these calls are still needed was not measured.
for (const { request, settleCalls } of plan.requests)
  await inParallel(contender.call[request], settleCalls, plan.concurrency);
for (const { request, counts } of plan.requests) {
  for (let section = 0; section < plan.sections; section++) {
    for (const calls of counts) {
      // From an empty young generation each time, so each count holds the same scavenges. Never a full
      // collection: with no request in flight it frees the maps of the calls' objects, and V8 deoptimizes the
      // code that embedded them (200 functions for bare openai-node, undici's Headers and openai's
      // buildHeaders among them), which the calls after it ran below their tier until compiled again: a
      // count straight after one came 200k to 330k instructions per chat call higher, by a share not the same
      // for two contenders. The suite sizes the old space so that no full collection runs at all.
      globalThis.gc?.({ type: 'minor' });
      mark();
      await inParallel(contender.call[request], calls, plan.concurrency);
      mark();
    }
  }
}
await contender.shutdown();
process.exit(0); // a periodic metric reader or an idle socket would keep it up
