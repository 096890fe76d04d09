/**
 * BENCHMARKS.md from the suites' results: the whole file after a full run, or one section alone (the
 * instruction counts, or the scale suite), put in place of the one there (`--only <suite> --write-section`). Text only: bench/run.ts
 * runs the suites, says when and on what machine, and writes the file.
 */
import { STREAM_CHUNKS, STREAM_CHUNKS_DROPPED } from './contenders.js';
import type {
  BreakdownResult,
  ChurnResult,
  InstructionsResult,
  MemoryResult,
  OverheadResult,
  ProfileResult,
  RecoveryResult,
  RunSpread,
  ScaleResult,
  Spread,
  StormResult,
} from './results.js';
import type { ScaleMeasured, Setup } from './scale-plan.js';
import { formatMs, quantile, round, spread, table } from './stats.js';

/** What the scale section compares each setup's event-loop delay with. */
const SCALE_BARE: Setup = 'openai 7 (bare)';

/** When and on what the figures were measured. */
export interface Provenance {
  /** YYYY-MM-DD. */
  date: string;
  machine: string;
  versions: string;
}

/** The overhead suite's sizes that its section states. */
export interface OverheadSizes {
  concurrency: number;
  calls: number;
  warmUpCalls: number;
}

/** What a run measured; a suite that did not run is absent. */
export interface BenchResults {
  instructions?: InstructionsResult;
  /** The overhead suite runs whole several times; its tables are the first run's. */
  overhead?: { runs: OverheadResult[]; sizes: OverheadSizes };
  breakdown?: BreakdownResult;
  profile?: ProfileResult;
  recovery?: RecoveryResult;
  churn?: ChurnResult;
  /** `null`: the suite ran but could not measure (node without --expose-gc). */
  memory?: MemoryResult | null;
  storm?: StormResult;
  scale?: ScaleResult;
}

const us = (v: number) => `${Math.round(v)} µs`;
const us1 = (v: number) => `${round(v, 1)} µs`;
const pct = (v: number) => `${round(v * 100, 1)} %`;
const ratio = (v: number) => (Number.isFinite(v) ? `${round(v, 3)}` : 'unbounded');
const mb = (bytes: number) => bytes / 1024 / 1024;
const spreadOf = (s: Spread, f: (v: number) => string) => `${f(s.median)} (${f(s.min)} to ${f(s.max)})`;

/** The whole of BENCHMARKS.md. */
export function benchmarksReport(results: BenchResults, run: Provenance): string {
  const sections = [
    results.instructions && instructionsSection(results.instructions),
    results.overhead && overheadSection(results.overhead.runs, results.overhead.sizes),
    results.breakdown && breakdownSection(results.breakdown),
    results.profile && profileSection(results.profile),
    results.recovery && recoverySection(results.recovery),
    results.churn && churnSection(results.churn),
    results.memory !== undefined && memorySection(results.memory),
    results.storm && stormSection(results.storm),
    results.scale && scaleSection(results.scale),
  ].filter((section): section is string => typeof section === 'string');
  return `# Benchmarks

Measured by \`npm run bench\` on ${run.date}.
Machine: ${run.machine}. ${run.versions}.
Every comparison was measured in the same run. Loopback numbers on a 2-core machine are noisy: read ratios, not absolutes.

${sections.join('\n\n')}
`;
}

/** The sections `--write-section` can write alone, by the `--only` suite that measures them. */
export type SectionResults =
  | { suite: 'instructions'; result: InstructionsResult }
  | { suite: 'scale'; result: ScaleResult };

/**
 * `current` (BENCHMARKS.md as it is) with one section in place of the one there (the instruction counts, when
 * there is none, go first: they lead the file; any other, last), saying when and on what it was measured; the
 * other sections stay as they were.
 */
