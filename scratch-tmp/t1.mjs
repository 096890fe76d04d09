import http from 'node:http';
import OpenAI from 'openai';

const srv = http
  .createServer((q, s) => {
    s.end('{}');
  })
  .listen(0);
await new Promise((r) => srv.once('listening', r));
const url = `http://127.0.0.1:${srv.address().port}/v1`;
const chain = (e) => {
  const out = [];
  for (let c = e; c; c = c.cause) out.push(`${c.constructor?.name}:${c.code}:${c.message}`);
  return out;
};
for (const d of [
  {},
  {
    dispatch() {
      throw Object.assign(new Error('x'), { code: 'UND_ERR_INVALID_ARG' });
    },
  },
]) {
  const c = new OpenAI({ apiKey: 'k', baseURL: url, maxRetries: 0, fetchOptions: { dispatcher: d } });
  try {
    await c.models.list();
  } catch (e) {
    console.log(chain(e));
  }
}
srv.close();
