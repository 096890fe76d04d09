/**
 * `createResilientClient`: an object of openai's own `OpenAI` class on which every request of every resource
 * (and openai-node's helpers, which build on them) goes through the one attempt loop. It overrides the two
 * methods every resource method ends in, `request()` and `requestAPIList()`; each attempt then runs through
 * the `request()` of a real client from the source, so openai-node still builds, sends and parses everything.
 */
import OpenAI from 'openai';
import type { APIPromise } from 'openai/core/api-promise';
import { type AbstractPage, PagePromise } from 'openai/core/pagination';
import { isAbortSignal } from './call/abort.js';
import { withIdempotencyKey } from './call/idempotency.js';
import {
  type APIResponseProps,
  type CallDependencies,
  type FinalRequestOptions,
  runCall,
} from './call/resilient-call.js';
import { CallHandle, ResilientAPIPromise, storedData } from './call/resilient-promise.js';
import {
  isOpenAIClient,
  isPromiseLike,
  type NormalizedClientSource,
  toClientSource,
} from './clients/client-source.js';
import { chatOperation, embeddingsOperation, operationFor } from './operations/index.js';
import { resolveOptions } from './options.js';
import { CircuitBreakers } from './policy/circuit-breakers.js';
import { RetryBudget } from './policy/retry-budget.js';
import { RetryPolicy } from './policy/retry-policy.js';
import { Telemetry } from './telemetry/call-telemetry.js';
import { warnIfOpenAIInstrumented } from './telemetry/duplicate-instrumentation.js';
import type { AcquireContext, ResilientClientOptions } from './types.js';

type ClientOptions = NonNullable<ConstructorParameters<typeof OpenAI>[0]>;

/**
 * Replaces `new OpenAI(...)`: every method of the returned client recovers closed-client failures and retries
 * transient ones by the policy, with telemetry. It is an `OpenAI`, so it can be handed to anything that takes
 * one.
 *
 * @example
 * const openai = createResilientClient({ clients: new OpenAI() });
 * const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
 */
export function createResilientClient(options: ResilientClientOptions): OpenAI {
  const resolved = resolveOptions(options);
  const source = toClientSource(resolved.clients, resolved);
  const telemetry = new Telemetry(resolved);
  let breakers: CircuitBreakers | undefined;
  if (resolved.breaker) {
    breakers = new CircuitBreakers(resolved.breaker, (endpoint, state) =>
      telemetry.circuitTransition(endpoint, state),
    );
    telemetry.watchCircuits(breakers);
  }
  const policy = new RetryPolicy(resolved.retry, resolved.budget && new RetryBudget(resolved.budget));
  const deps: CallDependencies = {
    source,
    policy,
    breakers,
    telemetry,
    idempotencyKeys: resolved.idempotencyKeys,
  };
  const single = isOpenAIClient(resolved.clients) ? resolved.clients : undefined;
  const client = new ResilientOpenAI(deps, facadeOptions(single));
  // Another instrumentation patching openai's methods would trace and count every call twice: say so once.
  if (resolved.logger)
    for (const c of single ? [client, single] : [client]) warnIfOpenAIInstrumented(c, resolved.logger);
  return client;
}

/**
 * The client's own settings: a single instance's (so `baseURL`, `timeout` and the like read as the user set
 * them), otherwise placeholders, since each request's client comes from the source. The key is never used:
 * requests are sent by the source's clients with their own credentials.
 */
function facadeOptions(single: OpenAI | undefined): ClientOptions {
  return single ? facadeOptionsOf(single) : { apiKey: PLACEHOLDER_KEY };
}

class ResilientOpenAI extends OpenAI {
  readonly #deps: CallDependencies;

  constructor(deps: CallDependencies, clientOptions: ClientOptions) {
    super(clientOptions);
    this.#deps = deps;
  }

