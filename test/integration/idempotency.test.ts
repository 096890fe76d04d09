/** Headers: one Idempotency-Key per logical call, the same on every attempt; the caller's own key and headers win. */
import { SpanStatusCode } from '@opentelemetry/api';
import { expect, test } from 'vitest';
import { onlySpan } from '../support/assertions.js';
import { useLoopback } from '../support/loopback.js';
import { params } from '../support/params.js';

const env = useLoopback();
const keys = () => env.server.requests.map((r) => r.headers['idempotency-key']);

test('every attempt of a call carries the same key, and calls differ', async () => {
  env.server.script({ type: 'status', status: 503 }, { type: 'litellm_closed_client' });
  const chat = env.chat({ retry: { baseDelayMs: 1 } });

  await chat.completions.create(params);
  await chat.completions.create(params);

  const [a, b, c, d] = keys();
  expect(a).toMatch(/^resilient-chat-[0-9a-f-]{36}$/);
  expect([b, c]).toEqual([a, a]);
  expect(d).not.toBe(a);
});

test("the caller's idempotencyKey option wins", async () => {
  env.server.script({ type: 'status', status: 503 });
  await env.chat({ retry: { baseDelayMs: 1 } }).completions.create(params, { idempotencyKey: 'order-42' });
  expect(keys()).toEqual(['order-42', 'order-42']);
});

test("the caller's own header wins, and the caller's other headers are kept", async () => {
  await env.chat().completions.create(params, { headers: { 'Idempotency-Key': 'mine', 'X-Team': 'search' } });
  expect(keys()).toEqual(['mine']);
  expect(env.server.requests[0]?.headers['x-team']).toBe('search');
});

test('a header value that fetch rejects fails the call as a rejected promise, and the span ends', async () => {
  const call = env.chat().completions.create(params, { headers: { 'X-Bad': 'a\nb' } });
  await expect(call).rejects.toThrow();
  expect((await onlySpan(env.harness)).status.code).toBe(SpanStatusCode.ERROR);
  expect(env.server.requests).toHaveLength(0);
});

test("null still removes a default header, as openai-node's own options do", async () => {
  await env.chat().completions.create(params, { headers: { 'X-Stainless-Lang': null } });
  expect(env.server.requests[0]?.headers['x-stainless-lang']).toBeUndefined();
  expect(env.server.requests[0]?.headers['idempotency-key']).toBeDefined();
});

test('idempotencyKeys: false sends none of its own, but still the one a caller gives', async () => {
  const chat = env.chat({ idempotencyKeys: false });
  await chat.completions.create(params);
  await chat.completions.create(params, { idempotencyKey: 'order-7' });
  expect(keys()).toEqual([undefined, 'order-7']);
});
