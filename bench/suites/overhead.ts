/**
 * Overhead: what resilient-chat adds to bare openai-node 7, beside what the official
 * @opentelemetry/instrumentation-openai adds to bare openai-node 6 (the peer: it supports only openai < 7)
 * and, patched on by hand, to openai-node 7 (the same SDK as ours), all measured in the same run.
 *
 * Each contender runs in a process of its own (bench/lib/contender-process.ts), as a service runs one client
 * library: measured in one shared process, each SDK copy's inline caches and heap were shaped by the others,
 * and a contender's figures depended on which others ran beside it.
 *
 * Two transports (see bench/lib/contenders.ts): the zero-latency loopback server in another process, and
 * `memory`, which replays the server's answers without a socket and so shows each layer's own CPU quietly.
 *
 * The figures of record are client CPU per call: the main thread's (where every layer's own work runs; the
 * steadiest figure on a shared machine) and the whole process's (which adds the garbage collector's helper
 * threads), both steadier than throughput. Each comparison is taken per round and reported as its median and
 * range over the rounds.
 */

import { startServerProcess } from '../../test/support/server-process.js';
import { type Measured, measureInTurns } from '../lib/contender-process.js';
import {
  BARE_6,
  BARE_7,
  CONTENDERS,
  OURS,
  OURS_FULL,
  PEER,
  PEER_ON_7,
  type RequestName,
  TRANSPORTS,
  type Transport,
} from '../lib/contenders.js';
import type { OverheadResult, Spread, TransportResult } from '../lib/results.js';
import { quantile, spread } from '../lib/stats.js';

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

/** What each contender is measured on: `models.list` (no GenAI span) only against bare openai 7. */
const MEASURED: Record<(typeof CONTENDERS)[number], readonly RequestName[]> = {
  [BARE_7]: ['chat', 'responses', 'models.list'],
  [BARE_6]: ['chat', 'responses'],
  [PEER]: ['chat', 'responses'],
  [PEER_ON_7]: ['chat', 'responses'],
  [OURS]: ['chat', 'responses', 'models.list'],
  [OURS_FULL]: ['chat'],
};

/** Which deltas and peer comparisons to report: [layer, its bare SDK], named `contender: request`. */
const DELTAS: readonly (readonly [string, string])[] = [
  [`${PEER}: chat`, `${BARE_6}: chat`],
  [`${PEER_ON_7}: chat`, `${BARE_7}: chat`],
  [`${OURS}: chat`, `${BARE_7}: chat`],
  [`${OURS_FULL}: chat`, `${BARE_7}: chat`],
  [`${PEER}: responses`, `${BARE_6}: responses`],
  [`${PEER_ON_7}: responses`, `${BARE_7}: responses`],
  [`${OURS}: responses`, `${BARE_7}: responses`],
  [`${OURS}: models.list`, `${BARE_7}: models.list`],
];
const COMPARISONS: readonly (readonly [string, string])[] = [
  [`${OURS}: chat`, `${PEER}: chat`],
  [`${OURS_FULL}: chat`, `${PEER}: chat`],
  [`${OURS}: responses`, `${PEER}: responses`],
  [`${OURS}: chat`, `${PEER_ON_7}: chat`],
  [`${OURS_FULL}: chat`, `${PEER_ON_7}: chat`],
  [`${OURS}: responses`, `${PEER_ON_7}: responses`],
];

interface Sizes {
  calls: number;
  rounds: number;
  concurrency: number;
  /** Per request, before any measurement (over the loopback; five times as many from memory). */
  warmUpCalls: number;
}

function summarize(
  transport: Transport,
  results: Record<string, Measured[]>,
  rounds: number,
): TransportResult {
  const at = (name: string, f: (m: Measured) => number) => {
    const measured = results[name];
    if (!measured) throw new Error(`overhead: nothing measured for ${name}`);
    return measured.map(f);
  };
  const threadCpu = (m: Measured) => m.threadCpuUs;
  const processCpu = (m: Measured) => m.cpuUs;
  const perRound = (f: (round: number) => number) => spread(Array.from({ length: rounds }, (_, i) => f(i)));
  const extra = (layer: string, base: string, f: (m: Measured) => number) =>
    perRound((i) => (at(layer, f)[i] as number) - (at(base, f)[i] as number));
  const baseOf = (layer: string) => DELTAS.find(([l]) => l === layer)?.[1] ?? layer;
  return {
    transport,
    contenders: Object.keys(results).map((name) => {
      const latencies = (results[name] ?? []).flatMap((m) => m.latenciesUs);
      return {
        name,
        callsPerSecond: quantile(
          at(name, (m) => m.cps),
          0.5,
        ),
        cpuUsPerCall: quantile(at(name, processCpu), 0.5),
        threadCpuUsPerCall: quantile(at(name, threadCpu), 0.5),
        latencyUs: {
          p50: latencies.length ? quantile(latencies, 0.5) : Number.NaN,
          p99: latencies.length ? quantile(latencies, 0.99) : Number.NaN,
        },
      };
    }),
    deltas: DELTAS.map(([layer, base]) => ({
      layer,
      base,
      extraCpuUs: extra(layer, base, threadCpu),
      extraProcessCpuUs: extra(layer, base, processCpu),
      throughputRatio: perRound(
        (i) => (at(layer, (m) => m.cps)[i] as number) / (at(base, (m) => m.cps)[i] as number),
      ),
    })),
    peerComparisons: COMPARISONS.map(([ours, peer]) => ({
      ours,
      peer,
      ratio: ratioOfMedians(extra(ours, baseOf(ours), threadCpu), extra(peer, baseOf(peer), threadCpu)),
      processRatio: ratioOfMedians(
        extra(ours, baseOf(ours), processCpu),
        extra(peer, baseOf(peer), processCpu),
      ),
    })),
  };
}

export async function runOverhead(sizes: Sizes): Promise<OverheadResult> {
  if (sizes.rounds < 3) throw new Error('overhead: at least three rounds, for a spread');
  const server = await startServerProcess();
  try {
    const transports: TransportResult[] = [];
    let instrumentationSpans = 0;
    for (const transport of TRANSPORTS) {
      const { results, spans } = await measureInTurns(
        CONTENDERS.map((name) => ({ name, requests: MEASURED[name] })),
        transport,
        server.url,
        sizes,
      );
      if (transport === 'loopback') instrumentationSpans = spans[PEER] ?? 0;
      transports.push(summarize(transport, results, sizes.rounds));
    }
    return { rounds: sizes.rounds, transports, instrumentationSpans };
  } finally {
    await server.stop();
  }
}
