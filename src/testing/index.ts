export { EvictingClientCache, type EvictingClientCacheOptions } from './evicting-client-cache.js';
export {
  LITELLM_CLOSED_CLIENT_BODY,
  type MockOpenAI,
  type MockOpenAIOptions,
  type MockStep,
  type MockStepFunction,
  type MockToolCall,
  type MockToolOutput,
  type RecordedRequest,
  startMockOpenAI,
} from './mock-openai.js';
