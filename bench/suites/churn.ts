/**
 * Churn: many calls at high concurrency while a client is evicted every 50 ms. ClientPool (evicted clients
 * drain, their successors inherit their sockets) against a run without churn, in alternating rounds after a
 * warm-up so the ratio is not a JIT or ordering artefact; then a LiteLLM-style cache that destroys evicted
 * transports, with and without the wrapper. (Memory over a long run is its own suite: memory.ts.)
 */
import OpenAI from 'openai';
import { ClientPool, createResilientChat, type PoolTransport, telemetryNames } from '../../src/index.js';
import { EvictingClientCache, type MockOpenAI, startMockOpenAI } from '../../src/testing/index.js';
import { drive } from '../lib/drive.js';
import type { ChurnResult, ChurnRun } from '../lib/results.js';
import { quantile } from '../lib/stats.js';
import { type CountingMeter, countingMeter } from '../lib/telemetry.js';

const GIVE_UP_REASONS = [
  'recoveries_exhausted',
  'attempts_exhausted',
  'budget_exhausted',
  'circuit_open',
  'deadline',
  'not_retryable',
  'stream_interrupted',
];

const KEYS = 8;
const paramsFor = (i: number) => ({
  model: `gpt-bench-${i % KEYS}`,
  messages: [{ role: 'user' as const, content: 'hi' }],
});
const keyOf = ({ params }: { params: { model?: string } }) => params.model ?? '';

function factory(server: MockOpenAI) {
  return (_key: string, transport: PoolTransport) =>
    new OpenAI({ apiKey: 'sk-bench', baseURL: server.url, maxRetries: 0, ...transport });
}

async function measure(
  name: string,
  calls: number,
  concurrency: number,
  churnMs: number,
  setup: (
    server: MockOpenAI,
    meterProvider: CountingMeter['meterProvider'],
  ) => {
    call: (i: number) => Promise<unknown>;
    churn: () => void;
    close: () => Promise<void>;
  },
): Promise<ChurnRun> {
  const counting = countingMeter();
  const server = await startMockOpenAI({ recordRequests: false });
  const { call, churn, close } = setup(server, counting.meterProvider);
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, server.openConnections);
  }, 5);
  const cpuBefore = process.cpuUsage();
  const result = await drive({ calls, concurrency, churnMs, churn }, async (i) => {
    await call(i);
  });
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(sampler);
  await close();
  const connections = server.connections;
  await server.close();
  const giveUps: Record<string, number> = {};
  for (const reason of GIVE_UP_REASONS) {
    const n = await counting.counter(telemetryNames.METRIC_GIVE_UPS, {
      [telemetryNames.ATTR_GIVE_UP_REASON]: reason,
    });
    if (n > 0) giveUps[reason] = n;
  }
  await counting.shutdown();
  return {
    name,
    calls,
    successRate: result.succeeded / calls,
    callsPerSecond: calls / (result.elapsedMs / 1000),
    cpuUsPerCall: (cpu.user + cpu.system) / calls,
    connectionsPer1000: (connections / calls) * 1000,
    peakOpenSockets: peak,
    giveUps,
  };
}

function overPool(churn: boolean) {
  return (server: MockOpenAI, meterProvider: CountingMeter['meterProvider']) => {
    const pool = new ClientPool({ create: factory(server), key: keyOf });
    const chat = createResilientChat({ clients: pool, meterProvider, logger: false });
    let victim = 0;
    return {
      call: (i: number) => chat.completions.create(paramsFor(i)),
      churn: () => (churn ? pool.evict(paramsFor(victim++).model) : undefined),
      close: () => pool.close(),
    };
  };
}

function overEvictingCache(wrapped: boolean) {
  return (server: MockOpenAI, meterProvider: CountingMeter['meterProvider']) => {
    const cache = new EvictingClientCache({ create: factory(server), key: keyOf });
    const chat = createResilientChat({ clients: cache, meterProvider, logger: false });
    return {
      call: (i: number) =>
        wrapped
          ? chat.completions.create(paramsFor(i))
          : cache.acquire({ params: paramsFor(i) }).chat.completions.create(paramsFor(i)),
      churn: () => cache.evict(),
      close: () => cache.close(),
    };
  };
}

export async function runChurn(options: { calls: number; rounds: number }): Promise<ChurnResult> {
  // Warm-up: the first run in a process pays for JIT compilation and would flatter whatever runs second.
  await measure('warm-up', Math.floor(options.calls / 4), 200, 50, overPool(true));
  const still: ChurnRun[] = [];
  const churning: ChurnRun[] = [];
  for (let round = 0; round < options.rounds; round++) {
    // Alternate which goes first, so a machine that slows down or speeds up over time favours neither.
    const pair = async (churn: boolean) =>
      measure(
        churn ? 'ClientPool + resilient-chat, eviction every 50 ms' : 'ClientPool + resilient-chat, no churn',
        options.calls,
        200,
        50, // the same timer in both, a no-op without churn, so only the evictions differ
        overPool(churn),
      );
    if (round % 2 === 0) {
      still.push(await pair(false));
      churning.push(await pair(true));
    } else {
      churning.push(await pair(true));
      still.push(await pair(false));
    }
  }
  const ratios = still.map((s, i) => (churning[i] as ChurnRun).callsPerSecond / s.callsPerSecond);
  const runs = [
    medianRun(still),
    medianRun(churning),
    await measure(
      'evicting cache + resilient-chat, eviction every 50 ms',
      options.calls,
      200,
      50,
      overEvictingCache(true),
    ),
    await measure(
      'evicting cache, bare openai-node, eviction every 50 ms',
      options.calls,
      200,
      50,
      overEvictingCache(false),
    ),
  ];
  const cpuRatios = still.map((s, i) => s.cpuUsPerCall / (churning[i] as ChurnRun).cpuUsPerCall);
  return {
    runs,
    poolThroughputRatio: quantile(ratios, 0.5),
    poolThroughputRatios: ratios,
    poolCpuRatio: quantile(cpuRatios, 0.5),
    poolCpuRatios: cpuRatios,
  };
}

/** The round with the median throughput, named with the number of rounds. */
function medianRun(runs: ChurnRun[]): ChurnRun {
  const sorted = [...runs].sort((a, b) => a.callsPerSecond - b.callsPerSecond);
  const middle = sorted[Math.floor(sorted.length / 2)] as ChurnRun;
  return { ...middle, name: `${middle.name} (median of ${runs.length})` };
}
