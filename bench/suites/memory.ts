/**
 * Memory: does anything grow per call? ClientPool + resilient-chat with tracing and metrics on (the real SDK,
 * exporters that drop), under everything that allocates: a client replaced every 50 ms, a transport destroyed
 * under in-flight requests every 500 ms (closed-client recoveries), LiteLLM's closed-client 500 on 1 % of
 * requests (immediate retries), and one call in four streamed. After a warm-up (caches fill, JIT settles),
 * the heap is sampled after a full GC between batches of calls (spans flushed first, so the exporter's queue
 * is not in the sample), and the slope of heap against calls is fitted with its 95 % interval: Theil-Sen (the
 * median of pairwise slopes, which one stray sample cannot drag) for the verdict, least squares beside it.
 * One object kept per call shows as an interval wholly above 4 bytes a call; noise, as an interval around zero.
 */
import OpenAI from 'openai';
import { ClientPool, createResilientChat, type PoolTransport, telemetryNames } from '../../src/index.js';
import { type MockOpenAI, startMockOpenAI } from '../../src/testing/index.js';
import { consume, drive } from '../lib/drive.js';
import type { MemoryResult } from '../lib/results.js';
import { tracedServiceSdk } from '../lib/sdk.js';
import { countingMeter } from '../lib/telemetry.js';

const KEYS = 8;
/**
 * Bytes per 1,000 calls under which a slope's whole interval is called flat, and over which it is called grows:
 * 4 bytes a call, less than the smallest object V8 can keep (12 bytes or more with pointer compression), so one
 * object kept per call could not hide under it; one kept every few calls could, and the interval says how much.
 */
const FLAT_BYTES_PER_1000 = 4_000;

export interface MemoryOptions {
  warmupCalls: number;
  calls: number;
  /** Calls between two heap samples. */
  sampleEvery: number;
}

const paramsFor = (i: number) => ({
  model: `gpt-mem-${i % KEYS}`,
  messages: [{ role: 'user' as const, content: 'hi' }],
});

export async function runMemory(options: MemoryOptions): Promise<MemoryResult | undefined> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  const server: MockOpenAI = await startMockOpenAI({
    recordRequests: false,
    fallback: (_request, index) => (index % 100 === 99 ? { type: 'litellm_closed_client' } : { type: 'ok' }),
  });
  const sdk = tracedServiceSdk();
  const counting = countingMeter(); // a second provider, read back for the recovery count
  const pool = new ClientPool({
    create: (_key: string, transport: PoolTransport) =>
      new OpenAI({ apiKey: 'sk-bench', baseURL: server.url, maxRetries: 0, ...transport }),
    key: ({ params }) => params.model ?? '',
    meterProvider: sdk.meterProvider,
  });
  const chat = createResilientChat({
    clients: pool,
    tracerProvider: sdk.tracerProvider,
    meterProvider: counting.meterProvider,
    logger: false,
  });
  let replacedClients = 0;
  let destroyedTransports = 0;
  let streams = 0;
  let failedCalls = 0;
  let tick = 0;
  const churn = () => {
    tick++;
    if (pool.evict(paramsFor(tick).model)) replacedClients++;
    if (tick % 10 === 0)
      void destroyUnderRequests(pool, paramsFor(tick).model).then(() => destroyedTransports++);
  };
  const batch = async (calls: number) => {
    const result = await drive({ calls, concurrency: 200, churnMs: 50, churn }, async (i) => {
      if (i % 4 === 0) {
        streams++;
        await consume(await chat.completions.create({ ...paramsFor(i), stream: true }));
      } else {
        await chat.completions.create(paramsFor(i));
      }
    });
    failedCalls += result.failed;
  };
  const heapAfterGc = async () => {
    await sdk.tracerProvider.forceFlush();
    // Twice: the first pass runs finalizers and weak-ref cleanups that free more on the second.
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };

  // The warm-up keeps the measured rhythm (a batch, a flush, a full GC): without the GCs, the first sample
  // after it landed 6-8 MB off the level every later sample kept.
  for (let done = 0; done < options.warmupCalls; done += options.sampleEvery) {
    await batch(Math.min(options.sampleEvery, options.warmupCalls - done));
    await heapAfterGc();
  }
  failedCalls = 0;
  const samples = [{ calls: 0, heapBytes: await heapAfterGc() }];
  for (let done = 0; done < options.calls; ) {
    const n = Math.min(options.sampleEvery, options.calls - done);
    await batch(n);
    done += n;
    samples.push({ calls: done, heapBytes: await heapAfterGc() });
  }

  const recoveries = await counting.counter(telemetryNames.METRIC_CLOSED_CLIENT_RECOVERIES);
  await pool.close();
  await server.close();
  await sdk.shutdown();
  await counting.shutdown();

  const x = samples.map((s) => s.calls / 1000);
  const y = samples.map((s) => s.heapBytes);
  const robust = theilSen(x, y);
  const fit = leastSquares(x, y);
  const interval95: [number, number] = [robust.low, robust.high];
  // Flat and grows are judged against the same line; an interval wholly above zero but under it is still
  // flat (less than one object kept per call), and the report says that it excludes zero.
  const verdict =
    interval95[1] < FLAT_BYTES_PER_1000
      ? 'flat'
      : interval95[0] > FLAT_BYTES_PER_1000
        ? 'grows'
        : 'inconclusive';
  return {
    calls: options.calls,
    samples,
    slopeBytesPer1000: robust.slope,
    interval95,
    leastSquaresBytesPer1000: fit.slope,
    leastSquaresInterval95: [fit.slope - fit.halfWidth95, fit.slope + fit.halfWidth95],
    residualBytes: fit.residual,
    verdict,
    failedCalls,
    streams,
    recoveries,
    destroyedTransports,
    replacedClients,
  };
}

