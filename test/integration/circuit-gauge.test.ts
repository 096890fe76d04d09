/**
 * The circuit-state gauge reports each client's breakers once per collection, on each meter provider it
 * reports to: a real MeterProvider and reader, with every observation its callback makes counted (the SDK
 * keeps the last of two observations of one attribute set, so duplicates never show in the exported points).
 */
import {
  type Meter,
  type MeterProvider,
  metrics,
  type ObservableCallback,
  type ObservableGauge,
} from '@opentelemetry/api';
import { afterEach, expect, test } from 'vitest';
import { telemetryNames } from '../../src/index.js';
import { useLoopback } from '../support/loopback.js';
import { params } from '../support/params.js';
import { createTelemetryHarness, type TelemetryHarness } from '../support/telemetry.js';

const env = useLoopback();

/**
 * `provider` (a real SDK MeterProvider) seen through a meter whose circuit-state gauge counts the
 * observations its callbacks make; everything else goes to the real instruments unchanged.
 */
function countingObservations(provider: MeterProvider): {
  provider: MeterProvider;
  observations: () => number;
} {
  let observations = 0;
  const countingMeter = (meter: Meter): Meter =>
    new Proxy(meter, {
      get(target, key, receiver) {
        if (key !== 'createObservableGauge') return Reflect.get(target, key, receiver);
        return (name: string, options?: object): ObservableGauge => {
          const gauge = target.createObservableGauge(name, options);
          if (name !== telemetryNames.METRIC_CIRCUIT_STATE) return gauge;
          return new Proxy(gauge, {
            get(g, k, r) {
              if (k !== 'addCallback') return Reflect.get(g, k, r);
              return (callback: ObservableCallback) =>
                g.addCallback((result) =>
                  callback({
                    observe(value, attributes) {
                      observations++;
                      result.observe(value, attributes);
                    },
                  }),
                );
            },
          });
        };
      },
    });
  return {
    provider: {
      getMeter: (name, version, options) => countingMeter(provider.getMeter(name, version, options)),
    },
    observations: () => observations,
  };
}

const extraHarnesses: TelemetryHarness[] = [];
afterEach(async () => {
  metrics.disable();
  await Promise.all(extraHarnesses.splice(0).map((h) => h.shutdown()));
});

test('a client given a meter provider reports each endpoint once per collection', async () => {
  const counting = countingObservations(env.harness.meterProvider);
  const chat = env.chat({ meterProvider: counting.provider });
  await chat.completions.create(params);

  await env.harness.metrics();
  expect(counting.observations()).toBe(1); // one endpoint, one collection
  await env.harness.metrics();
  expect(counting.observations()).toBe(2);
});

test('on the global meter provider: once per collection, and once more per provider it switches to', async () => {
  const first = countingObservations(env.harness.meterProvider);
  metrics.setGlobalMeterProvider(first.provider);
  const chat = env.chat({ meterProvider: undefined });
  await chat.completions.create(params);
  await env.harness.metrics();
  expect(first.observations()).toBe(1);

  // The service replaces its SDK: the next call reports to the new provider, once, and the first keeps its one.
  const next = createTelemetryHarness();
  extraHarnesses.push(next);
  const second = countingObservations(next.meterProvider);
  metrics.disable();
  metrics.setGlobalMeterProvider(second.provider);
  await chat.completions.create(params);
  await chat.completions.create(params);
  await next.metrics();
  expect(second.observations()).toBe(1);
  await env.harness.metrics();
  expect(first.observations()).toBe(2);
});
