/**
 * One circuit breaker per endpoint (server address and port, and model), created on first use. The endpoint
 * comes from src/clients/endpoint.ts; this file knows nothing of clients or telemetry.
 */
import { LruMap } from '../lru-map.js';
import {
  type AttemptVerdict,
  CircuitBreaker,
  type CircuitState,
  type Permit,
  type ResolvedBreakerOptions,
} from './circuit-breaker.js';

/** An endpoint as the breakers see it: a key, and the attributes that name it in telemetry. */
export interface Endpoint {
  /** `server.address:port model`. */
  readonly key: string;
  readonly attributes: Readonly<Record<string, string | number>>;
}

/**
 * Breakers kept at most, least recently used dropped first (a dropped breaker starts closed again if its
 * endpoint comes back). Models are user-supplied names: without a bound, a service that passes arbitrary
 * names through would grow this for the life of the process.
 */
export const MAX_BREAKERS = 1000;

/** What one attempt gets from its endpoint's breaker (a class: one object per attempt, no closure). */
export class Gate {
  readonly endpoint: Endpoint;
  readonly permit: Permit;
  readonly state: CircuitState;
  readonly #breaker: CircuitBreaker;

  constructor(breaker: CircuitBreaker, endpoint: Endpoint) {
    this.#breaker = breaker;
    this.endpoint = endpoint;
    this.permit = breaker.permit();
    this.state = breaker.state;
  }

  /** Reports the attempt's outcome; call once, and only when `permit.allowed`. */
  record(verdict: AttemptVerdict): void {
    this.#breaker.record(verdict, this.permit.allowed ? this.permit.probe : 0);
  }
}

export class CircuitBreakers {
  readonly #options: ResolvedBreakerOptions;
  readonly #onTransition: (endpoint: Endpoint, state: CircuitState) => void;
  readonly #now: () => number;
  readonly #byEndpoint = new LruMap<string, { breaker: CircuitBreaker; endpoint: Endpoint }>(MAX_BREAKERS);

  constructor(
    options: ResolvedBreakerOptions,
    onTransition: (endpoint: Endpoint, state: CircuitState) => void,
    now: () => number = Date.now,
  ) {
    this.#options = options;
    this.#onTransition = onTransition;
    this.#now = now;
  }

  gate(endpoint: Endpoint): Gate {
    let entry = this.#byEndpoint.get(endpoint.key);
    if (!entry) {
      const breaker = new CircuitBreaker(
        this.#options,
        (state) => this.#onTransition(endpoint, state),
        this.#now,
      );
      entry = { breaker, endpoint };
      this.#byEndpoint.set(endpoint.key, entry);
    }
    return new Gate(entry.breaker, endpoint);
  }

  /** Current state of every endpoint's breaker, for the state gauge. */
  *states(): Iterable<[Endpoint, CircuitState]> {
    for (const { breaker, endpoint } of this.#byEndpoint.values()) yield [endpoint, breaker.state];
  }
}
