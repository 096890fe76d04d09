/**
 * The one-line swap: an existing OpenAI client, made resilient. Every method keeps openai-node's types and
 * promise helpers; closed-client failures are recovered and transient ones retried.
 */
import OpenAI from 'openai';
import { createResilientClient } from 'resilient-chat';

// Give a factory (or a ClientPool) rather than one instance when the client has its own dispatcher: a dead
// transport can then be replaced by a fresh client built the same way.
const openai = createResilientClient({
  clients: () => new OpenAI({ apiKey: process.env.OPENAI_API_KEY }),
  retry: { maxRetries: 3, totalTimeoutMs: 30_000 },
});

export async function main(): Promise<void> {
  const { data, request_id } = await openai.chat.completions
    .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] })
    .withResponse();
  console.log(request_id, data.choices[0]?.message.content);

  const response = await openai.responses.create({ model: 'gpt-4.1-mini', input: 'Say hello' });
  console.log(response.output_text);

  for await (const model of openai.models.list()) console.log(model.id);
}
