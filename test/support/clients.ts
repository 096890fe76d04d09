/** Real openai-node clients on real undici dispatchers, and client sources that record what the wrapper did. */
import OpenAI from 'openai';
import { Agent } from 'undici';
import type { ClientSource } from '../../src/index.js';

/** The key every test client uses: tests assert it never reaches telemetry. */
export const TEST_API_KEY = 'sk-test-SECRET-0123456789abcdef';

export interface TestClient {
  client: OpenAI;
  agent: Agent;
}

/** A client of `server` (an in-process mock or one in a child process), sending `headers` on every request. */
export function newClient(
  server: { url: string },
  options: { maxRetries?: number; headers?: Record<string, string> } = {},
): TestClient {
  const agent = new Agent({ keepAliveTimeout: 10_000 });
  const client = new OpenAI({
    apiKey: TEST_API_KEY,
    baseURL: server.url,
    maxRetries: options.maxRetries ?? 2,
    defaultHeaders: options.headers ?? {},
    // undici's Agent type differs from the DOM RequestInit's; openai-node passes it to fetch as is.
    fetchOptions: { dispatcher: agent } as Record<string, unknown>,
  });
  return { client, agent };
}

/**
 * A client source over a list of prepared clients, handed out in order (the last one repeats), that records
 * every acquire, release and invalidate call.
 */
export class RecordingSource implements ClientSource {
  readonly acquired: OpenAI[] = [];
  readonly released: OpenAI[] = [];
  readonly invalidated: { client: OpenAI; error: unknown }[] = [];
  readonly #clients: TestClient[];
  #next = 0;

  constructor(clients: TestClient[]) {
    this.#clients = clients;
  }

  acquire(): OpenAI {
    const entry = this.#clients[Math.min(this.#next++, this.#clients.length - 1)];
    if (!entry) throw new Error('RecordingSource has no clients');
    this.acquired.push(entry.client);
    return entry.client;
  }

  release(client: OpenAI): void {
    this.released.push(client);
  }

  invalidate(client: OpenAI, error: unknown): void {
    this.invalidated.push({ client, error });
  }

  async close(): Promise<void> {
    await Promise.all(this.#clients.map((c) => c.agent.destroy().catch(() => undefined)));
  }
}
