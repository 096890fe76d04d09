/**
 * npm run demo: the closed-client race, reproduced and recovered, on this machine, in under 30 s.
 *
 * It starts a mock OpenAI server and drives the same mixed load (chat completions and, for a third of the
 * calls, the Responses API; half of each streaming) three ways, side by side:
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
import { ClientPool, createResilientClient, type PoolTransport, telemetryNames } from '../src/index.js';
import {
  ATTR_OPENAI_API_TYPE,
  OPENAI_API_TYPE_VALUE_CHAT_COMPLETIONS,
  OPENAI_API_TYPE_VALUE_RESPONSES,
} from '../src/telemetry/semconv.js';
import { EvictingClientCache, type MockOpenAI, startMockOpenAI } from '../src/testing/index.js';
import { consume, type DriveResult, drive, latencySummary } from './lib/drive.js';
import { startDemoTelemetry } from './lib/otlp.js';
import { formatMs, quantile, table } from './lib/stats.js';
import { countingMeter } from './lib/telemetry.js';

const MODELS = 8;

interface Flags {
  calls: number;
  concurrency: number;
  /** Calls started per second (open loop); 0 for a closed loop at `concurrency`. */
  rate: number;
  churnMs: number;
  json: boolean;
}

/** drive()'s options for the flags: an open loop at `--rate`, or a closed one at `--concurrency`. */
const loadOf = (flags: Flags) => ({
  calls: flags.calls,
  concurrency: flags.concurrency,
  churnMs: flags.churnMs,
  ...(flags.rate > 0 ? { ratePerSecond: flags.rate } : {}),
});

