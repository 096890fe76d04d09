/**
 * The setup most tests share: a loopback mock server, real OpenTelemetry SDK providers with in-memory
 * exporters, and one real openai-node client on its own undici Agent, made fresh for every test.
 */

import type OpenAI from 'openai';
import { afterEach, beforeEach } from 'vitest';
import {
  createResilientChat,
  createResilientClient,
  type ResilientChat,
  type ResilientChatOptions,
} from '../../src/index.js';
import { type MockOpenAI, type MockOpenAIOptions, startMockOpenAI } from '../../src/testing/index.js';
import { quietLogger } from './assertions.js';
import { newClient, type TestClient } from './clients.js';
import { createTelemetryHarness, type TelemetryHarness } from './telemetry.js';

export interface Loopback {
  server: MockOpenAI;
  harness: TelemetryHarness;
  testClient: TestClient;
  /** A wrapper over `testClient` reporting to `harness`; `options` override those defaults. */
  chat(options?: Partial<ResilientChatOptions>): ResilientChat;
  /** The whole resilient client over `testClient`, with the same defaults. */
  client(options?: Partial<ResilientChatOptions>): OpenAI;
}

export function useLoopback(serverOptions?: MockOpenAIOptions): Loopback {
  const env = {} as Loopback;
  beforeEach(async () => {
    env.server = await startMockOpenAI(serverOptions);
    env.harness = createTelemetryHarness();
    env.testClient = newClient(env.server);
  });
  afterEach(async () => {
    await env.testClient.agent.destroy();
    await env.server.close();
    await env.harness.shutdown();
  });
  const defaults = (options: Partial<ResilientChatOptions>): ResilientChatOptions => ({
    clients: env.testClient.client,
    tracerProvider: env.harness.tracerProvider,
    meterProvider: env.harness.meterProvider,
    logger: quietLogger,
    ...options,
  });
  env.chat = (options = {}) => createResilientChat(defaults(options));
  env.client = (options = {}) => createResilientClient(defaults(options));
  return env;
}