export function withSection(current: string, results: SectionResults, run: Provenance): string {
  const text =
    results.suite === 'instructions' ? instructionsSection(results.result) : scaleSection(results.result);
  const [title = '', body = ''] = text.split(/\n\n(.*)/s);
  const section = `${title}\n\nMeasured by \`npm run bench -- --only ${results.suite} --write-section\` on ${run.date}, apart from the other sections. Machine: ${run.machine}. ${run.versions}.\n\n${body}`;
  // The title up to its first parenthesis: the scale section's names the hold time, which may change.
  const heading = `\n${title.split(' (')[0]}`;
  const start = current.indexOf(heading);
  if (start >= 0) {
    const end = current.indexOf('\n## ', start + 1);
    return `${current.slice(0, start + 1)}${section}\n${end >= 0 ? current.slice(end) : ''}`;
  }
  if (results.suite !== 'instructions') return `${current.trimEnd()}\n\n${section}\n`;
  const first = current.indexOf('\n## ');
  return `${current.slice(0, first + 1)}${section}\n${current.slice(first)}`;
}

/** The instruction-count section, the headline of BENCHMARKS.md. */
function instructionsSection(r: InstructionsResult): string {
  const count = (v: number) => Math.round(v).toLocaleString('en');
  const k = (v: number) => `${round(v / 1000, 1)}k`;
  const spreadPct = (s: RunSpread) => `${round(s.spread * 100, 1)} %`;
  const runs = (s: RunSpread, f: (v: number) => string) => s.runs.map(f).join(', ');
  const { sizes } = r;
  return `## Instructions per call (callgrind, from memory)

Counted by valgrind's callgrind (${r.valgrind}), which counts the instructions a process executes whatever else runs on the machine, so these figures hold on a busy machine where CPU times do not. Each contender of the overhead suite runs from memory (no socket) in a process of its own, warmed up on every request its bare SDK is counted on, whichever of them it is counted on itself (a process's mix of requests shapes what each costs: bare openai 7's chat calls counted 22k fewer instructions in a process that ran chat alone) (${sizes.warmUpCalls.toLocaleString('en')} calls per request and ${sizes.streamWarmUpCalls} per stream under plain valgrind, then ${sizes.settleCalls} and ${sizes.streamSettleCalls} at callgrind's speed) and then counted${sizes.sections > 1 ? ` ${sizes.sections} times` : ''} at concurrency ${sizes.concurrency}: ${sizes.shortCalls} calls and then ${sizes.calls} calls, each straight after a scavenge, the figure per call being their difference over ${sizes.calls - sizes.shortCalls} (what the calls cost past the start both share); streams, ${sizes.streamCalls} at a time after a scavenge; the whole suite ran ${sizes.runs} times, each run fresh processes. V8 runs as one deterministic thread (\`--single-threaded --predictable-gc-schedule\`, fixed hash and random seeds), so the garbage collector's work is all counted, and two processes count the same calls within 0.5 % (with V8's defaults, helper threads and timed heuristics moved the figures by up to 120 % between runs). No full collection runs in these processes (an old space of 1 GB; the suite fails on a dump with marking work in it): one with no call in flight frees the maps of the calls' objects and V8 deoptimizes the code that embedded them, and the suite used to force one before each count, which added 200k to 330k instructions per chat call to every contender, a different share for each. So the figures are of code at its steady tier and of its scavenges; what full collections would add is not in them. JIT compilation and deoptimization are left out (V8's runtime entries that compile, with all they call): a one-time cost that lands in whichever section V8 tiers a function up in. Only the measured calls are counted (see docs/CONTRIBUTING.md). The SDK's timer-driven work (a metric collection every 10 s, a span batch every 5 s) is left out: under valgrind a call takes fifty times as long, so a timer would land on it fifty times as often; spans are exported in full batches of 512, as under load.

resilient-chat's added instructions against the official instrumentation's, each over its own bare SDK (goal <= 1 with tracing and metrics, <= 1.3 with every feature on); and the same on code alone, each contender's garbage-collector share left out. That share comes in whole scavenges, and which of them land in a bare SDK's counted calls is not the same from run to run of the suite (bare openai 6's moved by 24k per call between two full runs, its code within 0.2 %), so the code-alone ratio is the one that repeats:

${table(
  ['ours', 'against', 'request', 'ratio, median of the runs', 'each run', 'on code alone', 'each run'],
  r.ratios.map((x) => [
    x.ours,
    x.peer,
    x.request,
    round(x.ratio.median, 2),
    runs(x.ratio, (v) => `${round(v, 2)}`),
    round(x.codeRatio.median, 2),
    runs(x.codeRatio, (v) => `${round(v, 2)}`),
  ]),
)}

${table(
  [
    'contender',
    'request',
    'instructions per call',
    'of them GC',
    'spread of the runs',
    'added over bare',
    'spread',
    'each run (added)',
  ],
  r.rows.map((x) => [
    x.contender,
    x.request,
    count(x.perCall.median),
    k(x.gcPerCall.median),
    spreadPct(x.perCall),
    x.added ? k(x.added.median) : '-',
    x.added ? spreadPct(x.added) : '-',
    x.added ? runs(x.added, k) : '-',
  ]),
)}

Where the added instructions go (chat): the breakdown suite's steps, each contender counted as above, each step the difference between two of them in each run:

${table(
  ['who', 'step', 'added per call', 'spread', 'each run'],
  r.steps.map((x) => [x.who, x.step, k(x.added.median), spreadPct(x.added), runs(x.added, k)]),
)}

Streams, per content chunk: a stream of ${STREAM_CHUNKS.toLocaleString('en')} chunks less the same stream with ${STREAM_CHUNKS_DROPPED} fewer, over ${STREAM_CHUNKS_DROPPED}, each chunk one SSE event in a read of its own (goal: at most 1 % of bare openai-node's per-chunk cost added, or a measured reason). With metrics on, every chunk after the first records a \`gen_ai.client.operation.time_per_output_chunk\` point, as the GenAI conventions ask, and the OpenTelemetry SDK hashes the point's attribute set on each record (\`JSON.stringify\` of the sorted attributes, then a string hash); the tracing-only contender leaves that out and shows what the relay and the accumulator cost:

${table(
  [
    'contender',
    'stream',
    'instructions per chunk',
    'spread of the runs',
    'added over bare',
    "of bare's per chunk",
  ],
  r.chunks.map((x) => [
    x.contender,
    x.stream,
    count(x.perChunk.median),
    spreadPct(x.perChunk),
    x.added ? count(x.added.median) : '-',
    x.addedShare ? pct(x.addedShare.median) : '-',
  ]),
)}`;
}

