/**
 * One circuit breaker per endpoint (base URL with its path, credentials, model: what can fail on its own),
 * created on first use. The endpoint comes from src/clients/endpoint.ts; this file knows nothing of clients
 * or telemetry.
 */
import { LruMap } from '../lru-map.js';
import {
  type AttemptVerdict,
  CircuitBreaker,
  type CircuitState,
  type Permit,
  type ResolvedBreakerOptions,
} from './circuit-breaker.js';

/** An endpoint as the breakers see it: its identity, how errors name it, and its telemetry attributes. */
export interface Endpoint {
  /**
   * The breaker's identity: base URL, a fingerprint of the credentials, model. In memory only: never in an
   * error, a log or telemetry.
   */
  readonly id: string;
  /** How `CircuitOpenError.endpoint` names it: `base URL model` (no credentials, no query). */
  readonly key: string;
  /**
   * `server.address`, `server.port`, `gen_ai.request.model`: shared by every breaker of one server and model
   * (tenants, routes), so a series per tenant never appears.
   */
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
  readonly #byEndpoint = new LruMap<string, { breaker: CircuitBreaker; endpoint: Endpoint; series: string }>(
    MAX_BREAKERS,
  );

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
    let entry = this.#byEndpoint.get(endpoint.id);
    if (!entry) {
      const breaker = new CircuitBreaker(
        this.#options,
        (state) => this.#onTransition(endpoint, state),
        this.#now,
      );
      entry = { breaker, endpoint, series: seriesOf(endpoint.attributes) };
      this.#byEndpoint.set(endpoint.id, entry);
    }
    return new Gate(entry.breaker, endpoint);
  }

  /**
   * For the state gauge: one state per attribute set (server and model), the worst of its breakers'. Two
   * tenants or routes of one server share a series; reporting each would give one series two values.
   */
  *states(): Iterable<[Endpoint, CircuitState]> {
    const worst = new Map<string, [Endpoint, CircuitState]>();
    for (const { breaker, endpoint, series } of this.#byEndpoint.values()) {
      const seen = worst.get(series);
      if (!seen || SEVERITY[breaker.state] > SEVERITY[seen[1]]) worst.set(series, [endpoint, breaker.state]);
    }
    yield* worst.values();
  }
}

const SEVERITY: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };

function seriesOf(attributes: Endpoint['attributes']): string {
  return JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : 1)));
}
