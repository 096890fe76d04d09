/**
 * `sharedSettings`: settings that every client of a factory, a source or a ClientPool has, declared so that
 * the resilient client can show them (src/resilient-openai.ts) where otherwise it has none. A declaration is
 * a promise about clients we did not build, so it is checked, not trusted: every client the source hands out
 * is compared with it before an attempt uses it, and one that differs fails the call before anything is sent
 * (ClientSettingMismatchError). A shown value can thus never be other than what the requests go out with.
 */
import type OpenAI from 'openai';
import { ClientSettingMismatchError, InvalidOptionError } from '../errors.js';
import { type KeySet, keysOf, optionalObject, rejectUnknownKeys } from '../option-checks.js';
import type { SharedSettings } from '../types.js';
import {
  type ClientOptions,
  isOpenAIClient,
  isPromiseLike,
  type NormalizedClientSource,
} from './client-source.js';
import { baseURLName } from './endpoint.js';

export const SHARED_SETTING_KEYS = {
  baseURL: true,
  organization: true,
  project: true,
  webhookSecret: true,
} as const satisfies KeySet<SharedSettings>;

type SettingName = keyof SharedSettings;
const NAMES = keysOf(SHARED_SETTING_KEYS) as readonly SettingName[];
/** The settings openai-node holds as a string or `null`. */
const NULLABLE: readonly SettingName[] = ['organization', 'project', 'webhookSecret'];

/**
 * The `sharedSettings` option, checked: undefined when nothing is declared. `clients` is the `clients`
 * option: over a single instance the instance's own settings are shown, so a declaration is refused.
 */
export function resolveSharedSettings(value: unknown, clients: unknown): SharedSettings | undefined {
  const settings = optionalObject<Record<string, unknown>>(value, 'sharedSettings');
  if (!settings) return undefined;
  if (isOpenAIClient(clients)) {
    throw new InvalidOptionError(
      'sharedSettings',
      "none: the resilient client shows the instance's own settings (read and written through); set them on the instance",
      undefined,
      'is not for a single OpenAI instance as `clients`',
    );
  }
  rejectUnknownKeys(settings, NAMES, 'sharedSettings.');
  const { baseURL } = settings;
  if (baseURL !== undefined && !isAbsoluteURL(baseURL)) {
    throw new InvalidOptionError(
      'sharedSettings.baseURL',
      'an absolute URL (one `new URL()` accepts)',
      baseURL,
    );
  }
  for (const name of NULLABLE) {
    const setting = settings[name];
    if (setting !== undefined && setting !== null && typeof setting !== 'string') {
      throw new InvalidOptionError(`sharedSettings.${name}`, 'a string, or null for none', setting);
    }
  }
  const declared = settingsIn(settings);
  return Object.keys(declared).length > 0 ? Object.freeze(declared) : undefined;
}

function isAbsoluteURL(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * `source` with every client it hands out checked against `settings`: one that differs is released back to
 * the source (it is healthy, only not what was declared) and the acquire fails with
 * ClientSettingMismatchError. Its `withOptions(options)` copies show the options' values where they set a
 * declarable setting (the copies' clients are the source's with those options), and are checked as well.
 */
export function withSharedSettings(
  source: NormalizedClientSource,
  settings: SharedSettings | undefined,
): NormalizedClientSource {
  if (!settings) return source;
  const declaredBase = settings.baseURL === undefined ? undefined : withoutTrailingSlashes(settings.baseURL);
  const check = (client: OpenAI): OpenAI => {
    let mismatch: ClientSettingMismatchError | undefined;
    try {
      mismatch = mismatchOf(client, settings, declaredBase);
    } catch (error) {
      source.release(client); // a client that cannot even be compared is handed back all the same
      throw error;
    }
    if (!mismatch) return client;
    source.release(client);
    throw mismatch;
  };
  return {
    acquire(context, replacing) {
      const acquired = source.acquire(context, replacing);
      return isPromiseLike(acquired) ? Promise.resolve(acquired).then(check) : check(acquired);
    },
    release: (client) => source.release(client),
    retire: (client, error) => source.retire(client, error),
    single: undefined,
    sharedSettings: settings,
    withOptions: (options) =>
      withSharedSettings(source.withOptions(options), settingsOfCopy(settings, options)),
  };
}

/**
 * The declarable settings that `options` sets: of the option itself, or of client options (those
 * `withOptions(options)` gives every client it copies).
 */
function settingsIn(options: ClientOptions | Readonly<Record<string, unknown>>): SharedSettings {
  const given = (options ?? {}) as Readonly<Record<string, unknown>>;
  return Object.fromEntries(
    NAMES.filter((name) => given[name] !== undefined).map((name) => [name, given[name]]),
  );
}

/**
 * Client options other than `baseURL` from which openai-node derives a client's base URL (a provider's, a
 * data residency's, an x509 origin's): a copy made with one of them no longer knows its base URL.
 */
const MOVES_BASE_URL = ['dataResidency', 'provider', 'x509Transport', 'workloadIdentity', 'credential'];

/**
 * What a `withOptions(options)` copy can show: the declared settings with those the options set (a string,
 * or null where openai-node holds null), minus any the options leave unknown: `baseURL: null` (openai's
 * default, from the environment), an option that derives the base URL, a `provider` (which sets its own
 * organization and project), or a value of the wrong type. Undefined when nothing is left to show.
 */
function settingsOfCopy(settings: SharedSettings, options: ClientOptions): SharedSettings | undefined {
  const given = (options ?? {}) as Readonly<Record<string, unknown>>;
  const next: Record<string, unknown> = { ...settings };
  if (typeof given.baseURL === 'string') next.baseURL = given.baseURL;
  else if (given.baseURL !== undefined || MOVES_BASE_URL.some((key) => given[key] !== undefined)) {
    delete next.baseURL;
  }
  if (given.provider !== undefined) {
    delete next.organization;
    delete next.project;
  }
  for (const name of NULLABLE) {
    const value = given[name];
    if (value === undefined) continue;
    if (value === null || typeof value === 'string') next[name] = value;
    else delete next[name];
  }
  return Object.keys(next).length > 0 ? Object.freeze(next) : undefined;
}

function mismatchOf(
  client: OpenAI,
  settings: SharedSettings,
  declaredBase: string | undefined,
): ClientSettingMismatchError | undefined {
  const own = client as unknown as Record<string, unknown>;
  if (settings.baseURL !== undefined) {
    const actual = own.baseURL;
    if (typeof actual !== 'string' || withoutTrailingSlashes(actual) !== declaredBase) {
      const declared = baseURLName(settings.baseURL);
      const name = typeof actual === 'string' ? baseURLName(actual) : String(actual);
      // Two URLs that differ only where a credential may be (user info, query) are shown alike.
      return new ClientSettingMismatchError('baseURL', {
        declared,
        actual: name === declared ? `${name} (with other user info or query, not shown)` : name,
      });
    }
  }
  for (const name of NULLABLE) {
    const declared = settings[name];
    if (declared === undefined) continue;
    // openai-node's own default is null; a client class that leaves one out has none either.
    const actual = own[name] ?? null;
    if (actual === declared) continue;
    return new ClientSettingMismatchError(
      name,
      name === 'webhookSecret' ? undefined : { declared: shown(declared), actual: shown(actual) },
    );
  }
  return undefined;
}

function withoutTrailingSlashes(url: string): string {
  return url.replace(/\/+$/, '');
}

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
