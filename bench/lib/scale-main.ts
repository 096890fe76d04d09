/**
 * The child side of the scale suite (bench/suites/scale.ts): one client setup, in a process of its own, with
 * its own mock servers in theirs (answers at once for the warm-up, held HOLD_MS for the measurement, held
 * for good for the heap). argv[2] is the JSON plan; the result goes back over IPC.
 *
 * 1. Warm-up: calls answered at once, so the code is compiled before anything is measured.
 * 2. Heap: `inFlight` calls started at once against the server that never answers; once the server holds
 *    all of them (or, for a client that queues, after a while), the heap after a full collection, less the
 *    heap before, over `inFlight`. Then the calls are aborted.
 * 3. Load: `inFlight` calls started at once against the server that holds each answer HOLD_MS: the time until
 *    all are done (or how many were done at `timeoutMs`), the event-loop delay while they run, the sockets
 *    the server saw open at most, and the main thread's CPU.
 */
import { getPriority } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { ClientPool, createResilientClient } from '../../src/index.js';
import { ANSWERING_SERVER } from '../../test/support/answering-server.js';
import { startServerProcess } from '../../test/support/server-process.js';
import { HOLD_MS, type ScaleMeasured, type ScalePlan } from './scale-plan.js';
import { tracedServiceSdk } from './sdk.js';

type Chat = (signal?: AbortSignal) => Promise<unknown>;

const params = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };

async function main(): Promise<ScaleMeasured> {
  const plan = JSON.parse(process.argv[2] ?? '{}') as ScalePlan;
  const start = (delayMs?: number) =>
    startServerProcess({ behaviour: ANSWERING_SERVER, config: delayMs === undefined ? {} : { delayMs } });
  const [fast, held, never] = await Promise.all([start(), start(HOLD_MS), start(3_600_000)]);
  const sdk = tracedServiceSdk();
  const pools: ClientPool[] = [];
  /** A chat call through this setup to `url`. */
  const client = (url: string): Chat => {
    const options = { apiKey: 'sk-bench', baseURL: url, maxRetries: 0 };
    const { setup } = plan;
    if (setup === 'openai 7 (bare)') {
      const bare = new OpenAI(options);
      return (signal) => bare.chat.completions.create(params, { signal });
    }
    const signals = {
      tracerProvider:
        setup.includes('metrics only') || setup.includes('no OpenTelemetry') ? undefined : sdk.tracerProvider,
      meterProvider:
        setup.includes('tracing only') || setup.includes('no OpenTelemetry') ? undefined : sdk.meterProvider,
    };
    let clients: OpenAI | ClientPool;
    if (setup.startsWith('resilient-chat, ClientPool')) {
      const pool = new ClientPool({
        create: (_key, transport) => new OpenAI({ ...options, ...transport }),
        ...(setup.includes('10 connections') ? { connectionsPerClient: 10 } : {}),
        meterProvider: sdk.meterProvider,
      });
      pools.push(pool);
      clients = pool;
    } else clients = new OpenAI(options);
    const ours = createResilientClient({ clients, ...signals, logger: false });
    return (signal) => ours.chat.completions.create(params, { signal });
  };
  const allAtOnce = (chat: Chat, signal?: AbortSignal) =>
    Array.from({ length: plan.inFlight }, () => chat(signal));

  // 1. Warm-up, 50 at a time.
  const warm = client(fast.url);
  let next = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      // A failure here (a keep-alive socket the server closed as it was reused) only costs a warm-up call.
      while (next++ < plan.warmUpCalls) await warm().catch(() => undefined);
    }),
  );

  // 2. Heap per call in flight.
  const heapNow = () => {
    globalThis.gc?.();
    return process.memoryUsage().heapUsed;
  };
  const stuck = client(never.url);
  const before = heapNow();
  const seenBefore = (await never.stats()).requestCount;
  const abort = new AbortController();
  const parked = allAtOnce(stuck, abort.signal).map((p) => p.catch(() => undefined));
  let heapAllAtServer = false;
  for (const startedAt = performance.now(); performance.now() - startedAt < 20_000; await sleep(50)) {
    if ((await never.stats()).requestCount - seenBefore >= plan.inFlight) {
      heapAllAtServer = true;
      break;
    }
  }
  const heapPerCallBytes = (heapNow() - before) / plan.inFlight;
  abort.abort();
  await Promise.all(parked);

  // 3. Load.
  const chat = client(held.url);
  const connectionsBefore = (await held.stats()).connections;
  const delay = monitorEventLoopDelay({ resolution: 5 });
  let peakOpenSockets = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peakOpenSockets = Math.max(peakOpenSockets, (await held.stats()).openConnections);
      await sleep(50);
    }
  })();
  let done = 0;
  let failed = 0;
  const cpu = process.threadCpuUsage();
  delay.enable();
  // Markers for a count of the first turn under callgrind (--dump-before=uv_os_getpriority: see
  // instructions-main.ts); a syscall each, nothing else.
  getPriority();
  const startedAt = performance.now();
  const calls = allAtOnce(chat).map((p) =>
    p.then(
      () => done++,
      () => failed++,
    ),
  );
  // How long starting them all kept the event loop from its next turn (their synchronous work and the
  // microtasks it queued, up to each request's first wait for I/O).
  const firstTurnMs = await new Promise<number>((resolve) =>
    setImmediate(() => {
      resolve(performance.now() - startedAt);
      getPriority();
    }),
  );
  const finished = await Promise.race([
    Promise.all(calls).then(() => true),
    sleep(plan.timeoutMs).then(() => false),
  ]);
  const elapsedMs = finished ? performance.now() - startedAt : Number.NaN;
  delay.disable();
  const cpuUsed = process.threadCpuUsage(cpu);
  sampling = false;
  await sampler;
  const measured: ScaleMeasured = {
    setup: plan.setup,
    inFlight: plan.inFlight,
    heapPerCallBytes,
    heapAllAtServer,
    elapsedMs,
    done,
    failed,
    firstTurnMs,
    eventLoopDelayMs: {
      p50: delay.percentile(50) / 1e6,
      p99: delay.percentile(99) / 1e6,
      max: delay.max / 1e6,
    },
    peakOpenSockets,
    connections: (await held.stats()).connections - connectionsBefore,
    cpuMsMainThread: (cpuUsed.user + cpuUsed.system) / 1000,
  };
  await Promise.all([fast.stop(), held.stop(), never.stop()]);
  return measured;
}

const measured = await main();
process.send?.(measured, () => process.exit(0)); // queued calls, pools and readers would keep it up
