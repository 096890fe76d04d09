/**
 * Overhead: resilient-chat with tracing and metrics on vs bare openai-node 7, and vs openai 6 with the
 * official @opentelemetry/instrumentation-openai, on a zero-latency loopback server in another process.
 * Throughput at a fixed concurrency, and per-call latency one call at a time; runs are interleaved so that
 * machine drift hits every contender alike.
 */
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import OpenAI from 'openai';
import { createResilientChat } from '../../src/index.js';
import { tracedServiceSdk } from '../lib/sdk.js';
import { startServerProcess } from '../lib/server-process.js';
import { quantile } from '../lib/stats.js';

type Call = () => Promise<unknown>;

export interface OverheadResult {
  callsPerSecond: Record<string, number>;
  /** Client-process CPU per call (µs): steadier than throughput on a shared 2-core machine. */
  cpuUsPerCall: Record<string, number>;
  extraCpuUsPerCall: number;
  latencyUs: Record<string, { p50: number; p99: number }>;
  throughputRatio: number;
  extraUsP50: number;
  extraUsP99: number;
  instrumentationRatio: number;
  instrumentationSpans: number;
}

const params = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };

/** Calls per second at `concurrency`, and this process's CPU time per call (user + system, in µs). */
async function throughput(
  call: Call,
  calls: number,
  concurrency: number,
): Promise<{ cps: number; cpuUs: number }> {
  let next = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < calls) await call();
    }),
  );
  const used = process.cpuUsage(cpu);
  return { cps: calls / ((performance.now() - started) / 1000), cpuUs: (used.user + used.system) / calls };
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

const median = (values: number[]) => quantile(values, 0.5);

export async function runOverhead(options: {
  calls: number;
  rounds: number;
  concurrency: number;
}): Promise<OverheadResult> {
  const server = await startServerProcess();
  const sdk = tracedServiceSdk();
  const instrumentationSdk = tracedServiceSdk();
  try {
    const bare = new OpenAI({ apiKey: 'sk-bench', baseURL: server.url });
    const chat = createResilientChat({
      clients: new OpenAI({ apiKey: 'sk-bench', baseURL: server.url }),
      tracerProvider: sdk.tracerProvider,
      meterProvider: sdk.meterProvider,
      logger: false,
    });
    // openai 6 with the official instrumentation, patched by hand: the package is installed as `openai6`,
    // so the instrumentation's require hook (which looks for `openai`) would not see it.
    const openai6 = await import('openai6');
    const instrumentation = new OpenAIInstrumentation({ enabled: false });
    instrumentation.setTracerProvider(instrumentationSdk.tracerProvider);
    instrumentation.setMeterProvider(instrumentationSdk.meterProvider);
    for (const definition of instrumentation.getModuleDefinitions()) definition.patch?.(openai6, '6.30.1');
    instrumentation.enable(); // its patched methods record only while enabled
    const Instrumented = openai6.default;
    const instrumented = new Instrumented({ apiKey: 'sk-bench', baseURL: server.url });

    const contenders: Record<string, Call> = {
      'openai-node 7 (bare)': () => bare.chat.completions.create(params),
      'resilient-chat (tracing + metrics)': () => chat.completions.create(params),
      'openai 6 + instrumentation-openai': () => instrumented.chat.completions.create(params),
    };
    for (const call of Object.values(contenders)) await throughput(call, 2_000, options.concurrency); // warm-up

    const names = Object.keys(contenders);
    const cps: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    const cpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    const lat: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (let round = 0; round < options.rounds; round++) {
      for (const [name, call] of Object.entries(contenders)) {
        const measured = await throughput(call, options.calls, options.concurrency);
        cps[name]?.push(measured.cps);
        cpu[name]?.push(measured.cpuUs);
        lat[name]?.push(...(await latencies(call, Math.floor(options.calls / 4))));
      }
    }
    const callsPerSecond = Object.fromEntries(Object.entries(cps).map(([k, v]) => [k, median(v)]));
    const cpuUsPerCall = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, median(v)]));
    const latencyUs = Object.fromEntries(
      Object.entries(lat).map(([k, v]) => [k, { p50: quantile(v, 0.5), p99: quantile(v, 0.99) }]),
    );
    const [bareName, oursName, instName] = Object.keys(contenders) as [string, string, string];
    const b = latencyUs[bareName] as { p50: number; p99: number };
    const o = latencyUs[oursName] as { p50: number; p99: number };
    return {
      callsPerSecond,
      cpuUsPerCall,
      extraCpuUsPerCall: (cpuUsPerCall[oursName] as number) - (cpuUsPerCall[bareName] as number),
      latencyUs,
      throughputRatio: (callsPerSecond[oursName] as number) / (callsPerSecond[bareName] as number),
      extraUsP50: o.p50 - b.p50,
      extraUsP99: o.p99 - b.p99,
      instrumentationRatio: (callsPerSecond[instName] as number) / (callsPerSecond[bareName] as number),
      instrumentationSpans: instrumentationSdk.spanExporter.exported,
    };
  } finally {
    await sdk.shutdown();
    await instrumentationSdk.shutdown();
    await server.stop();
  }
}
