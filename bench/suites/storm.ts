/**
 * Storm: the server answers 503 to everything for a while under a steady offered load (calls started on a
 * clock, not when earlier ones finish, as real traffic arrives). openai-node's defaults against resilient-chat
 * with its retry budget and circuit breaker: requests the server got per call, how soon the breaker opened,
 * and how long after the storm calls succeeded again.
 */
import OpenAI from 'openai';
import { createResilientChat, type ResilientCompletions, telemetryNames } from '../../src/index.js';
import { startMockOpenAI } from '../../src/testing/index.js';
import type { StormResult, StormRun } from '../lib/results.js';
import { countingMeter } from '../lib/telemetry.js';

const params = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };

async function storm(
  name: string,
  options: { stormMs: number; afterMs: number; callsPerSecond: number },
  makeChat: (url: string) => {
    chat: { completions: ResilientCompletions };
    breakerOpenedAt?: () => number | undefined;
  },
): Promise<StormRun> {
  const started = Date.now();
  const stormEnds = started + options.stormMs;
  const server = await startMockOpenAI({
    recordRequests: false,
    fallback: () => (Date.now() < stormEnds ? { type: 'status', status: 503 } : { type: 'ok' }),
  });
  const { chat, breakerOpenedAt } = makeChat(server.url);
  let stormCalls = 0;
  let requestsAtStormEnd = 0;
  let firstSuccessAfterStorm: number | undefined;
  const pending: Promise<unknown>[] = [];
  const interval = 1000 / options.callsPerSecond;
  // Calls go out on a clock; a timer fires every 10 ms and starts the calls that are due.
  await new Promise<void>((resolve) => {
    let sent = 0;
    const tick = setInterval(() => {
      const now = Date.now();
      const due = Math.floor((now - started) / interval);
      for (; sent < due; sent++) {
        const inStorm = Date.now() < stormEnds;
        if (inStorm) stormCalls++;
        pending.push(
          chat.completions.create(params).then(
            () => {
              const at = Date.now();
              if (at >= stormEnds && firstSuccessAfterStorm === undefined) firstSuccessAfterStorm = at;
            },
            () => undefined,
          ),
        );
      }
      if (now >= stormEnds && requestsAtStormEnd === 0) requestsAtStormEnd = server.requestCount;
      if (now >= stormEnds + options.afterMs) {
        clearInterval(tick);
        resolve();
      }
    }, 10);
  });
  await Promise.all(pending);
  await server.close();
  const opened = breakerOpenedAt?.();
  return {
    name,
    callsStarted: stormCalls,
    serverRequestsPerCall: requestsAtStormEnd / stormCalls,
    breakerOpenedAfterMs: opened === undefined ? undefined : opened - started,
    firstSuccessAfterStormMs:
      firstSuccessAfterStorm === undefined ? undefined : firstSuccessAfterStorm - stormEnds,
  };
}

export async function runStorm(options: {
  stormMs: number;
  afterMs: number;
  callsPerSecond: number;
}): Promise<StormResult> {
  const bare = await storm('openai-node defaults (maxRetries 2)', options, (url) => ({
    chat: new OpenAI({ apiKey: 'sk-bench', baseURL: url }).chat,
  }));
  const budgetOnly = await storm('resilient-chat, retry budget, no breaker', options, (url) => ({
    chat: createResilientChat({
      clients: new OpenAI({ apiKey: 'sk-bench', baseURL: url }),
      circuitBreaker: false,
      logger: false,
    }),
  }));
  const counting = countingMeter();
  let openedAt: number | undefined;
  const full = await storm('resilient-chat defaults (budget + breaker)', options, (url) => {
    const chat = createResilientChat({
      clients: new OpenAI({ apiKey: 'sk-bench', baseURL: url }),
      meterProvider: counting.meterProvider,
      logger: false,
    });
    const poll = setInterval(async () => {
      if (openedAt !== undefined) return clearInterval(poll);
      const opened = await counting.counter(telemetryNames.METRIC_CIRCUIT_TRANSITIONS, {
        'resilient_chat.circuit.state': 'open',
      });
      if (opened > 0) openedAt = Date.now();
    }, 20);
    const breakerOpenedAt = () => {
      clearInterval(poll);
      return openedAt;
    };
    return { chat, breakerOpenedAt };
  });
  await counting.shutdown();
  return { stormMs: options.stormMs, callsPerSecond: options.callsPerSecond, runs: [bare, budgetOnly, full] };
}
