/**
 * What each suite returns: the suites fill these in, run.ts prints them, and benchmarks-md.ts writes them into
 * BENCHMARKS.md. They live in bench/lib so that the writer needs nothing from bench/suites.
 */
import type { ContenderName, Transport } from './contenders.js';
import type { ScaleMeasured } from './scale-plan.js';

// The instruction-count suite (bench/suites/instructions.ts).

export interface InstructionSizes {
  /**
   * Per request: warm-up calls (instrumentation off), calls after the instrumentation is on and before the
   * count, and the two counts of each section: `shortCalls` and `calls` calls, each straight after a full
   * collection; their difference over `calls - shortCalls` is the section's figure per call.
   */
  warmUpCalls: number;
  settleCalls: number;
  shortCalls: number;
  calls: number;
  /** The same for streams, whose calls are each STREAM_CHUNKS chunks long. */
  streamWarmUpCalls: number;
  streamSettleCalls: number;
  streamCalls: number;
  /** Sections per request and process (streams: counts of `streamCalls` streams): a process's figure is their mean. */
  sections: number;
  concurrency: number;
  runs: number;
  /** Contender processes under callgrind at once. */
  parallel: number;
  /** Extra flags for node (V8's, say). */
  nodeFlags?: string[];
  /**
   * Keep each counted section's dump here, JavaScript functions named (node runs with --perf-basic-prof
   * and --interpreted-frames-native-stack), for `callgrind_annotate`.
   */
  keepDir?: string;
}

/** A figure over the runs. */
export interface RunSpread {
  runs: number[];
  median: number;
  /** (max - min) / median. */
  spread: number;
}

export interface InstructionRow {
  contender: ContenderName;
  request: string;
  /** Instructions per call (JIT compilation left out). */
  perCall: RunSpread;
  /** Of them, the garbage collector's (scavenges, between the full collections before each section). */
  gcPerCall: RunSpread;
  /** Over its own bare SDK (openai 6 for the instrumentation on 6, openai 7 for the rest), per run. */
  added: RunSpread | undefined;
  base: ContenderName | undefined;
}

export interface PeerRatio {
  ours: ContenderName;
  peer: ContenderName;
  request: string;
  /** Ours' added instructions over the peer's, per run. */
  ratio: RunSpread;
  /**
   * The same, the garbage collector's share of each left out: what each layer's own code adds. The collector's
   * share comes in whole scavenges, and which of them land in a bare SDK's 800 counted calls moved bare openai
   * 6's by 24k per call between two full runs (its code within 0.2 %), and the ratio with it by 0.3.
   */
  codeRatio: RunSpread;
}

export interface ChunkRow {
  contender: ContenderName;
  stream: 'chat' | 'responses';
  /** Instructions per content chunk. */
  perChunk: RunSpread;
  /** Over bare openai 7's per chunk, and that as a share of bare's. */
  added: RunSpread | undefined;
  addedShare: RunSpread | undefined;
}

/** A step of the breakdown suite's (bench/suites/breakdown.ts), counted: what it adds per chat call. */
export interface InstructionStep {
  who: BreakdownStep['who'];
  step: string;
  /** Instructions per chat call the step adds over the contender before it, per run. */
  added: RunSpread;
}

export interface InstructionsResult {
  sizes: InstructionSizes;
  valgrind: string;
  rows: InstructionRow[];
  ratios: PeerRatio[];
  chunks: ChunkRow[];
  steps: InstructionStep[];
}

// The overhead suite (bench/suites/overhead.ts).

/** A figure over the rounds: its median, range and quartiles. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  q1: number;
  q3: number;
}

export interface ContenderResult {
  name: string;
  callsPerSecond: number;
  /** Client-process CPU per call (µs), median over the rounds. */
  cpuUsPerCall: number;
  /** Client main-thread CPU per call (µs), median over the rounds. */
  threadCpuUsPerCall: number;
  latencyUs: { p50: number; p99: number };
}

/** One added layer against its own bare SDK: CPU added per call and throughput kept, per round. */
export interface Delta {
  layer: string;
  base: string;
  /** Main thread. */
  extraCpuUs: Spread;
  extraProcessCpuUs: Spread;
  throughputRatio: Spread;
}

/** Our delta against the peer's, per round. */
export interface PeerComparison {
  ours: string;
  peer: string;
  /** ours' extra CPU per call / the instrumentation's (goal <= 1 lean, <= 1.5 with every feature on). */
  ratio: Spread;
  /** The same from the process's CPU. */
  processRatio: Spread;
}

