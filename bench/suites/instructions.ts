/**
 * Instructions per call: what each contender of the overhead suite (bench/lib/contenders.ts) executes on its
 * main thread per call, counted by valgrind's callgrind. An instruction count does not depend on what else
 * runs on the machine, so it is the figure that can be compared across runs on a busy machine; CPU time is
 * not (`perf stat -e instructions` would be quicker, but needs hardware counters that virtual machines like
 * this one often do not expose: "<not supported>").
 *
 * Each contender runs from memory (no socket) in a process of its own under callgrind
 * (bench/lib/instructions-main.ts): warmed up with the instrumentation off, then each request's measured
 * calls bracketed by markers that make callgrind dump what ran between them. The whole thing runs `runs`
 * times, each run a fresh set of processes, for a spread. Streams are measured long (1,000 content chunks)
 * and short (990 fewer): their difference over 990 is what one chunk costs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ANSWERING_SERVER } from '../../test/support/answering-server.js';
import { startServerProcess } from '../../test/support/server-process.js';
import { nameJitCode } from '../lib/callgrind-names.js';
import {
  BARE_6,
  BARE_7,
  type ContenderName,
  FACADE_FLOOR,
  OURS,
  OURS_EVERYTHING,
  OURS_FULL,
  OURS_METRICS,
  OURS_NO_SDK,
  OURS_TRACING,
  PEER,
  PEER_METRICS,
  PEER_ON_7,
  type RequestName,
  STREAM_CHUNKS,
  STREAM_CHUNKS_DROPPED,
} from '../lib/contenders.js';
import type { InstructionPlan } from '../lib/instructions-main.js';
import type {
  ChunkRow,
  InstructionRow,
  InstructionSizes,
  InstructionStep,
  InstructionsResult,
  PeerRatio,
  RunSpread,
} from '../lib/results.js';
import { quantile } from '../lib/stats.js';
import { STEPS } from './breakdown.js';

const JSON_REQUESTS = ['chat', 'responses', 'embeddings', 'models.list'] as const satisfies RequestName[];
const STREAMS = [
  'chat stream',
  'chat stream (short)',
  'responses stream',
  'responses stream (short)',
] as const satisfies RequestName[];
/** What each contender is counted on (the instrumentation has nothing to say about models.list). */
const PLAN: readonly (readonly [ContenderName, readonly RequestName[]])[] = [
  [BARE_7, [...JSON_REQUESTS, ...STREAMS]],
  [BARE_6, ['chat', 'responses', 'embeddings']],
  [PEER, ['chat', 'responses', 'embeddings']],
  [PEER_ON_7, ['chat', 'responses', 'embeddings']],
  [OURS, [...JSON_REQUESTS, ...STREAMS]],
  [OURS_FULL, [...JSON_REQUESTS, 'chat stream', 'chat stream (short)']],
  [OURS_EVERYTHING, ['chat', 'responses', 'embeddings']],
  // Streams without metrics: what the relay and the accumulator add per chunk apart from the
  // `time_per_output_chunk` histogram point that the lean contender records for every chunk.
  [OURS_TRACING, ['chat', ...STREAMS]],
  // The breakdown suite's steps (bench/suites/breakdown.ts), on chat: where the added instructions go.
  [FACADE_FLOOR, ['chat']],
  [OURS_NO_SDK, ['chat']],
  [OURS_METRICS, ['chat']],
  [PEER_METRICS, ['chat']],
];
const BASE: Partial<Record<ContenderName, ContenderName>> = {
  [PEER]: BARE_6,
  [PEER_ON_7]: BARE_7,
  [OURS]: BARE_7,
  [OURS_FULL]: BARE_7,
  [OURS_EVERYTHING]: BARE_7,
  [OURS_TRACING]: BARE_7,
  [FACADE_FLOOR]: BARE_7,
  [OURS_NO_SDK]: BARE_7,
  [OURS_METRICS]: BARE_7,
  [PEER_METRICS]: BARE_6,
};
/** [ours, against]: the ratio of the instructions each adds to its own bare SDK. */
const RATIOS: readonly (readonly [ContenderName, ContenderName])[] = [
  [OURS, PEER],
  [OURS_FULL, PEER],
  [OURS_EVERYTHING, PEER],
  [OURS, PEER_ON_7],
  [OURS_FULL, PEER_ON_7],
  [OURS_EVERYTHING, PEER_ON_7],
];

