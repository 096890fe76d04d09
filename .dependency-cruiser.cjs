/**
 * The import rules between the layers of src/ (docs/ARCHITECTURE.md, "The layers"), checked by
 * `npm run lint:deps` in CI. Biome keeps the one rule it already owns: only src/openai-internals.ts imports
 * openai-node's internals (biome.json, noRestrictedImports).
 *
 * Type-only imports count: a cycle through `import type` still ties two modules together for a reader.
 */

/** The composition roots and the public entry point: what wires the layers, so no layer imports them. */
const COMPOSITION = '^src/(create-resilient-client|create-resilient-chat|resilient-openai|index)[.]ts$';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'An import cycle (type-only imports included): break it by moving what both need one layer down.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'policy-not-to-openai-or-opentelemetry',
      severity: 'error',
      comment:
        'src/policy/ decides from classifications and injected clocks: it knows nothing of openai-node or OpenTelemetry.',
      from: { path: '^src/policy/' },
      to: { path: '^node_modules/(openai|@opentelemetry)/' },
    },
    {
      name: 'policy-not-to-other-layers',
      severity: 'error',
      comment:
        'src/policy/ imports no other layer (call, clients, fetch, operations, otel, pool, telemetry, testing), nor the composition root, src/openai-internals.ts, or src/options.ts and src/types.ts (which compose the policy: importing them back makes a cycle); the shared modules beside them (option-checks.ts, lru-map.ts...) it may.',
      from: { path: '^src/policy/' },
      to: {
        path: ['^src/[^/]+/', COMPOSITION, '^src/(openai-internals|options|types)[.]ts$'],
        pathNot: '^src/policy/',
      },
    },
    {
      name: 'pool-not-to-call',
      severity: 'error',
      comment: 'ClientPool is a client source: it does not import the attempt loop (src/call/).',
      from: { path: '^src/pool/' },
      to: { path: '^src/call/' },
    },
    {
      name: 'clients-not-to-telemetry',
      severity: 'error',
      comment: 'Telemetry reads where clients send (src/clients/endpoint.ts), never the other way round.',
      from: { path: '^src/clients/' },
      to: { path: '^src/telemetry/' },
    },
    {
      name: 'layers-not-to-composition-root',
      severity: 'error',
      comment: 'The composition root wires the layers; a layer that imports it points upward.',
      from: { path: '^src/[^/]+/' },
      to: { path: COMPOSITION },
    },
  ],
  options: {
    // TypeScript 7's package has no compiler API that dependency-cruiser can use: swc parses the sources as
    // written, so type-only imports are seen too (without tsPreCompilationDeps, which needs that API).
    parser: 'swc',
    doNotFollow: { path: '^node_modules' },
    exclude: { path: '^dist/' },
  },
};
