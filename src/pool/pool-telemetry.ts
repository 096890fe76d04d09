/** The pool's metrics: observable gauges for clients and leases, and a counter of evictions by cause. */
import type { Meter } from '@opentelemetry/api';
import {
  ATTR_POOL_CLIENT_STATE,
  ATTR_POOL_EVICTION_CAUSE,
  METRIC_POOL_CLIENTS,
  METRIC_POOL_EVICTIONS,
  METRIC_POOL_LEASES,
} from '../telemetry/semconv.js';

/** What the gauges read; the pool's PoolStats has this shape (this file does not import the pool). */
interface PoolCounts {
  active: number;
  draining: number;
  leases: number;
}

/** Registers the instruments; returns what the pool calls on each eviction. */
export function registerPoolInstruments(meter: Meter, stats: () => PoolCounts): (cause: string) => void {
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
  return (cause) => evictions.add(1, { [ATTR_POOL_EVICTION_CAUSE]: cause });
}
