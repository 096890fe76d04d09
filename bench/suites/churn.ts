/**
 * Churn: many calls at high concurrency while a client is evicted every 50 ms. ClientPool (evicted clients
 * drain) against a run without churn, and against a LiteLLM-style cache that destroys evicted transports,
 * with and without the wrapper. Then memory over a long run, to catch anything that grows per call.
 */
import OpenAI from 'openai';
import { ClientPool, createResilientChat, type PoolTransport, telemetryNames } from '../../src/index.js';
import { EvictingClientCache, type MockOpenAI, startMockOpenAI } from '../../src/testing/index.js';
import { drive } from '../lib/drive.js';
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

export interface ChurnRun {
  name: string;
  calls: number;
  successRate: number;
  callsPerSecond: number;
  connectionsPer1000: number;
  peakOpenSockets: number;
  /** Why wrapped calls failed (give-up reason: count); bare openai-node cannot say. */
  giveUps: Record<string, number>;
}

export interface ChurnResult {
  runs: ChurnRun[];
  poolThroughputRatio: number;
  memory: { calls: number; heapGrowthMb: number; heapAfterWarmupMb: number; heapAtEndMb: number } | undefined;
}

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
  const result = await drive({ calls, concurrency, churnMs, churn }, async (i) => {
    await call(i);
  });
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

async function memoryOver(calls: number): Promise<ChurnResult['memory']> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  const server = await startMockOpenAI({ recordRequests: false });
  const pool = new ClientPool({ create: factory(server), key: keyOf });
  const chat = createResilientChat({ clients: pool, logger: false });
  let victim = 0;
  const run = (n: number) =>
    drive(
      { calls: n, concurrency: 200, churnMs: 50, churn: () => pool.evict(paramsFor(victim++).model) },
      async (i) => {
        await chat.completions.create(paramsFor(i));
      },
    );
  await run(Math.floor(calls / 10));
  gc();
  const afterWarmup = process.memoryUsage().heapUsed;
  await run(calls);
  gc();
  const atEnd = process.memoryUsage().heapUsed;
  await pool.close();
  await server.close();
  const mb = (b: number) => b / 1024 / 1024;
  return {
    calls,
    heapGrowthMb: mb(atEnd - afterWarmup),
    heapAfterWarmupMb: mb(afterWarmup),
    heapAtEndMb: mb(atEnd),
  };
}

export async function runChurn(options: { calls: number; memoryCalls: number }): Promise<ChurnResult> {
  const runs = [
    await measure('ClientPool + resilient-chat, no churn', options.calls, 200, 0, overPool(false)),
    await measure(
      'ClientPool + resilient-chat, eviction every 50 ms',
      options.calls,
      200,
      50,
      overPool(true),
    ),
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
  const [still, churning] = runs as [ChurnRun, ChurnRun];
  return {
    runs,
    poolThroughputRatio: churning.callsPerSecond / still.callsPerSecond,
    memory: await memoryOver(options.memoryCalls),
  };
}
