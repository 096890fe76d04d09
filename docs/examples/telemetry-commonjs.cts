/**
 * A CommonJS service (NestJS and the like): the same, with require().
 */
import OpenAI = require('openai');
import resilient = require('resilient-chat');
import otel = require('resilient-chat/otel');

const telemetry = otel.startTelemetry({ serviceName: 'my-nest-service' });
const openai = resilient.createResilientClient({ clients: () => new OpenAI.OpenAI() });

async function handle(question: string): Promise<string | null | undefined> {
  const completion = await openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: question }],
  });
  return completion.choices[0]?.message.content;
}

const stop = (): Promise<void> => telemetry.shutdown();

export = { handle, stop };
