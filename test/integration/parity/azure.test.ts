/**
 * openai 7's other client classes: an `AzureOpenAI` given as `clients` stays an AzureOpenAI, with its
 * deployment paths, `api-version`, `api-key` header or Microsoft Entra token provider.
 */
import { AzureOpenAI } from 'openai';
import { describe, expect, test } from 'vitest';
import { createResilientClient } from '../../../src/index.js';
import { quietLogger } from '../../support/assertions.js';
import {
  type ClientOptions,
  chatParams,
  completion,
  expectParity,
  startParityServer,
} from '../../support/parity.js';

const azure = (extra: Record<string, unknown>) => (options: ClientOptions) => {
  const { baseURL, fetchOptions, fetch } = options;
  return new AzureOpenAI({
    fetchOptions,
    fetch,
    endpoint: String(baseURL).replace(/\/v1$/, ''),
    apiVersion: '2025-04-01-preview',
    ...extra,
  });
};

describe('AzureOpenAI', () => {
  test('with an API key: deployment path, api-version, api-key header', async () => {
    // Over a factory or a pool the resilient client cannot know the class of the clients to come: it is an
    // OpenAI there (README, "Differences"), and each request still goes through the Azure client's own path.
    const bare = await expectParity(
      {
        handler: () => ({ json: completion() }),
        build: azure({ apiKey: 'azure-key', deployment: 'my-deployment' }),
        scenario: async (client) => {
          const answer = await client.chat.completions.create(chatParams);
          const list = await client.models.list();
          return {
            id: answer.id,
            isAzure: client instanceof AzureOpenAI,
            apiVersion: (client as AzureOpenAI).apiVersion,
            deployment: (client as AzureOpenAI).deploymentName,
            listed: list.data.length,
          };
        },
      },
      ['single'],
    );
    await expectParity({
      handler: () => ({ json: completion() }),
      build: azure({ apiKey: 'azure-key', deployment: 'my-deployment' }),
      scenario: async (client) => ({ id: (await client.chat.completions.create(chatParams)).id }),
    });
    expect(bare.server[0]?.url).toBe(
      '/openai/deployments/my-deployment/chat/completions?api-version=2025-04-01-preview',
    );
    expect(bare.server[0]?.headers['api-key']).toBe('azure-key');
  });

  test('with a Microsoft Entra token provider: a bearer token per request, the model as deployment', async () => {
    const bare = await expectParity({
      handler: () => ({ json: completion() }),
      build: azure({ azureADTokenProvider: async () => 'entra-token' }),
      scenario: async (client) => ({ id: (await client.chat.completions.create(chatParams)).id }),
    });
    expect(bare.server[0]?.url).toBe(
      '/openai/deployments/gpt-4o-mini/chat/completions?api-version=2025-04-01-preview',
    );
    expect(bare.server[0]?.headers.authorization).toBe('Bearer entra-token');
  });

  test('the resilient client is typed and built as the AzureOpenAI it was given', async () => {
    const server = await startParityServer(() => ({ json: completion() }));
    const real = new AzureOpenAI({ apiKey: 'k', apiVersion: 'v1', endpoint: server.url, deployment: 'd' });
    const resilient = createResilientClient({ clients: real, logger: quietLogger });
    expect(resilient).toBeInstanceOf(AzureOpenAI);
    // The type follows the instance given: Azure's own fields need no cast.
    expect([resilient.apiVersion, resilient.deploymentName]).toEqual(['v1', 'd']);
    resilient.deploymentName = 'other';
    expect(real.deploymentName).toBe('other');
    await server.close();
  });
});
