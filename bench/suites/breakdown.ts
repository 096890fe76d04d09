/**
 * Where the added CPU goes: the steps from bare openai-node 7 to resilient-chat with tracing and metrics, and
 * from bare openai-node 6 to the official instrumentation, each step a contender of its own (see
 * bench/lib/contenders.ts), measured from memory (the quiet transport) in the same run:
 *
 * - ours: a minimal `request()` override (the floor of any wrapper that owns the promise), then the attempt
 *   loop with no OpenTelemetry SDK, then tracing alone and metrics alone on top of that, and both;
 * - the peer's: its metrics with its wrapper (no tracer provider), then its tracing on top.
 */

import { startServerProcess } from '../../test/support/server-process.js';
import { type Measured, measureInTurns } from '../lib/contender-process.js';
import {
  BARE_6,
  BARE_7,
  BREAKDOWN_CONTENDERS,
  type ContenderName,
  FACADE_FLOOR,
  OURS,
  OURS_METRICS,
  OURS_NO_SDK,
  OURS_TRACING,
  PEER,
  PEER_METRICS,
} from '../lib/contenders.js';
import type { BreakdownResult, BreakdownStep } from '../lib/results.js';
import { spread } from '../lib/stats.js';

/** Each step: what it adds, as `contender - contender before it` (the instruction suite counts them too). */
export const STEPS: readonly (readonly [BreakdownStep['who'], string, ContenderName, ContenderName])[] = [
  [
    'resilient-chat',
    'a minimal request() override (any wrapper that owns the promise)',
    FACADE_FLOOR,
    BARE_7,
  ],
  ['resilient-chat', 'the attempt loop, policy and call handling (no SDK)', OURS_NO_SDK, FACADE_FLOOR],
  ['resilient-chat', 'tracing (span, attributes, context)', OURS_TRACING, OURS_NO_SDK],
  ['resilient-chat', 'metrics (3 histogram points)', OURS_METRICS, OURS_NO_SDK],
  ['resilient-chat', 'all of it: tracing and metrics on', OURS, BARE_7],
  ['official instrumentation', 'its wrapper and metrics (no tracer provider)', PEER_METRICS, BARE_6],
  ['official instrumentation', 'tracing on top', PEER, PEER_METRICS],
  ['official instrumentation', 'all of it: tracing and metrics on', PEER, BARE_6],
];

export async function runBreakdown(sizes: {
  calls: number;
  rounds: number;
  concurrency: number;
  warmUpCalls: number;
}): Promise<BreakdownResult> {
  if (sizes.rounds < 3) throw new Error('breakdown: at least three rounds, for a spread');
  // The memory transport replays what this server answered once.
  const server = await startServerProcess();
  try {
    const { results } = await measureInTurns(
      BREAKDOWN_CONTENDERS.map((name) => ({ name, requests: ['chat'] as const })),
      'memory',
      server.url,
      sizes,
    );
    const cpu = (name: ContenderName): number[] => {
      const measured: Measured[] | undefined = results[`${name}: chat`];
      if (!measured) throw new Error(`breakdown: nothing measured for ${name}`);
      return measured.map((m) => m.threadCpuUs);
    };
    return {
      rounds: sizes.rounds,
      steps: STEPS.map(([who, step, layer, base]) => {
        const [layerCpu, baseCpu] = [cpu(layer), cpu(base)];
        return { who, step, extraCpuUs: spread(layerCpu.map((v, i) => v - (baseCpu[i] as number))) };
      }),
    };
  } finally {
    await server.stop();
  }
}
