/**
 * Streaming: open a stream and read it up to its first event of substance inside the retryable phase, then
 * relay the rest. Up to that event nothing has reached the caller, so a failure there (a dead client, an SSE
 * error frame, a reset) is retried like any other attempt. After it, failures are surfaced, never retried.
 * What counts as substance is the operation's to say (src/operations/).
 */
import { APIConnectionTimeoutError } from 'openai';
import { type APIResponseProps, Stream } from '../openai-internals.js';
import type { ResponseSummary, StreamAccumulator } from '../operations/index.js';

export interface OpenedStream {
  upstream: Stream<unknown>;
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
  let timer: NodeJS.Timeout | undefined;
  const expired =
    timeLimitMs === undefined
      ? undefined
      : new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new APIConnectionTimeoutError()), Math.max(0, timeLimitMs));
        });
  expired?.catch(() => undefined); // settled by the race below, or never looked at when the stream wins
  const buffered: unknown[] = [];
  try {
    for (;;) {
      const next = iterator.next();
      const result = expired ? await Promise.race([next, expired]) : await next;
      if (result.done) return { upstream, iterator, buffered, done: true };
      buffered.push(result.value);
      if (hasSubstance(result.value) || buffered.length >= MAX_HELD_BACK_EVENTS) {
        return { upstream, iterator, buffered, done: false };
      }
    }
  } catch (error) {
    upstream.controller.abort();
    throw new StreamOpenFailure(error, buffered, props, upstream.controller);
  } finally {
    clearTimeout(timer);
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
  | { kind: 'failed'; error: unknown; summary: ResponseSummary; deadline: boolean }
  /** Garbage-collected before it was read to its end or stopped: nobody will ever read it. */
  | { kind: 'abandoned'; summary: ResponseSummary };

export interface RelayOptions {
  accumulator: StreamAccumulator;
  /** Epoch ms at which the whole call's deadline ends the stream with a timeout; Infinity for none. */
  deadlineAt: number;
  /** Called exactly once, however the stream ends. */
  onEnd(end: StreamEnd): void;
}

/**
 * Streams that were handed over and not yet ended. When one is garbage-collected unended, its `onEnd` runs
 * with `abandoned`, so its client lease and span are not held forever. One registry for all, no timer per
 * stream; the held value never references the stream itself (or it could never be collected).
 */
const abandonedStreams = new FinalizationRegistry<() => void>((abandon) => abandon());

/**
 * The stream handed to the caller: an openai `Stream` (so `tee()`, `toReadableStream()` and `controller`
 * work as usual) that replays the buffered events, relays the rest, and calls `onEnd` exactly once however
 * the stream ends: consumed, failed, left early with `break`, aborted through its controller, past the
 * call's deadline, or dropped unread.
 */
export function relayStream(opened: OpenedStream, options: RelayOptions): Stream<unknown> {
  const { accumulator } = options;
  const { controller } = opened.upstream;
  const unregisterToken = {};
  let ended = false;
  let timedOut = false;
  let deadlineTimer: NodeJS.Timeout | undefined;
  const end = (value: StreamEnd) => {
    if (ended) return;
    ended = true;
    clearTimeout(deadlineTimer);
    abandonedStreams.unregister(unregisterToken);
    options.onEnd(value);
  };
  const stopped = () => end({ kind: 'stopped_by_caller', summary: accumulator.summary() });
  const expire = () => {
    timedOut = true;
    const error = new APIConnectionTimeoutError({ message: 'Request timed out: the call deadline passed.' });
    end({ kind: 'failed', error, summary: accumulator.summary(), deadline: true });
    controller.abort();
  };
  let consumed = false;
  // A stream aborted before being iterated still ends its span and frees its client. Once iteration has
  // begun, the relay below sees every ending itself (openai-node aborts the controller on errors too).
  controller.signal.addEventListener('abort', () => consumed || stopped(), { once: true });
  if (Number.isFinite(options.deadlineAt)) {
    deadlineTimer = setTimeout(expire, Math.max(0, options.deadlineAt - Date.now()));
    deadlineTimer.unref(); // the stream's own socket keeps the process alive while it matters
  }

  async function* relay(): AsyncGenerator<unknown> {
    if (consumed)
      throw new Error('resilient-chat: this stream was already iterated; use `.tee()` to split it.');
    consumed = true;
    let settled = false;
    try {
      for (const event of opened.buffered) {
        accumulator.add(event);
        yield event;
      }
      for (let result = opened.done ? undefined : await opened.iterator.next(); result && !result.done; ) {
        accumulator.add(result.value);
        yield result.value;
        result = await opened.iterator.next();
      }
      settled = true;
      if (timedOut)
        throw new APIConnectionTimeoutError({ message: 'Request timed out: the call deadline passed.' });
      // openai-node ends a stream quietly when its request is aborted (the caller's signal, controller.abort()).
      if (controller.signal.aborted) stopped();
      else end({ kind: 'completed', summary: accumulator.summary() });
    } catch (error) {
      settled = true;
      end({ kind: 'failed', error, summary: accumulator.summary(), deadline: timedOut });
      throw error;
    } finally {
      if (!settled) {
        // The caller left early: abort the upstream request (openai-node's iterator does so on return()).
        await opened.iterator.return?.();
        stopped();
      }
    }
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
