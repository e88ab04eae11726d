// ESM entry: the same API as index.js (CommonJS).
import llmux from './index.js'

export const {
  configure,
  callLiteLLM,
  promptForData,
  promptLiteLLMForData,
  createChatFn,
  Router,
  completion,
  stream,
  embedding,
  getLiteLLMServerStatus,
  initPythonProcess,
  shutdownLiteLLMServer,
  LlmuxError,
} = llmux
export default llmux
