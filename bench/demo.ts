/**
 * npm run demo: the closed-client race, reproduced and recovered, on this machine, in under 30 s.
 *
 * It starts a mock OpenAI server and drives the same mixed JSON/streaming load three ways, side by side:
 * bare openai-node over a LiteLLM-style cache that destroys evicted clients (the production hazard),
 * resilient-chat over that same cache (recovery), and resilient-chat over ClientPool (no race at all).
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { metrics as metricsApi } from '@opentelemetry/api';
import {
  detectResources,
  envDetector,
  type Resource,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import OpenAI from 'openai';
import {
  ClientPool,
  createResilientChat,
  type PoolTransport,
  type ResilientCompletions,
  telemetryNames,
} from '../src/index.js';
import { EvictingClientCache, type MockOpenAI, startMockOpenAI } from '../src/testing/index.js';
import { consume, type DriveResult, drive, latencySummary } from './lib/drive.js';
import { startDemoTelemetry } from './lib/otlp.js';
import { formatMs, table } from './lib/stats.js';
import { countingMeter } from './lib/telemetry.js';

const MODELS = 8;

interface Flags {
  calls: number;
  concurrency: number;
  churnMs: number;
  json: boolean;
}

function readFlags(): Flags {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: '1500' },
      concurrency: { type: 'string', default: '100' },
      'churn-ms': { type: 'string', default: '50' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(`Usage: npm run demo -- [--calls N] [--concurrency N] [--churn-ms MS] [--json]

  --calls N        chat calls per mode (default 1500)
  --concurrency N  calls in flight at once (default 100)
  --churn-ms MS    evict a cached client every MS milliseconds; 0 for none (default 50)
  --json           print the results as JSON instead of a table

Set OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://localhost:4318) to send traces and metrics to the
docker-compose.otel.yml stack.`);
    process.exit(0);
  }
  const whole = (name: string, raw: string | undefined, min: number) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) {
      console.error(`demo: --${name} must be a whole number of at least ${min}; got ${JSON.stringify(raw)}`);
      process.exit(2);
    }
    return n;
  };
  return {
    calls: whole('calls', values.calls, 1),
    concurrency: whole('concurrency', values.concurrency, 1),
    churnMs: whole('churn-ms', values['churn-ms'], 0),
    json: values.json ?? false,
  };
}

interface ModeResult {
  mode: string;
  result: DriveResult;
  recoveries: number;
  otherRetries: number;
  connections: number;
}

type Mode = {
  name: string;
  run(server: MockOpenAI, flags: Flags, progress: (done: number) => void): Promise<ModeResult>;
};

const paramsFor = (i: number) => ({
  model: `gpt-demo-${i % MODELS}`,
  messages: [{ role: 'user' as const, content: 'Say something resilient.' }],
});
const keyOf = (context: { params: { model?: string } }) => context.params.model ?? '';

function clientFactory(server: MockOpenAI) {
  // openai-node's defaults (maxRetries: 2) for the bare mode; the wrapper turns them off per attempt.
  return (_key: string, transport: PoolTransport) =>
    new OpenAI({ apiKey: 'sk-demo', baseURL: server.url, ...transport });
}

/** `chat` is openai-node's `client.chat` or a ResilientChat: the call site is the same. */
async function callThrough(chat: { completions: ResilientCompletions }, i: number): Promise<void> {
  const params = paramsFor(i);
  if (i % 2 === 0) await chat.completions.create(params);
  else await consume(await chat.completions.create({ ...params, stream: true }));
}

async function countRetries(counting: ReturnType<typeof countingMeter>) {
  const recoveries = await counting.counter(telemetryNames.METRIC_RETRIES, {
    [telemetryNames.ATTR_RETRY_REASON]: 'client_closed',
  });
  const all = await counting.counter(telemetryNames.METRIC_RETRIES);
  return { recoveries, otherRetries: all - recoveries };
}

const modes: Mode[] = [
  {
    name: 'openai-node, evicting cache',
    async run(server, flags, progress) {
      const cache = new EvictingClientCache({ create: clientFactory(server), key: keyOf });
      const result = await drive({ ...flags, churn: () => cache.evict(), onProgress: progress }, (i) =>
        callThrough(cache.acquire({ params: paramsFor(i) }).chat, i),
      );
      await cache.close();
      return {
        mode: this.name,
        result,
        recoveries: Number.NaN, // bare openai-node has no recovery to count
        otherRetries: Number.NaN,
        connections: server.connections,
      };
    },
  },
  {
    name: 'resilient-chat, evicting cache',
    async run(server, flags, progress) {
      const cache = new EvictingClientCache({ create: clientFactory(server), key: keyOf });
      const counting = modeMeter('evicting-cache');
      const chat = createResilientChat({
        clients: cache,
        meterProvider: counting.meterProvider,
        logger: false,
      });
      const result = await drive({ ...flags, churn: () => cache.evict(), onProgress: progress }, (i) =>
        callThrough(chat, i),
      );
      await cache.close();
      const counts = await countRetries(counting);
      await counting.shutdown();
      return { mode: this.name, result, ...counts, connections: server.connections };
    },
  },
  {
    name: 'resilient-chat, ClientPool',
    async run(server, flags, progress) {
      const counting = modeMeter('client-pool');
      const pool = new ClientPool({
        create: clientFactory(server),
        key: keyOf,
        meterProvider: counting.meterProvider,
      });
      const chat = createResilientChat({
        clients: pool,
        meterProvider: counting.meterProvider,
        logger: false,
      });
      let victim = 0;
      const result = await drive(
        { ...flags, churn: () => pool.evict(paramsFor(victim++).model), onProgress: progress },
        (i) => callThrough(chat, i),
      );
      await pool.close();
      const counts = await countRetries(counting);
      await counting.shutdown();
      return { mode: this.name, result, ...counts, connections: server.connections };
    },
  },
];

