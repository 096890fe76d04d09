/** One circuit breaker per endpoint (server address and port, and model), created on first use. */
import type { Attributes } from '@opentelemetry/api';
import type OpenAI from 'openai';
import {
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  serverAttributes,
} from '../telemetry/attributes.js';
import {
  type AttemptVerdict,
  CircuitBreaker,
  type CircuitState,
  type Permit,
  type ResolvedBreakerOptions,
} from './circuit-breaker.js';

/** What one attempt gets from its endpoint's breaker. */
export interface Gate {
  endpoint: string;
  /** Endpoint attributes for telemetry: server.address, server.port, gen_ai.request.model. */
  attributes: Attributes;
  permit: Permit;
  state: CircuitState;
  /** Reports the attempt's outcome; call once, and only when `permit.allowed`. */
  record(verdict: AttemptVerdict): void;
}

interface Entry {
  breaker: CircuitBreaker;
  attributes: Attributes;
}

export class CircuitBreakers {
  readonly #options: ResolvedBreakerOptions;
  readonly #onTransition: (attributes: Attributes, state: CircuitState) => void;
  readonly #now: () => number;
  readonly #byEndpoint = new Map<string, Entry>();
  /** The same entries by client and model, so the hot path builds no endpoint string. */
  readonly #byClient = new WeakMap<OpenAI, Map<string, Entry & { endpoint: string }>>();

  constructor(
    options: ResolvedBreakerOptions,
    onTransition: (attributes: Attributes, state: CircuitState) => void,
    now: () => number = Date.now,
  ) {
    this.#options = options;
    this.#onTransition = onTransition;
    this.#now = now;
  }

  gate(client: OpenAI, model: string): Gate {
    let byModel = this.#byClient.get(client);
    if (!byModel) {
      byModel = new Map();
      this.#byClient.set(client, byModel);
    }
    let cached = byModel.get(model);
    if (!cached) {
      cached = this.#entry(client, model);
      byModel.set(model, cached);
    }
    const { breaker, attributes, endpoint } = cached;
    const permit = breaker.permit();
    const probe = permit.allowed && permit.probe;
    return {
      endpoint,
      attributes,
      permit,
      state: breaker.state,
      record: (verdict) => breaker.record(verdict, probe),
    };
  }

  /** The breaker of this client's endpoint: clients with the same server and model share one. */
  #entry(client: OpenAI, model: string): Entry & { endpoint: string } {
    const server = serverAttributes(client);
    const endpoint = `${server[ATTR_SERVER_ADDRESS] ?? client.baseURL}:${server[ATTR_SERVER_PORT] ?? ''} ${model}`;
    let entry = this.#byEndpoint.get(endpoint);
    if (!entry) {
      const attributes = { ...server, [ATTR_GEN_AI_REQUEST_MODEL]: model };
      const breaker = new CircuitBreaker(
        this.#options,
        (state) => this.#onTransition(attributes, state),
        this.#now,
      );
      entry = { breaker, attributes };
      this.#byEndpoint.set(endpoint, entry);
    }
    return { ...entry, endpoint };
  }

  /** Current state of every endpoint's breaker, for the state gauge. */
  *states(): Iterable<[Attributes, CircuitState]> {
    for (const { breaker, attributes } of this.#byEndpoint.values()) yield [attributes, breaker.state];
  }
}
