/**
 * Drives chat calls at a fixed concurrency, with something evicting clients on a timer, and records each
 * call's outcome and latency. Shared by the demo and the benchmarks.
 */
import { quantile } from './stats.js';

export interface DriveOptions {
  calls: number;
  concurrency: number;
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
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(options.concurrency, options.calls) }, async () => {
      for (let i = next++; i < options.calls; i = next++) {
        const t0 = performance.now();
        try {
          await call(i);
          succeeded++;
        } catch (error) {
          const name = (error as Error)?.constructor?.name ?? typeof error;
          errors[name] = (errors[name] ?? 0) + 1;
        }
        latenciesMs.push(performance.now() - t0);
        done++;
      }
    }),
  );
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
