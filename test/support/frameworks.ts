/**
 * What the framework tests share: resilientFetch on dispatchers the test can destroy under in-flight requests,
 * and a loopback server whose chat answers are a JSON text (structured output), which startMockOpenAI's fixed
 * prose is not.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';

/** A `dispatchers` factory that keeps every Agent it made, so a test can destroy the one in use. */
export function trackedDispatchers() {
  const agents: Agent[] = [];
  let onCurrent = 0;
  let destroyed = 0;
  return {
    agents,
    dispatchers: () => {
      const agent = new Agent({ keepAliveTimeout: 10_000 });
      agents.push(agent);
      onCurrent = 0;
      return agent;
    },
    /**
     * For a server's `onRequest`: the newest Agent is destroyed under the request that is its `limit`th (and
     * under whatever else it has in flight), `times` Agents in all; each replacement gets `limit` again.
     */
    sawRequest(limit: number, times = Number.POSITIVE_INFINITY) {
      if (++onCurrent !== limit || destroyed >= times) return;
      destroyed++;
      void agents.at(-1)?.destroy();
    },
    /** Destroys the newest Agent (the one requests go out on now), with whatever it has in flight. */
    destroyCurrent() {
      void agents.at(-1)?.destroy();
    },
    async close() {
      await Promise.all(agents.map((a) => a.destroy().catch(() => undefined)));
    },
  };
}

export interface JsonAnswerServer {
  url: string;
  requests: number;
  close(): Promise<void>;
}

/**
 * Answers every POST .../chat/completions with one completion whose content is `content` (a JSON text).
 * `onRequest` runs as each request arrives, while the server holds it.
 */
export async function startJsonAnswerServer(
  content: string,
  onRequest?: (index: number) => void,
): Promise<JsonAnswerServer> {
  const state = { requests: 0 };
  const server = createServer((req, res) => {
    onRequest?.(state.requests++);
    req.resume();
    req.on('end', () => {
      if (res.destroyed) return;
      const body = JSON.stringify({
        id: `chatcmpl-json-${state.requests}`,
        object: 'chat.completion',
        created: 0,
        model: 'gpt-4o-mini',
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    get requests() {
      return state.requests;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
