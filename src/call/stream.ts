/**
 * Streaming: open a stream and wait for its first chunk inside the retryable phase, then relay the rest.
 * Up to the first chunk nothing has reached the caller, so a failure there (a dead client, an SSE error
 * frame, a reset) is retried like any other attempt. After it, failures are surfaced, never retried.
 */
import { APIConnectionTimeoutError } from 'openai';
import { Stream } from 'openai/core/streaming';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { ResponseSummary } from '../telemetry/attributes.js';
import type { OutputChoice } from '../telemetry/content.js';

export interface OpenedStream {
  upstream: Stream<ChatCompletionChunk>;
  iterator: AsyncIterator<ChatCompletionChunk>;
  /** Chunks read before handing the stream over: leading empty ones and the first with substance. */
  buffered: ChatCompletionChunk[];
  /** The upstream ended while buffering. */
  done: boolean;
}

/**
 * Chunks held back before a stream is handed over when they carry nothing (a role-only delta): a proxy's
 * error frame can still follow them, and until something of substance reaches the caller it can be retried.
 */
const MAX_HELD_BACK_CHUNKS = 16;

/**
 * Reads an opened stream up to its first chunk of substance, at most `timeLimitMs`. On any failure the
 * upstream request is aborted so its socket is freed.
 */
export async function firstChunk(
  upstream: Stream<ChatCompletionChunk>,
  timeLimitMs: number | undefined,
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
  const buffered: ChatCompletionChunk[] = [];
  try {
    for (;;) {
      const next = iterator.next();
      const result = expired ? await Promise.race([next, expired]) : await next;
      if (result.done) return { upstream, iterator, buffered, done: true };
      buffered.push(result.value);
      if (hasSubstance(result.value) || buffered.length >= MAX_HELD_BACK_CHUNKS) {
        return { upstream, iterator, buffered, done: false };
      }
    }
  } catch (error) {
    upstream.controller.abort();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function hasSubstance(chunk: ChatCompletionChunk): boolean {
  if (chunk.usage) return true;
  return (chunk.choices ?? []).some(
    (c) =>
      !!c.delta?.content || !!c.delta?.refusal || (c.delta?.tool_calls?.length ?? 0) > 0 || !!c.finish_reason,
  );
}

export type StreamEnd =
  | { kind: 'completed'; summary: ResponseSummary; output: () => OutputChoice[] }
  | { kind: 'stopped_by_caller'; summary: ResponseSummary; output: () => OutputChoice[] }
  | { kind: 'failed'; error: unknown; summary: ResponseSummary };

/**
 * The stream handed to the caller: an openai `Stream` (so `tee()`, `toReadableStream()` and `controller`
 * work as usual) that replays the first chunk, relays the rest, and calls `onEnd` exactly once however the
 * stream ends: consumed, failed, left early with `break`, or aborted through its controller.
 */
export function relayStream(
  opened: OpenedStream,
  onEnd: (end: StreamEnd) => void,
  captureOutput: boolean,
): Stream<ChatCompletionChunk> {
  const accumulator = new ChunkAccumulator(captureOutput);
  let ended = false;
  const end = (value: StreamEnd) => {
    if (ended) return;
    ended = true;
    onEnd(value);
  };
  const stopped = () =>
    end({ kind: 'stopped_by_caller', summary: accumulator.summary(), output: () => accumulator.output() });
  let consumed = false;
  // A stream aborted before being iterated still ends its span and frees its client. Once iteration has
  // begun, the relay below sees every ending itself (openai-node aborts the controller on errors too).
  opened.upstream.controller.signal.addEventListener('abort', () => consumed || stopped(), { once: true });

  async function* relay(): AsyncGenerator<ChatCompletionChunk> {
    if (consumed)
      throw new Error('resilient-chat: this stream was already iterated; use `.tee()` to split it.');
    consumed = true;
    let settled = false;
    try {
      for (const chunk of opened.buffered) {
        accumulator.add(chunk);
        yield chunk;
      }
      for (let result = opened.done ? undefined : await opened.iterator.next(); result && !result.done; ) {
        accumulator.add(result.value);
        yield result.value;
        result = await opened.iterator.next();
      }
      settled = true;
      // openai-node ends a stream quietly when its request is aborted (the caller's signal, controller.abort()).
      if (opened.upstream.controller.signal.aborted) stopped();
      else end({ kind: 'completed', summary: accumulator.summary(), output: () => accumulator.output() });
    } catch (error) {
      settled = true;
      end({ kind: 'failed', error, summary: accumulator.summary() });
      throw error;
    } finally {
      if (!settled) {
        // The caller left early: abort the upstream request (openai-node's iterator does so on return()).
        await opened.iterator.return?.();
        stopped();
      }
    }
  }
  return new Stream(relay, opened.upstream.controller);
}

/** Folds chunks into what the span records: id, model, finish reasons, usage and (opt-in) content. */
class ChunkAccumulator {
  #id: string | undefined;
  #model: string | undefined;
  #usage: ChatCompletionChunk['usage'];
  #serviceTier: string | null | undefined;
  #fingerprint: string | undefined;
  readonly #choices = new Map<number, OutputChoice>();
  readonly #captureOutput: boolean;

  constructor(captureOutput: boolean) {
    this.#captureOutput = captureOutput;
  }

  add(chunk: ChatCompletionChunk): void {
    this.#id ??= chunk.id;
    this.#model ??= chunk.model;
    if (chunk.usage) this.#usage = chunk.usage;
    if (chunk.service_tier) this.#serviceTier = chunk.service_tier;
    if (chunk.system_fingerprint) this.#fingerprint = chunk.system_fingerprint;
    for (const choice of chunk.choices ?? []) {
      let out = this.#choices.get(choice.index);
      if (!out) {
        out = { text: '', toolCalls: [] };
        this.#choices.set(choice.index, out);
      }
      if (choice.finish_reason) out.finishReason = choice.finish_reason;
      if (!this.#captureOutput) continue;
      if (choice.delta?.content) out.text += choice.delta.content;
      for (const call of choice.delta?.tool_calls ?? []) {
        const existing = out.toolCalls[call.index] ?? {};
        out.toolCalls[call.index] = existing;
        if (call.id) existing.id = call.id;
        if (call.function?.name) existing.name = call.function.name;
        if (call.function?.arguments)
          existing.arguments = (existing.arguments ?? '') + call.function.arguments;
      }
    }
  }

  summary(): ResponseSummary {
    const finishReasons = [...this.#choices.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, c]) => c.finishReason)
      .filter((r): r is string => !!r);
    return {
      id: this.#id,
      model: this.#model,
      finishReasons,
      inputTokens: this.#usage?.prompt_tokens,
      outputTokens: this.#usage?.completion_tokens,
      serviceTier: this.#serviceTier,
      systemFingerprint: this.#fingerprint,
    };
  }

  output(): OutputChoice[] {
    return [...this.#choices.entries()].sort(([a], [b]) => a - b).map(([, c]) => c);
  }
}
