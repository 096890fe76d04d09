/** Client sources the user writes: what happens when their acquire or release throws. */
import { expect, test } from 'vitest';
import { telemetryNames } from '../../src/index.js';
import { newClient, RecordingSource } from '../support/clients.js';
import { useLoopback } from '../support/loopback.js';
import { params } from '../support/params.js';

const env = useLoopback();

test('a closed client followed by a failing acquire counts as a failed recovery', async () => {
  const dead = newClient(env.server);
  await dead.agent.destroy();
  let calls = 0;
  const chat = env.chat({
    clients: {
      acquire() {
        if (calls++ === 0) return dead.client;
        throw new Error('pool exhausted');
      },
    },
  });

  await expect(chat.completions.create(params)).rejects.toThrow('pool exhausted');
  const { METRIC_CLOSED_CLIENT_RECOVERIES, ATTR_RECOVERY_OUTCOME } = telemetryNames;
  expect(
    await env.harness.counter(METRIC_CLOSED_CLIENT_RECOVERIES, { [ATTR_RECOVERY_OUTCOME]: 'failed' }),
  ).toBe(1);
  expect(
    await env.harness.counter(METRIC_CLOSED_CLIENT_RECOVERIES, { [ATTR_RECOVERY_OUTCOME]: 'recovered' }),
  ).toBe(0);
});

test('a source whose release throws does not lose the completion', async () => {
  const entry = newClient(env.server);
  const source = new RecordingSource([entry]);
  source.release = () => {
    throw new Error('release broke');
  };
  const completion = await env.chat({ clients: source }).completions.create(params);
  expect(completion.object).toBe('chat.completion');
  await source.close();
});
