/**
 * Drives chat calls, with something evicting clients on a timer, and records each call's outcome and
 * latency. Shared by the demo and the benchmarks. Two ways to offer the load:
 *
 * - closed loop (`concurrency` workers, each starting a call when its last one ends): the offered load
 *   follows the client, so a client whose calls fail or sit in backoff is offered less, and its latencies
 *   are not comparable with another's;
 * - open loop (`ratePerSecond`): call i is due at i / rate seconds whatever the others do, as users arrive,
 *   and its latency counts from then. `concurrency` still caps the calls in flight (a client that falls
 *   behind would otherwise pile up calls without end): a call due while that many are in flight waits for
 *   one to end, and the wait is part of its latency.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { quantile } from './stats.js';

export interface DriveOptions {
  calls: number;
  /** Calls in flight at once: all the time in a closed loop, at most in an open one. */
  concurrency: number;
  /** Calls due per second, in an open loop. */
  ratePerSecond?: number;
  /** Run every `churnMs` while calls are in flight (an eviction); 0 for none. */
  churnMs: number;
  churn?: () => void;
  /** Called with how many calls have finished, at most every 100 ms. */
  onProgress?: (done: number) => void;
}

export interface DriveResult {
  calls: number;
  succeeded: number;
  failed: number;
  /** Failures by error class name. */
  errors: Record<string, number>;
  latenciesMs: number[];
  elapsedMs: number;
}

export async function drive(
  options: DriveOptions,
  call: (index: number) => Promise<void>,
): Promise<DriveResult> {
  const latenciesMs: number[] = [];
  const errors: Record<string, number> = {};
  let succeeded = 0;
  let next = 0;
  let done = 0;
  const churning =
    options.churnMs > 0 && options.churn ? setInterval(options.churn, options.churnMs) : undefined;
  const progress = options.onProgress ? setInterval(() => options.onProgress?.(done), 100) : undefined;
  const one = async (i: number, t0: number) => {
    try {
      await call(i);
      succeeded++;
    } catch (error) {
      const name = (error as Error)?.constructor?.name ?? typeof error;
      errors[name] = (errors[name] ?? 0) + 1;
    }
    latenciesMs.push(performance.now() - t0);
    done++;
  };
  const started = performance.now();
  const rate = options.ratePerSecond;
  if (rate !== undefined && rate > 0) {
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; i < options.calls; i++) {
      const due = started + (i * 1000) / rate;
      const early = due - performance.now();
      if (early >= 1) await sleep(early);
      while (inFlight.size >= options.concurrency) await Promise.race(inFlight);
      const running: Promise<void> = one(i, due).finally(() => inFlight.delete(running));
      inFlight.add(running);
    }
    await Promise.all(inFlight);
  } else {
    await Promise.all(
      Array.from({ length: Math.min(options.concurrency, options.calls) }, async () => {
        for (let i = next++; i < options.calls; i = next++) await one(i, performance.now());
      }),
    );
  }
  const elapsedMs = performance.now() - started;
  clearInterval(churning);
  clearInterval(progress);
  options.onProgress?.(done);
  return {
    calls: options.calls,
    succeeded,
    failed: options.calls - succeeded,
    errors,
    latenciesMs,
    elapsedMs,
  };
}

export function latencySummary(result: DriveResult): { p50: number; p95: number; p99: number } {
  return {
    p50: quantile(result.latenciesMs, 0.5),
    p95: quantile(result.latenciesMs, 0.95),
    p99: quantile(result.latenciesMs, 0.99),
  };
}

/** Makes `calls` calls of `call`, `concurrency` at a time, each starting when one ends. */
export async function inParallel(call: () => Promise<unknown>, calls: number, concurrency: number) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, calls) }, async () => {
      while (next++ < calls) await call();
    }),
  );
}

/** Reads a whole stream, as a caller would. */
export async function consume(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) {
    // read to the end
  }
}
