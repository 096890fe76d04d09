/**
 * Any other request (models, files, batches, vector stores...): recovered and retried like the rest, counted
 * under a bounded `resilient_chat.operation` name, and given no GenAI span (an HTTP instrumentation covers
 * it). Streams of such requests are handed over at their first event.
 */
import { LruMap } from '../lru-map.js';
import type { Operation } from './operation.js';

/** Past this many distinct names, further ones are counted as `other`: metric series stay bounded. */
export const MAX_OPERATION_NAMES = 200;

/** A path segment kept as it is: lowercase words (`files`, `vector_stores`, `content`); anything else is an id. */
const STATIC_SEGMENT = /^[a-z][a-z_]{0,39}$/;

const operations = new Map<string, Operation>();
const OTHER: Operation = { name: 'other', genAI: undefined, hasSubstance: () => true };

/** `GET /files/{id}/content` for `get` and `/files/file-abc123/content`. */
export function pathTemplate(method: string, path: string): string {
  const bare = path.replace(/[?#].*$/, '');
  const segments = bare
    .split('/')
    .filter((s) => s !== '')
    .map((s) => (STATIC_SEGMENT.test(s) ? s : '{id}'));
  return `${method.toUpperCase()} /${segments.join('/')}`;
}

/** The operation of recently seen method and path pairs: templating a path on every request showed. */
const byPath = new LruMap<string, Operation>(256);

export function requestOperation(method: string, path: string): Operation {
  const key = `${method} ${path}`;
  let operation = byPath.get(key);
  if (!operation) {
    operation = operationNamed(pathTemplate(method, path));
    byPath.set(key, operation);
  }
  return operation;
}

function operationNamed(name: string): Operation {
  let operation = operations.get(name);
  if (!operation) {
    if (operations.size >= MAX_OPERATION_NAMES) return OTHER;
    operation = { name, genAI: undefined, hasSubstance: () => true };
    operations.set(name, operation);
  }
  return operation;
}
