/**
 * Where a client sends its requests, as the breakers and telemetry see it. A breaker is kept per upstream,
 * that is per base URL (with its path), credentials and model: each of those can fail while the others
 * serve (docs/failure-handling.md, "Circuit breaker"). Telemetry gets only `server.address`, `server.port`
 * (made explicit, as the conventions ask) and the model: never the path, the credentials or a fingerprint.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type OpenAI from 'openai';
import { ATTR_GEN_AI_REQUEST_MODEL, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '../endpoint-attributes.js';
import { type LruMap, lruFor } from '../lru-map.js';
import { constructorOptions } from '../openai-internals.js';
import type { Endpoint } from '../policy/circuit-breakers.js';

export type ServerAttributes = Readonly<Record<string, string | number>>;

/** What a client's base URL says about its upstream, worked out once per client. */
interface Upstream {
  /** The breaker's identity of it: the base URL and a fingerprint of the credentials. */
  readonly id: string;
  /** How an error names it: the base URL without user info, query or fragment; never a credential. */
  readonly name: string;
  readonly server: ServerAttributes;
}

const upstreamByClient = new WeakMap<OpenAI, Upstream>();

/** `server.address` and `server.port` of a client's base URL; empty unless it is an http(s) URL. */
export function serverAttributes(client: OpenAI): ServerAttributes {
  return upstreamOf(client).server;
}

function upstreamOf(client: OpenAI): Upstream {
  let upstream = upstreamByClient.get(client);
  if (!upstream) {
    upstream = describeUpstream(client);
    upstreamByClient.set(client, upstream);
  }
  return upstream;
}

function describeUpstream(client: OpenAI): Upstream {
  return upstreamFor(client.baseURL, credentialsOf(client));
}

/** `credentials`: their identities (identityOf), fingerprinted with the URL's user info and query. */
function upstreamFor(baseURL: string, credentials: readonly string[]): Upstream {
  const url = httpURL(baseURL);
  if (!url) {
    // The raw text may hold credentials, so it is fingerprinted, never shown.
    return Object.freeze({
      id: `unusable ${fingerprint([baseURL, ...credentials])}`,
      name: UNUSABLE_NAME,
      server: Object.freeze({}),
    });
  }
  const name = nameOf(url);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
  return Object.freeze({
    id: `${name} ${fingerprint([url.username, url.password, url.search, ...credentials])}`,
    name,
    server: Object.freeze({ [ATTR_SERVER_ADDRESS]: hostname, [ATTR_SERVER_PORT]: port }),
  });
}

const UNUSABLE_NAME = 'a base URL that is not http(s)';

/**
 * How a message names a base URL: without user info, query or fragment, and without a trailing slash (the
 * same path); never a credential, so an error may show it.
 */
export function baseURLName(baseURL: string): string {
  const url = httpURL(baseURL);
  return url ? nameOf(url) : UNUSABLE_NAME;
}

/** The base URL parsed, when it is an http(s) URL. */
function httpURL(baseURL: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(baseURL);
  } catch {
    // A base URL that does not parse is openai-node's to report (every attempt fails as a setup error).
    return undefined;
  }
  // `localhost:4000/v1` parses with the scheme `localhost:`; `user:pw@host` with the scheme `user:`.
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
}

/** URL has already lower-cased the host and dropped a default port; a trailing slash names the same path. */
function nameOf(url: URL): string {
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * A random secret of this process. Fingerprints are HMACs under it, so one cannot be recomputed or compared
 * anywhere else: a plain hash of a weak key (a proxy's `sk-1234`) would be reversed by a dictionary.
 */
const FINGERPRINT_SECRET = randomBytes(32);

/** 96 bits: collisions among a process's few thousand credentials are out of reach. */
function fingerprint(parts: readonly string[]): string {
  return createHmac('sha256', FINGERPRINT_SECRET)
    .update(JSON.stringify(parts))
    .digest('base64url')
    .slice(0, 16);
}

/** Credentials that are objects (a key function, a workload identity) are told apart by identity. */
const credentialIds = new WeakMap<object, number>();
let lastCredentialId = 0;

function identityOf(value: unknown): string {
  if (typeof value === 'string') return `s:${value}`;
  if ((typeof value === 'object' && value !== null) || typeof value === 'function') {
    let id = credentialIds.get(value);
    if (id === undefined) {
      id = ++lastCredentialId;
      credentialIds.set(value, id);
    }
    return `o:${id}`;
  }
  return '';
}

/**
 * Who the client speaks for: its key (or the function that yields its keys), admin key, organization,
 * project, and the workload identity, certificate credential or provider it was built with.
 */
function credentialsOf(client: OpenAI): string[] {
  const given = constructorOptions(client);
  const apiKey = typeof given.apiKey === 'function' ? given.apiKey : client.apiKey;
  return [
    identityOf(apiKey),
    identityOf(client.adminAPIKey),
    identityOf(client.organization),
    identityOf(client.project),
    identityOf(given.workloadIdentity),
    identityOf(given.credential),
    identityOf(given.provider),
  ];
}

/**
 * The headers a request of an OpenAI-compatible API carries its credentials in: the bearer key (OpenAI, most
 * proxies), Azure's `api-key`, the `x-api-key` of gateways that take one, and the organization and project.
 */
const CREDENTIAL_HEADERS = ['authorization', 'api-key', 'x-api-key', 'openai-organization', 'openai-project'];

/**
 * The endpoint of a request that names its upstream itself (resilientFetch, whose attempt client is one per
 * origin): `baseURL` is the request's URL up to the operation's path (`https://gw.example/route-a/v1`), with
 * its query; the credentials are read from `headers`. Made once per call: nothing derived from a secret is
 * kept beyond the breaker's fingerprint.
 */
export function requestEndpoint(baseURL: string, headers: Headers, model: string | undefined): Endpoint {
  const { id, name, server } = upstreamFor(
    baseURL,
    CREDENTIAL_HEADERS.map((header) => identityOf(headers.get(header) ?? undefined)),
  );
  return endpointFrom(id, name, server, model);
}

function endpointFrom(
  id: string,
  name: string,
  server: ServerAttributes,
  model: string | undefined,
): Endpoint {
  return Object.freeze({
    id: model === undefined ? id : `${id} ${model}`,
    key: model === undefined ? name : `${name} ${model}`,
    attributes: Object.freeze(
      model === undefined ? server : { ...server, [ATTR_GEN_AI_REQUEST_MODEL]: model },
    ),
  });
}

/** Models remembered per client: user-supplied names, so bounded (see MAX_BREAKERS). */
const MAX_MODELS_PER_CLIENT = 256;
const endpointsByClient = new WeakMap<OpenAI, LruMap<string, Endpoint>>();

/** The endpoint of a client and model; made once per pair (the hot path builds no string). */
export function endpointOf(client: OpenAI, model: string | undefined): Endpoint {
  const byModel = lruFor(endpointsByClient, client, MAX_MODELS_PER_CLIENT);
  const modelKey = model ?? '';
  let endpoint = byModel.get(modelKey);
  if (!endpoint) {
    const { id, name, server } = upstreamOf(client);
    endpoint = endpointFrom(id, name, server, model);
    byModel.set(modelKey, endpoint);
  }
  return endpoint;
}
