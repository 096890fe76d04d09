/** The retry budget in an outage on a real server, and closed-client recoveries beside it. */
import { describe, expect, test } from 'vitest';
import { telemetryNames } from '../../src/index.js';
import { giveUpEvents } from '../support/assertions.js';
import { newClient, RecordingSource } from '../support/clients.js';
import { useLoopback } from '../support/loopback.js';
import { params } from '../support/params.js';

describe('in an outage', () => {
  const env = useLoopback({ fallback: () => ({ type: 'status', status: 503 }) });

  async function attemptsPerCall(retryBudget: false | undefined): Promise<number> {
    const chat = env.chat({ retry: { baseDelayMs: 1, maxDelayMs: 2 }, circuitBreaker: false, retryBudget });
    const calls = 200;
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next++ < calls) await chat.completions.create(params).catch(() => undefined);
      }),
    );
    return env.server.requests.length / calls;
  }

  test('every call failing: attempts per call stay within the budget (about 1.1, not 3)', async () => {
    const ratio = await attemptsPerCall(undefined);

    expect(ratio).toBeLessThanOrEqual(1 + 0.1 + 10 / 200); // ratio + the 10-retry floor of the window
    expect(ratio).toBeGreaterThan(1);
    const exhausted = await env.harness.counter(telemetryNames.METRIC_RETRY_BUDGET_EXHAUSTED);
    expect(exhausted).toBeGreaterThan(150);
    expect(
      await env.harness.counter(telemetryNames.METRIC_GIVE_UPS, {
        [telemetryNames.ATTR_GIVE_UP_REASON]: 'budget_exhausted',
      }),
    ).toBe(exhausted);
  });

  test('without a budget the same outage costs three attempts per call', async () => {
    expect(await attemptsPerCall(false)).toBe(3);
  });
});

describe('closed-client recoveries and the budget', () => {
  const env = useLoopback();

  test('closed-client recoveries never spend the budget; a transient retry is refused', async () => {
    const dead = newClient(env.server);
    const fresh = newClient(env.server);
    await dead.agent.destroy();
    env.server.script({ type: 'status', status: 503 });
    const source = new RecordingSource([dead, fresh]);
    const chat = env.chat({ clients: source, retryBudget: { ratio: 0, minRetriesPerSecond: 0 } });

    const error = await chat.completions.create({ model: 'm', messages: [] }).catch((e: unknown) => e);

    expect((error as { status?: number }).status).toBe(503); // the 503 was not retried...
    expect(source.acquired).toEqual([dead.client, fresh.client]); // ...but the dead client was replaced
    const [span] = await env.harness.spans();
    expect(span && giveUpEvents(span)[0]?.[telemetryNames.ATTR_GIVE_UP_REASON]).toBe('budget_exhausted');
    await source.close();
  });
});
