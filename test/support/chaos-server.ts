/**
 * A server behaviour (run in the mock server's own process, see server-process.ts) that fails at
 * random in every way the mock can: each request draws a fault by weight, or else a normal answer after
 * 0-10 ms. Streams and JSON calls draw from the same table; SSE error frames only make sense on streams.
 */

import type { MockStep } from '../../src/testing/index.js';
import type { ServerBehaviour } from './server-process.js';

const FAULTS: [number, (stream: boolean) => MockStep][] = [
  [0.05, () => ({ type: 'litellm_closed_client' })],
  [0.05, () => ({ type: 'status', status: 503 })],
  [0.02, () => ({ type: 'status', status: 500 })],
  [0.03, () => ({ type: 'status', status: 429, headers: { 'retry-after-ms': '5' } })],
  [0.03, () => ({ type: 'reset' })],
  [0.01, () => ({ type: 'status', status: 400 })],
  [0.01, () => ({ type: 'stall', at: 'body' })],
  [0.01, () => ({ type: 'stall', at: 'headers' })],
  [0.03, (stream) => (stream ? { type: 'sse_error', afterChunks: 0 } : { type: 'ok' })],
  [0.02, (stream) => (stream ? { type: 'sse_error', afterChunks: 1 } : { type: 'ok' })],
];

function randomStep(stream: boolean): MockStep {
  let draw = Math.random();
  for (const [weight, step] of FAULTS) {
    if (draw < weight) return step(stream);
    draw -= weight;
  }
  return { type: 'ok', delayMs: Math.floor(Math.random() * 10) };
}

const chaosServer: ServerBehaviour = () => ({
  recordRequests: false,
  fallback: (request) => randomStep(request.stream),
});

export default chaosServer;
