#!/usr/bin/env node
/**
 * The one-line mutations that issue 19 found the suite blind to, each applied in turn with the test files that
 * must now fail on it. Exits 1 if any survives. Restores every file it touched, even on Ctrl-C.
 *
 *   node .ci/named-mutants.mjs            # all of them
 *   node .ci/named-mutants.mjs M3 M5      # some
 *
 * It runs only the listed files, one mutation at a time: a couple of minutes, not the suite.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

/** [id, what it breaks, file, text, replacement, test files that must fail] */
const MUTANTS = [
  [
    'M1',
    'a retry the breaker refuses always throws CircuitOpenError, not the previous error',
    'src/call/resilient-call.ts',
    'const error = this.#attempt === 0 ? new CircuitOpenError(gate.endpoint.key, retryAfterMs) : previous;',
    'const error = new CircuitOpenError(gate.endpoint.key, retryAfterMs); void previous;',
    ['test/integration/circuit-breaker.test.ts'],
  ],
  [
    'M2',
    'a later non-closed failure no longer settles earlier closed-client failures as recovered',
    'src/call/resilient-call.ts',
    "    else if (client && failure.reason !== 'aborted') this.#settleClosedFailures('recovered');\n",
    '',
    ['test/integration/closed-client.test.ts'],
  ],
  [
    'M3',
    'the global meter provider is never looked up again',
    'src/telemetry/call-telemetry.ts',
    'const provider = this.#fixedMeterProvider ?? metrics.getMeterProvider();\n    if (',
    'const provider = this.#fixedMeterProvider ?? this.#meterProvider ?? metrics.getMeterProvider();\n    if (',
    ['test/integration/global-meter-provider.test.ts'],
  ],
  [
    'M4',
    "the single-client source's race guard is dropped",
    'src/clients/client-source.ts',
    "      if (client !== current) return { kind: 'replaced' }; // another call already replaced it\n",
    '',
    ['test/integration/closed-client.test.ts'],
  ],
  [
    'M5',
    'window expiry switched off',
    'src/policy/sliding-window.ts',
    '    while (this.#buckets.length > 0',
    '    while (false && this.#buckets.length > 0',
    ['test/unit/circuit-breaker.test.ts'],
  ],
  [
    'M6',
    'ClientNotReplaceableError no longer an APIConnectionError',
    'src/errors.ts',
    'export class ClientNotReplaceableError extends APIConnectionError {',
    'export class ClientNotReplaceableError extends (Error as unknown as typeof APIConnectionError) {',
    ['test/unit/errors.test.ts'],
  ],
  [
    'M7',
    'the breaker counts a 429 against the upstream',
    'src/policy/circuit-breaker.ts',
    "  'rate_limited',",
    '',
    ['test/unit/circuit-breaker.test.ts', 'test/integration/breaker-isolation.test.ts'],
  ],
  [
    'M8',
    'retry.random is ignored',
    'src/policy/retry-options.ts',
    'random: retry.random ?? DEFAULT_RETRY.random,',
    'random: DEFAULT_RETRY.random,',
    ['test/unit/retry-policy.test.ts'],
  ],
  [
    'M9',
    "resilientFetch's breaker is the attempt client's (one per origin), not the request's own upstream",
    'src/call/resilient-call.ts',
    'this.#request.endpoint ?? endpointOf(client, this.#request.model)',
    'endpointOf(client, this.#request.model)',
    ['test/integration/breaker-isolation.test.ts'],
  ],
  [
    'M10',
    'a code-less fetch TypeError of another realm (jest) is no longer read as a setup error',
    'src/call/classify.ts',
    '    if (!isTypeError(cause) || hasCode(cause)) continue;',
    '    if (!(cause instanceof TypeError) || hasCode(cause)) continue;',
    ['test/integration/classify.test.ts'],
  ],
  [
    'M11',
    'the cause of a refused `fetch failed` is read in this realm only',
    'src/call/classify.ts',
    '      isErrorOfAnyRealm(reason) &&',
    '      reason instanceof Error &&',
    ['test/integration/classify.test.ts'],
  ],
  [
    'M12',
    'a retry is made but not counted in the tally (its kind would retry without limit)',
    'src/policy/retry-policy.ts',
    '[retry.kind]: retries[retry.kind] + 1',
    '[retry.kind]: retries[retry.kind]',
    ['test/unit/retry-policy.test.ts'],
  ],
  [
    'M13',
    'every upstream-closed failure is free, not only the first',
    'src/policy/retry-policy.ts',
    "failure.reason === 'upstream_client_closed' && tally.retries.upstream_closed === 0",
    "failure.reason === 'upstream_client_closed'",
    ['test/unit/retry-policy.test.ts'],
  ],
];

const wanted = new Set(process.argv.slice(2));
const originals = new Map();
const restore = () => {
  for (const [path, text] of originals) writeFileSync(path, text);
  originals.clear();
};
process.on('SIGINT', () => {
  restore();
  process.exit(130);
});

let survived = 0;
for (const [id, what, file, text, replacement, tests] of MUTANTS) {
  if (wanted.size > 0 && !wanted.has(id)) continue;
  const path = join(root, file);
  const original = readFileSync(path, 'utf8');
  if (original.split(text).length !== 2) {
    console.error(`${id}: the text to mutate is not once in ${file}; update this script`);
    survived++;
    continue;
  }
  originals.set(path, original);
  writeFileSync(path, original.replace(text, replacement));
  try {
    const run = spawnSync('npx', ['vitest', 'run', ...tests], { cwd: root, encoding: 'utf8' });
    const killed = run.status !== 0;
    if (!killed) survived++;
    console.log(`${id} ${killed ? 'killed  ' : 'SURVIVED'} ${what}`);
  } finally {
    restore();
  }
}
process.exit(survived === 0 ? 0 : 1);
