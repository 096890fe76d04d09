/**
 * The one wait bounded by an abort signal and a time limit (src/bounded-wait.ts), under fake timers: whichever
 * comes first settles it, the listener and the timer go in every case, and a result that comes after the
 * wait lost is handed back (a value) or dropped (a failure), never left unhandled.
 */
import { getEventListeners } from 'node:events';
import { APIUserAbortError } from 'openai';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { boundedWait } from '../../src/bounded-wait.js';
import { MAX_TIMER_MS } from '../../src/option-checks.js';
import { useUnhandledRejections } from '../support/unhandled.js';

/** A promise the test settles by hand. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const timedOut = () => 'timed out' as const;
const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

/** Lets a rejection nobody handled surface: Node reports it once the microtasks of a turn have run. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const unhandled = useUnhandledRejections();

beforeEach(() => {
  // Only the clock the helper uses: setImmediate stays real, to let unhandled rejections surface.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('boundedWait', () => {
  test("aborted before: rejects with openai's abort error, and neither starts the work nor arms a timer", async () => {
    const controller = new AbortController();
    controller.abort('went away');
    const work = vi.fn(() => 'client');
    const wait = boundedWait(work, { signal: controller.signal, timeoutMs: 1_000, onTimeout: timedOut });
    await expect(wait).rejects.toBeInstanceOf(APIUserAbortError);
    await expect(wait).rejects.toMatchObject({ cause: 'went away' });
    expect(work).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
    expect(listeners(controller.signal)).toBe(0);
  });

  test('aborted during: rejects at once; a value that comes later goes to onLateValue', async () => {
    const controller = new AbortController();
    const work = deferred<string>();
    const onLateValue = vi.fn();
    const wait = boundedWait(() => work.promise, {
      signal: controller.signal,
      timeoutMs: 1_000,
      onTimeout: timedOut,
      onLateValue,
    });
    expect(listeners(controller.signal)).toBe(1);
    controller.abort();
    await expect(wait).rejects.toBeInstanceOf(APIUserAbortError);
    expect(vi.getTimerCount()).toBe(0);
    expect(listeners(controller.signal)).toBe(0);
    work.resolve('late client');
    await nextTurn();
    expect(onLateValue).toHaveBeenCalledExactlyOnceWith('late client');
  });

  test('aborted during: a failure that comes later is handled, not unhandled', async () => {
    const controller = new AbortController();
    const work = deferred<string>();
    const wait = boundedWait(() => work.promise, { signal: controller.signal });
    controller.abort();
    await expect(wait).rejects.toBeInstanceOf(APIUserAbortError);
    work.reject(new Error('late failure'));
    await nextTurn();
    expect(unhandled).toEqual([]);
  });

  test('time up: settles with onTimeout at the limit, not before; the listener goes', async () => {
    const controller = new AbortController();
    const work = deferred<string>();
    const onLateValue = vi.fn();
    let settled: unknown;
    const wait = boundedWait<string>(() => work.promise, {
      signal: controller.signal,
      timeoutMs: 1_000,
      onTimeout: timedOut,
      onLateValue,
    }).then((value) => {
      settled = value;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(settled).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    await wait;
    expect(settled).toBe('timed out');
    expect(listeners(controller.signal)).toBe(0);
    controller.abort(); // too late to matter
    work.resolve('late client');
    await nextTurn();
    expect(onLateValue).toHaveBeenCalledExactlyOnceWith('late client');
  });

  test('time up: an onTimeout that throws rejects with its error; a later failure of the work is handled', async () => {
    const work = deferred<string>();
    const wait = boundedWait(() => work.promise, {
      timeoutMs: 50,
      onTimeout: () => {
        throw new Error('deadline');
      },
    });
    const outcome = expect(wait).rejects.toThrow('deadline');
    await vi.advanceTimersByTimeAsync(50);
    await outcome;
    work.reject(new Error('late failure'));
    await nextTurn();
    expect(unhandled).toEqual([]);
  });

  test('the work first: its value, the timer cleared and the listener removed; a later abort changes nothing', async () => {
    const controller = new AbortController();
    const onLateValue = vi.fn();
    const wait = boundedWait(() => Promise.resolve('client'), {
      signal: controller.signal,
      timeoutMs: 1_000,
      onTimeout: timedOut,
      onLateValue,
    });
    await expect(wait).resolves.toBe('client');
    expect(vi.getTimerCount()).toBe(0);
    expect(listeners(controller.signal)).toBe(0);
    controller.abort();
    expect(onLateValue).not.toHaveBeenCalled();
  });

  test('the work fails first, or throws as it starts: its error, and nothing left behind', async () => {
    const controller = new AbortController();
    const bounds = { signal: controller.signal, timeoutMs: 1_000, onTimeout: timedOut };
    await expect(boundedWait(() => Promise.reject(new Error('refused')), bounds)).rejects.toThrow('refused');
    expect([vi.getTimerCount(), listeners(controller.signal)]).toEqual([0, 0]);
    const throws = () => {
      throw new Error('thrown');
    };
    await expect(boundedWait(throws, bounds)).rejects.toThrow('thrown');
    expect([vi.getTimerCount(), listeners(controller.signal)]).toEqual([0, 0]);
  });

  test('a value the work returns as it is (no promise) is the value of the wait', async () => {
    await expect(boundedWait(() => 7, { timeoutMs: 10, onTimeout: () => 0 })).resolves.toBe(7);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('no work: a wait for the time alone, which the abort ends early', async () => {
    const slept = vi.fn();
    void boundedWait(undefined, { timeoutMs: 200, onTimeout: () => undefined }).then(slept);
    await vi.advanceTimersByTimeAsync(199);
    expect(slept).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(slept).toHaveBeenCalledOnce();

    const controller = new AbortController();
    const aborted = boundedWait(undefined, {
      signal: controller.signal,
      timeoutMs: 200,
      onTimeout: () => undefined,
    });
    await vi.advanceTimersByTimeAsync(100);
    controller.abort();
    await expect(aborted).rejects.toBeInstanceOf(APIUserAbortError);
    expect([vi.getTimerCount(), listeners(controller.signal)]).toEqual([0, 0]);
  });

  test('a limit longer than setTimeout holds is waited out, not fired at once; Infinity is no limit', async () => {
    const work = deferred<string>();
    let settled: unknown;
    void boundedWait<string>(() => work.promise, {
      timeoutMs: MAX_TIMER_MS + 10_000,
      onTimeout: timedOut,
    }).then((value) => {
      settled = value;
    });
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS);
    expect(settled).toBeUndefined();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(settled).toBe('timed out');

    const forever = deferred<string>();
    const unbounded = boundedWait<string>(() => forever.promise, {
      timeoutMs: Number.POSITIVE_INFINITY,
      onTimeout: timedOut,
    });
    expect(vi.getTimerCount()).toBe(0);
    forever.resolve('eventually');
    await expect(unbounded).resolves.toBe('eventually');
  });
});
