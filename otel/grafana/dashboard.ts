/**
 * The "Chat completion resilience" Grafana dashboard, built as code with Grafana's typed builders. The JSON
 * that Grafana loads (dashboards/chat-completion-resilience.json) is generated from this by
 * `npm run otel:dashboard`; test/otel-dashboard.test.ts fails when the two drift apart.
 *
 * Queries use the series names of the compose stack (the collector / Prometheus OTLP translation adds unit
 * suffixes and `_total`), and the labels that attributes become there (dots to underscores; service.name to
 * `job`).
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  type Dashboard,
  DashboardBuilder,
  DashboardCursorSync,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';

const PROMETHEUS: common.DataSourceRef = { type: 'prometheus', uid: 'prometheus' };
const CALLS = 'gen_ai_client_operation_duration_seconds';
/** Every chat-call series carries the service (job) and the requested model. */
const SEL = 'job=~"$service", gen_ai_request_model=~"$model"';
const RATE = '$__rate_interval';

function query(expr: string, legend: string, exemplar = false): cog.Builder<cog.Dataquery> {
  return new DataqueryBuilder().datasource(PROMETHEUS).expr(expr).legendFormat(legend).exemplar(exemplar);
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
  return new DashboardBuilder('Chat completion resilience')
    .uid('resilient-chat')
    .description(
      'Chat completions through resilient-chat: traffic, retries, closed-client recoveries, give-ups, latency, tokens, circuit breakers, retry budget.',
    )
    .tags(['resilient-chat', 'genai', 'openai'])
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .tooltip(DashboardCursorSync.Crosshair)
    .withVariable(
      new QueryVariableBuilder('service')
        .label('Service')
        .datasource(PROMETHEUS)
        .query(`label_values(${CALLS}_count, job)`)
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .multi(true)
        .includeAll(true)
        .allValue('.+'),
    )
    .withVariable(
      new QueryVariableBuilder('model')
        .label('Model')
        .datasource(PROMETHEUS)
        .query(`label_values(${CALLS}_count{job=~"$service"}, gen_ai_request_model)`)
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .multi(true)
        .includeAll(true)
        .allValue('.+'),
    )
    .withRow(new RowBuilder('Calls'))
    .withPanel(
      timeseries(
        'Calls per second',
        'Chat-completion calls finished per second, by outcome.',
        'reqps',
        query(`sum(rate(${CALLS}_count{${SEL}, error_type=""}[${RATE}]))`, 'succeeded'),
        query(`sum(rate(${CALLS}_count{${SEL}, error_type!=""}[${RATE}]))`, 'failed'),
      ),
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
            `sum(rate(${CALLS}_count{${SEL}, error_type=""}[${RATE}])) / sum(rate(${CALLS}_count{${SEL}}[${RATE}]))`,
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
            `1 + sum(rate(resilient_chat_retries_total{${SEL}}[${RATE}])) / sum(rate(${CALLS}_count{${SEL}}[${RATE}]))`,
            'attempts per call',
          ),
        ),
    )
    .withPanel(
      timeseries(
        'Latency (whole call, every attempt and sleep)',
        'Quantiles of gen_ai.client.operation.duration. Exemplars link to the trace in Jaeger.',
        's',
        ...[0.5, 0.95, 0.99].map((q) =>
          query(
            `histogram_quantile(${q}, sum by (le) (rate(${CALLS}_bucket{${SEL}}[${RATE}])))`,
            `p${q * 100}`,
            true,
          ),
        ),
      ),
    )
    .withPanel(
      timeseries(
        'Tokens per second',
        'Input and output tokens, from gen_ai.client.token.usage.',
        'short',
        query(
          `sum by (gen_ai_token_type) (rate(gen_ai_client_token_usage_sum{${SEL}}[${RATE}]))`,
          '{{gen_ai_token_type}}',
        ),
      ),
    )
    .withRow(new RowBuilder('Retries and recovery'))
    .withPanel(
      timeseries(
        'Retries by reason',
        'Retries per second, by why the attempt failed.',
        'reqps',
        query(
          `sum by (resilient_chat_retry_reason) (rate(resilient_chat_retries_total{${SEL}}[${RATE}]))`,
          '{{resilient_chat_retry_reason}}',
        ),
      ),
    )
    .withPanel(
      timeseries(
        'Closed-client recoveries',
        'Closed-client failures: recovered on a fresh client, or failed (a caller saw the race).',
        'reqps',
        query(
          `sum by (resilient_chat_recovery_outcome) (rate(resilient_chat_closed_client_recoveries_total{${SEL}}[${RATE}]))`,
          '{{resilient_chat_recovery_outcome}}',
        ),
      ),
    )
    .withPanel(
      timeseries(
        'Give-ups by reason',
        'Calls that ended failed, by why no further attempt was made.',
        'reqps',
        query(
          `sum by (resilient_chat_give_up_reason) (rate(resilient_chat_give_ups_total{${SEL}}[${RATE}]))`,
          '{{resilient_chat_give_up_reason}}',
        ),
      ),
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
    .build();
}

/** The JSON Grafana loads: stable key order and a trailing newline, so the committed file diffs cleanly. */
export function dashboardJson(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}