function readFlags(): Flags {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: '1500' },
      concurrency: { type: 'string', default: '100' },
      rate: { type: 'string', default: '0' },
      'churn-ms': { type: 'string', default: '50' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(`Usage: npm run demo -- [--calls N] [--concurrency N] [--churn-ms MS] [--json]

  --calls N        calls per mode (default 1500): two thirds chat completions, one third the
                   Responses API, half of each streaming
  --rate N         calls due per second, whatever the client does (default 0: off), so every mode is
                   offered the same load and latencies (counted from when a call was due) compare
                   like with like; 0 for the closed loop: --concurrency workers, each starting a
                   call when its last one ends
  --concurrency N  most calls in flight at once (default 100): a call due while that many are in
                   flight waits for one, and the wait counts in its latency
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
    rate: whole('rate', values.rate, 0),
    churnMs: whole('churn-ms', values['churn-ms'], 0),
    json: values.json ?? false,
  };
}

type Api = 'chat' | 'responses';
const APIS: readonly Api[] = ['chat', 'responses'];
/** The value of `openai.api.type` on our metrics for each API. */
const API_TYPE: Record<Api, string> = {
  chat: OPENAI_API_TYPE_VALUE_CHAT_COMPLETIONS,
  responses: OPENAI_API_TYPE_VALUE_RESPONSES,
};

/** One API's share of a mode's calls. */
interface ApiResult {
  calls: number;
  succeeded: number;
  failed: number;
  latenciesMs: number[];
  /** Closed-client retries of this API's calls (NaN for bare openai-node, which does not count them). */
  recoveries: number;
}

interface ModeResult {
  mode: string;
  result: DriveResult;
  recoveries: number;
  otherRetries: number;
  connections: number;
  byApi: Record<Api, ApiResult>;
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

/** Every third call goes to the Responses API, the rest to chat completions; half of each stream. */
const apiOf = (i: number): Api => (i % 3 === 2 ? 'responses' : 'chat');
const streams = (i: number) => Math.floor(i / 3) % 2 === 1;

/** Each API's calls, outcomes and latencies within one mode's drive. */
function apiTally() {
  const empty = (): ApiResult => ({
    calls: 0,
    succeeded: 0,
    failed: 0,
    latenciesMs: [],
    recoveries: Number.NaN,
  });
  const byApi: Record<Api, ApiResult> = { chat: empty(), responses: empty() };
  return {
    byApi,
    /** Runs a call and counts it under its API. */
    async track(i: number, call: () => Promise<void>): Promise<void> {
      const tally = byApi[apiOf(i)];
      tally.calls++;
      const t0 = performance.now();
      try {
        await call();
        tally.succeeded++;
      } catch (error) {
        tally.failed++;
        throw error;
      } finally {
        tally.latenciesMs.push(performance.now() - t0);
      }
    },
  };
}

/** `client` is an openai-node client or a resilient one: the call site is the same. */
async function callThrough(client: Pick<OpenAI, 'chat' | 'responses'>, i: number): Promise<void> {
  const params = paramsFor(i);
  if (apiOf(i) === 'responses') {
    const request = { model: params.model, input: 'Say something resilient.' };
    if (streams(i)) await consume(await client.responses.create({ ...request, stream: true }));
    else await client.responses.create(request);
    return;
  }
  if (streams(i)) await consume(await client.chat.completions.create({ ...params, stream: true }));
  else await client.chat.completions.create(params);
}

async function countRetries(counting: ReturnType<typeof countingMeter>, byApi: Record<Api, ApiResult>) {
  const closed = { [telemetryNames.ATTR_RETRY_REASON]: 'client_closed' };
  const recoveries = await counting.counter(telemetryNames.METRIC_RETRIES, closed);
  const all = await counting.counter(telemetryNames.METRIC_RETRIES);
  for (const api of APIS) {
    byApi[api].recoveries = await counting.counter(telemetryNames.METRIC_RETRIES, {
      ...closed,
      [ATTR_OPENAI_API_TYPE]: API_TYPE[api],
    });
  }
  return { recoveries, otherRetries: all - recoveries };
}

const modes: Mode[] = [
  {
    name: 'openai-node, evicting cache',
    async run(server, flags, progress) {
      const cache = new EvictingClientCache({ create: clientFactory(server), key: keyOf });
      const { byApi, track } = apiTally();
      const result = await drive(
        { ...loadOf(flags), churn: () => cache.evict(), onProgress: progress },
        (i) => track(i, () => callThrough(cache.acquire({ params: paramsFor(i) }), i)),
      );
      await cache.close();
      return {
        mode: this.name,
        result,
        recoveries: Number.NaN, // bare openai-node has no recovery to count
        otherRetries: Number.NaN,
        connections: server.connections,
        byApi,
      };
    },
  },
  {
    name: 'resilient-chat, evicting cache',
    async run(server, flags, progress) {
      const cache = new EvictingClientCache({ create: clientFactory(server), key: keyOf });
      const counting = modeMeter('evicting-cache');
      const client = createResilientClient({
        clients: cache,
        meterProvider: counting.meterProvider,
        logger: false,
      });
      const { byApi, track } = apiTally();
      const result = await drive(
        { ...loadOf(flags), churn: () => cache.evict(), onProgress: progress },
        (i) => track(i, () => callThrough(client, i)),
      );
      await cache.close();
      const counts = await countRetries(counting, byApi);
      await counting.shutdown();
      return { mode: this.name, result, ...counts, connections: server.connections, byApi };
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
      const client = createResilientClient({
        clients: pool,
        meterProvider: counting.meterProvider,
        logger: false,
      });
      const { byApi, track } = apiTally();
      let victim = 0;
      const result = await drive(
        { ...loadOf(flags), churn: () => pool.evict(paramsFor(victim++).model), onProgress: progress },
        (i) => track(i, () => callThrough(client, i)),
      );
      await pool.close();
      const counts = await countRetries(counting, byApi);
      await counting.shutdown();
      return { mode: this.name, result, ...counts, connections: server.connections, byApi };
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

function apiLatency(a: ApiResult): { p50: number; p99: number } {
  return { p50: quantile(a.latenciesMs, 0.5), p99: quantile(a.latenciesMs, 0.99) };
}

const flags = readFlags();
const report = progressReporter(flags.json);
if (!flags.json) {
  console.log(
    `resilient-chat demo: ${flags.calls} calls per mode (a third of them to the Responses API; half of each streaming), ${flags.rate > 0 ? `${flags.rate} started per second whatever the client does (open loop)` : `concurrency ${flags.concurrency} (closed loop)`}, ` +
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
        ...(flags.rate > 0 ? { ratePerSecond: flags.rate } : { concurrency: flags.concurrency }),
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
          byApi: Object.fromEntries(
            APIS.map((api) => {
              const a = r.byApi[api];
              return [
                api,
                {
                  calls: a.calls,
                  succeeded: a.succeeded,
                  failed: a.failed,
                  closedClientRecoveries: Number.isNaN(a.recoveries) ? null : a.recoveries,
                  latencyMs: apiLatency(a),
                },
              ];
            }),
          ),
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
  console.log(
    `By API:\n\n${table(
      ['mode', 'API', 'calls', 'succeeded', 'failed', 'recoveries', 'p50', 'p99'],
      results.flatMap((r) =>
        APIS.map((api) => {
          const a = r.byApi[api];
          const l = apiLatency(a);
          return [
            r.mode,
            api === 'chat' ? 'chat.completions' : 'responses',
            a.calls,
            a.succeeded,
            a.failed,
            Number.isNaN(a.recoveries) ? '-' : a.recoveries,
            formatMs(l.p50),
            formatMs(l.p99),
          ];
        }),
      ),
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
    if (flags.rate === 0 && latencySummary(bare.result).p50 < Math.min(...others)) {
      console.log(
        'Its p50 is lower only because its failing calls sit in backoff, leaving the CPU to the others.',
      );
    }
  }
}
