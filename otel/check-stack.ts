/**
 * The full-stack check, for machines where Docker runs (otel/check-stack.sh starts the stack, then this): the
 * demo sends over the real OTLP path (collector -> Prometheus's OTLP receiver, collector -> Jaeger), and every
 * promise of the stack is checked against what arrived:
 *
 * - Prometheus: the demo's series carry job="resilient-chat-demo" (no `unknown_service:*`); every dashboard
 *   query, with `$__rate_interval` as Grafana computes it from the datasource's timeInterval, returns data when
 *   its metric exists (a query that is empty although its metric arrived is the blank-panel bug); every rule
 *   evaluates and every rule group is healthy.
 * - Jaeger: /api/services lists the demo, and its traces can be searched.
 * - Grafana: healthy, the dashboard is provisioned (same panels as the committed JSON), and its Prometheus
 *   datasource answers through Grafana's proxy.
 *
 * Prints one line per check and exits 1 if any failed. Needs only the published loopback ports.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { CALLS, TIME_TO_FIRST_CHUNK } from './grafana/dashboard.js';
import { durationSeconds, grafanaRateInterval } from './grafana/rate-interval.js';

const PROMETHEUS = process.env.PROMETHEUS_URL ?? 'http://127.0.0.1:9090';
const JAEGER = process.env.JAEGER_URL ?? 'http://127.0.0.1:16686';
const GRAFANA = process.env.GRAFANA_URL ?? 'http://127.0.0.1:3000';
const COLLECTOR_HEALTH = process.env.COLLECTOR_HEALTH_URL ?? 'http://127.0.0.1:13133';
const OTLP = process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://127.0.0.1:4318';
const SERVICE = 'resilient-chat-demo';

const root = (path: string) => new URL(`../${path}`, import.meta.url);
const read = (path: string) => readFileSync(root(path), 'utf8');

let failures = 0;
function report(ok: boolean, what: string, detail = ''): void {
  if (!ok) failures++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? `: ${detail}` : ''}`);
}
const note = (what: string) => console.log(`note ${what}`);

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json().catch(() => undefined)) as T };
}

type Series = { metric: Record<string, string>; value: [number, string] };

async function prom<T>(path: string, params: Record<string, string> = {}): Promise<T> {
  const { body } = await getJson<{ status: string; data: T; error?: string }>(
    `${PROMETHEUS}/api/v1/${path}?${new URLSearchParams(params)}`,
  );
  if (body?.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${body?.error}`);
  return body.data;
}
const query = (expr: string) => prom<{ result: Series[] }>('query', { query: expr }).then((d) => d.result);

/** Polls `probe` until it holds: the stack's components push nothing to wait on. */
async function until(what: string, timeoutS: number, probe: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    if (await probe().catch(() => false)) return true;
    if (Date.now() > deadline) {
      report(false, what, `not within ${timeoutS} s`);
      return false;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function ready(): Promise<boolean> {
  const up = (url: string) => async () => (await fetch(url)).ok;
  const all = await Promise.all([
    until('Prometheus ready', 120, up(`${PROMETHEUS}/-/ready`)),
    until('collector healthy', 120, up(COLLECTOR_HEALTH)),
    until('Jaeger answers', 120, up(`${JAEGER}/api/services`)),
    until('Grafana healthy', 120, up(`${GRAFANA}/api/health`)),
  ]);
  return all.every(Boolean);
}

async function runDemo(): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: OTLP };
  delete env.OTEL_SERVICE_NAME;
  const child = spawn('npm', ['run', '-s', 'demo', '--', '--calls', '3000', '--churn-ms', '20'], {
    cwd: root('').pathname,
    env,
    stdio: 'inherit',
  });
  const [code] = await once(child, 'exit');
  report(code === 0, 'npm run demo exported over OTLP', `exit ${code}`);
}

