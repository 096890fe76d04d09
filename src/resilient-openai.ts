/**
 * The resilient client object: of the user's own client class (`OpenAI`, `AzureOpenAI`...), with every
 * request of every resource going through the attempt loop. It overrides the two methods every resource
 * method ends in, `request()` and `requestAPIList()`; each attempt then runs through the `request()` of a
 * real client from the source, so openai-node still builds, sends and parses everything.
 *
 * Its settings (`apiKey`, `baseURL`, `webhookSecret`, `defaultQuery`...) are a real client's, never made up:
 * built over a single instance, it is openai-node's own copy of that instance (`withOptions`), and the public
 * settings read and write through to the instance that sends the requests. Built over a factory, a source or a
 * pool, it has no client of its own, so those settings throw ClientSettingUnavailableError at the point of use,
 * except the ones `sharedSettings` declares for every client of the source (src/clients/shared-settings.ts).
 */
import OpenAI from 'openai';
import { prepareCall, type RequestDefaults, retriesOf } from './call/prepare-call.js';
import { type CallDependencies, runCall } from './call/resilient-call.js';
import { CallHandle, ResilientAPIPromise, ResilientPagePromise } from './call/resilient-promise.js';
import type { ClientOptions } from './clients/client-source.js';
import { ClientSettingUnavailableError, InvalidOptionError } from './errors.js';
import {
  type APIPromise,
  copyClientAs,
  type FinalRequestOptions,
  type PageClass,
} from './openai-internals.js';

/** What one resilient client is made of. */
interface ResilientParts {
  deps: CallDependencies;
  defaults: RequestDefaults;
}

/**
 * openai-node's public settings of a client, as libraries read them off it (openai's realtime and websocket
 * clients, `webhooks.unwrap()`, agent frameworks). `maxRetries` is not among them: on the resilient client it
 * is the resilient client's own (see `maxRetries` below).
 */
const CLIENT_SETTINGS = [
  'apiKey',
  'adminAPIKey',
  'organization',
  'project',
  'webhookSecret',
  'baseURL',
  'timeout',
  'fetchOptions',
  'logger',
  'logLevel',
] as const;
/** Where a client comes from a source, these still have a true value of the resilient client's own. */
const OWN_WITHOUT_A_CLIENT = new Set<string>(['logger', 'logLevel']);

type ClientClass = typeof OpenAI;
const resilientClasses = new WeakMap<ClientClass, ClientClass>();

/** Handed from `resilientClient` to the constructor, for the length of one synchronous construction. */
let constructing: ResilientParts | undefined;

/**
 * The resilient client over `deps`: a copy of `single` (of its own class) when the source is one instance,
 * otherwise an `OpenAI` with no settings of its own.
 */
export function resilientClient(parts: ResilientParts): OpenAI {
  const single = parts.deps.source.single?.();
  constructing = parts;
  try {
    if (single) return copyClientAs(single, resilientClassFor(single.constructor as ClientClass));
    const Resilient = resilientClassFor(OpenAI);
    // No request is ever sent with these: every setting that could reach one throws instead (see above).
    // `dangerouslyAllowBrowser`: the object holds no credential to expose; the source's clients made their own
    // browser check when they were built.
    return new Resilient({ apiKey: noApiKey, dangerouslyAllowBrowser: true });
  } finally {
    constructing = undefined;
  }
}

/** The credentials of a resilient client without a client of its own: openai-node asks, and learns why not. */
async function noApiKey(): Promise<string> {
  throw new ClientSettingUnavailableError('apiKey');
}

function resilientClassFor(Base: ClientClass): ClientClass {
  let Resilient = resilientClasses.get(Base);
  if (!Resilient) {
    Resilient = defineResilientClass(Base);
    resilientClasses.set(Base, Resilient);
  }
  return Resilient;
}