const transportTitle = {
  loopback: 'over the loopback: a zero-latency mock server in its own process',
  memory: "from memory: a fetch that replays the server's answers, no socket",
} as const;

function overheadSection(runs: readonly OverheadResult[], sizes: OverheadSizes): string | undefined {
  const overhead = runs[0];
  if (!overhead) return undefined;
  const perTransport = overhead.transports.map(
    (t) => `### ${transportTitle[t.transport]}

${table(
  ['client: request', 'calls/s', 'CPU per call: main thread', 'process', 'latency p50 (1 at a time)', 'p99'],
  t.contenders.map((c) => [
    c.name,
    Math.round(c.callsPerSecond),
    us(c.threadCpuUsPerCall),
    us(c.cpuUsPerCall),
    Number.isNaN(c.latencyUs.p50) ? '-' : us(c.latencyUs.p50),
    Number.isNaN(c.latencyUs.p99) ? '-' : us(c.latencyUs.p99),
  ]),
)}

What each layer adds to its own bare SDK, measured round by round (median, and range over the ${overhead.rounds} rounds):

${table(
  ['layer', 'over', 'extra CPU per call: main thread', 'process', 'throughput ratio'],
  t.deltas.map((d) => [
    d.layer,
    d.base,
    spreadOf(d.extraCpuUs, us1),
    spreadOf(d.extraProcessCpuUs, us1),
    spreadOf(d.throughputRatio, ratio),
  ]),
)}

resilient-chat's extra CPU against the official instrumentation's (ratio of the medians, range from the quartiles; goal <= 1 with tracing and metrics, <= 1.5 with every feature on):

${table(
  ['ours', 'against', 'main thread', 'process'],
  t.peerComparisons.map((c) => [c.ours, c.peer, spreadOf(c.ratio, ratio), spreadOf(c.processRatio, ratio)]),
)}`,
  );
  const runsTable = table(
    ['transport', 'ours', 'against', ...runs.map((_, i) => `run ${i + 1}`), 'median of the runs'],
    overhead.transports.flatMap((t, ti) =>
      t.peerComparisons.map((c, ci) => {
        const perRun = runs.map((r) => r.transports[ti]?.peerComparisons[ci]?.ratio.median ?? NaN);
        return [t.transport, c.ours, c.peer, ...perRun.map(ratio), ratio(quantile(perRun, 0.5))];
      }),
    ),
  );
  return `## Overhead (concurrency ${sizes.concurrency}, ${overhead.rounds} rounds, ${sizes.calls.toLocaleString('en')} calls per contender, request and round over the loopback, five times as many from memory)

Each contender runs in a process of its own, as a service runs one client library, warmed up alone (${sizes.warmUpCalls.toLocaleString('en')} calls per request over the loopback) and then measured in turns, the order rotating each round; the figures are client CPU per call. The official instrumentation supports only openai < 7, so it is measured on openai 6 (as published) and on openai 7 (patched on by hand: the same SDK as ours). It recorded ${overhead.instrumentationSpans} spans on openai 6 over the loopback. The lean resilient-chat contender runs without breaker, budget and Idempotency-Key (\`idempotencyKeys: false\`); the full one with all three, as the defaults have them.

resilient-chat's extra main-thread CPU against the official instrumentation's, as the median ratio of each whole run of the suite (goal <= 1 with tracing and metrics, <= 1.3 with every feature on):

${runsTable}

The tables below are the first run's.

${perTransport.join('\n\n')}`;
}

