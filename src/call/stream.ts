/**
 * Streaming: open a stream and read it up to its first event of substance inside the retryable phase, then
 * relay the rest. Up to that event nothing has reached the caller, so a failure there (a dead client, an SSE
 * error frame, a reset) is retried like any other attempt. After it, failures are surfaced, never retried.
 * What counts as substance is the operation's to say (src/operations/).
 */
import { APIConnectionTimeoutError } from 'openai';
import { boundedWait } from '../bounded-wait.js';
import { StreamConsumedError } from '../errors.js';
import { type APIResponseProps, Stream } from '../openai-internals.js';
import type { ResponseSummary, StreamAccumulator } from '../operations/index.js';
import { MAX_TIMER_MS } from '../option-checks.js';
import { unref } from '../timers.js';

export interface OpenedStream {
  upstream: Stream<unknown>;
  /** The upstream request's controller (the stream's own). */
  controller: AbortController;
  iterator: AsyncIterator<unknown>;
  /** Events read before handing the stream over: leading empty ones and the first with substance. */
  buffered: unknown[];
  /** The upstream ended while buffering. */
  done: boolean;
}

/**
 * Events held back before a stream is handed over when they carry nothing (a role-only delta, a lifecycle
 * event): a proxy's error frame can still follow them, and until something of substance reaches the caller
 * the attempt can be retried. Past this many the stream is handed over anyway.
 */
const MAX_HELD_BACK_EVENTS = 16;

/**
 * A stream that answered and then failed before its first event of substance: the attempt failed (and may be
 * retried), and should the call give up on it, the caller gets what openai-node would have given: the stream,
 * whose iterator yields what came before and then throws `error` (see `failingStream`).
 */
export class StreamOpenFailure {
  readonly error: unknown;
  readonly buffered: readonly unknown[];
  /** The props of the response the stream came from (its headers, for `withResponse()`). */
  readonly props: APIResponseProps;
  readonly controller: AbortController;

  constructor(
    error: unknown,
    buffered: readonly unknown[],
    props: APIResponseProps,
    controller: AbortController,
  ) {
    this.error = error;
    this.buffered = buffered;
    this.props = props;
    this.controller = controller;
  }
}

const FIRST_EVENT_TIMEOUT_MESSAGE =
  'Request timed out: the stream sent no event of substance in time (streams.firstEventTimeoutMs, retry.attemptTimeoutMs or the client timeout).';

/**
 * Reads an opened stream up to its first event of substance, at most `timeLimitMs`. On any failure the
 * upstream request is aborted so its socket is freed, and a StreamOpenFailure is thrown.
 */
export async function firstEvent(
  upstream: Stream<unknown>,
  props: APIResponseProps,
  timeLimitMs: number | undefined,
  hasSubstance: (event: unknown) => boolean,
): Promise<OpenedStream> {
  const iterator = upstream[Symbol.asyncIterator]();
  const buffered: unknown[] = [];
  const readAhead = () => readToSubstance(iterator, buffered, hasSubstance);
  try {
    const done = await (timeLimitMs === undefined
      ? readAhead()
      : boundedWait(readAhead, {
          timeoutMs: timeLimitMs,
          onTimeout: () => {
            throw new APIConnectionTimeoutError({ message: FIRST_EVENT_TIMEOUT_MESSAGE });
          },
        }));
    return { upstream, controller: upstream.controller, iterator, buffered, done };
  } catch (error) {
    // Frees the socket, and ends a read-ahead that lost to the time limit.
    upstream.controller.abort();
    // A copy: such a read-ahead may still add the event it was waiting for.
    throw new StreamOpenFailure(error, [...buffered], props, upstream.controller);
  }
}

/**
 * Reads into `buffered` until an event of substance, or MAX_HELD_BACK_EVENTS without one; true when the
 * upstream ended first.
 */
async function readToSubstance(
  iterator: AsyncIterator<unknown>,
  buffered: unknown[],
  hasSubstance: (event: unknown) => boolean,
): Promise<boolean> {
  for (;;) {
    const result = await iterator.next();
    if (result.done) return true;
    buffered.push(result.value);
    if (hasSubstance(result.value) || buffered.length >= MAX_HELD_BACK_EVENTS) return false;
  }
}

/**
 * The stream a call hands over when it gave up on a failure that came after the response's headers: as
 * openai-node's own stream would, `await create()` resolves to it, and its iterator yields the events that
 * came before the failure and then throws the failure, so a caller's `try` around `for await` sees it.
 */
export function failingStream(failure: StreamOpenFailure): Stream<unknown> {
  const { buffered, error } = failure;
  async function* replay(): AsyncGenerator<unknown> {
    yield* buffered;
    throw error;
  }
  return new Stream(replay, failure.controller);
}

export type StreamEnd =
  | { kind: 'completed'; summary: ResponseSummary }
  | { kind: 'stopped_by_caller'; summary: ResponseSummary }
  /** `timeout`: the stream was ended by the call's deadline or by the idle watchdog, not by the server. */
  | { kind: 'failed'; error: unknown; summary: ResponseSummary; timeout: 'deadline' | 'stalled' | undefined }
  /** Garbage-collected before it was read to its end or stopped: nobody will ever read it. */
  | { kind: 'abandoned'; summary: ResponseSummary };

export interface RelayOptions {
  accumulator: StreamAccumulator;
  /** Epoch ms at which the whole call's deadline ends the stream with a timeout; Infinity for none. */
  deadlineAt: number;
  /**
   * The longest the server may stay silent while the caller waits for the next event, in ms; Infinity for
   * no limit. Only time spent waiting on the server counts: a caller that reads slowly is not a stall.
   */
  idleTimeoutMs: number;
  /** Called exactly once, however the stream ends. */
  onEnd(end: StreamEnd): void;
}