function defineResilientClass(Base: ClientClass): ClientClass {
  class ResilientOpenAI extends Base {
    readonly #parts: ResilientParts;

    // biome-ignore lint/suspicious/noExplicitAny: a mixin's constructor takes its base class's arguments.
    constructor(...args: any[]) {
      const parts = constructing;
      constructing = undefined;
      // Checked before openai-node's constructor, whose own checks (an API key) would otherwise speak first.
      // The options are not shown: they hold the caller's key.
      if (!parts)
        throw new InvalidOptionError(
          `new ${Base.name}()`,
          'a resilient client from createResilientClient({ clients }), or a copy of one from its withOptions()',
          undefined,
          "on a resilient client's class makes no resilient client",
        );
      super(...args);
      this.#parts = parts;
      exposeSettings(this, parts);
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
      return new ResilientPagePromise(this, this.#start(options), Page as PageClass);
    }

    /**
     * A resilient client over the same policy, breakers, budget and telemetry, whose attempts use the
     * source's clients' `withOptions(options)`; its own `maxRetries` is `options.maxRetries` when given.
     */
    override withOptions(options: ClientOptions): this {
      const { deps, defaults } = this.#parts;
      const maxRetries = retriesOf(options?.maxRetries) ?? defaults.maxRetries;
      return resilientClient({
        deps: { ...deps, source: deps.source.withOptions(options) },
        defaults: { ...defaults, maxRetries },
      }) as this;
    }

    /**
     * Over a source, each client has its own `defaultQuery`: `buildURL()` (and `buildRequest()`) must not
     * build a URL without it once a declared `baseURL` lets them get that far.
     */
    protected override defaultQuery(): Record<string, string | undefined> | undefined {
      if (!this.#parts.deps.source.single) throw new ClientSettingUnavailableError('defaultQuery');
      return super.defaultQuery();
    }

    #start(options: FinalRequestOptions | Promise<FinalRequestOptions>): CallHandle {
      return new CallHandle(options, this.#run);
    }

    /** An arrow: CallHandle calls it unbound. */
    readonly #run = (options: FinalRequestOptions, demand: CallHandle['demand']) =>
      runCall(this.#parts.deps, prepareCall(options, demand, this.#parts.defaults));
  }
  // openai-node names its User-Agent after the client's class (`OpenAI/JS 7.x`): keep the user's class name.
  Object.defineProperty(ResilientOpenAI, 'name', { value: Base.name });
  return ResilientOpenAI as unknown as ClientClass;
}

/**
 * The settings as own accessors of the resilient client: over a single instance, read and written through to
 * the client that sends the requests now (so `client.baseURL = url` moves them, as on openai's client); over a
 * source, throwing ClientSettingUnavailableError, except that those `sharedSettings` declares read as declared
 * (a write still throws: it could not move the source's clients). A subclass's own settings (AzureOpenAI's `apiVersion` and
 * `deploymentName`) come along. `maxRetries` is the resilient client's: the transient retries of a request
 * that sets none, never more than `retry.maxRetries`.
 */
function exposeSettings(client: OpenAI, parts: ResilientParts): void {
  const { source, policy } = parts.deps;
  const single = source.single;
  const shared = (source.sharedSettings ?? {}) as Readonly<Record<string, unknown>>;
  const names = new Set<string>(CLIENT_SETTINGS);
  if (single) for (const name of ownSettings(single())) names.add(name);
  for (const name of names) {
    if (!single && OWN_WITHOUT_A_CLIENT.has(name)) continue;
    const unavailable = () => {
      throw new ClientSettingUnavailableError(name);
    };
    Object.defineProperty(client, name, {
      configurable: true,
      enumerable: true,
      get: single
        ? () => (single() as unknown as Record<string, unknown>)[name]
        : // Declared for every client of the source, and checked on each: shown, but not movable from here.
          Object.hasOwn(shared, name)
          ? () => shared[name]
          : unavailable,
      set: single
        ? (value: unknown) => {
            (single() as unknown as Record<string, unknown>)[name] = value;
          }
        : unavailable,
    });
  }
  Object.defineProperty(client, 'maxRetries', {
    configurable: true,
    enumerable: true,
    get: () => parts.defaults.maxRetries ?? policy.settings.maxRetries,
    // As on openai's client, a value that is not a whole number from 0 means the default.
    set: (value: unknown) => {
      parts.defaults.maxRetries = retriesOf(value);
    },
  });
}

/**
 * A client's settings that are plain values of its own: openai-node's, and a subclass's (AzureOpenAI's
 * `apiVersion` and `deploymentName`). Resources, functions and internal (`_`) fields are not settings.
 */
function ownSettings(client: OpenAI): string[] {
  return Object.keys(client).filter((name) => {
    if (name === 'maxRetries' || name.startsWith('_')) return false;
    const value = (client as unknown as Record<string, unknown>)[name];
    return value == null || (typeof value !== 'object' && typeof value !== 'function');
  });
}
