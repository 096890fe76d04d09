/**
 * Which requests of a pooled client waited for a connection, and for how long. An undici Agent with a
 * connection limit queues a request when every socket to its origin is busy, and says nothing: the call is
 * just slower. Its `dispatch()` returns false once the origin is saturated, and it emits `drain` (with the
 * origin) when a socket frees up again; between the two, every request dispatched to that origin is queued.
 * Only those are timed, from `dispatch()` to the moment undici starts writing them on a socket (the handler's
 * `onConnect`, or `onRequestStart` in undici's newer handler API). Requests that find a free socket pass
 * through untouched, and an Agent without a limit (the default) is not watched at all.
 */
import { type Span, trace } from '@opentelemetry/api';

/** What is watched of an undici Agent (6, 7 and 8 fit). */
export interface DispatchingAgent {
  dispatch(options: { origin?: unknown }, handler: object): boolean;
  on(event: 'drain', listener: (origin: unknown) => void): unknown;
}

/** Called once for each request that waited, with the span that was active when it was sent. */
export type OnConnectionWait = (origin: string, waitedMs: number, span: Span | undefined) => void;

/** The handler methods of both undici handler APIs; a wrapper must have exactly the ones the original has. */
const HANDLER_METHODS = [
  'onConnect',
  'onUpgrade',
  'onResponseStarted',
  'onHeaders',
  'onData',
  'onComplete',
  'onError',
  'onBodySent',
  'onRequestSent',
  'onRequestStart',
  'onRequestUpgrade',
  'onResponseStart',
  'onResponseData',
  'onResponseEnd',
  'onResponseError',
] as const;
const STARTS: ReadonlySet<string> = new Set(['onConnect', 'onRequestStart']);

const originOf = (origin: unknown): string =>
  typeof origin === 'string' ? origin : ((origin as URL | undefined)?.origin ?? String(origin));

export function watchConnectionWaits(agent: DispatchingAgent, onWait: OnConnectionWait): void {
  const saturated = new Set<string>();
  const dispatch = agent.dispatch.bind(agent);
  agent.on('drain', (origin) => saturated.delete(originOf(origin)));
  agent.dispatch = (options, handler) => {
    const origin = originOf(options.origin);
    const free = dispatch(options, saturated.has(origin) ? timed(handler, origin, onWait) : handler);
    if (!free) saturated.add(origin);
    return free;
  };
}

/** The same handler, reporting the wait when undici starts sending the request. */
function timed(handler: object, origin: string, onWait: OnConnectionWait): object {
  const queuedAt = performance.now();
  const span = trace.getActiveSpan();
  let reported = false;
  const original = handler as Record<string, unknown>;
  const wrapped: Record<string, unknown> = {};
  for (const name of HANDLER_METHODS) {
    const method = original[name];
    if (typeof method !== 'function') continue;
    wrapped[name] = STARTS.has(name)
      ? (...args: unknown[]) => {
          if (!reported) {
            reported = true;
            onWait(origin, performance.now() - queuedAt, span);
          }
          return method.apply(handler, args);
        }
      : method.bind(handler);
  }
  return wrapped;
}
