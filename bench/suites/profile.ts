/**
 * Where resilient-chat's client CPU goes: V8's sampling CPU profiler (what `node --cpu-prof` writes), run
 * over chat calls with tracing and metrics on, folded into self time per function. Taken through
 * node:inspector in this process so `npm run bench` can print the table; the server is in another process.
 */
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { createResilientClient } from '../../src/index.js';
import { tracedServiceSdk } from '../lib/sdk.js';
import { startServerProcess } from '../lib/server-process.js';

export interface ProfileFrame {
  functionName: string;
  /** File (relative to the project) and line. */
  location: string;
  /** Share of the profile's non-idle samples spent in this function itself. */
  selfShare: number;
}

export interface ProfileResult {
  calls: number;
  frames: ProfileFrame[];
  /** Self-time share of resilient-chat's own code (src/). */
  ownShare: number;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

const ROOT = new URL('../../', import.meta.url).href;
const IDLE = new Set(['(idle)', '(program)', '(root)']);

export async function runProfile(options: {
  calls: number;
  concurrency: number;
  top: number;
}): Promise<ProfileResult> {
  const server = await startServerProcess();
  const sdk = tracedServiceSdk();
  const session = new Session();
  session.connect();
  try {
    const client = createResilientClient({
      clients: new OpenAI({ apiKey: 'sk-bench', baseURL: server.url }),
      tracerProvider: sdk.tracerProvider,
      meterProvider: sdk.meterProvider,
      circuitBreaker: false,
      retryBudget: false,
      logger: false,
    });
    const params = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };
    const run = async (calls: number) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: options.concurrency }, async () => {
          while (next++ < calls) await client.chat.completions.create(params);
        }),
      );
    };
    await run(1_000); // warm-up: the profile is of optimized code
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
    await run(options.calls);
    const { profile } = await session.post('Profiler.stop');
    return summarize(profile.nodes as ProfileNode[], options.calls, options.top);
  } finally {
    session.disconnect();
    await sdk.shutdown();
    await server.stop();
  }
}

function summarize(nodes: readonly ProfileNode[], calls: number, top: number): ProfileResult {
  const byFrame = new Map<string, { functionName: string; location: string; hits: number }>();
  let total = 0;
  let own = 0;
  for (const node of nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const hits = node.hitCount ?? 0;
    if (IDLE.has(functionName) || hits === 0) continue;
    total += hits;
    const location = url ? `${shorten(url)}:${lineNumber + 1}` : '(native)';
    if (location.startsWith('src/')) own += hits;
    const key = `${functionName}@${location}`;
    const entry = byFrame.get(key) ?? { functionName: functionName || '(anonymous)', location, hits: 0 };
    entry.hits += hits;
    byFrame.set(key, entry);
  }
  const frames = [...byFrame.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, top)
    .map((f) => ({ functionName: f.functionName, location: f.location, selfShare: f.hits / total }));
  return { calls, frames, ownShare: own / total };
}

/** `src/call/resilient-call.ts`, `openai/core/...`, `node:internal/...`: short enough for a table. */
function shorten(url: string): string {
  if (url.startsWith(ROOT)) {
    const path = url.slice(ROOT.length);
    const inModules = path.lastIndexOf('node_modules/');
    return inModules >= 0 ? path.slice(inModules + 'node_modules/'.length) : path;
  }
  if (url.startsWith('file:')) return fileURLToPath(url);
  return url;
}
