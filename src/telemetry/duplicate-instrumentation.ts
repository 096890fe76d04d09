/**
 * Detects an openai client whose methods another instrumentation has already patched, such as the official
 * @opentelemetry/instrumentation-openai (today limited to openai < 7, a one-line range change away from 7) or
 * any other built on shimmer, which marks every function it wraps with `__wrapped` and `__original`. Both
 * would then record each call, and the service gets every GenAI span and metric twice.
 *
 * Called when a wrapper is created. It warns once per patched function (so once per process for one
 * instrumentation, however many clients and wrappers there are) and says how to keep only one.
 */

/** The openai methods other instrumentations patch (and where resilient-chat would see their marks), by path. */
const METHODS_OTHERS_PATCH = [
  ['chat', 'completions', 'create'],
  ['responses', 'create'],
  ['embeddings', 'create'],
] as const;

export const DUPLICATE_INSTRUMENTATION_MESSAGE =
  'openai is already instrumented by another library (shimmer-patched, e.g. @opentelemetry/instrumentation-openai), ' +
  'so each call would be traced and measured twice. Keep one: to keep resilient-chat (it sees every retry and ' +
  'closed-client recovery), disable the other, e.g. OTEL_NODE_DISABLED_INSTRUMENTATIONS=openai or ' +
  "getNodeAutoInstrumentations({ '@opentelemetry/instrumentation-openai': { enabled: false } }) with " +
  'auto-instrumentations-node; to keep the other, pass resilient-chat a no-op tracerProvider and meterProvider.';

export interface DuplicateInstrumentationFields {
  /** The patched methods, as paths on the client (`chat.completions.create`). */
  methods: string[];
}

/**
 * Any logger with a `warn(message, fields)`. The fields are typed loosely (they are
 * DuplicateInstrumentationFields) so that resilient-chat's Logger, whose fields are typed for retries, fits.
 */
export interface WarningLogger {
  warn(message: string, fields: object): void;
}

const warnedAbout = new WeakSet<object>();

/** The wrapped methods of `client` that carry shimmer's marks; empty when none is patched. */
export function instrumentedOpenAIMethods(client: unknown): string[] {
  const found: string[] = [];
  for (const path of METHODS_OTHERS_PATCH) {
    let target: unknown = client;
    for (const key of path) target = (target as Record<string, unknown> | null | undefined)?.[key];
    if (isShimmerWrapped(target)) found.push(path.join('.'));
  }
  return found;
}

/**
 * Warns (once per patched function) when `client`'s methods are already instrumented. Returns the patched
 * methods found, warned about now or before.
 */
export function warnIfOpenAIInstrumented(client: unknown, logger: WarningLogger): string[] {
  const methods = instrumentedOpenAIMethods(client);
  const fresh = methods.map((path) => methodAt(client, path)).filter((fn) => !warnedAbout.has(fn));
  if (fresh.length > 0) {
    for (const fn of fresh) warnedAbout.add(fn);
    const fields: DuplicateInstrumentationFields = { methods };
    logger.warn(DUPLICATE_INSTRUMENTATION_MESSAGE, fields);
  }
  return methods;
}

function methodAt(client: unknown, path: string): object {
  let target: unknown = client;
  for (const key of path.split('.')) target = (target as Record<string, unknown>)[key];
  return target as object;
}

/** shimmer's marks (also in @opentelemetry/instrumentation's copy of it): `__wrapped` and `__original`. */
function isShimmerWrapped(fn: unknown): boolean {
  if (typeof fn !== 'function') return false;
  const marked = fn as { __wrapped?: unknown; __original?: unknown };
  return marked.__wrapped === true || typeof marked.__original === 'function';
}
