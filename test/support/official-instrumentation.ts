/**
 * The official @opentelemetry/instrumentation-openai, forced onto openai 7 the way a one-line range change
 * would (its module definitions' supportedVersions widened before it hooks require), so that it really
 * patches openai's CommonJS build.
 */

import type { TracerProvider } from '@opentelemetry/api';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';

class OpenAIInstrumentationForcedOn7 extends OpenAIInstrumentation {
  override init() {
    const definitions = super.init();
    for (const definition of definitions) definition.supportedVersions = ['>=4.19.0'];
    return definitions;
  }
}

/** The forced official instrumentation, hooking require() for openai; `disable()` it when done. */
export function enableOfficialInstrumentation(tracerProvider: TracerProvider): OpenAIInstrumentation {
  const instrumentation = new OpenAIInstrumentationForcedOn7({ enabled: false });
  instrumentation.setTracerProvider(tracerProvider);
  instrumentation.enable();
  return instrumentation;
}
