/**
 * Streaming: retried transparently until the first chunk of substance; after that a failure reaches the loop
 * below. `totalTimeoutMs` bounds the stream too. Break out early and the request is aborted.
 */
import OpenAI from 'openai';
import { createResilientClient } from 'resilient-chat';

const openai = createResilientClient({ clients: () => new OpenAI(), retry: { totalTimeoutMs: 60_000 } });

export async function streamAnswer(question: string): Promise<string> {
  const stream = await openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: question }],
    stream: true,
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  return text;
}

export async function streamResponse(input: string): Promise<string> {
  const final = await openai.responses.stream({ model: 'gpt-4.1-mini', input }).finalResponse();
  return final.output_text;
}
