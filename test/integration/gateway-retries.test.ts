/**
 * A gateway in front (Portkey, LiteLLM) that retries upstream on its own: its retries multiply with ours, as
 * any two layers do. docs/frameworks.md says which one to turn off; this shows the counts for a permanent 503.
 * The gateway here is a loopback proxy that retries a 5xx `attempts` times and answers with the last response,
 * as Portkey's `retry: { attempts, on_status_codes }` does.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterEach, describe, expect, test } from 'vitest';
import { createResilientClient } from '../../src/index.js';
import { type MockOpenAI, startMockOpenAI } from '../../src/testing/index.js';
import { quietLogger } from '../support/assertions.js';
import { TEST_API_KEY } from '../support/clients.js';

let upstream: MockOpenAI;
let gateway: Server;

afterEach(async () => {
  gateway?.close();
  await upstream?.close();
});

/** A proxy to `upstream` that retries a 5xx `attempts` more times; `seen` counts the requests it received. */
async function startGateway(target: string, attempts: number) {
  const counts = { seen: 0 };
  gateway = createServer(async (req, res) => {
    counts.seen++;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = new Headers({
      'content-type': 'application/json',
      authorization: String(req.headers.authorization),
    });
    let answer: Response | undefined;
    for (let attempt = 0; attempt <= attempts; attempt++) {
      answer = await fetch(`${target}${String(req.url).replace(/^\/v1/, '')}`, {
        method: req.method,
        headers,
        body: Buffer.concat(chunks),
      });
      if (answer.status < 500) break;
      if (attempt < attempts) await answer.arrayBuffer();
    }
    res.writeHead(answer?.status ?? 502, { 'content-type': 'application/json' });
    res.end(Buffer.from(await (answer as Response).arrayBuffer()));
  });
  gateway.listen(0, '127.0.0.1');
  await once(gateway, 'listening');
  return { url: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/v1`, counts };
}

async function permanent503(gatewayAttempts: number, maxRetries: number | undefined) {
  upstream = await startMockOpenAI({ fallback: () => ({ type: 'status', status: 503 }) });
  const { url, counts } = await startGateway(upstream.url, gatewayAttempts);
  const client = createResilientClient({
    clients: () => new OpenAI({ apiKey: TEST_API_KEY, baseURL: url }),
    retry: { baseDelayMs: 1, maxDelayMs: 1, ...(maxRetries === undefined ? {} : { maxRetries }) },
    circuitBreaker: false,
    retryBudget: false,
    logger: quietLogger,
  });
  const error = await client.chat.completions
    .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.InternalServerError);
  return { atGateway: counts.seen, upstream: upstream.requestCount };
}

describe('a gateway that retries, in front', () => {
  test('both layers on: the retries multiply (3 of ours, each retried twice by the gateway: 9 upstream)', async () => {
    expect(await permanent503(2, undefined)).toEqual({ atGateway: 3, upstream: 9 });
  });

  test('the gateway owns the retries (ours `retry.maxRetries: 0`): one layer’s 3', async () => {
    expect(await permanent503(2, 0)).toEqual({ atGateway: 1, upstream: 3 });
  });

  test('resilient-chat owns them (the gateway’s retry off): one layer’s 3', async () => {
    expect(await permanent503(0, undefined)).toEqual({ atGateway: 3, upstream: 3 });
  });
});