/** Destroys the current transport of `model`'s client while calls are on it, as a dying dispatcher would. */
async function destroyUnderRequests(pool: ClientPool, model: string): Promise<void> {
  const client = await pool.acquire({ params: { model, messages: [] } });
  const { dispatcher } = client.fetchOptions as { dispatcher: { destroy(): Promise<void> } };
  pool.release(client);
  await dispatcher.destroy();
}

/**
 * Theil-Sen slope: the median of the slopes between every pair of samples, with Sen's (1968) distribution-free
 * 95 % interval from the ranks of those slopes (normal approximation to Kendall's S; fine from 10 samples).
 * Hand-written: it is twenty lines, and the statistics packages on npm that have it bring much more.
 */
function theilSen(x: number[], y: number[]): { slope: number; low: number; high: number } {
  const n = x.length;
  const slopes: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = (x[j] as number) - (x[i] as number);
      if (dx !== 0) slopes.push(((y[j] as number) - (y[i] as number)) / dx);
    }
  }
  slopes.sort((a, b) => a - b);
  const count = slopes.length;
  const at = (rank: number) => slopes[Math.min(count - 1, Math.max(0, rank))] as number;
  const middle = (count - 1) / 2;
  const slope = (at(Math.floor(middle)) + at(Math.ceil(middle))) / 2;
  const c = 1.96 * Math.sqrt((n * (n - 1) * (2 * n + 5)) / 18);
  return { slope, low: at(Math.floor((count - c) / 2) - 1), high: at(Math.ceil((count + c) / 2)) };
}

/** Ordinary least squares y = a + b x, with the 95 % half-width of b (Student's t) and the residual SD. */
function leastSquares(x: number[], y: number[]): { slope: number; halfWidth95: number; residual: number } {
  const n = x.length;
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const mx = mean(x);
  const my = mean(y);
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += ((x[i] as number) - mx) ** 2;
    sxy += ((x[i] as number) - mx) * ((y[i] as number) - my);
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += ((y[i] as number) - intercept - slope * (x[i] as number)) ** 2;
  const residual = Math.sqrt(sse / (n - 2));
  return { slope, halfWidth95: tQuantile975(n - 2) * (residual / Math.sqrt(sxx)), residual };
}

/** Student's t 97.5 % quantile: exact up to 10 degrees of freedom, then the value at the range's low end. */
function tQuantile975(df: number): number {
  const table = [12.71, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];
  if (df <= 10) return table[Math.max(0, df - 1)] as number;
  if (df < 20) return 2.228;
  if (df < 30) return 2.086;
  if (df < 60) return 2.042;
  return 2.0;
}
