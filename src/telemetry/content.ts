/**
 * Opt-in message content (`captureContent: true`), in the GenAI conventions' structured form: a JSON array of
 * `{ role, parts: [{ type, content | ... }] }` for `gen_ai.input.messages` and `gen_ai.output.messages`.
 * Never called unless the user opted in.
 */
import type { ChatCompletion, ChatCompletionMessageParam } from 'openai/resources/chat/completions';

type Part = Record<string, unknown>;
interface Message {
  role: string;
  parts: Part[];
  finish_reason?: string;
}

export function inputMessages(messages: readonly ChatCompletionMessageParam[] | undefined): string {
  return JSON.stringify((messages ?? []).map(toMessage));
}

export function outputMessages(choices: readonly OutputChoice[]): string {
  return JSON.stringify(
    choices.map((c) => {
      const message: Message = { role: 'assistant', parts: [] };
      if (c.text) message.parts.push({ type: 'text', content: c.text });
      for (const call of c.toolCalls) message.parts.push({ type: 'tool_call', ...call });
      if (c.finishReason) message.finish_reason = c.finishReason;
      return message;
    }),
  );
}

export interface OutputChoice {
  text: string;
  toolCalls: { id?: string; name?: string; arguments?: string }[];
  finishReason?: string | null;
}

export function choicesOf(completion: ChatCompletion | null | undefined): OutputChoice[] {
  return (completion?.choices ?? []).map((c) => ({
    text: c.message?.content ?? '',
    toolCalls: (c.message?.tool_calls ?? []).map((t) =>
      t.type === 'function'
        ? { id: t.id, name: t.function.name, arguments: t.function.arguments }
        : { id: t.id },
    ),
    finishReason: c.finish_reason,
  }));
}

function toMessage(message: ChatCompletionMessageParam): Message {
  const parts: Part[] = [];
  const { content } = message;
  if (typeof content === 'string') parts.push({ type: 'text', content });
  else if (Array.isArray(content)) {
    for (const part of content) {
      parts.push(part.type === 'text' ? { type: 'text', content: part.text } : { type: part.type });
    }
  }
  if (message.role === 'assistant') {
    for (const call of message.tool_calls ?? []) {
      parts.push(
        call.type === 'function'
          ? { type: 'tool_call', id: call.id, name: call.function.name, arguments: call.function.arguments }
          : { type: 'tool_call', id: call.id },
      );
    }
  }
  if (message.role === 'tool')
    return {
      role: 'tool',
      parts: [{ type: 'tool_call_response', id: message.tool_call_id, response: content }],
    };
  return { role: message.role, parts };
}