async function checkPrometheus(): Promise<void> {
  const arrived = await until("the demo's metrics reached Prometheus", 120, async () => {
    return (await query(`{__name__=~"${CALLS}_count", job="${SERVICE}"}`)).length > 0;
  });
  if (!arrived) return;
  const jobs = await prom<string[]>('label/job/values');
  report(
    !jobs.some((j) => j.startsWith('unknown_service')),
    'no series from an unnamed service',
    jobs.join(', '),
  );

  const { datasources } = parse(read('otel/grafana/provisioning/datasources/datasources.yml')) as {
    datasources: { type: string; jsonData?: { timeInterval?: string } }[];
  };
  const timeInterval = durationSeconds(
    datasources.find((d) => d.type === 'prometheus')?.jsonData?.timeInterval ?? '15s',
  );
  const rateInterval = `${grafanaRateInterval(timeInterval)}s`;
  note(`dashboard windows: $__rate_interval = ${rateInterval} (timeInterval ${timeInterval} s, 1 h range)`);
  const dashboard = JSON.parse(read('otel/grafana/dashboards/chat-completion-resilience.json')) as {
    panels: { title: string; targets?: { expr: string }[] }[];
  };
  for (const panel of dashboard.panels) {
    for (const { expr } of panel.targets ?? []) {
      const concrete = expr
        .replaceAll('$__rate_interval', rateInterval)
        .replaceAll('$service', SERVICE)
        .replaceAll('$model', '.+');
      const series = await query(concrete);
      if (series.length > 0) {
        report(true, `panel "${panel.title}"`, `${series.length} series`);
        continue;
      }
      // Empty: a defect if its metrics arrived, otherwise the demo does not provoke it (say which).
      // Metric names are the identifiers a selector follows (label names are followed by `=`, `!=` or `)`),
      // or the `__name__` patterns that take either set of GenAI names.
      const metrics = [
        ...new Set([
          ...[...concrete.matchAll(/\b((?:gen_ai|resilient_chat)_[a-z_]+)\{/g)].map((m) => m[1] as string),
          ...[...concrete.matchAll(/__name__=~"([^"]+)"/g)].map((m) => m[1] as string),
        ]),
      ];
      const present: string[] = [];
      for (const metric of metrics) {
        if ((await query(`count({__name__=~"${metric}", job="${SERVICE}"})`)).length > 0)
          present.push(metric);
      }
      if (present.length === metrics.length) report(false, `panel "${panel.title}" is blank`, concrete);
      else
        note(
          `panel "${panel.title}": no data, the demo records no ${metrics.filter((m) => !present.includes(m)).join(', ')}`,
        );
    }
  }

  const rules = parse(read('otel/prometheus/alerts.yml')) as {
    groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
  };
  for (const rule of rules.groups.flatMap((g) => g.rules)) {
    const name = rule.alert ?? rule.record ?? '?';
    try {
      const series = await query(rule.expr);
      report(true, `rule ${name} evaluates`, `${series.length} series now`);
    } catch (error) {
      report(false, `rule ${name} evaluates`, (error as Error).message);
    }
  }
  const { groups } = await prom<{ groups: { name: string; rules: { name: string; health: string }[] }[] }>(
    'rules',
  );
  const unhealthy = groups.flatMap((g) => g.rules.filter((r) => r.health !== 'ok').map((r) => r.name));
  report(unhealthy.length === 0, 'every loaded rule is healthy', unhealthy.join(', '));
  const { alerts } = await prom<{ alerts: { labels: Record<string, string>; state: string }[] }>('alerts');
  note(`alerts now: ${alerts.map((a) => `${a.labels.alertname} ${a.state}`).join(', ') || 'none'}`);
  if ((await query(`count({__name__=~"${TIME_TO_FIRST_CHUNK}_bucket"})`)).length === 0)
    note(`${TIME_TO_FIRST_CHUNK} not recorded yet by this version`);
}

async function checkJaeger(): Promise<void> {
  const { body } = await getJson<{ data: string[] }>(`${JAEGER}/api/services`);
  report(body?.data?.includes(SERVICE) ?? false, `Jaeger lists service ${SERVICE}`, body?.data?.join(', '));
  const traces = await getJson<{ data: unknown[] }>(
    `${JAEGER}/api/traces?service=${SERVICE}&limit=5&lookback=1h`,
  );
  report((traces.body?.data?.length ?? 0) > 0, `Jaeger finds traces of ${SERVICE}`);
  const failed = await getJson<{ data: unknown[] }>(
    `${JAEGER}/api/traces?service=${SERVICE}&limit=5&lookback=1h&tags=${encodeURIComponent('{"resilient_chat.closed_client.recoveries":"1"}')}`,
  );
  report(
    (failed.body?.data?.length ?? 0) > 0,
    'Jaeger finds recovered calls by tag (what the dashboard links search)',
  );
}

async function checkGrafana(): Promise<void> {
  const dashboard = await getJson<{ dashboard?: { panels?: unknown[] } }>(
    `${GRAFANA}/api/dashboards/uid/resilient-chat`,
  );
  const committed = JSON.parse(read('otel/grafana/dashboards/chat-completion-resilience.json')) as {
    panels: unknown[];
  };
  report(
    dashboard.status === 200 && dashboard.body?.dashboard?.panels?.length === committed.panels.length,
    'Grafana serves the provisioned dashboard to an anonymous user',
    `HTTP ${dashboard.status}`,
  );
  const proxied = await getJson<{ status: string }>(
    `${GRAFANA}/api/datasources/proxy/uid/prometheus/api/v1/query?query=up`,
  );
  report(
    proxied.body?.status === 'success',
    'Grafana reaches Prometheus through its datasource',
    `HTTP ${proxied.status}`,
  );
}

if (await ready()) {
  await runDemo();
  await checkPrometheus();
  await checkJaeger();
  await checkGrafana();
}
console.log(failures === 0 ? '\nthe stack tells the truth' : `\n${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
