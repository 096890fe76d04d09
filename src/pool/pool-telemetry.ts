/**
 * The pool's metrics: observable gauges for clients and leases, a counter of evictions by cause, and the time
 * requests waited for a connection (a histogram, and an event on the span active when the request was sent).
 */
import type { Meter, Span } from '@opentelemetry/api';
import {
  ATTR_POOL_CLIENT_STATE,
  ATTR_POOL_CONNECTION_WAIT_DURATION,
  ATTR_POOL_EVICTION_CAUSE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  EVENT_POOL_CONNECTION_WAIT,
  METRIC_POOL_CLIENTS,
  METRIC_POOL_CONNECTION_WAIT_DURATION,
  METRIC_POOL_EVICTIONS,
  METRIC_POOL_LEASES,
} from '../telemetry/semconv.js';

/** What the gauges read; the pool's PoolStats has this shape (this file does not import the pool). */
interface PoolCounts {
  active: number;
  draining: number;
  leases: number;
}

export interface PoolInstruments {
  evicted(cause: string): void;
  /** A request waited `waitedMs` for a connection to `origin`; `span` was active when it was sent. */
  waited(origin: string, waitedMs: number, span: Span | undefined): void;
}

/** Histogram buckets (s) for connection waits: from a socket freed at once to a queue many answers deep. */
const WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Registers the instruments; returns what the pool calls when something happens. */
export function registerPoolInstruments(meter: Meter, stats: () => PoolCounts): PoolInstruments {
  meter
    .createObservableGauge(METRIC_POOL_CLIENTS, {
      unit: '{client}',
      description: 'Pooled clients: active ones are handed out, draining ones wait for their last lease.',
    })
    .addCallback((result) => {
      const { active, draining } = stats();
      result.observe(active, { [ATTR_POOL_CLIENT_STATE]: 'active' });
      result.observe(draining, { [ATTR_POOL_CLIENT_STATE]: 'draining' });
    });
  meter
    .createObservableGauge(METRIC_POOL_LEASES, {
      unit: '{lease}',
      description: 'Clients leased to calls now.',
    })
    .addCallback((result) => result.observe(stats().leases));
  const evictions = meter.createCounter(METRIC_POOL_EVICTIONS, {
    unit: '{client}',
    description: 'Clients evicted from the pool, by cause.',
  });
  const waits = meter.createHistogram(METRIC_POOL_CONNECTION_WAIT_DURATION, {
    unit: 's',
    description:
      'Time a request waited for a free connection of its pooled client (connectionsPerClient reached).',
    advice: { explicitBucketBoundaries: WAIT_BUCKETS },
  });
  const serverOf = new Map<string, { [ATTR_SERVER_ADDRESS]: string; [ATTR_SERVER_PORT]: number }>();
  return {
    evicted: (cause) => evictions.add(1, { [ATTR_POOL_EVICTION_CAUSE]: cause }),
    waited(origin, waitedMs, span) {
      let server = serverOf.get(origin);
      if (!server) {
        const url = new URL(origin);
        const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
        server = { [ATTR_SERVER_ADDRESS]: url.hostname, [ATTR_SERVER_PORT]: port };
        if (serverOf.size < 1_000) serverOf.set(origin, server);
      }
      waits.record(waitedMs / 1000, server);
      span?.addEvent(EVENT_POOL_CONNECTION_WAIT, {
        [ATTR_POOL_CONNECTION_WAIT_DURATION]: waitedMs / 1000,
        ...server,
      });
    },
  };
}