const MAIN = fileURLToPath(new URL('../lib/instructions-main.ts', import.meta.url));
const isStream = (request: RequestName) => request.includes('stream');

/** valgrind's version, or an error that says how to get it. */
function valgrindVersion(): string {
  const found = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  if (found.error || found.status !== 0)
    throw new Error('instructions: valgrind is not installed (apt-get install valgrind)');
  return found.stdout.trim();
}

/** A counted section: instructions per call (compilation left out), and how many of them collected garbage. */
export interface Section {
  perCall: number;
  gcPerCall: number;
}

/**
 * What a contender is warmed up on besides its own requests (`countOne` adds those): the whole mix of
 * requests that its bare SDK is counted on.
 * Which requests a process has run shapes what each one costs: the SDK's call sites turn polymorphic when
 * several requests go through them (in one process, resilient-chat's chat code counted the same with chat
 * alone as in the mix, bare openai 7's 22k less per call alone). So a layer counted on chat alone, against a
 * base counted in the mix, was charged that difference. (Both figures are from when the suite forced a full
 * collection before each count, which also moved a layer's difference by about 20k per call between
 * processes; with none, three processes of each contender counted chat within 0.3 %.)
 */
function mixOf(contender: ContenderName): readonly RequestName[] {
  const base = BASE[contender];
  return PLAN.find(([name]) => name === base)?.[1] ?? [];
}

/**
 * One contender's process under callgrind; resolves to its instructions per call, by request. `mix`: what
 * it is warmed up on (`requests` and the rest of `mix`, in `mix`'s order); only `requests` are counted.
 */
