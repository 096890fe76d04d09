/** `POST /embeddings`: no output messages and no streams; the dimension count and the input tokens. */
import type { Attributes } from '@opentelemetry/api';
import type { CreateEmbeddingResponse, EmbeddingCreateParams } from 'openai/resources/embeddings';
import {
  ATTR_GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
  ATTR_GEN_AI_REQUEST_ENCODING_FORMATS,
  GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS,
} from '../telemetry/semconv.js';
import type { GenAIOperation, Operation, ResponseSummary, StreamAccumulator } from './operation.js';

function dimensionsOf(response: CreateEmbeddingResponse): number | undefined {
  const first = response.data?.[0]?.embedding as unknown;
  // openai-node asks for base64 by default and decodes it later: float32s, 4 bytes per dimension.
  if (typeof first === 'string') return Buffer.byteLength(first, 'base64') / 4;
  return Array.isArray(first) ? first.length : undefined;
}

const embeddingsGenAI: GenAIOperation = {
  operationName: GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS,
  apiType: undefined,
  requestAttributes(body) {
    const params = body as EmbeddingCreateParams;
    const attributes: Attributes = {};
    if (typeof params.encoding_format === 'string')
      attributes[ATTR_GEN_AI_REQUEST_ENCODING_FORMATS] = [params.encoding_format];
    if (typeof params.dimensions === 'number')
      attributes[ATTR_GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = params.dimensions;
    return attributes;
  },
  inputMessages: () => undefined,
  summarize(result): ResponseSummary {
    const response = result as CreateEmbeddingResponse | null | undefined;
    if (!response || typeof response !== 'object') return { finishReasons: [] };
    return {
      model: response.model,
      finishReasons: [],
      inputTokens: response.usage?.prompt_tokens,
      dimensionCount: dimensionsOf(response),
    };
  },
  outputMessages: () => undefined,
  newAccumulator: (): StreamAccumulator => ({
    add: () => {},
    summary: () => ({ finishReasons: [] }),
    outputMessages: () => undefined,
  }),
};

export const embeddingsOperation: Operation = {
  name: 'POST /embeddings',
  genAI: embeddingsGenAI,
  hasSubstance: () => true,
};
