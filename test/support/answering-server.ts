/**
 * A server behaviour (see server-process.ts) for benchmarks and load tests: every request answered normally,
 * after `delayMs` (the time a model takes; default none), with `chunks` content chunks in a stream
 * (default the mock's), and requests counted but not kept.
 */
import type { ServerBehaviour } from './server-process.js';

export interface AnsweringConfig {
  delayMs?: number;
  chunks?: number;
}

const answeringServer: ServerBehaviour<AnsweringConfig> = ({ delayMs, chunks }) => ({
  recordRequests: false,
  ...(chunks === undefined ? {} : { chunks }),
  ...(delayMs === undefined ? {} : { fallback: () => ({ type: 'ok', delayMs }) }),
});

export default answeringServer;

/** Where the behaviour lives, for `startServerProcess({ behaviour })`. */
export const ANSWERING_SERVER = new URL('./answering-server.ts', import.meta.url);
