/**
 * Overhead: what resilient-chat adds to bare openai-node 7, beside what the official
 * @opentelemetry/instrumentation-openai adds to bare openai-node 6 (the peer: it supports only openai < 7),
 * both measured in the same run against a zero-latency loopback server in another process.
 *
 * The figures of record are client CPU per call: the main thread's (where every layer's own work runs; the
 * steadiest figure on a shared machine) and the whole process's (which adds the garbage collector's helper
 * threads), both steadier than throughput.
 * Contenders are interleaved round by round so machine drift hits every one alike; each comparison is taken
 * per round and reported as its median and range over the rounds.
 */
import { createRequire } from 'node:module';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import OpenAI from 'openai';
import { createResilientClient } from '../../src/index.js';
import { tracedServiceSdk } from '../lib/sdk.js';
import { startServerProcess } from '../lib/server-process.js';
import { quantile } from '../lib/stats.js';

type Call = () => Promise<unknown>;

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

export interface OverheadResult {
  rounds: number;
  contenders: ContenderResult[];
  deltas: Delta[];
  peerComparisons: PeerComparison[];
  instrumentationSpans: number;
}

const CHAT = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };
const RESPONSES = { model: 'gpt-4o-mini', input: 'hi' };

/** Calls per second at `concurrency`, and the process's and main thread's CPU time per call (µs). */
async function throughput(
  call: Call,
  calls: number,
  concurrency: number,
): Promise<{ cps: number; cpuUs: number; threadCpuUs: number }> {
  let next = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const thread = process.threadCpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < calls) await call();
    }),
  );
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

export function spread(values: readonly number[]): Spread {
  return {
    median: quantile(values, 0.5),
    min: Math.min(...values),
    max: Math.max(...values),
    q1: quantile(values, 0.25),
    q3: quantile(values, 0.75),
  };
}

/**
 * The ratio of two deltas: of their medians, its range from their quartiles (ours' first over the peer's
 * third, and back). A per-round ratio would divide by a peer delta that one noisy round brings near zero.
 */
function ratioOfMedians(ours: Spread, peer: Spread): Spread {
  // A peer delta at or below zero (noise swamped it) leaves the ratio unbounded, not negative.
  const over = (x: number, y: number) => (y > 0 ? x / y : Number.POSITIVE_INFINITY);
  const low = over(ours.q1, peer.q3);
  const high = over(ours.q3, peer.q1);
  return { median: over(ours.median, peer.median), min: low, max: high, q1: low, q3: high };
}

export const BARE_7 = 'openai 7 (bare)';
export const BARE_6 = 'openai 6 (bare)';
export const PEER = 'openai 6 + instrumentation-openai';
export const OURS = 'resilient-chat (tracing + metrics)';
export const OURS_FULL = 'resilient-chat (+ breaker, budget)';

