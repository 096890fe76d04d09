/**
 * The "Chat completion resilience" Grafana dashboard, built as code with Grafana's typed builders. The JSON
 * that Grafana loads (dashboards/chat-completion-resilience.json) is generated from this by
 * `npm run otel:dashboard`; test/otel-stack.test.ts fails when the two drift apart.
 *
 * Queries use the series names of the compose stack (the collector / Prometheus OTLP translation adds unit
 * suffixes and `_total`), and the labels that attributes become there (dots to underscores; service.name to
 * `job`).
 *
 * Rate windows are `$__rate_interval`, which Grafana derives from the Prometheus datasource's `timeInterval`
 * (provisioning/datasources/datasources.yml): max(4 x timeInterval, $__interval + timeInterval). That setting
 * says how often samples arrive (the metric export interval); with it, every window holds at least four.
 *
 * The JS metrics SDK sends no exemplars, so nothing here promises them. Slow or failed calls lead to their
 * traces through links to Jaeger's search, with the dashboard's service and time range and the span tags that
 * select them.
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  type Dashboard,
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  QueryVariableBuilder,
  RowBuilder,
  TextBoxVariableBuilder,
  VariableRefresh,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';

const PROMETHEUS: common.DataSourceRef = { type: 'prometheus', uid: 'prometheus' };
/**
 * The GenAI histograms in either set of names the library emits, as `__name__` patterns: the default
 * (semantic-conventions 1.45: gen_ai.client.operation.*) or, with
 * OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental, the conventions' own repository's
 * (gen_ai.client.inference.*, gen_ai.client.embeddings.duration). A process emits one set, so nothing is
 * counted twice, and the panels work whichever a service runs with.
 */
export const CALLS = 'gen_ai_client_(operation|inference|embeddings)_duration_seconds';
/** Seconds until a stream's first chunk. */
export const TIME_TO_FIRST_CHUNK = 'gen_ai_client_(operation|inference)_time_to_first_chunk_seconds';
/** Seconds between a stream's chunks after the first. */
export const TIME_PER_OUTPUT_CHUNK = 'gen_ai_client_(operation|inference)_time_per_output_chunk_seconds';
/** Every chat-call series carries the service (job) and the requested model. */
const SEL = 'job=~"$service", gen_ai_request_model=~"$model"';
const RATE = '$__rate_interval';

/** A selector of the series of `pattern` (one of the above) with `suffix`, narrowed to the service and models. */
function series(pattern: string, suffix: 'count' | 'bucket' | 'sum', more = ''): string {
  return `{__name__=~"${pattern}_${suffix}", ${SEL}${more}}`;
}

/** p50, p95 and p99 of a histogram of `pattern` over the selected service and models. */
function quantiles(pattern: string): cog.Builder<cog.Dataquery>[] {
  return [0.5, 0.95, 0.99].map((q) =>
    query(
      `histogram_quantile(${q}, sum by (le) (rate(${series(pattern, 'bucket')}[${RATE}])))`,
      `p${q * 100}`,
    ),
  );
}

/**
 * Input and output tokens per second, by `gen_ai_token_type`, from either set: the default's
 * gen_ai.client.token.usage histogram (embeddings included), or the latest's usage counters, which count
 * inference only, plus the embeddings' per-call histogram.
 */
const TOKENS_PER_SECOND = [
  `sum by (gen_ai_token_type) (rate(gen_ai_client_token_usage_sum{${SEL}}[${RATE}]))`,
  `label_replace(sum(rate({__name__=~"gen_ai_client_inference_usage_input_tokens_total|gen_ai_client_embeddings_operation_input_tokens_sum", ${SEL}}[${RATE}])), "gen_ai_token_type", "input", "", "")`,
  `label_replace(sum(rate(gen_ai_client_inference_usage_output_tokens_total{${SEL}}[${RATE}])), "gen_ai_token_type", "output", "", "")`,
].join(' or ');

function query(expr: string, legend: string): cog.Builder<cog.Dataquery> {
  return new DataqueryBuilder().datasource(PROMETHEUS).expr(expr).legendFormat(legend);
}

/**
 * A link to Jaeger's trace search for the selected service over the dashboard's time range (Grafana's
 * `${__from}`/`${__to}` are milliseconds; Jaeger wants microseconds). `tags` are span tags Jaeger matches
 * exactly; `extra` adds query parameters (already encoded).
 */
export function jaegerSearch(title: string, tags: Record<string, string> = {}, extra = '') {
  const tagParam = Object.keys(tags).length > 0 ? `&tags=${encodeURIComponent(JSON.stringify(tags))}` : '';
  return new DashboardLinkBuilder(title)
    .type(DashboardLinkType.Link)
    .url(
      `\${jaeger}/search?service=\${service:percentencode}&start=\${__from}000&end=\${__to}000&limit=100${tagParam}${extra}`,
    )
    .targetBlank(true);
}