function breakdownSection(breakdown: BreakdownResult): string {
  return `## Where the added CPU goes (from memory, ${breakdown.rounds} rounds)

Each step is a contender of its own, in a process of its own, measured in the same run as the step before it; the figure is the main-thread CPU per chat call the step adds (median, and range over the rounds). Tracing and metrics are each measured on top of the attempt loop alone, so the two together may differ a little from their sum.

${table(
  ['who', 'step', 'extra CPU per call: main thread'],
  breakdown.steps.map((s) => [s.who, s.step, spreadOf(s.extraCpuUs, us1)]),
)}`;
}

function profileSection(profile: ProfileResult): string {
  return `## Where resilient-chat's client CPU goes

V8's sampling profiler (what \`node --cpu-prof\` records) over ${profile.calls.toLocaleString('en')} chat calls each, bare openai-node 7 and resilient-chat with tracing and metrics on: ${us1(profile.bareUs)} and ${us1(profile.oursUs)} of CPU per call on the main thread, ${us1(profile.ownUs)} of it in resilient-chat's own code (src/). The functions whose self time grew most:

${table(
  ['function', 'where', 'self time per call, ours', 'bare', 'added'],
  profile.frames.map((f) => [
    f.functionName,
    f.location,
    us1(f.oursUs),
    us1(f.bareUs),
    us1(f.oursUs - f.bareUs),
  ]),
)}`;
}

function recoverySection(recovery: RecoveryResult): string {
  return `## Recovery from a closed client (sequential calls)

${table(
  ['call', 'p50', 'p99', 'extra over a clean call (p50 / p99)'],
  [
    ['clean call, warm client', formatMs(recovery.cleanMs.p50), formatMs(recovery.cleanMs.p99), '-'],
    [
      'recovered onto a warm client',
      formatMs(recovery.recoveredWarmMs.p50),
      formatMs(recovery.recoveredWarmMs.p99),
      `${formatMs(recovery.extraWarmMs.p50)} / ${formatMs(recovery.extraWarmMs.p99)}`,
    ],
    [
      'recovered onto a new client (new connection)',
      formatMs(recovery.recoveredMs.p50),
      formatMs(recovery.recoveredMs.p99),
      `${formatMs(recovery.extraMs.p50)} / ${formatMs(recovery.extraMs.p99)}`,
    ],
    [
      `flush all ${recovery.flushAllMs.cacheSize} clients and retry once`,
      formatMs(recovery.flushAllMs.p50),
      formatMs(recovery.flushAllMs.p99),
      '-',
    ],
    [
      `openai-node's own retry (${recovery.openaiBuiltInMs.failed} of ${recovery.openaiBuiltInMs.calls} failed)`,
      formatMs(recovery.openaiBuiltInMs.p50),
      `max ${formatMs(recovery.openaiBuiltInMs.max)}`,
      '-',
    ],
  ],
)}