/** Everything measured over one transport. */
export interface TransportResult {
  transport: Transport;
  contenders: ContenderResult[];
  deltas: Delta[];
  peerComparisons: PeerComparison[];
}

export interface OverheadResult {
  rounds: number;
  transports: TransportResult[];
  /** Spans the official instrumentation exported on openai 6 over the loopback (it really traced). */
  instrumentationSpans: number;
}

// Where the added CPU goes (bench/suites/breakdown.ts).

export interface BreakdownStep {
  who: 'resilient-chat' | 'official instrumentation';
  step: string;
  /** Main-thread CPU per chat call that the step adds (µs), per round: median and range. */
  extraCpuUs: Spread;
}

export interface BreakdownResult {
  rounds: number;
  steps: BreakdownStep[];
}

// The CPU profile (bench/suites/profile.ts).

export interface ProfileFrame {
  functionName: string;
  /** File (relative to the project) and line. */
  location: string;
  /** Self time per call (µs) with resilient-chat, and with bare openai-node 7. */
  oursUs: number;
  bareUs: number;
}

export interface ProfileResult {
  calls: number;
  /** Non-idle CPU per call (µs) in the profile, ours and bare. */
  oursUs: number;
  bareUs: number;
  /** Self time per call (µs) in resilient-chat's own code (src/). */
  ownUs: number;
  /** The frames that add the most self time per call over bare openai-node 7. */
  frames: ProfileFrame[];
}

// Recovery from a closed client (bench/suites/recovery.ts).

export interface RecoveryResult {
  cleanMs: { p50: number; p99: number };
  recoveredMs: { p50: number; p99: number };
  extraMs: { p50: number; p99: number };
  /** The same recovery onto an already connected client (a pool's spare): the wrapper's own cost. */
  recoveredWarmMs: { p50: number; p99: number };
  extraWarmMs: { p50: number; p99: number };
  openaiBuiltInMs: { p50: number; max: number; failed: number; calls: number };
  flushAllMs: { p50: number; p99: number; cacheSize: number };
}

// Churn (bench/suites/churn.ts).

export interface ChurnRun {
  name: string;
  calls: number;
  successRate: number;
  callsPerSecond: number;
  /** Process CPU (client and in-process server) per call, in µs: steadier than calls/s on a shared machine. */
  cpuUsPerCall: number;
  /** New connections the server accepted, per 1,000 calls (the first fill of each Agent included). */
  connectionsPer1000: number;
  peakOpenSockets: number;
  /** Why wrapped calls failed (give-up reason: count); bare openai-node cannot say. */
  giveUps: Record<string, number>;
}

export interface ChurnResult {
  runs: ChurnRun[];
  /** Median over the rounds of (calls/s with churn) / (calls/s without), each pair measured back to back. */
  poolThroughputRatio: number;
  /** Each round's ratio, for the spread. */
  poolThroughputRatios: number[];
  /** The same from CPU per call, (no churn) / (churn): what throughput would be with the cores to itself. */
  poolCpuRatio: number;
  poolCpuRatios: number[];
}

// Memory (bench/suites/memory.ts).

export interface MemoryResult {
  calls: number;
  samples: { calls: number; heapBytes: number }[];
  /** Theil-Sen slope of heap used after GC, bytes per 1,000 calls, and its 95 % interval (Sen's). */
  slopeBytesPer1000: number;
  interval95: [number, number];
  /** Least-squares slope and its 95 % interval, for comparison. */
  leastSquaresBytesPer1000: number;
  leastSquaresInterval95: [number, number];
  /** Standard deviation of the samples around the least-squares line, in bytes. */
  residualBytes: number;
  verdict: 'flat' | 'grows' | 'inconclusive';
  failedCalls: number;
  streams: number;
  recoveries: number;
  destroyedTransports: number;
  replacedClients: number;
}

// Storm (bench/suites/storm.ts).

export interface StormRun {
  name: string;
  callsStarted: number;
  serverRequestsPerCall: number;
  breakerOpenedAfterMs: number | undefined;
  firstSuccessAfterStormMs: number | undefined;
}

export interface StormResult {
  stormMs: number;
  callsPerSecond: number;
  runs: StormRun[];
}

// Scale (bench/suites/scale.ts; each run is what a child process measured, see scale-plan.ts).

export interface ScaleResult {
  holdMs: number;
  timeoutMs: number;
  runs: ScaleMeasured[];
}
