/**
 * ClientPool against a real server: leases, eviction without killing in-flight requests, warm sockets across a
 * key's successive clients, dead transports never reused, durations and option keys, close, lazy undici.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import OpenAI, { APIUserAbortError } from 'openai';
import * as undici from 'undici';
import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  ClientPool,
  type ClientPoolOptions,
  createResilientChat,
  createResilientClient,
  InvalidOptionError,
  PoolClosedError,
  telemetryNames,
} from '../../src/index.js';
import { ATTR_POOL_EVICTION_CAUSE, METRIC_POOL_EVICTIONS } from '../../src/telemetry/semconv.js';
import { EvictingClientCache } from '../../src/testing/index.js';
import { quietLogger } from '../support/assertions.js';
import { TEST_API_KEY } from '../support/clients.js';
import { useLoopback } from '../support/loopback.js';
import { params } from '../support/params.js';
import { useUnhandledRejections } from '../support/unhandled.js';

const env = useLoopback();
const unhandled = useUnhandledRejections();
let pool: ClientPool | undefined;

afterEach(async () => {
  await pool?.close({ timeoutMs: 100 });
  pool = undefined;
});

function makePool(options: Partial<ClientPoolOptions> = {}): ClientPool {
  pool = new ClientPool({
    create: (_key, transport) =>
      new OpenAI({ apiKey: TEST_API_KEY, baseURL: env.server.url, maxRetries: 0, ...transport }),
    meterProvider: env.harness.meterProvider,
    ...options,
  });
  return pool;
}

type AgentLike = {
  closed: boolean;
  destroyed: boolean;
  destroy(): Promise<void>;
  stats: Record<string, { connected: number; free: number; running: number }>;
};
const dispatcherOf = (client: OpenAI) => (client.fetchOptions as { dispatcher: AgentLike }).dispatcher;

/**
 * Waits until every socket of the client's Agent is back in its pool, idle. A request dispatched in the
 * moment after the previous response was read can find its socket not yet released and open another one, so
 * a test that counts sockets waits on this state, not on how long a call took.
 */
/**
 * The RESILIENT_CHAT_HOOK_FAILED warnings from now on. `settled()` reads them once every warning emitted so far
 * has been delivered: Node emits a warning on the next tick, and a setImmediate runs after the ticks.
 */
function hookWarnings(): { settled(): Promise<string[]> } {
  const seen: string[] = [];
  const onWarning = (warning: Error & { code?: string }) => {
    if (warning.code === 'RESILIENT_CHAT_HOOK_FAILED') seen.push(warning.message);
  };
  process.on('warning', onWarning);
  return {
    async settled() {
      await new Promise((resolve) => setImmediate(resolve));
      process.off('warning', onWarning);
      return seen;
    },
  };
}

async function socketsIdle(client: OpenAI): Promise<void> {
  const origin = new URL(env.server.url).origin;
  await vi.waitFor(() => {
    const stats = dispatcherOf(client).stats[origin];
    expect(stats && { free: stats.free, running: stats.running }).toEqual({
      free: stats?.connected,
      running: 0,
    });
  });
}