/**
 * The demo's OpenTelemetry resource: service.name `resilient-chat-demo` unless OTEL_SERVICE_NAME (or
 * OTEL_RESOURCE_ATTRIBUTES) says otherwise, as README promises. Each mode's metrics get their own
 * service.instance.id (Prometheus's `instance` on the OTLP path), so the modes' cumulative series, which all
 * carry the same names and attributes, are not written over one another.
 */
const runId = randomUUID();
function demoResource(instance = 'process'): Resource {
  return resourceFromAttributes({ 'service.name': 'resilient-chat-demo' })
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(resourceFromAttributes({ 'service.instance.id': `${instance}-${runId}` }));
}

const otlp = await startDemoTelemetry(demoResource());
function otlpReaders(instance: string) {
  return otlp ? [otlp.metricReader(instance)] : [];
}
/** A meter provider for one mode: counted in-process, exported over OTLP when an endpoint is set. */
function modeMeter(instance: string) {
  return countingMeter(otlpReaders(instance), { resource: demoResource(instance) });
}

function progressReporter(json: boolean) {
  const interactive = process.stderr.isTTY && !json;
  let lastPlain = -1;
  return (mode: string, done: number, total: number) => {
    const share = total === 0 ? 1 : done / total;
    if (interactive) {
      const width = 30;
      const filled = Math.round(share * width);
      process.stderr.write(
        `\r${mode.padEnd(32)} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}`,
      );
      if (done === total) process.stderr.write('\n');
      return;
    }
    const tenth = Math.floor(share * 10);
    if (tenth !== lastPlain) {
      lastPlain = tenth === 10 ? -1 : tenth;
      process.stderr.write(`demo: ${mode}: ${done}/${total} calls\n`);
    }
  };
}

const flags = readFlags();
const report = progressReporter(flags.json);
if (!flags.json) {
  console.log(
    `resilient-chat demo: ${flags.calls} calls per mode (half streaming), concurrency ${flags.concurrency}, ` +
      (flags.churnMs > 0 ? `a cached client evicted every ${flags.churnMs} ms` : 'no eviction') +
      (otlp ? `; exporting to ${otlp.endpoint}` : ''),
  );
}

const results: ModeResult[] = [];
for (const mode of modes) {
  // Answers take 5-25 ms, so many requests are in flight whenever a client is evicted.
  const server = await startMockOpenAI({
    fallback: () => ({ type: 'ok', delayMs: 5 + Math.floor(Math.random() * 20) }),
  });
  try {
    results.push(await mode.run(server, flags, (done) => report(mode.name, done, flags.calls)));
  } finally {
    await server.close();
  }
}
await otlp?.shutdown();
metricsApi.disable();

if (flags.json) {
  console.log(
    JSON.stringify(
      {
        calls: flags.calls,
        concurrency: flags.concurrency,
        churnMs: flags.churnMs,
        modes: results.map((r) => ({
          mode: r.mode,
          calls: r.result.calls,
          succeeded: r.result.succeeded,
          failed: r.result.failed,
          errors: r.result.errors,
          closedClientRecoveries: Number.isNaN(r.recoveries) ? null : r.recoveries,
          otherRetries: Number.isNaN(r.otherRetries) ? null : r.otherRetries,
          latencyMs: latencySummary(r.result),
          connectionsOpened: r.connections,
          elapsedMs: Math.round(r.result.elapsedMs),
        })),
      },
      null,
      2,
    ),
  );
} else {
  console.log(
    `\n${table(
      [
        'mode',
        'calls',
        'succeeded',
        'failed',
        'recoveries',
        'other retries',
        'p50',
        'p95',
        'p99',
        'connections',
      ],
      results.map((r) => {
        const l = latencySummary(r.result);
        return [
          r.mode,
          r.result.calls,
          r.result.succeeded,
          r.result.failed,
          Number.isNaN(r.recoveries) ? '-' : r.recoveries,
          Number.isNaN(r.otherRetries) ? 'hidden' : r.otherRetries,
          formatMs(l.p50),
          formatMs(l.p95),
          formatMs(l.p99),
          r.connections,
        ];
      }),
    )}\n`,
  );
  const [bare] = results;
  if (bare && bare.result.failed > 0) {
    console.log(
      `openai-node alone: ${bare.result.failed} of ${bare.result.calls} calls failed (${Object.entries(
        bare.result.errors,
      )
        .map(([k, v]) => `${v} ${k}`)
        .join(', ')}); its own retries reuse the dead client and are invisible ("hidden").`,
    );
    const others = results.slice(1).map((r) => latencySummary(r.result).p50);
    if (latencySummary(bare.result).p50 < Math.min(...others)) {
      console.log(
        'Its p50 is lower only because its failing calls sit in backoff, leaving the CPU to the others.',
      );
    }
  }
}
