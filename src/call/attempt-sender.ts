/**
 * The one seam between the attempt loop and what sends an attempt. A client of openai-node's sends through
 * its own `request()` (split by `requestParts` into the response at its headers and openai-node's parse). The
 * attempt clients of `resilientFetch` (src/fetch/) send through undici's fetch themselves and say so by
 * carrying `SEND_ATTEMPT`; everything else in the loop (source, breaker, classifier, policy, deadlines,
 * streams, telemetry) is the same for both.
 */
import type OpenAI from 'openai';
import { type FinalRequestOptions, type RequestParts, requestParts } from '../openai-internals.js';

export const SEND_ATTEMPT = Symbol('resilient-chat.sendAttempt');

/** A client that sends an attempt itself: its response at the headers, and its parse, as openai-node's are. */
export interface AttemptSender {
  [SEND_ATTEMPT](options: FinalRequestOptions): RequestParts;
}

export function sendAttempt(client: OpenAI, options: FinalRequestOptions): RequestParts {
  const own = (client as unknown as Partial<AttemptSender>)[SEND_ATTEMPT];
  return own ? own.call(client, options) : requestParts(client, client.request<unknown>(options));
}
