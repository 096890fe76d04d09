/**
 * The data of a call's outcome, carried on the props of the attempt that succeeded (openai-node made them for
 * that one request and is done with them; the loop has already put the caller's options on them): a property
 * under a private symbol is cheaper than a WeakMap entry per call. Written by the attempt loop, read by the
 * call's promises (src/call/resilient-promise.ts), so neither imports the other.
 */
import type OpenAI from 'openai';
import type { APIResponseProps } from '../openai-internals.js';

const DATA = Symbol('resilient-chat.data');
const PARSE = Symbol('resilient-chat.parse');
type PropsWithData = APIResponseProps & { [DATA]?: unknown; [PARSE]?: () => Promise<unknown> };

/** A call that parsed (and retried) its response inside the attempt loop: `data` is the result. */
export function withData(props: APIResponseProps, data: unknown): APIResponseProps {
  (props as PropsWithData)[DATA] = data;
  return props;
}

/**
 * A call that handed over its raw response, body unread (`asResponse()` was asked first): its value, when a
 * caller awaits it after all, is openai-node's own parse of that response, made once on first use and not
 * retried (as openai-node's own promise does it).
 */
export function withLazyParse(props: APIResponseProps, parse: () => Promise<unknown>): APIResponseProps {
  (props as PropsWithData)[PARSE] = parse;
  return props;
}

/** The call's value: stored by the loop, or parsed now from the raw response. */
export function callData(_client: OpenAI, props: APIResponseProps): unknown {
  const carrier = props as PropsWithData;
  if (DATA in carrier) return carrier[DATA];
  const parse = carrier[PARSE];
  const data = parse ? parse() : undefined;
  carrier[DATA] = data;
  return data;
}