/**
 * Streams that were handed over and not yet ended. When one is garbage-collected unended, its `onEnd` runs
 * with `abandoned`, so its client lease and span are not held forever. One registry for all, no timer per
 * stream; the held value never references the stream itself (or it could never be collected).
 */
const abandonedStreams = new FinalizationRegistry<() => void>((abandon) => abandon());

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * The stream handed to the caller: an openai `Stream` (so `tee()`, `toReadableStream()` and `controller`
 * work as usual) that replays the buffered events, relays the rest, and calls `onEnd` exactly once however
 * the stream ends: consumed, failed, left early with `break`, aborted through its controller, past the
 * call's deadline, silent past its idle limit, or dropped unread.
 *
 * The relay is an iterator written by hand rather than an async generator: each event then costs one
 * promise reaction on the upstream's own `next()`, with no generator frame to suspend and resume and no
 * result object of its own (the upstream's is handed on).
 */
export function relayStream(opened: OpenedStream, options: RelayOptions): Stream<unknown> {
  const { accumulator } = options;
  // A client timeout past what a timer can hold means no limit (Node would fire such a timer at once).
  const idleTimeoutMs =
    options.idleTimeoutMs > MAX_TIMER_MS ? Number.POSITIVE_INFINITY : options.idleTimeoutMs;
  /** Whether the idle watchdog runs: without it, no clock is read per event. */
  const watching = Number.isFinite(idleTimeoutMs);
  const { controller, iterator: upstream } = opened;
  const { buffered } = opened;
  const unregisterToken = {};
  let ended = false;
  /** Set when the deadline or the watchdog ended the stream: the upstream then ends quietly (aborted). */
  let timedOut: { error: APIConnectionTimeoutError; kind: 'deadline' | 'stalled' } | undefined;
  let deadlineTimer: NodeJS.Timeout | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  /** performance.now() when the relay began to wait on the server for the next event; undefined otherwise. */
  let waitingSince: number | undefined;

  const end = (value: StreamEnd) => {
    if (ended) return;
    ended = true;
    clearTimeout(deadlineTimer);
    clearTimeout(idleTimer);
    abandonedStreams.unregister(unregisterToken);
    options.onEnd(value);
  };
  const stopped = () => end({ kind: 'stopped_by_caller', summary: accumulator.summary() });
  const timeOut = (kind: 'deadline' | 'stalled', message: string) => {
    const error = new APIConnectionTimeoutError({ message });
    timedOut = { error, kind };
    end({ kind: 'failed', error, summary: accumulator.summary(), timeout: kind });
    controller.abort();
  };
  // One timer for the stream, not one per event: when it fires it looks at how long the relay has been
  // waiting, and sets itself again for what is left.
  const watchIdle = () => {
    const waited = waitingSince === undefined ? 0 : performance.now() - waitingSince;
    if (waited >= idleTimeoutMs) {
      timeOut(
        'stalled',
        `Request timed out: the stream sent nothing for ${idleTimeoutMs} ms (streams.idleTimeoutMs).`,
      );
      return;
    }
    idleTimer = unref(setTimeout(watchIdle, idleTimeoutMs - waited));
  };

  let consumed = false;
  // A stream aborted before being iterated still ends its span and frees its client. Once iteration has
  // begun, the relay below sees every ending itself (openai-node aborts the controller on errors too).
  controller.signal.addEventListener('abort', () => consumed || stopped(), { once: true });
  if (Number.isFinite(options.deadlineAt)) {
    // The stream's own socket keeps the process alive while it matters.
    deadlineTimer = unref(
      setTimeout(
        () => timeOut('deadline', 'Request timed out: the call deadline passed.'),
        Math.max(0, options.deadlineAt - Date.now()),
      ),
    );
  }

  function relay(): AsyncIterator<unknown> {
    if (consumed) throw new StreamConsumedError();
    consumed = true;
    let replayed = 0;
    let finished = opened.done;
    const received = (result: IteratorResult<unknown>): IteratorResult<unknown> => {
      waitingSince = undefined;
      if (!result.done) {
        accumulator.add(result.value);
        return result;
      }
      finished = true;
      if (timedOut) throw timedOut.error;
      // openai-node ends a stream quietly when its request is aborted (the caller's signal, controller.abort()).
      if (controller.signal.aborted) stopped();
      else end({ kind: 'completed', summary: accumulator.summary() });
      return result;
    };
    const failed = (error: unknown): never => {
      waitingSince = undefined;
      finished = true;
      end({ kind: 'failed', error, summary: accumulator.summary(), timeout: timedOut?.kind });
      throw error;
    };
    if (watching) idleTimer = unref(setTimeout(watchIdle, idleTimeoutMs));
    return {
      next(): Promise<IteratorResult<unknown>> {
        if (replayed < buffered.length) {
          const value = buffered[replayed++];
          accumulator.add(value);
          return Promise.resolve({ done: false, value });
        }
        if (finished) {
          if (!ended) received(DONE);
          return Promise.resolve(DONE);
        }
        if (watching) waitingSince = performance.now();
        return upstream.next().then(received, failed);
      },
      // The caller left early (`break`, a `return` in `for await`): abort the upstream request, as
      // openai-node's own iterator does on return().
      async return(): Promise<IteratorResult<unknown>> {
        if (!finished) {
          finished = true;
          await upstream.return?.();
          stopped();
        }
        return DONE;
      },
    };
  }
  const stream = new Stream(relay, controller);
  abandonedStreams.register(
    stream,
    () => {
      if (ended) return;
      end({ kind: 'abandoned', summary: accumulator.summary() });
      controller.abort();
    },
    unregisterToken,
  );
  return stream;
}