  override request<Rsp>(
    options: FinalRequestOptions | Promise<FinalRequestOptions>,
    _remainingRetries?: number | null,
  ): APIPromise<Rsp> {
    return new ResilientAPIPromise<Rsp>(this, this.#start(options));
  }

  // openai's signature is generic over the page class; TypeScript 7 cannot relate an override's type
  // parameters to it, so this one takes the page class as openai's own `PagePromise` does, untyped.
  // biome-ignore lint/suspicious/noExplicitAny: see above; the body is typed through PagePromise's own types.
  override requestAPIList(Page: any, options: FinalRequestOptions | Promise<FinalRequestOptions>): any {
    const handle = this.#start(options);
    // As openai-node does: a PagePromise for `for await`, whose promise methods parse through our call.
    const page = new PagePromise<AbstractPage<unknown>, unknown>(this, handle.responsePromise, Page);
    const guarded = new ResilientAPIPromise<AbstractPage<unknown>>(
      this,
      handle,
      (client, props) => new Page(client, props.response, storedData(client, props), props.options),
    );
    // biome-ignore lint/suspicious/noThenProperty: a PagePromise is a thenable; its promise methods are replaced.
    page.then = guarded.then.bind(guarded) as typeof page.then;
    page.catch = guarded.catch.bind(guarded) as typeof page.catch;
    page.finally = guarded.finally.bind(guarded) as typeof page.finally;
    page.withResponse = guarded.withResponse.bind(guarded) as typeof page.withResponse;
    page.asResponse = guarded.asResponse.bind(guarded);
    page._thenUnwrap = guarded._thenUnwrap.bind(guarded) as typeof page._thenUnwrap;
    return page;
  }

  /**
   * A resilient client over the same source, policy and telemetry whose attempts use each source client's
   * `withOptions(options)` (made once per source client).
   */
  override withOptions(options: Partial<ClientOptions>): this {
    const derived = derivedSource(this.#deps.source, options);
    const clientOptions = { ...facadeOptionsOf(this), ...options };
    return new ResilientOpenAI({ ...this.#deps, source: derived }, clientOptions) as this;
  }

  #start(options: FinalRequestOptions | Promise<FinalRequestOptions>): CallHandle {
    return new CallHandle(options, this.#run);
  }

  /** An arrow: CallHandle calls it unbound. */
  readonly #run = (options: FinalRequestOptions, raw: boolean): Promise<APIResponseProps> => {
    const { method, path, body } = options;
    const operation = operationFor(method, path);
    const params = isPlainObject(body) ? (body as AcquireContext['params']) : {};
    const model = typeof params.model === 'string' ? params.model : undefined;
    // The span is named after the model; chat and embeddings cannot be served without one.
    if ((operation === chatOperation || operation === embeddingsOperation) && !model) {
      throw new TypeError(`resilient-chat: ${operation.name}: body.model must be a non-empty string`);
    }
    if (options.signal != null && !isAbortSignal(options.signal)) {
      throw new TypeError('resilient-chat: request option `signal` must be an AbortSignal');
    }
    // One Idempotency-Key for the whole call, so every attempt carries the same one. GET and DELETE are
    // idempotent by definition and need none. Bad headers fail here, before a span is started.
    // With `idempotencyKeys: false` only a key the caller gave is sent.
    const keyed =
      method !== 'get' &&
      method !== 'delete' &&
      (this.#deps.idempotencyKeys || options.idempotencyKey !== undefined);
    const sent = keyed
      ? { ...options, headers: withIdempotencyKey(options.headers, options.idempotencyKey) }
      : options;
    return runCall(this.#deps, {
      options: sent,
      operation,
      model,
      params,
      replayable: isReplayable(options),
      raw,
    });
  };
}

const PLACEHOLDER_KEY = 'resilient-chat: each request uses a client from the source';

/** The settings a client reads as its own: a given client's, as `withOptions` on openai's client would copy. */
function facadeOptionsOf(client: OpenAI): ClientOptions {
  return {
    apiKey: client.apiKey ?? PLACEHOLDER_KEY,
    baseURL: client.baseURL,
    organization: client.organization,
    project: client.project,
    timeout: client.timeout,
    maxRetries: client.maxRetries,
    logLevel: client.logLevel,
  };
}

function derivedSource(
  source: NormalizedClientSource,
  options: Partial<ClientOptions>,
): NormalizedClientSource {
  const derived = new WeakMap<OpenAI, OpenAI>();
  const original = new WeakMap<OpenAI, OpenAI>();
  const unwrap = (client: OpenAI) => original.get(client) ?? client;
  const derive = (client: OpenAI): OpenAI => {
    let copy = derived.get(client);
    if (!copy) {
      copy = client.withOptions(options);
      derived.set(client, copy);
      original.set(copy, client);
    }
    return copy;
  };
  return {
    acquire(context) {
      const acquired = source.acquire(context);
      return isPromiseLike(acquired) ? Promise.resolve(acquired).then(derive) : derive(acquired);
    },
    release: (client) => source.release(unwrap(client)),
    retire: (client, error) => source.retire(unwrap(client), error),
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A body openai-node can send again: JSON, text, bytes, FormData of Files and Blobs. A stream (a
 * ReadableStream, an async iterable, a Node stream) is consumed by the first attempt that sends it; openai-node
 * marks such bodies `hasStreamingBody` for its own retries, and so do we.
 */
function isReplayable(options: FinalRequestOptions): boolean {
  const metadata = (options as { __metadata?: Record<string, unknown> }).__metadata;
  if (metadata?.hasStreamingBody) return false;
  const { body } = options;
  if (typeof body !== 'object' || body === null) return true;
  if (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) return false;
  if (Symbol.asyncIterator in body) return false;
  return !(Symbol.iterator in body && typeof (body as { next?: unknown }).next === 'function');
}
