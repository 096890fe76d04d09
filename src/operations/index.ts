/**
 * Which operation a request is, from its method and path: the three GenAI operations by their endpoints,
 * everything else as a plain request named by its path template.
 */
import { chatOperation } from './chat.js';
import { embeddingsOperation } from './embeddings.js';
import type { Operation } from './operation.js';
import { requestOperation } from './request.js';
import { responsesOperation } from './responses.js';

export type { GenAIOperation, Operation, ResponseSummary, StreamAccumulator } from './operation.js';
export { chatOperation, embeddingsOperation, responsesOperation };

export function operationFor(method: string, path: string): Operation {
  if (method === 'post') {
    // The paths openai-node itself sends, without a look at a regular expression.
    if (path === '/chat/completions') return chatOperation;
    if (path === '/responses') return responsesOperation;
    if (path === '/embeddings') return embeddingsOperation;
    // Paths may carry a query string or a trailing slash from a caller's custom request.
    const bare = path.replace(/[?#].*$/, '').replace(/\/+$/, '');
    if (bare === '/chat/completions') return chatOperation;
    if (bare === '/responses') return responsesOperation;
    if (bare === '/embeddings') return embeddingsOperation;
  }
  return requestOperation(method, path);
}
