/**
 * The attribute names of an endpoint: the server a request goes to and the model it asks for (general and
 * GenAI conventions). A leaf of their own, so src/clients/endpoint.ts names the attributes it hands to the
 * breakers and telemetry without importing src/telemetry/; src/telemetry/semconv.ts re-exports them beside
 * every other name of the conventions, and its test checks them with the rest.
 */

/** Attribute `server.address`. */
export const ATTR_SERVER_ADDRESS = 'server.address';
/** Attribute `server.port`. */
export const ATTR_SERVER_PORT = 'server.port';
/** Attribute `gen_ai.request.model`. */
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
