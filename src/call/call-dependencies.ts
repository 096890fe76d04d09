/**
 * What every call of one resilient client (or of one `resilientFetch`) shares: the source, the policy with
 * its budget, the breakers and the telemetry, made once from the resolved options. Both composition roots
 * (src/create-resilient-client.ts, src/fetch/resilient-fetch.ts) build theirs here: neither imports the other.
 */
import type { NormalizedClientSource } from '../clients/client-source.js';
import type { ResolvedOptions } from '../options.js';
import { CircuitBreakers } from '../policy/circuit-breakers.js';
import { RetryBudget } from '../policy/retry-budget.js';
import { RetryPolicy } from '../policy/retry-policy.js';
import { ClientTelemetry, type TelemetryOptions } from '../telemetry/call-telemetry.js';
import type { CallDependencies } from './resilient-call.js';

export function callDependencies(
  resolved: ResolvedOptions,
  source: NormalizedClientSource,
  telemetryOptions: Partial<TelemetryOptions> = {},
): CallDependencies {
  const telemetry = new ClientTelemetry({ ...resolved, ...telemetryOptions });
  let breakers: CircuitBreakers | undefined;
  if (resolved.circuitBreaker) {
    breakers = new CircuitBreakers(resolved.circuitBreaker, (endpoint, state) =>
      telemetry.circuitTransition(endpoint, state),
    );
    telemetry.watchCircuits(breakers);
  }
  const policy = new RetryPolicy(
    resolved.retry,
    resolved.retryBudget && new RetryBudget(resolved.retryBudget),
  );
  return { source, policy, breakers, telemetry };
}
