/**
 * One client per tenant's API key, from a ClientPool that never closes a client still in use. Rotating a
 * tenant's key evicts its client: it drains, then closes.
 */
import OpenAI from 'openai';
import { ClientPool, createResilientClient } from 'resilient-chat';

const keys = new Map<string, string>([
  ['acme', 'sk-acme'],
  ['globex', 'sk-globex'],
]);
const tenant = { current: 'acme' };

const pool = new ClientPool({
  key: () => tenant.current,
  create: (key, transport) => new OpenAI({ apiKey: keys.get(key), ...transport }),
  ttlMs: 10 * 60_000,
});
const openai = createResilientClient({ clients: pool });

export async function answerFor(name: string, question: string): Promise<string | null | undefined> {
  tenant.current = name;
  const completion = await openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: question }],
  });
  return completion.choices[0]?.message.content;
}

export function rotateKey(name: string, key: string): void {
  keys.set(name, key);
  pool.evict(name);
}

export const shutdown = (): Promise<void> => pool.close();
