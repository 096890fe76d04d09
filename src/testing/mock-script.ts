/**
 * The mock server's script: the steps it can answer with, and their checks. A script is checked when it is
 * given (startMockOpenAI's options, `server.script(...)`), so a misspelt key or a tool call without a name
 * fails the test at its set-up line, not as a puzzling answer many requests later; what a step function
 * returns is checked the same way when it runs.
 */
import { InvalidOptionError } from '../errors.js';
import { rejectUnknownKeys } from '../option-checks.js';

/** A function call the mock answers with (chat completions `tool_calls`, Responses `function_call` items). */
export interface MockToolCall {
  /** The function's name. */
  name: string;
  /**
   * Its arguments: a string is sent as it is (the JSON text a model writes, even a malformed one), any other
   * value as its JSON. Default `{}`.
   */
  arguments?: unknown;
  /** The call id the client echoes back with the tool's result. Default: a fresh `call_mock_N`. */
  callId?: string;
}

export type MockStep =
  /**
   * A normal answer (JSON or SSE, as the request asks), after an optional delay before the headers. With
   * `text`, the assistant says that text (streamed whole, over `chunks` deltas); without it, the mock's own
   * sentence (streamed as its first `chunks` words).
   */
  | { type: 'ok'; delayMs?: number; text?: string }
  /**
   * The model asks for one function call: chat completions answer with `tool_calls` (`finish_reason:
   * 'tool_calls'`; streamed, the name first, then the arguments over `chunks` deltas), the Responses API with
   * a `function_call` output item (streamed with `response.function_call_arguments.delta` events).
   */
  | ({ type: 'tool_call'; delayMs?: number } & MockToolCall)
  /** The model asks for several function calls at once (parallel tool calls), in this order. */
  | { type: 'tool_calls'; calls: MockToolCall[]; delayMs?: number }
  /** An HTTP error status with a JSON body (default: an OpenAI-style error object) and extra headers. */
  | { type: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  /** HTTP 500 with LiteLLM's closed-client body. */
  | { type: 'litellm_closed_client' }
  /** The connection is destroyed without a response. */
  | { type: 'reset' }
  /**
   * A streamed response with an SSE error frame after `afterChunks` content chunks (0: before the first),
   * optionally preceded by a role-only chunk with no content, as some proxies send.
   */
  | { type: 'sse_error'; afterChunks: number; error?: unknown; roleChunkFirst?: boolean }
  /**
   * The response stops and waits until the client goes away (or the server closes): before the headers,
   * after the headers and half of a JSON body, after the first SSE chunk, or after a role-only first chunk
   * (as OpenAI opens its streams: nothing of substance yet). `stalled()` resolves when it is reached.
   */
  | { type: 'stall'; at: 'headers' | 'body' | 'chunk' | 'role_chunk' };

/** A tool's result, as a request carries it back to the model. */
export interface MockToolOutput {
  /** The call it answers (`tool_call_id` of a chat `tool` message, `call_id` of a `function_call_output`). */
  callId: string;
  /** The result's text (text parts joined, when it came as parts). */
  output: string;
}

const STEP_KEYS: Record<MockStep['type'], readonly string[]> = {
  ok: ['type', 'delayMs', 'text'],
  tool_call: ['type', 'delayMs', 'name', 'arguments', 'callId'],
  tool_calls: ['type', 'delayMs', 'calls'],
  status: ['type', 'status', 'body', 'headers'],
  litellm_closed_client: ['type'],
  reset: ['type'],
  sse_error: ['type', 'afterChunks', 'error', 'roleChunkFirst'],
  stall: ['type', 'at'],
};

const STEP_TYPES = Object.keys(STEP_KEYS) as MockStep['type'][];
const STALL_POINTS = ['headers', 'body', 'chunk', 'role_chunk'];

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Checks one step; `at` names it in the error (`script[2]`). Returns it, typed. */
export function checkStep(step: unknown, at: string): MockStep {
  if (!isObject(step)) {
    throw new InvalidOptionError(
      at,
      `a step object ({ type: ${STEP_TYPES.map((t) => `'${t}'`).join(' | ')} ... }) or a function (request, index) => step`,
      step,
    );
  }
  const type = step.type as MockStep['type'];
  if (!STEP_TYPES.includes(type)) {
    throw new InvalidOptionError(
      `${at}.type`,
      `one of ${STEP_TYPES.map((t) => `'${t}'`).join(', ')}`,
      step.type,
    );
  }
  rejectUnknownKeys(step, STEP_KEYS[type], `${at}.`);
  if ('delayMs' in step && step.delayMs !== undefined) {
    const ms = step.delayMs;
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      throw new InvalidOptionError(`${at}.delayMs`, 'a number of ms, 0 or more (finite)', ms);
    }
  }
  switch (type) {
    case 'ok':
      if (step.text !== undefined && typeof step.text !== 'string') {
        throw new InvalidOptionError(`${at}.text`, 'a string', step.text);
      }
      break;
    case 'tool_call':
      checkToolCall(step, at);
      break;
    case 'tool_calls':
      if (!Array.isArray(step.calls) || step.calls.length === 0) {
        throw new InvalidOptionError(
          `${at}.calls`,
          'a non-empty array of { name, arguments?, callId? }',
          step.calls,
        );
      }
      step.calls.forEach((call, i) => {
        if (!isObject(call)) {
          throw new InvalidOptionError(`${at}.calls[${i}]`, 'an object { name, arguments?, callId? }', call);
        }
        rejectUnknownKeys(call, ['name', 'arguments', 'callId'], `${at}.calls[${i}].`);
        checkToolCall(call, `${at}.calls[${i}]`);
      });
      break;
    case 'status': {
      const status = step.status;
      if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
        throw new InvalidOptionError(
          `${at}.status`,
          'an HTTP status, a whole number from 200 to 599',
          status,
        );
      }
      if (step.headers !== undefined) {
        if (!isObject(step.headers)) {
          throw new InvalidOptionError(
            `${at}.headers`,
            'an object of header names to string values',
            step.headers,
          );
        }
        for (const [name, value] of Object.entries(step.headers)) {
          if (typeof value !== 'string') {
            throw new InvalidOptionError(`${at}.headers.${name}`, 'a string', value);
          }
        }
      }
      if (step.body !== undefined) checkJson(step.body, `${at}.body`);
      break;
    }
    case 'sse_error': {
      const n = step.afterChunks;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
        throw new InvalidOptionError(`${at}.afterChunks`, 'a whole number, 0 or more', n);
      }
      if (step.roleChunkFirst !== undefined && typeof step.roleChunkFirst !== 'boolean') {
        throw new InvalidOptionError(`${at}.roleChunkFirst`, 'a boolean', step.roleChunkFirst);
      }
      if (step.error !== undefined) checkJson(step.error, `${at}.error`);
      break;
    }
    case 'stall':
      if (!STALL_POINTS.includes(step.at as string)) {
        throw new InvalidOptionError(
          `${at}.at`,
          `one of ${STALL_POINTS.map((p) => `'${p}'`).join(', ')}`,
          step.at,
        );
      }
      break;
    case 'litellm_closed_client':
    case 'reset':
      break;
  }
  return step as MockStep;
}

