/**
 * `createResilientChat`: the chat part of the resilient client, for call sites that only ever used
 * `chat.completions.create`. The same machinery as `createResilientClient`: no second attempt loop.
 */
import type OpenAI from 'openai';
import { createResilientClient } from './create-resilient-client.js';
import type { ResilientChatOptions } from './types.js';

/** Typed like openai-node's `chat.completions` (create with its overloads, stream, parse, runTools...). */
export type ResilientCompletions = OpenAI['chat']['completions'];

/** The request options of `chat.completions.create`, as openai-node types them. */
export type ChatRequestOptions = NonNullable<Parameters<OpenAI['chat']['completions']['create']>[1]>;

/** What `createResilientChat` returns: the chat part of a resilient client. */
export interface ResilientChat {
  readonly completions: ResilientCompletions;
}

/**
 * The chat part of `createResilientClient(options)`, for call sites that only use `chat.completions`.
 *
 * @example
 * const chat = createResilientChat({ clients: new OpenAI() });
 * const completion = await chat.completions.create({ model: 'gpt-4o-mini', messages });
 */
export function createResilientChat(options: ResilientChatOptions): ResilientChat {
  return { completions: createResilientClient(options).chat.completions };
}