Goal: p99 extra <= 5 ms on loopback.`;
}

function churnSection(churn: ChurnResult): string {
  return `## Churn (concurrency 200, 8 cached clients, one evicted every 50 ms)

${table(
  [
    'setup',
    'calls',
    'success',
    'calls/s',
    'CPU per call',
    'new connections per 1,000 calls',
    'peak open sockets',
    'give-ups',
  ],
  churn.runs.map((r) => [
    r.name,
    r.calls,
    pct(r.successRate),
    Math.round(r.callsPerSecond),
    us(r.cpuUsPerCall),
    round(r.connectionsPer1000, 1),
    r.peakOpenSockets,
    Object.entries(r.giveUps)
      .map(([reason, n]) => `${n} ${reason}`)
      .join(', ') || '-',
  ]),
)}

ClientPool throughput under churn against no churn: ${ratio(churn.poolThroughputRatio)}, median of ${churn.poolThroughputRatios.length} back-to-back pairs (${churn.poolThroughputRatios.map(ratio).join(', ')}; goal >= 0.97); from CPU per call (client and server share the process), ${ratio(churn.poolCpuRatio)} (${churn.poolCpuRatios.map(ratio).join(', ')}). Goal < 20 new connections per 1,000 calls under churn (the first fill of each key's Agent included).`;
}

function memorySection(memory: MemoryResult | null): string {
  return memory
    ? `## Memory (ClientPool + resilient-chat, tracing and metrics on, concurrency 200)

${memory.calls.toLocaleString('en')} calls after a warm-up, with a client replaced every 50 ms, a transport destroyed under in-flight requests every 500 ms (${memory.recoveries} closed-client recoveries), LiteLLM's closed-client 500 on 1 % of requests and one call in four streamed (failed calls: ${memory.failedCalls}). Heap used after a full GC, sampled every ${(memory.calls / (memory.samples.length - 1)).toLocaleString('en')} calls: ${round(mb(memory.samples[0]?.heapBytes ?? 0))} MB -> ${round(mb(memory.samples.at(-1)?.heapBytes ?? 0))} MB (min ${round(mb(Math.min(...memory.samples.map((s) => s.heapBytes))))}, max ${round(mb(Math.max(...memory.samples.map((s) => s.heapBytes))))}).

Slope (Theil-Sen): ${Math.round(memory.slopeBytesPer1000)} bytes per 1,000 calls, 95 % interval ${Math.round(memory.interval95[0])} to ${Math.round(memory.interval95[1])}; least squares ${Math.round(memory.leastSquaresBytesPer1000)} (${Math.round(memory.leastSquaresInterval95[0])} to ${Math.round(memory.leastSquaresInterval95[1])}); ${memory.samples.length} samples, ${Math.round(memory.residualBytes / 1024)} KB scatter around the line. Verdict: **${memory.verdict}**${memory.verdict === 'flat' && memory.interval95[0] > 0 ? ' (the interval excludes zero: a slow tail of under 4 bytes a call, such as V8 still compiling code)' : ''}. Flat: the whole interval is under 4,000 bytes per 1,000 calls, less than the smallest object kept per call; grows: the whole interval is over it.`
    : '## Memory\n\nNot measured: run with node --expose-gc (npm run bench does).';
}

function stormSection(storm: StormResult): string {
  return `## Storm (every call answered 503 for ${storm.stormMs / 1000} s, ${storm.callsPerSecond} calls/s offered)

${table(
  [
    'client',
    'calls in the storm',
    'server requests per call',
    'breaker opened after',
    'first success after the storm',
  ],
  storm.runs.map((r) => [
    r.name,
    r.callsStarted,
    round(r.serverRequestsPerCall, 2),
    r.breakerOpenedAfterMs === undefined ? '-' : formatMs(r.breakerOpenedAfterMs),
    r.firstSuccessAfterStormMs === undefined ? '-' : formatMs(r.firstSuccessAfterStormMs),
  ]),
)}

Goal: <= 1.1 requests per call with the budget, against 3.0 for openai-node's defaults. Requests are counted until the storm ends, so the last calls' pending retries are not in the openai-node figure.`;
}