function checkToolCall(call: Record<string, unknown>, at: string): void {
  if (typeof call.name !== 'string' || call.name === '') {
    throw new InvalidOptionError(`${at}.name`, "the function's name, a non-empty string", call.name);
  }
  if (call.callId !== undefined && (typeof call.callId !== 'string' || call.callId === '')) {
    throw new InvalidOptionError(`${at}.callId`, 'a non-empty string', call.callId);
  }
  if (call.arguments !== undefined && typeof call.arguments !== 'string') {
    checkJson(call.arguments, `${at}.arguments`);
  }
}

function checkJson(value: unknown, at: string): void {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new InvalidOptionError(at, `a value JSON can encode (${String(error)})`, value);
  }
  if (text === undefined) throw new InvalidOptionError(at, 'a value JSON can encode', value);
}

const OPTION_KEYS = ['script', 'fallback', 'chunks', 'recordRequests', 'onRequest'];

/** Checks startMockOpenAI's options, every step of the script included. */
export function checkMockOptions(options: unknown): void {
  if (!isObject(options)) throw new InvalidOptionError('options', 'an object', options);
  rejectUnknownKeys(options, OPTION_KEYS);
  if (options.script !== undefined) {
    if (!Array.isArray(options.script)) {
      throw new InvalidOptionError('script', 'an array of steps (objects or functions)', options.script);
    }
    checkEntries(options.script, 'script');
  }
  for (const name of ['fallback', 'onRequest'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new InvalidOptionError(name, 'a function', options[name]);
    }
  }
  const chunks = options.chunks;
  if (chunks !== undefined && !(typeof chunks === 'number' && Number.isSafeInteger(chunks) && chunks > 0)) {
    throw new InvalidOptionError('chunks', 'a whole number above 0', chunks);
  }
  if (options.recordRequests !== undefined && typeof options.recordRequests !== 'boolean') {
    throw new InvalidOptionError('recordRequests', 'a boolean', options.recordRequests);
  }
}

/** Checks script entries: step objects, or functions (checked when they run). */
export function checkEntries(entries: readonly unknown[], at: string): void {
  entries.forEach((entry, i) => {
    if (typeof entry !== 'function') checkStep(entry, `${at}[${i}]`);
  });
}

/** The tool results a chat completions or Responses request body carries back to the model. */
export function toolOutputsOf(body: Record<string, unknown> | undefined): MockToolOutput[] {
  if (!body) return [];
  const outputs: MockToolOutput[] = [];
  if (Array.isArray(body.messages)) {
    for (const message of body.messages) {
      if (isObject(message) && message.role === 'tool' && typeof message.tool_call_id === 'string') {
        outputs.push({ callId: message.tool_call_id, output: textOf(message.content) });
      }
    }
  }
  if (Array.isArray(body.input)) {
    for (const item of body.input) {
      if (isObject(item) && item.type === 'function_call_output' && typeof item.call_id === 'string') {
        outputs.push({ callId: item.call_id, output: textOf(item.output) });
      }
    }
  }
  return outputs;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part) => (isObject(part) && typeof part.text === 'string' ? part.text : '')).join('');
  }
  return content === undefined || content === null ? '' : JSON.stringify(content);
}
