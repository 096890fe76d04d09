/** `createResilientChat`: validates the options once and returns the drop-in `chat.completions.create`. */
import type { Stream } from 'openai/core/streaming';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  ChatCompletionCreateParamsBase,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
} from 'openai/resources/chat/completions';
import { type ChatRequestOptions, runChatCall } from './call/resilient-call.js';
import { toClientSource } from './clients/client-source.js';
import { InvalidOptionError } from './errors.js';
import { consoleLogger } from './logger.js';
import {
  type ResilientChatOptions,
  resolveBreakerOptions,
  resolveBudgetOptions,
  resolveRetryPolicy,
  validateObservabilityOptions,
} from './options.js';
import { CircuitBreakers } from './policy/circuit-breakers.js';
import { RetryBudget } from './policy/retry-budget.js';
import { RetryPolicy } from './policy/retry-policy.js';
import { Telemetry } from './telemetry/call-telemetry.js';

/** Typed like openai-node's `chat.completions.create`, so a call site changes one identifier. */
export interface ResilientCompletions {
  create(body: ChatCompletionCreateParamsNonStreaming, options?: ChatRequestOptions): Promise<ChatCompletion>;
  create(
    body: ChatCompletionCreateParamsStreaming,
    options?: ChatRequestOptions,
  ): Promise<Stream<ChatCompletionChunk>>;
  create(
    body: ChatCompletionCreateParamsBase,
    options?: ChatRequestOptions,
  ): Promise<Stream<ChatCompletionChunk> | ChatCompletion>;
}

export interface ResilientChat {
  readonly completions: ResilientCompletions;
}

export function createResilientChat(options: ResilientChatOptions): ResilientChat {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object with at least `clients`', options);
  }
  const budgetOptions = resolveBudgetOptions(options);
  const policy = new RetryPolicy(
    resolveRetryPolicy(options),
    budgetOptions && new RetryBudget(budgetOptions),
  );
  const breakerOptions = resolveBreakerOptions(options);
  validateObservabilityOptions(options);
  const source = toClientSource(options.clients);
  // The breakers report transitions to telemetry, and telemetry reads their states for the gauge.
  let breakers: CircuitBreakers | undefined;
  const telemetry = new Telemetry({
    circuitStates: breakerOptions && (() => breakers?.states() ?? []),
    tracerProvider: options.tracerProvider,
    meterProvider: options.meterProvider,
    logger: options.logger === false ? undefined : (options.logger ?? consoleLogger),
    captureContent: options.captureContent ?? false,
  });
  if (breakerOptions) {
    breakers = new CircuitBreakers(breakerOptions, (endpoint, state) =>
      telemetry.circuitTransition(endpoint, state),
    );
  }
  const deps = { source, policy, breakers, telemetry };
  const completions: ResilientCompletions = {
    create: ((body: ChatCompletionCreateParams, requestOptions?: ChatRequestOptions) =>
      runChatCall(deps, body, requestOptions)) as ResilientCompletions['create'],
  };
  return { completions };
}
