/**
 * Whether a request may be sent again after a failure that may have reached the server: whether two of it
 * leave the server as one would. Decided per request shape, from openai-node's method and path and the JSON
 * body, before the first attempt; the policy (src/policy/retry-policy.ts) applies it.
 *
 * - Idempotent by HTTP's own rules: GET, HEAD, DELETE, PUT.
 * - A POST that computes an answer and keeps nothing a second one would duplicate in a way that matters:
 *   chat completions, Responses, embeddings, moderations, legacy completions, images, audio. A Responses call
 *   with `store` (its default) keeps the response; a replay keeps a second, unreferenced one: an orphan, not a
 *   change to anything the caller reads. `previous_response_id` only branches from a response; it changes
 *   nothing.
 * - Not replayed: a Responses call with `conversation` (its input and output are appended to the conversation,
 *   and a replay appends them twice), and every other POST or PATCH: they create or change objects (files,
 *   uploads, batches, vector stores and their files, fine-tuning jobs, conversation items, threads and runs,
 *   containers, evals, videos...). Whether OpenAI honours an Idempotency-Key for them is not documented; a
 *   user whose server does can allow their replay (`retry.replayNonIdempotent`).
 */
import type { AcquireContext } from '../types.js';

/** POST paths that compute an answer (prefix match on the path openai-node sends, query and slash aside). */
const ANSWERING_POSTS = [
  '/chat/completions',
  '/responses',
  '/embeddings',
  '/moderations',
  '/completions',
  '/images/generations',
  '/images/edits',
  '/images/variations',
  '/audio/speech',
  '/audio/transcriptions',
  '/audio/translations',
];

export function isReplaySafe(method: string, path: string, params: AcquireContext['params']): boolean {
  if (method === 'get' || method === 'head' || method === 'delete' || method === 'put') return true;
  if (method !== 'post') return false;
  // A path with no query, fragment or trailing slash (every path openai-node itself sends) is its own bare
  // form: no regular expression, no new string, on every call.
  const bare =
    path.includes('?') || path.includes('#') || path.endsWith('/')
      ? path.replace(/[?#].*$/, '').replace(/\/+$/, '')
      : path;
  if (bare === '/responses') return params.conversation == null;
  // `/responses/input_tokens` counts, `/chat/completions` and the rest answer; `/responses/{id}/cancel` and
  // the stored chat completions' updates (`/chat/completions/{id}`) change what is stored.
  if (bare === '/responses/input_tokens') return true;
  return ANSWERING_POSTS.includes(bare);
}