function scaleSection(scale: ScaleResult): string {
  const groups = scaleGroups(scale.runs);
  const runCount = Math.max(...groups.map((g) => g.length));
  const median = (g: readonly ScaleMeasured[], f: (r: ScaleMeasured) => number) => quantile(g.map(f), 0.5);
  const p99 = (g: readonly ScaleMeasured[]) => median(g, (r) => r.eventLoopDelayMs.p99);
  const bareP99 = new Map(
    groups.filter((g) => g[0]?.setup === SCALE_BARE).map((g) => [g[0]?.inFlight, p99(g)] as const),
  );
  return `## Scale (calls started all at once, each answer held ${scale.holdMs} ms by the server)

Each setup and size in a process of its own, warmed up first, ${runCount === 1 ? 'once' : `${runCount} times with the runs interleaved (every setup once, then again); medians of the runs, and for the event-loop delay p99 also the lowest and highest run`}; tracing and metrics on for resilient-chat (the SDK of the overhead suite). Heap: retained per call in flight, after a full collection, with the server holding every call (\`*\`: a client that queues never had them all at the server). Event-loop delay while the calls run (\`monitorEventLoopDelay\`, 5 ms resolution). A run not done after ${scale.timeoutMs / 1000} s says how many were.

The p99 of a run of about 1.5 s is the length of its few longest turns. Traced turn by turn, those are the turn in which undici writes the requests out (no call done yet) and the turns in which a few hundred answers complete at once; no timer per call and no FinalizationRegistry is on this path, and no collection in the load phase paused for more than about 12 ms (\`--trace-gc\`). Why resilient-chat's longest turns are longer by more than its CPU is (at 1,000 in flight the p99 is several times bare openai's, the main thread's CPU within about 1.2 times) is not known yet: even metrics alone, at bare's CPU, lengthen them.

${table(
  [
    'setup',
    'in flight',
    'all done after',
    'heap per call',
    'first turn after',
    'event-loop delay p50',
    'p99 (runs)',
    'p99 / bare',
    'max',
    'peak sockets',
    'connections',
    'CPU (main thread)',
  ],
  groups.map((g) => {
    const first = g[0] as ScaleMeasured;
    const unfinished = g.filter((r) => Number.isNaN(r.elapsedMs));
    const failed = Math.max(...g.map((r) => r.failed));
    const lowestDone = Math.min(...unfinished.map((r) => r.done));
    const delays = g.map((r) => r.eventLoopDelayMs.p99);
    const bare = bareP99.get(first.inFlight);
    return [
      first.setup,
      first.inFlight.toLocaleString('en'),
      unfinished.length > 0
        ? `${unfinished.length} of ${g.length}: ${pct(lowestDone / first.inFlight)} done at ${scale.timeoutMs / 1000} s`
        : formatMs(median(g, (r) => r.elapsedMs)) + (failed > 0 ? ` (${failed} failed)` : ''),
      `${round(median(g, (r) => r.heapPerCallBytes) / 1024, 1)} KB${g.every((r) => r.heapAllAtServer) ? '' : ' *'}`,
      formatMs(median(g, (r) => r.firstTurnMs)),
      formatMs(median(g, (r) => r.eventLoopDelayMs.p50)),
      g.length === 1 ? formatMs(p99(g)) : spreadOf(spread(delays), formatMs),
      bare === undefined ? '-' : `${round(p99(g) / bare, 2)}`,
      formatMs(median(g, (r) => r.eventLoopDelayMs.max)),
      Math.max(...g.map((r) => r.peakOpenSockets)),
      median(g, (r) => r.connections),
      formatMs(median(g, (r) => r.cpuMsMainThread)),
    ];
  }),
)}`;
}

/** The scale suite's runs by setup and size, in the order they first ran. */
function scaleGroups(runs: readonly ScaleMeasured[]): ScaleMeasured[][] {
  const groups = new Map<string, ScaleMeasured[]>();
  for (const run of runs) {
    const key = `${run.inFlight} ${run.setup}`;
    const group = groups.get(key) ?? [];
    group.push(run);
    groups.set(key, group);
  }
  return [...groups.values()];
}