describe('leases', () => {
  test('one client per key, each with its own Agent', async () => {
    const p = makePool({ key: ({ params }) => params.model ?? '' });
    const a = await p.acquire({ params: { ...params, model: 'a' } });
    const a2 = await p.acquire({ params: { ...params, model: 'a' } });
    const b = await p.acquire({ params: { ...params, model: 'b' } });
    expect(a2).toBe(a);
    expect(b).not.toBe(a);
    expect(dispatcherOf(b)).not.toBe(dispatcherOf(a));
    expect(p.stats()).toEqual({ active: 2, draining: 0, leases: 3 });
  });

  test('key() is told the request a call names, and none (not a made-up one) for a direct acquire()', async () => {
    const seen: unknown[] = [];
    const p = makePool({
      key: ({ request }) => {
        seen.push(request);
        return 'one';
      },
    });
    await p.acquire();
    await p.acquire({ request: { method: 'get', path: '/models' } });
    const resilient = createResilientClient({ clients: p, logger: quietLogger });
    await resilient.chat.completions.create(params);
    expect(seen).toEqual([
      undefined,
      { method: 'get', path: '/models' },
      { method: 'post', path: '/chat/completions' },
    ]);
  });

  test('an evicted client stays open while leased, and closes at its last release', async () => {
    const p = makePool();
    const client = await p.acquire();
    await p.acquire(); // a second lease on the same client

    p.invalidate(client);
    const fresh = await p.acquire();

    expect(fresh).not.toBe(client);
    expect(p.stats()).toEqual({ active: 1, draining: 1, leases: 3 });
    p.release(client);
    expect(dispatcherOf(client).closed).toBe(false); // one lease still out
    p.release(client);
    expect(dispatcherOf(client).closed).toBe(true); // closed at the last release, no timer involved
    p.release(client); // an extra release is ignored
    expect(p.stats()).toEqual({ active: 1, draining: 0, leases: 1 });
  });

  test('a dispatcher whose close() and destroy() throw at once never throws from release() or close(), and each failure is a warning', async () => {
    class BrittleAgent extends undici.Agent {
      override close(): never {
        throw new Error('close broke');
      }
      override destroy(): never {
        throw new Error('destroy broke');
      }
    }
    const warnings = hookWarnings();
    const p = makePool({ undici: { ...undici, Agent: BrittleAgent } });
    const client = await p.acquire();
    p.invalidate(client);
    expect(() => p.release(client)).not.toThrow(); // its last lease: its Agent is closed, which throws
    const held = await p.acquire();
    expect(held).not.toBe(client);
    await expect(p.close({ timeoutMs: 0 })).resolves.toBeUndefined(); // held's Agent is destroyed, which throws
    expect(await warnings.settled()).toEqual([
      "resilient-chat: ClientPool: a dispatcher's close() threw: close broke",
      "resilient-chat: ClientPool: a dispatcher's destroy() threw: destroy broke",
    ]);
  });

  test("a dispatcher whose close() rejects: a warning, and the pool's close() still resolves", async () => {
    class RejectingAgent extends undici.Agent {
      constructor(options: undici.Agent.Options) {
        super(options);
        // The promise form only: undici's own promise form calls close() again, with a callback.
        const close = this.close.bind(this) as (...args: unknown[]) => unknown;
        const rejecting = (...args: unknown[]) =>
          args.length > 0
            ? close(...args)
            : (close() as Promise<void>).then(() => {
                throw new Error('close failed late');
              });
        Object.assign(this, { close: rejecting });
      }
    }
    const warnings = hookWarnings();
    const p = makePool({ undici: { ...undici, Agent: RejectingAgent } });
    p.release(await p.acquire());
    await expect(p.close()).resolves.toBeUndefined(); // the idle client's Agent is closed at once
    expect(await warnings.settled()).toEqual([
      "resilient-chat: ClientPool: a dispatcher's close() rejected: close failed late",
    ]);
  });

  test("a dispatcher destroyed behind the pool's back warns of nothing when the pool retires it", async () => {
    const warnings = hookWarnings();
    const p = makePool();
    const client = await p.acquire();
    await dispatcherOf(client).destroy(); // the race: something else destroyed it while the lease was out
    p.release(client);
    await p.close();
    expect(await warnings.settled()).toEqual([]);
  });

  test('a client build that fails after its only caller aborted is not an unhandled rejection', async () => {
    const controller = new AbortController();
    let fail: (error: Error) => void = () => expect.fail('create() was not called');
    const createCalled = new Promise<void>((called) => {
      makePool({
        key: () => {
          controller.abort(); // while the pool works out the key: after acquire() checked the signal
          return 'k';
        },
        create: () =>
          new Promise<OpenAI>((_, reject) => {
            fail = reject;
            called();
          }),
      });
    });
    await expect(pool?.acquire({ signal: controller.signal })).rejects.toBeInstanceOf(APIUserAbortError);
    await createCalled;
    fail(new Error('create failed'));
    await new Promise((next) => setImmediate(next)); // see useUnhandledRejections
    expect(unhandled).toEqual([]);
  });

  test('a request that completes after its client was evicted is not killed', async () => {
    const p = makePool();
    const client = await p.acquire();
    env.server.script({ type: 'ok', delayMs: 100 });
    const inFlight = client.chat.completions.create(params);
    await new Promise((r) => setTimeout(r, 20));
    p.invalidate(client);
    expect((await inFlight).object).toBe('chat.completion');
    p.release(client);
    expect(dispatcherOf(client).closed).toBe(true);
  });

  test('an idle client is closed when its idle time runs out', async () => {
    const p = makePool({ idleTimeoutMs: 30 });
    const client = await p.acquire();
    p.release(client);
    await vi.waitFor(() => expect(p.stats()).toEqual({ active: 0, draining: 0, leases: 0 }));
    expect(dispatcherOf(client).closed).toBe(true); // idle: its sockets are not handed on
  });

  test('TTL evicts the client; its Agent waits for a successor only as long as sockets stay warm', async () => {
    const p = makePool({ ttlMs: 30, keepAliveTimeoutMs: 50 });
    const client = await p.acquire();
    p.release(client);
    await vi.waitFor(() => expect(p.stats().active).toBe(0));
    expect(dispatcherOf(client).closed).toBe(false); // parked for the key's next client
    await vi.waitFor(() => expect(dispatcherOf(client).closed).toBe(true)); // nobody came
    expect(await p.acquire()).not.toBe(client);
  });

  test('at exhaustion the least recently used client drains and the new key is served at once', async () => {
    const p = makePool({ maxSize: 2, key: ({ params }) => params.model ?? '' });
    const a = await p.acquire({ params: { ...params, model: 'a' } });
    await new Promise((r) => setTimeout(r, 2));
    const b = await p.acquire({ params: { ...params, model: 'b' } });
    const c = await p.acquire({ params: { ...params, model: 'c' } });
    expect(c).not.toBe(a);
    expect(p.stats()).toEqual({ active: 2, draining: 1, leases: 3 });
    expect(dispatcherOf(a).closed).toBe(false);
    p.release(a);
    expect(dispatcherOf(a).closed).toBe(true);
    expect(dispatcherOf(b).closed).toBe(false);
    expect(await env.harness.counter(METRIC_POOL_EVICTIONS, { [ATTR_POOL_EVICTION_CAUSE]: 'size' })).toBe(1);
  });

  test('acquire after close, or with an aborted signal, is refused', async () => {
    const p = makePool();
    await expect(p.acquire({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    await p.close();
    await expect(p.acquire()).rejects.toBeInstanceOf(PoolClosedError);
  });

  test('close() waits for leased clients up to its deadline, then destroys them; nothing stays open', async () => {
    const p = makePool();
    const client = await p.acquire();
    env.server.script({ type: 'stall', at: 'headers' });
    const inFlight = client.chat.completions.create(params).catch((e: unknown) => e);
    await env.server.stalled();
    expect(env.server.openConnections).toBe(1);

    const started = performance.now();
    await p.close({ timeoutMs: 100 });

    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
    expect(dispatcherOf(client).destroyed).toBe(true);
    expect(await inFlight).toBeInstanceOf(OpenAI.APIConnectionError);
    await new Promise((r) => setTimeout(r, 20));
    expect(env.server.openConnections).toBe(0);
  });

  test('bad options name themselves', () => {
    expect(() => new ClientPool({} as ClientPoolOptions)).toThrow(InvalidOptionError);
    expect(() => new ClientPool(undefined as unknown as ClientPoolOptions)).toThrow(InvalidOptionError);
    expect(() => makePool({ maxSize: 0 })).toThrow(/`maxSize`/);
    expect(() => makePool({ ttlMs: -1 })).toThrow(/`ttlMs`/);
    expect(() => makePool({ connectionsPerClient: 1.5 })).toThrow(/`connectionsPerClient`/);
    expect(() => makePool({ undici: {} as never })).toThrow(/`undici`/);
    const create = () => new OpenAI({ apiKey: TEST_API_KEY });
    expect(() => new EvictingClientCache({ create, ttlMs: Number.NaN })).toThrow(/`ttlMs`/);
    expect(() => new EvictingClientCache({ create, maxsize: 2 } as never)).toThrow(/did you mean `maxSize`/);
  });

  test('gauges report clients by state and leases', async () => {
    const p = makePool();
    await p.acquire();
    const metrics = await env.harness.metrics();
    const clients = metrics.find((m) => m.descriptor.name === 'resilient_chat.pool.clients');
    const leases = metrics.find((m) => m.descriptor.name === 'resilient_chat.pool.leases');
    expect(
      clients?.dataPoints.map((d) => [d.attributes['resilient_chat.pool.client.state'], d.value]),
    ).toEqual([
      ['active', 1],
      ['draining', 0],
    ]);
    expect(leases?.dataPoints.map((d) => d.value)).toEqual([1]);
    expect(telemetryNames).toBeDefined();
  });
});

describe("warm sockets across a key's successive clients", () => {
  const call = (client: OpenAI) => client.chat.completions.create(params);

  test('a TTL eviction replaces the client but not its sockets', async () => {
    const p = makePool({ ttlMs: 30 });
    const first = await p.acquire();
    await call(first);
    p.release(first);
    await vi.waitFor(() => expect(p.stats().active).toBe(0)); // TTL evicted it (maybe during the call)
    await socketsIdle(first);

    const second = await p.acquire();
    await call(second);
    p.release(second);

    expect(second).not.toBe(first);
    expect(dispatcherOf(second)).toBe(dispatcherOf(first));
    expect(env.server.connections).toBe(1); // the second client's request went over the first one's socket
    expect(env.server.openConnections).toBe(1);
    // At least the first; the second client may reach its TTL too on a slow machine.
    expect(
      await env.harness.counter(METRIC_POOL_EVICTIONS, { [ATTR_POOL_EVICTION_CAUSE]: 'ttl' }),
    ).toBeGreaterThanOrEqual(1);
  });

  test('evict(key) hands the Agent on; it closes only when no client using it is leased or current', async () => {
    const p = makePool();
    const old = await p.acquire();
    env.server.script({ type: 'ok', delayMs: 100 });
    const inFlight = call(old);
    await vi.waitFor(() => expect(env.server.requestCount).toBe(1));

    expect(p.evict('default')).toBe(true);
    const current = await p.acquire();
    expect(current).not.toBe(old);
    expect(dispatcherOf(current)).toBe(dispatcherOf(old));
    await call(current);

    expect((await inFlight).object).toBe('chat.completion'); // never cut under the old client
    p.release(old); // the old client is dropped, its Agent stays: the current client uses it
    expect(dispatcherOf(old).closed).toBe(false);
    await socketsIdle(current);
    const sockets = env.server.connections; // 1, or 2 if the old request was still in flight
    await call(current);
    expect(env.server.connections).toBe(sockets); // a warm socket, no new connection
    expect(sockets).toBeLessThanOrEqual(2);

    p.release(current);
    p.evict('default', { keepConnections: false }); // no successor wanted: closes once idle
    expect(dispatcherOf(current).closed).toBe(true);
    const fresh = await p.acquire();
    expect(dispatcherOf(fresh)).not.toBe(dispatcherOf(current));
    expect(await env.harness.counter(METRIC_POOL_EVICTIONS, { [ATTR_POOL_EVICTION_CAUSE]: 'evicted' })).toBe(
      2,
    );
  });

  test('a dead transport is never reused: invalidate retires the Agent and every client sharing it', async () => {
    const p = makePool();
    const old = await p.acquire();
    await call(old);
    p.evict('default');
    const current = await p.acquire(); // shares old's Agent
    expect(dispatcherOf(current)).toBe(dispatcherOf(old));

    p.invalidate(old); // the old client found its transport dead: the current one shares it
    const fresh = await p.acquire();
    expect(fresh).not.toBe(current);
    expect(dispatcherOf(fresh)).not.toBe(dispatcherOf(old));
    await call(fresh);
    expect(env.server.connections).toBe(2);
    p.release(old);
    p.release(current);
    expect(dispatcherOf(old).closed).toBe(true);
    // Evicting the fresh client for churn does not bring the dead Agent back either.
    p.release(fresh);
    p.evict('default');
    expect(dispatcherOf(await p.acquire())).toBe(dispatcherOf(fresh));
  });

  test('a transport destroyed under the pool is never handed out again, idle or in flight', async () => {
    const p = makePool();
    const chat = createResilientChat({
      clients: p,
      meterProvider: env.harness.meterProvider,
      logger: quietLogger,
    });
    await chat.completions.create(params);
    const idle = await p.acquire();
    p.release(idle);
    await (dispatcherOf(idle) as unknown as undici.Agent).destroy(); // dies while it is the key's current client

    expect((await chat.completions.create(params)).object).toBe('chat.completion');
    expect(await env.harness.counter(telemetryNames.METRIC_CLOSED_CLIENT_RECOVERIES)).toBe(0); // acquire saw it
    const busy = await p.acquire();
    p.release(busy);
    expect(dispatcherOf(busy)).not.toBe(dispatcherOf(idle));

    env.server.script({ type: 'stall', at: 'headers' });
    const inFlight = chat.completions.create(params);
    await env.server.stalled();
    await (dispatcherOf(busy) as unknown as undici.Agent).destroy(); // dies under a request
    expect((await inFlight).object).toBe('chat.completion'); // the wrapper invalidated it and recovered
    expect(await env.harness.counter(telemetryNames.METRIC_CLOSED_CLIENT_RECOVERIES)).toBe(1);
    p.evict('default'); // churn: a parked Agent must be a live one
    const after = await p.acquire();
    expect(dispatcherOf(after)).not.toBe(dispatcherOf(busy));
    expect(dispatcherOf(after).destroyed).toBe(false);
    p.release(after);
  });
});

describe("durations past setTimeout's limit, and unknown keys", () => {
  const THIRTY_DAYS = 30 * 24 * 3600 * 1000;

  test('ttlMs and idleTimeoutMs of 30 days do not evict at once', async () => {
    const p = makePool({ ttlMs: THIRTY_DAYS, idleTimeoutMs: THIRTY_DAYS });
    for (let i = 0; i < 10; i++) {
      const client = await p.acquire();
      await client.chat.completions.create(params);
      p.release(client);
      await new Promise((resolve) => setImmediate(resolve)); // let an overflowed (1 ms) timer fire
    }
    expect(env.server.connections).toBe(1);
    expect(await env.harness.counter(METRIC_POOL_EVICTIONS)).toBe(0);
  });

  test('Infinity means never', async () => {
    const p = makePool({ ttlMs: Number.POSITIVE_INFINITY, idleTimeoutMs: Number.POSITIVE_INFINITY });
    const client = await p.acquire();
    await client.chat.completions.create(params);
    p.release(client);
    expect(await p.acquire()).toBe(client);
    expect(await env.harness.counter(METRIC_POOL_EVICTIONS)).toBe(0);
  });

  test.each([Number.POSITIVE_INFINITY, 2 ** 31])(
    'close({ timeoutMs: %s }) waits for in-flight requests instead of destroying them',
    async (timeoutMs) => {
      const p = makePool();
      const client = await p.acquire();
      env.server.script({ type: 'ok', delayMs: 150 });
      const inFlight = client.chat.completions.create(params);
      await vi.waitFor(() => expect(env.server.requestCount).toBe(1));
      let closed = false;
      const closing = p.close({ timeoutMs }).then(() => {
        closed = true;
      });

      expect((await inFlight).object).toBe('chat.completion');
      expect(closed).toBe(false); // still waiting for the lease
      p.release(client);
      await closing;
      expect(dispatcherOf(client).closed).toBe(true);
    },
  );

  test('bad durations are refused, naming the option', async () => {
    for (const bad of [Number.NaN, -1, 0, '1000']) {
      expect(() => makePool({ ttlMs: bad as number })).toThrow(/`ttlMs`/);
      expect(() => makePool({ idleTimeoutMs: bad as number })).toThrow(/`idleTimeoutMs`/);
      expect(() => makePool({ keepAliveTimeoutMs: bad as number })).toThrow(/`keepAliveTimeoutMs`/);
    }
    // undici arms its own timer with it: no "never", nothing past setTimeout's limit.
    expect(() => makePool({ keepAliveTimeoutMs: 2 ** 31 })).toThrow(
      /`keepAliveTimeoutMs`.*at most 2147483647/,
    );
    expect(() => makePool({ keepAliveTimeoutMs: Number.POSITIVE_INFINITY })).toThrow(/`keepAliveTimeoutMs`/);
    const p = makePool();
    for (const bad of [Number.NaN, -1, '10']) {
      await expect(p.close({ timeoutMs: bad as number })).rejects.toThrow(/`close.timeoutMs`/);
    }
    await expect(p.close({ timeoutMs: 0 })).resolves.toBeUndefined();
  });

  test('unknown keys are refused, naming the key and the nearest valid one', async () => {
    const misspelt = (options: object) => () => makePool(options as Partial<ClientPoolOptions>);
    expect(misspelt({ ttlMS: 1000 })).toThrow(/`ttlMS`.*did you mean `ttlMs`/);
    expect(misspelt({ maxsize: 5 })).toThrow(/`maxsize`.*did you mean `maxSize`/);
    expect(misspelt({ idleTimeout: 5 })).toThrow(/`idleTimeout`.*did you mean `idleTimeoutMs`/);
    expect(misspelt({ connectionsPerClient: 2, keepAlive: 5 })).toThrow(InvalidOptionError);
    const p = makePool();
    expect(() => p.evict('default', { keepConnection: false } as never)).toThrow(
      /`evict.keepConnection`.*did you mean `evict.keepConnections`/,
    );
    await expect(p.close({ timeout: 5 } as never)).rejects.toThrow(/`close.timeout`.*`close.timeoutMs`/);
  });
});

describe('which undici', () => {
  test('importing resilient-chat loads no undici; the pool loads it when it builds its first client', async () => {
    // A resolve hook in a fresh process sees every module it loads, by require or by import.
    const probe = `
      import { registerHooks } from 'node:module';
      const undiciUrls = [];
      registerHooks({ resolve(specifier, context, next) {
        const resolved = next(specifier, context);
        if (resolved.url.includes('/node_modules/undici/')) undiciUrls.push(resolved.url);
        return resolved;
      } });
      const { ClientPool } = await import(process.env.ENTRY);
      const atImport = undiciUrls.length;
      const { default: OpenAI } = await import('openai');
      const pool = new ClientPool({
        create: (_key, transport) => new OpenAI({ apiKey: 'sk-probe', baseURL: process.env.BASE_URL, ...transport }),
      });
      const client = await pool.acquire();
      const answer = await client.chat.completions.create({ model: 'm', messages: [] });
      pool.release(client);
      await pool.close();
      console.log(JSON.stringify({ atImport, afterPool: undiciUrls.length, object: answer.object }));
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', probe],
      {
        env: {
          ...process.env,
          ENTRY: new URL('../../src/index.ts', import.meta.url).href,
          BASE_URL: env.server.url,
        },
      },
    );
    const result = JSON.parse(stdout.trim().split('\n').pop() as string);
    expect(result.atImport).toBe(0);
    expect(result.afterPool).toBeGreaterThan(0); // the hook does see undici when it is loaded
    expect(result.object).toBe('chat.completion');
  });

  test('the pool builds its Agents and fetch from the undici it is given', async () => {
    const agents: undici.Agent[] = [];
    let fetches = 0;
    const mine = {
      Agent: class extends undici.Agent {
        constructor(options: undici.Agent.Options) {
          super(options);
          agents.push(this);
        }
      },
      fetch: (input: undici.RequestInfo, init?: undici.RequestInit) => {
        fetches++;
        return undici.fetch(input, init);
      },
    };
    const p = makePool({ undici: mine });
    const client = await p.acquire();
    await client.chat.completions.create(params);
    expect(agents).toHaveLength(1);
    expect(dispatcherOf(client)).toBe(agents[0]);
    expect(fetches).toBe(1);
  });
});
