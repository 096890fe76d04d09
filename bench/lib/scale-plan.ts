/**
 * What the scale suite (bench/suites/scale.ts) and its child process (scale-main.ts) agree on: the setups,
 * how long the server holds each answer, the plan the child is given and what it measures.
 */
export const HOLD_MS = 200;

export const SETUPS = [
  'openai 7 (bare)',
  'resilient-chat, one client',
  'resilient-chat, one client, no OpenTelemetry SDK',
  'resilient-chat, one client, tracing only',
  'resilient-chat, one client, metrics only',
  'resilient-chat, ClientPool',
  'resilient-chat, ClientPool (10 connections: the old default)',
] as const;
export type Setup = (typeof SETUPS)[number];

export interface ScalePlan {
  setup: Setup;
  inFlight: number;
  timeoutMs: number;
  warmUpCalls: number;
}

export interface ScaleMeasured {
  setup: Setup;
  inFlight: number;
  /** Retained heap per call in flight (bytes), after a full collection. */
  heapPerCallBytes: number;
  /** Whether the server held every call when the heap was sampled (a queueing client never gets there). */
  heapAllAtServer: boolean;
  /** Until every call was done; NaN when some were not by the timeout. */
  elapsedMs: number;
  done: number;
  failed: number;
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** From starting the calls to the event loop's next turn. */
  firstTurnMs: number;
  peakOpenSockets: number;
  /** Connections the held server accepted. */
  connections: number;
  cpuMsMainThread: number;
}