function timeseries(
  title: string,
  description: string,
  unit: string,
  ...targets: cog.Builder<cog.Dataquery>[]
) {
  const legend = new common.VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(common.LegendDisplayMode.List)
    .placement(common.LegendPlacement.Bottom);
  let panel = new TimeseriesPanel()
    .title(title)
    .description(description)
    .datasource(PROMETHEUS)
    .unit(unit)
    .legend(legend)
    .height(8)
    .span(12);
  for (const target of targets) panel = panel.withTarget(target);
  return panel;
}

export function buildDashboard(): Dashboard {
  return (
    new DashboardBuilder('Chat completion resilience')
      .uid('resilient-chat')
      .description(
        'Chat completions through resilient-chat: traffic, retries, closed-client recoveries, give-ups, latency, tokens, circuit breakers, retry budget.',
      )
      .tags(['resilient-chat', 'genai', 'openai'])
      .refresh('1m')
      .time({ from: 'now-1h', to: 'now' })
      .tooltip(DashboardCursorSync.Crosshair)
      // One service at a time: Jaeger's search, which the links open, takes exactly one.
      .withVariable(
        new QueryVariableBuilder('service')
          .label('Service')
          .datasource(PROMETHEUS)
          .query(`label_values({__name__=~"${CALLS}_count"}, job)`)
          .refresh(VariableRefresh.OnTimeRangeChanged),
      )
      .withVariable(
        new QueryVariableBuilder('model')
          .label('Model')
          .datasource(PROMETHEUS)
          .query(`label_values({__name__=~"${CALLS}_count", job=~"$service"}, gen_ai_request_model)`)
          .refresh(VariableRefresh.OnTimeRangeChanged)
          .multi(true)
          .includeAll(true)
          .allValue('.+'),
      )
      .withVariable(
        new TextBoxVariableBuilder('jaeger')
          .label('Jaeger URL')
          .description(
            "Where the browser reaches Jaeger's UI (docker-compose.otel.yml publishes it on localhost).",
          )
          .defaultValue('http://localhost:16686'),
      )
      .links([
        jaegerSearch('Traces of this service in Jaeger'),
        jaegerSearch('Failed calls in Jaeger', { error: 'true' }),
      ])
      .withRow(new RowBuilder('Calls'))
      .withPanel(
        timeseries(
          'Calls per second',
          'Chat-completion calls finished per second, by outcome. Panel links: the failed calls in Jaeger.',
          'reqps',
          query(`sum(rate(${series(CALLS, 'count', ', error_type=""')}[${RATE}]))`, 'succeeded'),
          query(`sum(rate(${series(CALLS, 'count', ', error_type!=""')}[${RATE}]))`, 'failed'),
        ).links([jaegerSearch('Failed calls in Jaeger', { error: 'true' })]),
      )
      .withPanel(
        new StatPanel()
          .title('Success ratio')
          .description(
            'Share of calls that ended with a result (retried and recovered calls count as successes).',
          )
          .datasource(PROMETHEUS)
          .unit('percentunit')
          .decimals(2)
          .height(8)
          .span(6)
          .withTarget(
            query(
              `sum(rate(${series(CALLS, 'count', ', error_type=""')}[${RATE}])) / sum(rate(${series(CALLS, 'count')}[${RATE}]))`,
              'success ratio',
            ),
          ),
      )
      .withPanel(
        new StatPanel()
          .title('Attempts per call')
          .description('1 + retries per call: 1.0 means nothing needed retrying.')
          .datasource(PROMETHEUS)
          .decimals(3)
          .height(8)
          .span(6)
          .withTarget(
            query(
              `1 + sum(rate(resilient_chat_retries_total{${SEL}}[${RATE}])) / sum(rate(${series(CALLS, 'count')}[${RATE}]))`,
              'attempts per call',
            ),
          ),
      )
      .withPanel(
        timeseries(
          'Latency (whole call, every attempt and sleep)',
          'Quantiles of gen_ai.client.operation.duration (or, with the latest GenAI conventions, inference.duration and embeddings.duration). Click a point: its link searches Jaeger for the calls at least that slow.',
          's',
          ...quantiles(CALLS),
        ).dataLinks([
          // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's data-link variable, not JavaScript's
          jaegerSearch('Calls at least this slow, in Jaeger', {}, '&minDuration=${__value.raw}s'),
        ]),
      )
      .withPanel(
        timeseries(
          'Time to first chunk (streams)',
          'Quantiles of gen_ai.client.operation.time_to_first_chunk (latest conventions: inference.time_to_first_chunk): how long a streaming call waited for its first chunk, every attempt included.',
          's',
          ...quantiles(TIME_TO_FIRST_CHUNK),
        ),
      )
      .withPanel(
        timeseries(
          'Time per output chunk (streams)',
          "Quantiles of gen_ai.client.operation.time_per_output_chunk (latest conventions: inference.time_per_output_chunk): the time between a stream's chunks after the first, as the caller reads them.",
          's',
          ...quantiles(TIME_PER_OUTPUT_CHUNK),
        ),
      )
      .withPanel(
        timeseries(
          'Tokens per second',
          'Input and output tokens: from gen_ai.client.token.usage, or with the latest GenAI conventions the gen_ai.client.inference.usage counters and the embeddings per-call histogram.',
          'short',
          query(TOKENS_PER_SECOND, '{{gen_ai_token_type}}'),
        ),
      )
      .withRow(new RowBuilder('Retries and recovery'))
      .withPanel(
        timeseries(
          'Retries by reason',
          'Retries per second, by why the attempt failed. Panel links: calls that needed 2 or 3 attempts, in Jaeger.',
          'reqps',
          query(
            `sum by (resilient_chat_retry_reason) (rate(resilient_chat_retries_total{${SEL}}[${RATE}]))`,
            '{{resilient_chat_retry_reason}}',
          ),
        ).links([
          jaegerSearch('Calls with 2 attempts, in Jaeger', { 'resilient_chat.attempts': '2' }),
          jaegerSearch('Calls with 3 attempts, in Jaeger', { 'resilient_chat.attempts': '3' }),
        ]),
      )
      .withPanel(
        timeseries(
          'Closed-client recoveries',
          'Closed-client failures: recovered on a fresh client, or failed (a caller saw the race). Panel links: those calls in Jaeger.',
          'reqps',
          query(
            `sum by (resilient_chat_recovery_outcome) (rate(resilient_chat_closed_client_recoveries_total{${SEL}}[${RATE}]))`,
            '{{resilient_chat_recovery_outcome}}',
          ),
        ).links([
          jaegerSearch('Calls recovered on a fresh client, in Jaeger', {
            'resilient_chat.closed_client.recoveries': '1',
          }),
          jaegerSearch('Failed calls, in Jaeger', { error: 'true' }),
        ]),
      )
      .withPanel(
        timeseries(
          'Give-ups by reason',
          'Calls that ended failed, by why no further attempt was made. Panel links: the failed calls in Jaeger.',
          'reqps',
          query(
            `sum by (resilient_chat_give_up_reason) (rate(resilient_chat_give_ups_total{${SEL}}[${RATE}]))`,
            '{{resilient_chat_give_up_reason}}',
          ),
        ).links([jaegerSearch('Failed calls in Jaeger', { error: 'true' })]),
      )
      .withPanel(
        timeseries(
          'Retry budget exhausted',
          'Retries refused because retries already exceed the budget (10 % of calls plus a floor).',
          'reqps',
          query(`sum(rate(resilient_chat_retry_budget_exhausted_total{${SEL}}[${RATE}]))`, 'refused retries'),
        ),
      )
      .withRow(new RowBuilder('Endpoints and clients'))
      .withPanel(
        timeseries(
          'Circuit state',
          'Per endpoint: 0 closed, 1 half-open, 2 open (calls fail fast).',
          'short',
          query(
            `max by (server_address, gen_ai_request_model) (resilient_chat_circuit_state{${SEL}})`,
            '{{server_address}} {{gen_ai_request_model}}',
          ),
        ).max(2),
      )
      .withPanel(
        timeseries(
          'Circuit transitions',
          'Breaker state changes per second, by the state entered.',
          'reqps',
          query(
            `sum by (resilient_chat_circuit_state) (rate(resilient_chat_circuit_transitions_total{${SEL}}[${RATE}]))`,
            '{{resilient_chat_circuit_state}}',
          ),
        ),
      )
      .withPanel(
        timeseries(
          'Pooled clients',
          'ClientPool clients: active ones are handed out, draining ones wait for their last lease.',
          'short',
          query(
            'sum by (resilient_chat_pool_client_state) (resilient_chat_pool_clients{job=~"$service"})',
            '{{resilient_chat_pool_client_state}}',
          ),
          query('sum(resilient_chat_pool_leases{job=~"$service"})', 'leases'),
        ),
      )
      .withPanel(
        timeseries(
          'Pool evictions by cause',
          'ClientPool evictions per second.',
          'reqps',
          query(
            'sum by (resilient_chat_pool_eviction_cause) (rate(resilient_chat_pool_evictions_total{job=~"$service"}[$__rate_interval]))',
            '{{resilient_chat_pool_eviction_cause}}',
          ),
        ),
      )
      .build()
  );
}

/** The JSON Grafana loads: stable key order and a trailing newline, so the committed file diffs cleanly. */
export function dashboardJson(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}
