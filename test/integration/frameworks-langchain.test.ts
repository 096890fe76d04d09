/**
 * LangChain (@langchain/openai 1.6) over resilientFetch, as README sets it up: `configuration: { fetch,
 * baseURL }` and LangChain's own retries off (`maxRetries: 0`). A second server stands where a model that lost
 * its configuration would go (OPENAI_BASE_URL): it must see no request.
 */
import { tool } from '@langchain/core/tools';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { resilientFetch } from '../../src/index.js';
import { type MockOpenAI, startMockOpenAI } from '../../src/testing/index.js';
import { quietLogger } from '../support/assertions.js';
import { startJsonAnswerServer, trackedDispatchers } from '../support/frameworks.js';

let server: MockOpenAI;
let bypass: MockOpenAI;
let transport: ReturnType<typeof trackedDispatchers>;
const savedBaseURL = process.env.OPENAI_BASE_URL;

beforeAll(async () => {
  bypass = await startMockOpenAI();
  process.env.OPENAI_BASE_URL = bypass.url;
});

afterAll(async () => {
  if (savedBaseURL === undefined) delete process.env.OPENAI_BASE_URL;
  else process.env.OPENAI_BASE_URL = savedBaseURL;
  await bypass.close();
});

beforeEach(() => {
  transport = trackedDispatchers();
});

afterEach(async () => {
  await server?.close();
  await transport.close();
  expect(bypass.requestCount, 'no request may go around resilientFetch').toBe(0);
});

function fetchFor(options = {}) {
  return resilientFetch({
    dispatchers: transport.dispatchers,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
    logger: quietLogger,
    ...options,
  });
}

function chatModel(baseURL: string, extra: Record<string, unknown> = {}, fetch = fetchFor()) {
  return new ChatOpenAI({
    model: 'gpt-4o-mini',
    apiKey: 'sk-test',
    maxRetries: 0,
    configuration: { fetch, baseURL },
    ...extra,
  });
}

const weather = tool(async ({ city }) => `sunny in ${city}`, {
  name: 'weather',
  description: 'the weather in a city',
  schema: z.object({ city: z.string() }),
});

describe('ChatOpenAI and OpenAIEmbeddings under Agents destroyed under their first attempts', () => {
  for (const useResponsesApi of [false, true]) {
    test(`${useResponsesApi ? 'Responses' : 'chat completions'}: invoke, stream, bindTools, withConfig, .pipe()`, async () => {
      server = await startMockOpenAI({
        onRequest: (_, index) => index % 2 === 0 && transport.destroyCurrent(),
      });
      const llm = chatModel(server.url, { useResponsesApi });
      const answers: string[] = [];
      answers.push((await llm.invoke('hi')).text);
      let streamed = '';
      for await (const chunk of await llm.stream('hi')) streamed += chunk.text;
      answers.push(streamed);
      answers.push((await llm.bindTools([weather]).invoke('weather?')).text);
      answers.push((await llm.withConfig({ tags: ['t'] }).invoke('hi')).text);
      const piped = llm.pipe((message) => message.text.toUpperCase());
      answers.push(await piped.invoke('hi'));
      for (const answer of answers) expect(answer.toLowerCase()).toContain('resilient chat');
      // 5 calls, each: one attempt on a destroyed Agent, one on its replacement.
      expect(server.requestCount).toBe(10);
      expect(transport.agents.length).toBe(6);
    });
  }

  test('withStructuredOutput under the same churn', async () => {
    const json = await startJsonAnswerServer(JSON.stringify({ city: 'Paris', days: 3 }), (index) =>
      index % 2 === 0 ? transport.destroyCurrent() : undefined,
    );
    try {
      const schema = z.object({ city: z.string(), days: z.number() });
      const structured = chatModel(json.url).withStructuredOutput(schema);
      expect(await structured.invoke('plan')).toEqual({ city: 'Paris', days: 3 });
      expect(json.requests).toBe(2);
    } finally {
      await json.close();
    }
  });

  test('OpenAIEmbeddings: embedQuery and embedDocuments', async () => {
    server = await startMockOpenAI({
      onRequest: (_, index) => index % 2 === 0 && transport.destroyCurrent(),
    });
    const embeddings = new OpenAIEmbeddings({
      model: 'text-embedding-3-small',
      apiKey: 'sk-test',
      maxRetries: 0,
      configuration: { fetch: fetchFor(), baseURL: server.url },
    });
    expect((await embeddings.embedQuery('a')).length).toBeGreaterThan(0);
    expect(await embeddings.embedDocuments(['a', 'b'])).toHaveLength(2);
    expect(server.requestCount).toBe(4);
  });
});

describe('retry layers never multiply', () => {
  test('a permanent 503 with LangChain maxRetries: 0 costs what one layer sends (3), and LangChain sees the 503', async () => {
    server = await startMockOpenAI({ fallback: () => ({ type: 'status', status: 503 }) });
    const llm = chatModel(server.url, {}, fetchFor({ retryBudget: false, circuitBreaker: false }));
    const error = await llm.invoke('hi').catch((e: unknown) => e);
    expect((error as { status?: number }).status).toBe(503);
    expect(server.requestCount).toBe(3);
  });
});
