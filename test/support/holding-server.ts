/**
 * A server behaviour (run in the mock server's own process, see server-process.ts) for the
 * closed-client race: it answers every request after a short random delay, except that it *holds* one
 * first attempt in every `holdEvery` (no answer until the client goes away) and reports which client sent
 * it. The test destroys that client on the report, so every destruction kills a request that is certainly in
 * flight, on however slow a machine. One held request per client at most, and only first attempts: a call
 * meets the race once, and its recovery is what the test checks.
 */

import type { MockStep, RecordedRequest } from '../../src/testing/index.js';
import type { ServerBehaviour } from './server-process.js';

/** Sent by every client: which client the request came on. */
export const CLIENT_HEADER = 'x-test-client';
/** Sent with every call: which call the request is an attempt of. */
export const CALL_HEADER = 'x-test-call';

export interface HoldingConfig {
  holdEvery: number;
  /** Delay before normal answers, drawn from [min, max] ms. */
  delayMs: [number, number];
}

/** What the server reports when it holds a request. */
export interface HeldRequest {
  client: string;
  call: string;
  /** Where the answer stops: before the headers, or (JSON) half-way through the body. */
  at: 'headers' | 'body';
}

function header(request: RecordedRequest, name: string): string {
  const value = request.headers[name];
  if (typeof value !== 'string') throw new Error(`holding-server: request without a ${name} header`);
  return value;
}

const holdingServer: ServerBehaviour<HoldingConfig> = ({ holdEvery, delayMs: [min, max] }, report) => {
  const calls = new Set<string>();
  const holding = new Set<string>();
  let firstAttempts = 0;
  let due = 0;
  let heldJson = 0;
  const held = new Map<RecordedRequest, HeldRequest>();
  return {
    recordRequests: false,
    fallback(request): MockStep {
      const client = header(request, CLIENT_HEADER);
      const call = header(request, CALL_HEADER);
      const first = !calls.has(call);
      calls.add(call);
      if (first && ++firstAttempts % holdEvery === 0) due++;
      // A hold that falls due on a client already holding one waits for the next first attempt elsewhere.
      if (first && due > 0 && !holding.has(client)) {
        due--;
        holding.add(client);
        // JSON calls are held before the headers or half-way through the body, in turn; streams after
        // the headers, before any chunk (after a chunk the caller has data and no retry is possible).
        const at = request.stream || heldJson++ % 2 === 0 ? 'headers' : 'body';
        held.set(request, { client, call, at });
        return { type: 'stall', at };
      }
      return { type: 'ok', delayMs: min + Math.floor(Math.random() * (max - min + 1)) };
    },
    onRequest(request) {
      const hold = held.get(request);
      if (!hold) return;
      held.delete(request);
      report(hold);
    },
  };
};

export default holdingServer;
