/**
 * With no `meterProvider` option, metrics go to the global provider of @opentelemetry/api, which is not a
 * proxy: a client created before the SDK registers its provider (a service that builds its clients at
 * import, then starts telemetry) must look it up again, or it reports to the no-op provider forever.
 */
import { metrics } from '@opentelemetry/api';
import { afterEach, expect, test } from 'vitest';
import { createResilientChat } from '../../src/index.js';
import { METRIC_GEN_AI_CLIENT_OPERATION_DURATION } from '../../src/telemetry/semconv.js';
import { useLoopback } from '../support/loopback.js';
import { params } from '../support/params.js';

const env = useLoopback();
afterEach(() => metrics.disable());

test('a global meter provider registered after the client was made receives its next calls', async () => {
  const chat = createResilientChat({ clients: env.testClient.client, logger: false });

  await chat.completions.create(params); // the no-op global provider: nothing to see
  expect(metrics.setGlobalMeterProvider(env.harness.meterProvider)).toBe(true);
  await chat.completions.create(params);

  const durations = await env.harness.histogram(METRIC_GEN_AI_CLIENT_OPERATION_DURATION);
  expect(durations.map((p) => p.value.count)).toEqual([1]); // the call after the registration, only
});
