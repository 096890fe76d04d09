/**
 * Where a client sends its requests, as the breakers and telemetry name it: `server.address` and
 * `server.port` from its base URL (port made explicit, as the conventions ask), plus the model.
 */
import type OpenAI from 'openai';
import { type LruMap, lruFor } from '../lru-map.js';
import type { Endpoint } from '../policy/circuit-breakers.js';
import { ATTR_GEN_AI_REQUEST_MODEL, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '../telemetry/semconv.js';

export type ServerAttributes = Readonly<Record<string, string | number>>;

const serverByClient = new WeakMap<OpenAI, ServerAttributes>();

/** `server.address` and `server.port` of a client's base URL; empty when it does not parse. */
export function serverAttributes(client: OpenAI): ServerAttributes {
  let attributes = serverByClient.get(client);
  if (!attributes) {
    const found: Record<string, string | number> = {};
    try {
      const url = new URL(client.baseURL);
      found[ATTR_SERVER_ADDRESS] = url.hostname.replace(/^\[(.*)\]$/, '$1');
      found[ATTR_SERVER_PORT] = url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
    } catch {
      // A base URL that does not parse is openai-node's to report; the span just lacks server.*.
    }
    attributes = Object.freeze(found);
    serverByClient.set(client, attributes);
  }
  return attributes;
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
    const server = serverAttributes(client);
    const address = `${server[ATTR_SERVER_ADDRESS] ?? client.baseURL}:${server[ATTR_SERVER_PORT] ?? ''}`;
    endpoint = Object.freeze({
      key: model === undefined ? address : `${address} ${model}`,
      attributes: Object.freeze(
        model === undefined ? server : { ...server, [ATTR_GEN_AI_REQUEST_MODEL]: model },
      ),
    });
    byModel.set(modelKey, endpoint);
  }
  return endpoint;
}
