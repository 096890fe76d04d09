/**
 * A client's own transport: an undici Agent with bounded connections and keep-alive, and undici's fetch from
 * the same copy of undici (Node's bundled undici behind global fetch is another copy, and dispatchers are
 * not guaranteed to work across copies).
 */
import { Agent, fetch as undiciFetch } from 'undici';

export interface TransportOptions {
  /** Most sockets one client may open. Default 10. */
  connectionsPerClient?: number;
  /** How long an idle socket is kept for reuse, in ms. Default 4000 (undici's). */
  keepAliveTimeoutMs?: number;
}

/** Spread into `new OpenAI({ ...transport, apiKey, baseURL })`. */
export interface PoolTransport {
  fetch: typeof globalThis.fetch;
  fetchOptions: { dispatcher: Agent };
}

export const DEFAULT_CONNECTIONS_PER_CLIENT = 10;
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 4_000;

export function createTransport(options: Required<TransportOptions>): {
  agent: Agent;
  transport: PoolTransport;
} {
  const agent = new Agent({
    connections: options.connectionsPerClient,
    keepAliveTimeout: options.keepAliveTimeoutMs,
  });
  // undici's fetch and the DOM's are the same function in behaviour but differ in their TypeScript types.
  return {
    agent,
    transport: {
      fetch: undiciFetch as unknown as typeof globalThis.fetch,
      fetchOptions: { dispatcher: agent },
    },
  };
}
