/**
 * npm run bench: every suite in one run, printed as ratios against the bare SDK measured in the same run,
 * then written to BENCHMARKS.md with the machine and versions (the text is bench/lib/benchmarks-md.ts's).
 * `--quick` runs smaller sizes (for a look, not for the record: it does not write BENCHMARKS.md).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { benchmarksReport, withSection } from './lib/benchmarks-md.js';
import { SETUPS } from './lib/scale-plan.js';
import { round } from './lib/stats.js';
import { runBreakdown } from './suites/breakdown.js';
import { runChurn } from './suites/churn.js';
import { runInstructions } from './suites/instructions.js';
import { runMemory } from './suites/memory.js';
import { runOverhead } from './suites/overhead.js';
import { runProfile } from './suites/profile.js';
import { runRecovery } from './suites/recovery.js';
import { runScale } from './suites/scale.js';
import { runStorm } from './suites/storm.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    // The instruction-count suite keeps its dumps there, with JavaScript names, for callgrind_annotate.
    'callgrind-dir': { type: 'string' },
    // With `--only instructions` or `--only scale`: write that section alone into BENCHMARKS.md, with the date
    // and machine it was measured on, and leave the other sections as the last full run wrote them.
    'write-section': { type: 'boolean', default: false },
  },
});
const quick = values.quick ?? false;
const INSTRUCTION_SIZES = {
  warmUpCalls: 2_000,
  settleCalls: 300,
  shortCalls: 200,
  calls: 600,
  sections: 1,
  streamWarmUpCalls: 20,
  streamSettleCalls: 2,
  streamCalls: 3,
  concurrency: 16,
  runs: 3,
  parallel: 2,
};
// `--only overhead` (or another suite): that suite alone, printed and never written to BENCHMARKS.md.
const only = values.only;
const wanted = (suite: string) => only === undefined || only === suite;
const sizes = quick
  ? {
      instructions: {
        warmUpCalls: 1_000,
        settleCalls: 200,
        shortCalls: 100,
        calls: 300,
        sections: 1,
        streamWarmUpCalls: 10,
        streamSettleCalls: 2,
        streamCalls: 4,
        concurrency: 16,
        runs: 1,
        parallel: 2,
      },
      scale: { sizes: [1_000], timeoutMs: 30_000, warmUpCalls: 1_000, runs: 1 },
      overhead: { calls: 1_000, rounds: 4, concurrency: 16, warmUpCalls: 2_000, runs: 1 },
      breakdown: { calls: 1_000, rounds: 4, concurrency: 16, warmUpCalls: 2_000 },
      profile: { calls: 3_000, concurrency: 16, top: 15 },
      recovery: { calls: 50, builtInCalls: 2, cacheSize: 200 },
      churn: { calls: 2_000, rounds: 3 },
      memory: { warmupCalls: 2_000, calls: 10_000, sampleEvery: 1_000 },
      storm: { stormMs: 3_000, afterMs: 6_000, callsPerSecond: 500 },
    }
  : {
      instructions: INSTRUCTION_SIZES,
      scale: { sizes: [1_000, 5_000], timeoutMs: 60_000, warmUpCalls: 2_000, runs: 3 },
      overhead: { calls: 2_000, rounds: 10, concurrency: 16, warmUpCalls: 10_000, runs: 3 },
      breakdown: { calls: 10_000, rounds: 6, concurrency: 16, warmUpCalls: 10_000 },
      profile: { calls: 10_000, concurrency: 16, top: 15 },
      recovery: { calls: 500, builtInCalls: 5, cacheSize: 200 },
      churn: { calls: 20_000, rounds: 5 },
      memory: { warmupCalls: 50_000, calls: 300_000, sampleEvery: 10_000 },
      storm: { stormMs: 10_000, afterMs: 6_000, callsPerSecond: 500 },
    };

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);
const version = (pkg: string) =>
  (
    JSON.parse(readFileSync(new URL(`../node_modules/${pkg}/package.json`, import.meta.url), 'utf8')) as {
      version: string;
    }
  ).version;

async function suite<T>(name: string, note: string, run: () => Promise<T>): Promise<T | undefined> {
  if (!wanted(name)) return undefined;
  log(`${name}${note}`);
  return run();
}
const instructions = await suite('instructions', ' (callgrind: several minutes)', () =>
  runInstructions({ ...sizes.instructions, keepDir: values['callgrind-dir'] }, log),
);
// The suite runs whole several times: its tables are the first run's, and the ratios are shown for every run.
const overheadRuns = await suite(
  'overhead',
  ` (${sizes.overhead.runs} runs, about five minutes each)`,
  async () => {
    const runs = [];
    for (let run = 0; run < sizes.overhead.runs; run++) runs.push(await runOverhead(sizes.overhead));
    return runs;
  },
);
const breakdown = await suite('breakdown', ' (about three minutes)', () => runBreakdown(sizes.breakdown));
const profile = await suite('profile', '', () => runProfile(sizes.profile));
const recovery = await suite('recovery', '', () => runRecovery(sizes.recovery));
const churn = await suite('churn', ' (a few minutes)', () => runChurn(sizes.churn));
const memory = await suite('memory', ' (several minutes)', () => runMemory(sizes.memory));
const storm = await suite('storm', '', () => runStorm(sizes.storm));
const scale = await suite('scale', ` (${sizes.scale.runs} runs of a few minutes)`, () =>
  runScale({ ...sizes.scale, setups: SETUPS, log }),
);

const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${round(totalmem() / 1024 ** 3, 0)} GiB, Linux ${release()}`;
const versions = `Node ${process.version}; openai ${version('openai')}; openai 6 ${version('openai6')}; @opentelemetry/sdk-trace ${version('@opentelemetry/sdk-trace')}; @opentelemetry/sdk-metrics ${version('@opentelemetry/sdk-metrics')}; @opentelemetry/instrumentation-openai ${version('@opentelemetry/instrumentation-openai')}; undici ${version('undici')}`;
const provenance = { date: new Date().toISOString().slice(0, 10), machine, versions };
const report = benchmarksReport(
  {
    instructions,
    overhead: overheadRuns && { runs: overheadRuns, sizes: sizes.overhead },
    breakdown,
    profile,
    recovery,
    churn,
    memory: wanted('memory') ? (memory ?? null) : undefined,
    storm,
    scale,
  },
  provenance,
);
console.log(report);
const benchmarksMd = new URL('../BENCHMARKS.md', import.meta.url);
if (values['write-section']) {
  const section =
    only === 'instructions' && instructions
      ? ({ suite: only, result: instructions } as const)
      : only === 'scale' && scale
        ? ({ suite: only, result: scale } as const)
        : undefined;
  if (!section || quick)
    throw new Error('bench: --write-section goes with --only instructions or --only scale (and not --quick)');
  writeFileSync(benchmarksMd, withSection(readFileSync(benchmarksMd, 'utf8'), section, provenance));
  log(`wrote the ${only} section of BENCHMARKS.md`);
} else if (quick || only) log(`${only ? `--only ${only}` : '--quick'}: BENCHMARKS.md not written`);
else {
  writeFileSync(benchmarksMd, report);
  log('wrote BENCHMARKS.md');
}