export async function runOverhead(options: {
  calls: number;
  rounds: number;
  concurrency: number;
}): Promise<OverheadResult> {
  if (options.rounds < 3) throw new Error('overhead: at least three rounds, for a spread');
  const server = await startServerProcess();
  const sdk = tracedServiceSdk();
  const fullSdk = tracedServiceSdk();
  const instrumentationSdk = tracedServiceSdk();
  try {
    const apiKey = 'sk-bench';
    const baseURL = server.url;
    const bare7 = new OpenAI({ apiKey, baseURL });
    // Tracing and metrics on, nothing else that costs per call: no breaker, no budget, no Idempotency-Key.
    const ours = createResilientClient({
      clients: new OpenAI({ apiKey, baseURL }),
      tracerProvider: sdk.tracerProvider,
      meterProvider: sdk.meterProvider,
      circuitBreaker: false,
      retryBudget: false,
      idempotencyKeys: false,
      logger: false,
    });
    // Every feature on, as the defaults have them: breaker, retry budget and Idempotency-Key.
    const oursFull = createResilientClient({
      clients: new OpenAI({ apiKey, baseURL }),
      tracerProvider: fullSdk.tracerProvider,
      meterProvider: fullSdk.meterProvider,
      logger: false,
    });
    // openai 6 twice, as two module instances: the instrumentation patches the prototypes of the one it is
    // given, so the bare one is the CommonJS build and the patched one the ES module build (patched by hand:
    // the package is installed as `openai6`, so the instrumentation's require hook would not see it).
    const Bare6 = (createRequire(import.meta.url)('openai6') as { default: typeof import('openai6').default })
      .default;
    const openai6 = await import('openai6');
    if ((Bare6 as unknown) === openai6.default) throw new Error('overhead: openai 6 loaded once, not twice');
    const bare6 = new Bare6({ apiKey, baseURL });
    const instrumentation = new OpenAIInstrumentation({ enabled: false });
    instrumentation.setTracerProvider(instrumentationSdk.tracerProvider);
    instrumentation.setMeterProvider(instrumentationSdk.meterProvider);
    for (const definition of instrumentation.getModuleDefinitions()) definition.patch?.(openai6, '6.30.1');
    instrumentation.enable(); // its patched methods record only while enabled
    const peer = new openai6.default({ apiKey, baseURL });

    const contenders: Record<string, Call> = {
      [`${BARE_7}: chat`]: () => bare7.chat.completions.create(CHAT),
      [`${BARE_6}: chat`]: () => bare6.chat.completions.create(CHAT),
      [`${PEER}: chat`]: () => peer.chat.completions.create(CHAT),
      [`${OURS}: chat`]: () => ours.chat.completions.create(CHAT),
      [`${OURS_FULL}: chat`]: () => oursFull.chat.completions.create(CHAT),
      [`${BARE_7}: responses`]: () => bare7.responses.create(RESPONSES),
      [`${BARE_6}: responses`]: () => bare6.responses.create(RESPONSES),
      [`${PEER}: responses`]: () => peer.responses.create(RESPONSES),
      [`${OURS}: responses`]: () => ours.responses.create(RESPONSES),
      [`${BARE_7}: models.list`]: async () => bare7.models.list(),
      [`${OURS}: models.list`]: async () => ours.models.list(),
    };
    const names = Object.keys(contenders);
    for (const call of Object.values(contenders)) await throughput(call, 1_000, options.concurrency); // warm-up

    const cps: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    const cpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    const threadCpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    const lat: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (let round = 0; round < options.rounds; round++) {
      for (const [name, call] of Object.entries(contenders)) {
        const measured = await throughput(call, options.calls, options.concurrency);
        cps[name]?.push(measured.cps);
        cpu[name]?.push(measured.cpuUs);
        threadCpu[name]?.push(measured.threadCpuUs);
        lat[name]?.push(...(await latencies(call, Math.floor(options.calls / 8))));
      }
    }

    const at = (table: Record<string, number[]>, name: string) => {
      const values = table[name];
      if (!values) throw new Error(`overhead: no contender named ${name}`);
      return values;
    };
    const perRound = (f: (round: number) => number) =>
      spread(Array.from({ length: options.rounds }, (_, i) => f(i)));
    const extra = (layer: string, base: string, round: number, table = threadCpu) =>
      (at(table, layer)[round] as number) - (at(table, base)[round] as number);
    const delta = (layer: string, base: string): Delta => ({
      layer,
      base,
      extraCpuUs: perRound((i) => extra(layer, base, i)),
      extraProcessCpuUs: perRound((i) => extra(layer, base, i, cpu)),
      throughputRatio: perRound((i) => (at(cps, layer)[i] as number) / (at(cps, base)[i] as number)),
    });
    const compare = (ours: string, oursBase: string, peer: string, peerBase: string): PeerComparison => ({
      ours,
      peer,
      ratio: ratioOfMedians(
        perRound((i) => extra(ours, oursBase, i)),
        perRound((i) => extra(peer, peerBase, i)),
      ),
      processRatio: ratioOfMedians(
        perRound((i) => extra(ours, oursBase, i, cpu)),
        perRound((i) => extra(peer, peerBase, i, cpu)),
      ),
    });

    return {
      rounds: options.rounds,
      contenders: names.map((name) => ({
        name,
        callsPerSecond: quantile(at(cps, name), 0.5),
        cpuUsPerCall: quantile(at(cpu, name), 0.5),
        threadCpuUsPerCall: quantile(at(threadCpu, name), 0.5),
        latencyUs: { p50: quantile(at(lat, name), 0.5), p99: quantile(at(lat, name), 0.99) },
      })),
      deltas: [
        delta(`${PEER}: chat`, `${BARE_6}: chat`),
        delta(`${OURS}: chat`, `${BARE_7}: chat`),
        delta(`${OURS_FULL}: chat`, `${BARE_7}: chat`),
        delta(`${PEER}: responses`, `${BARE_6}: responses`),
        delta(`${OURS}: responses`, `${BARE_7}: responses`),
        delta(`${OURS}: models.list`, `${BARE_7}: models.list`),
      ],
      peerComparisons: [
        compare(`${OURS}: chat`, `${BARE_7}: chat`, `${PEER}: chat`, `${BARE_6}: chat`),
        compare(`${OURS_FULL}: chat`, `${BARE_7}: chat`, `${PEER}: chat`, `${BARE_6}: chat`),
        compare(`${OURS}: responses`, `${BARE_7}: responses`, `${PEER}: responses`, `${BARE_6}: responses`),
      ],
      instrumentationSpans: instrumentationSdk.spanExporter.exported,
    };
  } finally {
    await sdk.shutdown();
    await fullSdk.shutdown();
    await instrumentationSdk.shutdown();
    await server.stop();
  }
}
