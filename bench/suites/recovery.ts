/**
 * Recovery: what a closed-client failure costs a call. A recovered call (its first client's dispatcher is
 * destroyed; a new client serves it) against a clean call on a warm client; and the same failure under
 * openai-node's own retry, and under the flush-every-client-and-retry-once strategy of the original fix.
 */
import OpenAI from 'openai';
import { Agent } from 'undici';
import { classifyError, createResilientChat } from '../../src/index.js';
import { startMockOpenAI } from '../../src/testing/index.js';
import type { RecoveryResult } from '../lib/results.js';
import { quantile } from '../lib/stats.js';

const params = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };

function newClient(url: string, maxRetries = 0): { client: OpenAI; agent: Agent } {
  const agent = new Agent();
  return {
    client: new OpenAI({
      apiKey: 'sk-bench',
      baseURL: url,
      maxRetries,
      fetchOptions: { dispatcher: agent } as object,
    }),
    agent,
  };
}

async function timed(calls: number, call: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await call();
    out.push(performance.now() - t0);
  }
  return out;
}

const summary = (v: number[]) => ({ p50: quantile(v, 0.5), p99: quantile(v, 0.99) });

export async function runRecovery(options: {
  calls: number;
  builtInCalls: number;
  cacheSize: number;
}): Promise<RecoveryResult> {
  const server = await startMockOpenAI();
  const agents: Agent[] = [];
  try {
    const warm = newClient(server.url);
    agents.push(warm.agent);
    const clean = createResilientChat({ clients: warm.client, logger: false });
    await timed(200, () => clean.completions.create(params)); // warm-up
    const cleanMs = await timed(options.calls, () => clean.completions.create(params));

    // Each call: a client whose dispatcher is already destroyed, then a brand-new client (a new connection).
    let pair: { dead: OpenAI; fresh: OpenAI } | undefined;
    const recovering = createResilientChat({
      clients: {
        acquire: () => {
          const next = pair?.dead ?? (pair as { fresh: OpenAI }).fresh;
          if (pair) pair.dead = undefined as unknown as OpenAI;
          return next;
        },
      },
      logger: false,
    });
    const recoveredMs = await timed(options.calls, async () => {
      const dead = newClient(server.url);
      const fresh = newClient(server.url);
      agents.push(dead.agent, fresh.agent);
      await dead.agent.destroy();
      pair = { dead: dead.client, fresh: fresh.client };
      await recovering.completions.create(params);
    });

    const recoveredWarmMs = await timed(options.calls, async () => {
      const dead = newClient(server.url);
      agents.push(dead.agent);
      await dead.agent.destroy();
      pair = { dead: dead.client, fresh: warm.client };
      await recovering.completions.create(params);
    });

    // openai-node alone: its default retries go to the same dead dispatcher.
    let builtInFailed = 0;
    const openaiBuiltInMs = await timed(options.builtInCalls, async () => {
      const dead = newClient(server.url, 2);
      agents.push(dead.agent);
      await dead.agent.destroy();
      await dead.client.chat.completions.create(params).catch(() => builtInFailed++);
    });

    // The original fix: on a closed-client error, rebuild every cached client, then retry once.
    let cache = Array.from({ length: options.cacheSize }, () => newClient(server.url));
    const flushAllMs = await timed(options.calls, async () => {
      const victim = cache[0] as { client: OpenAI; agent: Agent };
      await victim.agent.destroy();
      try {
        await victim.client.chat.completions.create(params);
      } catch (error) {
        if (classifyError(error).reason !== 'client_closed') throw error;
        const old = cache;
        cache = Array.from({ length: options.cacheSize }, () => newClient(server.url));
        await Promise.all(old.map((c) => c.agent.close().catch(() => undefined)));
        await (cache[0] as { client: OpenAI }).client.chat.completions.create(params);
      }
    });
    agents.push(...cache.map((c) => c.agent));

    const cleanSummary = summary(cleanMs);
    const recoveredSummary = summary(recoveredMs);
    const warmSummary = summary(recoveredWarmMs);
    return {
      recoveredWarmMs: warmSummary,
      extraWarmMs: { p50: warmSummary.p50 - cleanSummary.p50, p99: warmSummary.p99 - cleanSummary.p99 },
      cleanMs: cleanSummary,
      recoveredMs: recoveredSummary,
      extraMs: { p50: recoveredSummary.p50 - cleanSummary.p50, p99: recoveredSummary.p99 - cleanSummary.p99 },
      openaiBuiltInMs: {
        p50: quantile(openaiBuiltInMs, 0.5),
        max: Math.max(...openaiBuiltInMs),
        failed: builtInFailed,
        calls: options.builtInCalls,
      },
      flushAllMs: { ...summary(flushAllMs), cacheSize: options.cacheSize },
    };
  } finally {
    await Promise.all(agents.map((a) => a.destroy().catch(() => undefined)));
    await server.close();
  }
}