export async function countOne(
  contender: ContenderName,
  requests: readonly RequestName[],
  serverUrl: string,
  sizes: InstructionSizes,
  mix: readonly RequestName[] = requests,
): Promise<Map<RequestName, Section[]>> {
  const dir = mkdtempSync(join(tmpdir(), 'rc-callgrind-'));
  const plan: InstructionPlan = {
    contender,
    serverUrl,
    concurrency: sizes.concurrency,
    sections: sizes.sections,
    requests: [...new Set([...mix, ...requests])].map((request) => ({
      request,
      warmUpCalls: isStream(request) ? sizes.streamWarmUpCalls : sizes.warmUpCalls,
      settleCalls: isStream(request) ? sizes.streamSettleCalls : sizes.settleCalls,
      // A stream's chunks are counted as a long stream less a short one, so its count needs no pair.
      counts: !requests.includes(request)
        ? []
        : isStream(request)
          ? [sizes.streamCalls]
          : [sizes.shortCalls, sizes.calls],
    })),
  };
  try {
    const child = spawn(
      'valgrind',
      [
        '--tool=callgrind',
        '-q',
        '--instr-atstart=no',
        '--dump-before=uv_os_getpriority',
        '--separate-threads=yes', // thread 1 is the main thread: with REPEATABLE_V8, where all of V8's work runs
        `--callgrind-out-file=${join(dir, 'cg.%p')}`,
        process.execPath,
        ...REPEATABLE_V8,
        ...(sizes.nodeFlags ?? []),
        ...(sizes.keepDir ? ['--perf-basic-prof', '--interpreted-frames-native-stack'] : []),
        '--expose-gc',
        '--import',
        'tsx',
        MAIN,
        JSON.stringify(plan),
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const exited = once(child, 'exit');
    const lines = createInterface({ input: child.stdout });
    for await (const line of lines) {
      if (line !== 'warm') continue;
      const on = spawnSync('callgrind_control', ['-i', 'on', String(child.pid)], { encoding: 'utf8' });
      if (on.status !== 0) throw new Error(`instructions: callgrind_control failed: ${on.stderr}`);
      child.stdin.end('go\n');
    }
    const [code] = await exited;
    if (code !== 0) throw new Error(`instructions: the process of "${contender}" exited with code ${code}`);
    if (sizes.keepDir) keepDumps(dir, sizes.keepDir, child.pid ?? 0, contender, plan);
    const summaries = new Map<number, number>();
    const collections = new Map<number, number>();
    for (const file of readdirSync(dir)) {
      // cg.<pid>.<part>-<thread>: one file per dump and thread.
      const match = /^cg\.\d+\.(\d+)-01$/.exec(file);
      if (!match) continue;
      const part = Number(match[1]);
      if (part % 2 !== 0) continue; // the odd dumps are the start, the warm-up and what ran between sections
      const summary = /^summary: (\d+)$/m.exec(readFileSync(join(dir, file), 'utf8'));
      if (!summary) continue;
      const { jit, gc } = runtimeInstructions(join(dir, file));
      summaries.set(part, Number(summary[1]) - jit);
      collections.set(part, gc);
    }
    let part = 0; // the dumps of the counts, in order: 2, 4, 6...
    const next = (request: RequestName): [number, number] => {
      part += 2;
      const counted = summaries.get(part);
      if (counted === undefined) throw new Error(`instructions: no dump for ${contender}: ${request}`);
      return [counted, collections.get(part) ?? 0];
    };
    return new Map(
      counted(plan).map(({ request, counts }) => {
        const sections = Array.from({ length: sizes.sections }, (): Section => {
          const counted = counts.map(() => next(request));
          const [[instructions, gc]] = counted as [[number, number]];
          const short = counts[0] as number;
          if (counted.length === 1) return { perCall: instructions / short, gcPerCall: gc / short };
          // The collector's work over all the section's calls: it comes in whole scavenges, which a
          // difference of two counts would turn into steps of one scavenge over the calls between them.
          const [, [longInstructions, longGc]] = counted as [[number, number], [number, number]];
          const long = counts[1] as number;
          const gcPerCall = (gc + longGc) / (short + long);
          // The rest, as the long count less the short one: what the calls cost past the start both share.
          const code = (longInstructions - longGc - (instructions - gc)) / (long - short);
          return { perCall: code + gcPerCall, gcPerCall };
        });
        return [request, sections];
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * V8 as one deterministic thread: every collection and compilation on the main thread, the heap grown by a
 * fixed schedule rather than by measured speeds, and fixed seeds for hashing and Math.random. With V8's
 * defaults the same process counted sections 14 % apart and runs up to 120 % apart in what a layer added:
 * how much of the collector's work the main thread did, and when a background compile was installed,
 * followed the thread scheduling and the speeds V8 measured. Like this, two processes count the same
 * section within 0.2 %.
 *
 * And an old space large enough that no full collection runs in the process (the heaviest contender's ends
 * at about 120 MB): a full collection with no call in flight frees the maps of the calls' objects and
 * deoptimizes the code that embedded them (see instructions-main.ts), and its incremental marking, once
 * started, makes every write in the counted code take the slow barrier. Where one landed in a count, the
 * same contender's chat moved by 25 % from one process to the next. `runtimeInstructions` checks that none did.
 */
const REPEATABLE_V8 = [
  '--single-threaded',
  '--predictable-gc-schedule',
  '--hash-seed=1',
  '--random-seed=1',
  '--initial-old-space-size=1024',
];

/**
 * V8's runtime entries that compile (Maglev, Turbofan, baseline, lazily) or deoptimize: a one-time cost
 * that, on one thread, lands in whichever section V8 tiers a function up in (thousands of calls after the
 * warm-up, a few functions still do: 30 M instructions in one section of 200 calls, none in the next).
 */
const JIT_ENTRY =
  /^\s*([\d,]+) .*v8::internal::Runtime_(?:Compile\w*|Optimize\w*|InstallBaselineCode|InstallSFICode|NotifyDeoptimized|HealOptimizedCodeSlot)\(/;

/** V8's collections: every scavenge (and full collection) goes through it, with all it calls. */
const GC_ENTRY = /^\s*([\d,]+) .*v8::internal::Heap::CollectGarbage\(v8::internal::AllocationSpace/;

/** A full collection's work, marking included: what REPEATABLE_V8 keeps out of the process. */
const FULL_COLLECTION = / v8::internal::(?:IncrementalMarking|MarkCompactCollector)::/;

/**
 * What a dump spent compiling (left out) and collecting garbage (counted, and shown apart), each inclusive of
 * what its entries called, from `callgrind_annotate --inclusive=yes`.
 * Throws on a full collection's work, which REPEATABLE_V8 is meant to keep out.
 */
function runtimeInstructions(file: string): { jit: number; gc: number } {
  const annotated = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', file], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (annotated.status !== 0) throw new Error(`instructions: callgrind_annotate failed: ${annotated.stderr}`);
  let jit = 0;
  let gc = 0;
  const count = (found: RegExpExecArray) => Number((found[1] as string).replaceAll(',', ''));
  for (const line of annotated.stdout.split('\n')) {
    if (FULL_COLLECTION.test(line))
      throw new Error(
        `instructions: a full collection ran in a count (${file}); raise --initial-old-space-size in REPEATABLE_V8`,
      );
    const compiled = JIT_ENTRY.exec(line);
    if (compiled) jit += count(compiled);
    // The first line is the outermost frame (callgrind_annotate sorts by inclusive cost, and several inlined
    // frames of CollectGarbage carry the same name): count it once.
    else if (gc === 0) {
      const collected = GC_ENTRY.exec(line);
      if (collected) gc = count(collected);
    }
  }
  return { jit, gc };
}

/** The plan's counted requests, in the order of their dumps (the others are only warmed up). */
const counted = (plan: InstructionPlan) => plan.requests.filter(({ counts }) => counts.length > 0);

/** Copies the counted sections' dumps to `keepDir` as `<contender>, <request>, <section>.callgrind`, named. */
function keepDumps(
  dir: string,
  keepDir: string,
  pid: number,
  contender: string,
  plan: InstructionPlan,
): void {
  mkdirSync(keepDir, { recursive: true });
  const perfMap = `/tmp/perf-${pid}.map`;
  let part = 0;
  for (const { request, counts } of counted(plan)) {
    for (let j = 0; j < plan.sections; j++) {
      part += 2 * counts.length; // the section's last count: its longest
      const to = join(keepDir, `${contender}, ${request}, ${j + 1}.callgrind`.replace(/[/ ]+/g, '_'));
      copyFileSync(join(dir, `cg.${pid}.${part}-01`), to);
      if (existsSync(perfMap)) nameJitCode(to, perfMap);
    }
  }
  rmSync(perfMap, { force: true });
}

/** Runs `tasks` with at most `parallel` at a time, results in order. */
async function pooled<T>(tasks: (() => Promise<T>)[], parallel: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, tasks.length) }, async () => {
      for (let i = next++; i < tasks.length; i = next++) results[i] = await (tasks[i] as () => Promise<T>)();
    }),
  );
  return results;
}

/** Run by run, `a` less `b` (each run's figures come from the same run's processes). */
const minus = (a: number[], b: number[]): number[] => a.map((v, i) => v - (b[i] as number));

function runSpread(runs: number[]): RunSpread {
  const median = quantile(runs, 0.5);
  return { runs, median, spread: (Math.max(...runs) - Math.min(...runs)) / Math.abs(median) };
}

export async function runInstructions(
  sizes: InstructionSizes,
  log: (message: string) => void = () => undefined,
): Promise<InstructionsResult> {
  const valgrind = valgrindVersion();
  const server = await startServerProcess({ behaviour: ANSWERING_SERVER, config: { chunks: STREAM_CHUNKS } });
  try {
    // counts[run][contender] = instructions per call by request, in each section
    const counts: Map<ContenderName, Map<RequestName, Section[]>>[] = [];
    for (let run = 0; run < sizes.runs; run++) {
      const started = performance.now();
      const results = await pooled(
        PLAN.map(
          ([contender, requests]) =>
            () =>
              countOne(contender, requests, server.url, sizes, mixOf(contender)),
        ),
        sizes.parallel,
      );
      counts.push(
        new Map(PLAN.map(([contender], i) => [contender, results[i] as Map<RequestName, Section[]>])),
      );
      log(
        `instructions: run ${run + 1} of ${sizes.runs} in ${Math.round((performance.now() - started) / 1000)} s`,
      );
    }
    const perRun = (
      contender: ContenderName,
      request: RequestName,
      figure: keyof Section = 'perCall',
    ): number[] =>
      counts.map((run) => {
        const sections = run.get(contender)?.get(request);
        if (!sections) throw new Error(`instructions: nothing counted for ${contender}: ${request}`);
        // Every counted call: a section that holds a scavenge more than the next is part of the cost too.
        return sections.reduce((a, b) => a + b[figure], 0) / sections.length;
      });
    const addedRuns = (contender: ContenderName, request: RequestName): number[] | undefined => {
      const base = BASE[contender];
      if (!base) return undefined;
      return minus(perRun(contender, request), perRun(base, request));
    };
    /** Per run, what `contender` adds over its bare SDK, the collector's share left out of both. */
    const addedCode = (contender: ContenderName, request: RequestName): number[] => {
      const base = BASE[contender];
      if (!base) throw new Error(`instructions: ${contender} has no bare SDK to be counted against`);
      const code = (who: ContenderName) => minus(perRun(who, request), perRun(who, request, 'gcPerCall'));
      return minus(code(contender), code(base));
    };
    const over = (a: number[], b: number[]) => a.map((v, i) => v / (b[i] as number));
    const rows: InstructionRow[] = PLAN.flatMap(([contender, requests]) =>
      requests
        .filter((request) => !isStream(request))
        .map((request) => {
          const added = addedRuns(contender, request);
          return {
            contender,
            request,
            perCall: runSpread(perRun(contender, request)),
            gcPerCall: runSpread(perRun(contender, request, 'gcPerCall')),
            added: added && runSpread(added),
            base: BASE[contender],
          };
        }),
    );
    const ratios: PeerRatio[] = RATIOS.flatMap(([ours, peer]) =>
      (['chat', 'responses', 'embeddings'] as const)
        .filter((request) => PLAN.find(([c]) => c === ours)?.[1].includes(request))
        .map((request) => {
          return {
            ours,
            peer,
            request,
            ratio: runSpread(over(addedRuns(ours, request) ?? [], addedRuns(peer, request) ?? [])),
            codeRatio: runSpread(over(addedCode(ours, request), addedCode(peer, request))),
          };
        }),
    );
    const chunkRuns = (contender: ContenderName, stream: 'chat' | 'responses') => {
      const long = perRun(contender, `${stream} stream`);
      const short = perRun(contender, `${stream} stream (short)`);
      return minus(long, short).map((v) => v / STREAM_CHUNKS_DROPPED);
    };
    const chunks: ChunkRow[] = PLAN.flatMap(([contender, requests]) =>
      (['chat', 'responses'] as const)
        .filter((stream) => requests.includes(`${stream} stream (short)`))
        .map((stream) => {
          const mine = chunkRuns(contender, stream);
          const bare = chunkRuns(BARE_7, stream);
          const added = contender === BARE_7 ? undefined : minus(mine, bare);
          return {
            contender,
            stream,
            perChunk: runSpread(mine),
            added: added && runSpread(added),
            addedShare: added && runSpread(added.map((v, i) => v / (bare[i] as number))),
          };
        }),
    );
    const steps: InstructionStep[] = STEPS.map(([who, step, layer, base]) => ({
      who,
      step,
      added: runSpread(minus(perRun(layer, 'chat'), perRun(base, 'chat'))),
    }));
    return {
      sizes,
      valgrind,
      rows,
      ratios,
      chunks,
      steps,
    };
  } finally {
    await server.stop();
  }
}
