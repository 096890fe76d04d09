import OpenAI from 'openai';
import { Agent } from 'undici';
import { createResilientClient } from '../src/index.js';
import { startMockOpenAI } from '../src/testing/index.js';

const server = await startMockOpenAI({ chunks: 3 });
const agent = new Agent();
const dead = new Agent();
await dead.destroy();
let n = 0;
const client = createResilientClient({
  clients: () =>
    new OpenAI({
      apiKey: 'k',
      baseURL: server.url,
      fetchOptions: { dispatcher: n++ === 0 ? dead : agent } as any,
    }),
  logger: false,
});
const r = await client.chat.completions
  .create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  .withResponse();
console.log(
  'json',
  r.data.choices[0]?.message.content,
  r.request_id,
  r.response.status,
  (r.data as any)._request_id,
);
const s = await client.chat.completions.create({
  model: 'm',
  stream: true,
  messages: [{ role: 'user', content: 'hi' }],
});
let text = '';
for await (const c of s) text += c.choices[0]?.delta.content ?? '';
console.log('stream', text);
const raw = await client.chat.completions.create({ model: 'm', messages: [] }).asResponse();
console.log('raw', raw.status, (await raw.json()).object);
const st = client.chat.completions.stream({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
console.log('helper stream final', (await st.finalChatCompletion()).choices[0]?.message.content);
try {
  for await (const m of client.models.list()) console.log('model', m.id);
} catch (e) {
  console.log('models err', (e as Error).message);
}
await server.close();
await agent.close();
