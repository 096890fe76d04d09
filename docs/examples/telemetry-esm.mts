/**
 * An ESM service: OpenTelemetry started once, first (OTEL_* variables apply: OTEL_SERVICE_NAME,
 * OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_METRIC_EXPORT_INTERVAL...), then the resilient client.
 */
import OpenAI from 'openai';
import { createResilientClient } from 'resilient-chat';
import { startTelemetry } from 'resilient-chat/otel';

const telemetry = startTelemetry({ serviceName: 'my-service' });
const openai = createResilientClient({ clients: () => new OpenAI() });

export async function handle(question: string): Promise<string | null | undefined> {
  const completion = await openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: question }],
  });
  return completion.choices[0]?.message.content;
}

export const stop = (): Promise<void> => telemetry.shutdown();
