/**
 * Turns the `clients` option into one shape, a ClientSource, so the retry loop has a single way to get,
 * hand back and replace clients whatever the caller passed.
 */
import type OpenAI from 'openai';
import { InvalidClientError, InvalidOptionError } from '../errors.js';
import { callHook } from '../hook-errors.js';
import type { AcquireContext, ClientSource, ClientsOption } from '../options.js';

export interface NormalizedClientSource {
  acquire(context: AcquireContext): Promise<OpenAI>;
  release(client: OpenAI): void;
  invalidate(client: OpenAI, error: unknown): void;
}

export function isOpenAIClient(value: unknown): value is OpenAI {
  const chat = (value as { chat?: { completions?: { create?: unknown } } } | null)?.chat;
  return typeof chat?.completions?.create === 'function';
}

export function toClientSource(clients: ClientsOption | undefined): NormalizedClientSource {
  if (isOpenAIClient(clients)) return singleClientSource(clients);
  if (typeof clients === 'function') return fromSource({ acquire: clients }, 'the `clients` factory');
  if (
    typeof clients === 'object' &&
    clients !== null &&
    typeof (clients as ClientSource).acquire === 'function'
  ) {
    const source = clients as ClientSource;
    for (const hook of ['release', 'invalidate'] as const) {
      if (source[hook] !== undefined && typeof source[hook] !== 'function') {
        throw new InvalidOptionError(`clients.${hook}`, 'a function when given', source[hook]);
      }
    }
    return fromSource(source, '`clients.acquire()`');
  }
  throw new InvalidOptionError(
    'clients',
    'an OpenAI client, a factory () => OpenAI, or a source { acquire, release?, invalidate? }',
    clients,
  );
}

function fromSource(source: ClientSource, origin: string): NormalizedClientSource {
  return {
    async acquire(context) {
      const client = await source.acquire(context);
      if (!isOpenAIClient(client)) throw new InvalidClientError(origin, client);
      return client;
    },
    release: (client) => callHook('clients.release()', () => source.release?.(client)),
    invalidate: (client, error) => callHook('clients.invalidate()', () => source.invalidate?.(client, error)),
  };
}

/**
 * One long-lived client. After a closed-client failure we cannot know how the caller built its transport, so
 * the replacement is a copy of the client without the dead `fetchOptions.dispatcher` (Node's global
 * dispatcher then serves it). `withOptions()` alone would copy the dead dispatcher. Pass a factory or a
 * source to control how fresh clients are made.
 */
function singleClientSource(initial: OpenAI): NormalizedClientSource {
  let current = initial;
  return {
    acquire: async () => current,
    release: () => {},
    invalidate(client) {
      if (client !== current) return; // another call already replaced it
      const { dispatcher: _dead, ...fetchOptions } = (client.fetchOptions ?? {}) as Record<string, unknown>;
      current = client.withOptions({ fetchOptions });
    },
  };
}
