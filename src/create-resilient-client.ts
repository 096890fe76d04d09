/**
 * `createResilientClient`, the composition root: options resolved once, the client source, what every call
 * shares (src/call/call-dependencies.ts: the policy with its budget and breakers, the telemetry), and the
 * resilient client over them (src/resilient-openai.ts). Each request is prepared in src/call/prepare-call.ts.
 */
import type OpenAI from 'openai';
import { callDependencies } from './call/call-dependencies.js';
import { isOpenAIClient, toClientSource } from './clients/client-source.js';
import { withSharedSettings } from './clients/shared-settings.js';
import { resolveOptions } from './options.js';
import { resilientClient } from './resilient-openai.js';
import { warnIfOpenAIInstrumented } from './telemetry/duplicate-instrumentation.js';
import type { ResilientClientOptions } from './types.js';

/**
 * Replaces `new OpenAI(...)`: every method of the returned client recovers closed-client failures and retries
 * transient ones by the policy, with telemetry. Given one client instance, it is an object of that client's
 * class (an `AzureOpenAI` stays one) with its settings; given a factory, a source or a pool, an `OpenAI`.
 *
 * @example
 * const openai = createResilientClient({ clients: new OpenAI() });
 * const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
 */
export function createResilientClient<Client extends OpenAI>(
  options: ResilientClientOptions & { clients: Client },
): Client;
/**
 * Over a factory, a source or a `ClientPool`: an `OpenAI` whose requests are sent by the source's clients; it
 * has no settings of its own (reading `apiKey`, `baseURL`... throws ClientSettingUnavailableError), except
 * those `sharedSettings` declares, which every client of the source is checked to have.
 */
export function createResilientClient(options: ResilientClientOptions): OpenAI;
export function createResilientClient(options: ResilientClientOptions): OpenAI {
  const resolved = resolveOptions(options);
  const source = withSharedSettings(toClientSource(resolved.clients, resolved), resolved.sharedSettings);
  const deps = callDependencies(resolved, source);
  const client = resilientClient({
    deps,
    defaults: { idempotencyKeys: resolved.idempotencyKeys, maxRetries: undefined },
  });
  // Another instrumentation patching openai's methods would trace and count every call twice: say so once.
  if (resolved.logger) {
    const single = isOpenAIClient(resolved.clients) ? resolved.clients : undefined;
    for (const c of single ? [client, single] : [client]) warnIfOpenAIInstrumented(c, resolved.logger);
  }
  return client;
}
