/**
 * Where resilient-chat's client CPU goes: V8's sampling CPU profiler (what `node --cpu-prof` writes), run
 * over chat calls with tracing and metrics on, folded into self time per function. Taken through
 * node:inspector in this process so `npm run bench` can print the table; the server is in another process.
 */
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { createResilientClient } from '../../src/index.js';
import { startServerProcess } from '../../test/support/server-process.js';
import type { ProfileResult } from '../lib/results.js';
import { tracedServiceSdk } from '../lib/sdk.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
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
    const bare = new OpenAI({ apiKey: 'sk-bench', baseURL: server.url });
    const ours = createResilientClient({
      clients: new OpenAI({ apiKey: 'sk-bench', baseURL: server.url }),
      tracerProvider: sdk.tracerProvider,
      meterProvider: sdk.meterProvider,
      circuitBreaker: false,
      retryBudget: false,
      logger: false,
    });
    const params = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };
    const run = async (client: OpenAI, calls: number) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: options.concurrency }, async () => {
          while (next++ < calls) await client.chat.completions.create(params);
        }),
      );
    };
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    const profileOf = async (client: OpenAI) => {
      await run(client, 1_000); // warm-up: the profile is of optimized code
      await session.post('Profiler.start');
      await run(client, options.calls);
      const { profile } = await session.post('Profiler.stop');
      return selfTimes(profile as Profile, options.calls);
    };
    const bareTimes = await profileOf(bare);
    const oursTimes = await profileOf(ours);
    const sum = (times: Map<string, Frame>) => [...times.values()].reduce((t, f) => t + f.us, 0);
    let ownUs = 0;
    for (const frame of oursTimes.values()) if (frame.location.startsWith('src/')) ownUs += frame.us;
    const frames = [...oursTimes.entries()]
      .map(([key, f]) => ({
        functionName: f.functionName,
        location: f.location,
        oursUs: f.us,
        bareUs: bareTimes.get(key)?.us ?? 0,
      }))
      .sort((a, b) => b.oursUs - b.bareUs - (a.oursUs - a.bareUs))
      .slice(0, options.top);
    return { calls: options.calls, oursUs: sum(oursTimes), bareUs: sum(bareTimes), ownUs, frames };
  } finally {
    session.disconnect();
    await sdk.shutdown();
    await server.stop();
  }
}

interface Frame {
  functionName: string;
  location: string;
  us: number;
}

/** Self time per call (µs) by function, from the profile's samples and the time each one stands for. */
function selfTimes(profile: Profile, calls: number): Map<string, Frame> {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parents = new Map<number, ProfileNode>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node);
  const frames = new Map<string, Frame>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    let node = nodes.get(samples[i] as number);
    if (!node || IDLE.has(node.callFrame.functionName)) continue;
    // Native builtins get unstable names from the profiler (the same defineProperty shows as "set filename"
    // in one run and "set TextDecoder" in the next): their time is counted in the JavaScript function that
    // called them. The garbage collector stays a frame of its own.
    let native = false;
    while (!node.callFrame.url && !node.callFrame.functionName.startsWith('(')) {
      const parent = parents.get(node.id);
      if (!parent || IDLE.has(parent.callFrame.functionName)) break;
      node = parent;
      native = true;
    }
    const { url, lineNumber } = node.callFrame;
    const functionName = native
      ? `${node.callFrame.functionName || '(anonymous)'} (in builtins)`
      : node.callFrame.functionName;
    // A sample's time is the gap to the next one.
    const us = (deltas[i + 1] ?? deltas[i] ?? 0) / calls;
    const location = url ? `${shorten(url)}:${lineNumber + 1}` : '(native)';
    const key = `${functionName}@${location}`;
    let frame = frames.get(key);
    if (!frame) {
      frame = { functionName: functionName || '(anonymous)', location, us: 0 };
      frames.set(key, frame);
    }
    frame.us += us;
  }
  return frames;
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
