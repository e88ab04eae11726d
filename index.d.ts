// Types of the llmux JavaScript API (index.js / index.mjs).
import type { Writable } from 'node:stream'

// ---------------------------------------------------------------- requests
export type Role = 'system' | 'developer' | 'user' | 'assistant' | 'tool' | 'function'

export type ContentPart =
  | { type: 'text'; text: string; cache_control?: { type: 'ephemeral'; ttl?: string } }
  | { type: 'image_url'; image_url: { url: string; detail?: 'auto' | 'low' | 'high' } }
  | { type: 'input_audio'; input_audio: { data: string; format: string } }
  | { type: 'file'; file: Record<string, unknown> }

export interface ToolCall {
  id: string
  type: 'function'
  function: { name: string; arguments: string }
  /** Set when `arguments` is not a JSON object: kept as the model sent it. */
  malformed_arguments?: true
}

/** A reasoning block with its signature (Anthropic, Bedrock): send it back unchanged. */
export type ThinkingBlock =
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string }

export interface Message {
  role: Role
  content?: string | ContentPart[] | null
  name?: string
  tool_calls?: ToolCall[]
  tool_call_id?: string
  reasoning_content?: string
  thinking_blocks?: ThinkingBlock[]
}

export interface Tool {
  type: 'function'
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean }
  cache_control?: { type: 'ephemeral' }
}

export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } }

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name: string; schema: Record<string, unknown>; strict?: boolean } }

/** A LiteLLM-style model string: `openai/gpt-4o`, `anthropic/claude-...`, `bedrock/<model id>`,
 * `azure/<deployment>`, `gemini/<model>`, `vertex_ai/<model>`, `mock/echo`, `mock/reasoning`. */
export type ModelString = string

export interface ChatRequest {
  model: ModelString | AmplifyModel
  messages: Message[]
  max_tokens?: number
  max_completion_tokens?: number
  temperature?: number
  top_p?: number
  n?: number
  stop?: string | string[]
  presence_penalty?: number
  frequency_penalty?: number
  seed?: number
  user?: string
  tools?: Tool[]
  tool_choice?: ToolChoice
  parallel_tool_calls?: boolean
  response_format?: ResponseFormat
  reasoning_effort?: 'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh' | 'max'
  /** Legacy function calling; turned into `tools` / `tool_choice`. */
  functions?: Array<{ name: string; description?: string; parameters?: Record<string, unknown> }>
  function_call?: 'none' | 'auto' | { name: string }
  // llmux call options (never forwarded)
  signal?: AbortSignal
  /** With a Router: cache this answer for `ttl` seconds, or `false` to skip the cache. */
  cache?: boolean | { ttl?: number; 'no-cache'?: boolean }
  /** LiteLLM's metadata; `tags` fall under the router's `tag_limits`. Never sent to a provider. */
  metadata?: { tags?: string[]; [more: string]: unknown }
  /** `false`: a parameter the provider does not take fails the call (default: dropped with a warning). */
  drop_params?: boolean
  /** With a Router and `model: 'auto'`: how to choose the group. */
  routing_hints?: RoutingHints
  account?: AmplifyAccount | null
  requestId?: string
  api_key?: string
  api_base?: string
  base_url?: string
  api_version?: string
  /** Seconds for the whole call (LiteLLM's unit). */
  timeout?: number
  max_retries?: number
  num_retries?: number
  extra_headers?: Record<string, string>
  aws_region_name?: string
  aws_access_key_id?: string
  aws_secret_access_key?: string
  aws_session_token?: string
  vertex_project?: string
  vertex_location?: string
  /** Facts that override the model database for this call (LiteLLM's names). */
  model_info?: ModelInfo
  /** The model behind a deployment name (prices, capabilities): `azure/gpt-5`. */
  base_model?: string
  /** Entra ID token for Azure OpenAI (sent as `Authorization: Bearer`). */
  azure_ad_token?: string
  mock_response?: string
  mock_delay_ms?: number
  /** Anything else is forwarded to OpenAI-compatible servers as given. */
  [extra: string]: unknown
}

// ---------------------------------------------------------------- responses
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call' | (string & {})

export interface Usage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  prompt_tokens_details: { cached_tokens: number; cache_write_tokens?: number; cache_write_1h_tokens?: number }
  completion_tokens_details: { reasoning_tokens: number }
  /** Counted locally (a cancelled or broken stream, a server that sent none). */
  estimated?: true
}

export interface ChatCompletion {
  id: string
  object: 'chat.completion'
  created: number
  model: string
  choices: Array<{
    index: number
    message: {
      role: 'assistant'
      content: string | null
      refusal?: string
      tool_calls?: ToolCall[]
      reasoning_content?: string
      thinking_blocks?: ThinkingBlock[]
      /** The object of a `json_schema` response format, present when it matched the schema. */
      parsed?: unknown
    }
    finish_reason: FinishReason | null
  }>
  usage?: Usage
  system_fingerprint?: string
  /** llmux: every parameter dropped, renamed or changed for the provider (absent when none). */
  warnings?: string[]
  /** llmux: what the answer cost, in USD, at the model database's prices (absent when unpriced); with `model: 'auto'`, the group chosen and why. */
  llmux?: { cost?: Cost; auto?: { model_group: string; reason: string; considered: string[] } }
}

export interface EmbeddingRequest {
  /** `openai/text-embedding-3-small`, `azure/<deployment>`, `bedrock/amazon.titan-embed-text-v2:0`, `bedrock/cohere.embed-english-v3`, `gemini/gemini-embedding-001`, `vertex_ai/text-embedding-005`, or a router group. */
  model: string
  /** A text, texts, token ids, or arrays of token ids (OpenAI-shaped servers only). */
  input: string | string[] | number[] | number[][]
  dimensions?: number
  /** `base64`: each row as OpenAI's base64 of little-endian float32. */
  encoding_format?: 'float' | 'base64'
  /** `float32`: each row as a Float32Array view of one shared buffer (fastest). Default: plain arrays. */
  output?: 'array' | 'float32'
  user?: string
  /** What the text is for: Cohere's `input_type` or Google's `task_type` (either name). */
  input_type?: string
  task_type?: string
  /** Cut an input over the model's token limit to fit, instead of failing with `invalid_request` naming it. */
  truncate?: boolean
  signal?: AbortSignal
  account?: AmplifyAccount | null
  requestId?: string
  /** Seconds for the whole call. */
  timeout?: number
  max_retries?: number
  api_key?: string
  api_base?: string
  api_version?: string
  aws_region_name?: string
  vertex_project?: string
  vertex_location?: string
  model_info?: ModelInfo
  /** With a Router: cache each input's vector for `ttl` seconds (per user), or `false` to skip. */
  cache?: boolean | { ttl?: number; 'no-cache'?: boolean }
  [extra: string]: unknown
}

export interface EmbeddingResponse<E> {
  object: 'list'
  data: Array<{ object: 'embedding'; index: number; embedding: E }>
  model: string
  usage: { prompt_tokens: number; total_tokens: number }
  warnings?: string[]
  /** USD at the model database's prices (absent when unpriced). */
  llmux?: { cost: number }
}

export interface RoutingHints {
  /** cost (default): the cheapest; speed: the fastest measured time to first token; quality: the best-ranked (`router_settings.quality_ranking`, else config order). */
  priority?: 'cost' | 'speed' | 'quality'
  /** USD, estimated before the call (the prompt, and max_tokens or 1,024 output tokens). */
  max_cost?: number
  /** Milliseconds to the first token, as measured. */
  max_latency?: number
  /** LiteLLM's supports_* names, with or without the prefix: 'vision', 'function_calling', 'reasoning', 'pdf_input'... */
  required_capabilities?: string[]
  /** The groups to choose among (default: every chat group). */
  candidates?: string[]
}

export interface Cost { input: number; cache_read: number; cache_write: number; output: number; total: number }

/** A model's facts, under LiteLLM's names (the model database, or a config's `model_info`). */
export interface ModelInfo {
  litellm_provider?: string
  mode?: 'chat' | 'embedding' | 'responses' | (string & {})
  base_model?: string
  max_input_tokens?: number
  max_output_tokens?: number
  output_vector_size?: number
  input_cost_per_token?: number
  output_cost_per_token?: number
  cache_read_input_token_cost?: number
  cache_creation_input_token_cost?: number
  cache_creation_input_token_cost_above_1hr?: number
  output_cost_per_reasoning_token?: number
  input_cost_per_token_above_200k_tokens?: number
  output_cost_per_token_above_200k_tokens?: number
  cache_read_input_token_cost_above_200k_tokens?: number
  cache_creation_input_token_cost_above_200k_tokens?: number
  input_cost_per_token_above_272k_tokens?: number
  output_cost_per_token_above_272k_tokens?: number
  cache_read_input_token_cost_above_272k_tokens?: number
  supports_function_calling?: boolean
  supports_tool_choice?: boolean
  supports_parallel_function_calling?: boolean
  supports_vision?: boolean
  supports_pdf_input?: boolean
  supports_audio_input?: boolean
  supports_video_input?: boolean
  supports_response_schema?: boolean
  supports_native_structured_output?: boolean
  supports_reasoning?: boolean
  supports_adaptive_thinking?: boolean
  supports_sampling_params?: boolean
  supports_prompt_caching?: boolean
  supports_system_messages?: boolean
  supports_none_reasoning_effort?: boolean
  supports_minimal_reasoning_effort?: boolean
  supports_xhigh_reasoning_effort?: boolean
  supports_max_reasoning_effort?: boolean
  supports_web_search?: boolean
  deprecation_date?: string
}

export interface ChatCompletionChunk {
  id: string
  object: 'chat.completion.chunk'
  created: number
  model: string
  choices: Array<{
    index: number
    delta: {
      role?: 'assistant'
      content?: string
      reasoning_content?: string
      refusal?: string
      tool_calls?: Array<{ index: number; id?: string; type?: 'function'; function?: { name?: string; arguments?: string } }>
      thinking_blocks?: ThinkingBlock[]
    }
    finish_reason: FinishReason | null
  }>
  /** On the last chunk, whose `choices` is empty. */
  usage?: Usage
}

export interface ChatStream extends AsyncIterableIterator<ChatCompletionChunk> {
  /** Cancels the upstream request; iteration then ends with a `cancelled` error. */
  abort(): void
  /** Set when the stream ends: every parameter dropped, renamed or changed for the provider. */
  readonly warnings: string[]
  /** Set when the stream ends, for a priced model: what it cost in USD. */
  readonly cost: number | undefined
}

// ---------------------------------------------------------------- amplify
export interface AmplifyModel {
  id: string
  name?: string
  provider?: 'OpenAI' | 'Azure' | 'Bedrock' | 'Gemini' | (string & {})
  inputContextWindow?: number
  outputTokenLimit?: number
  supportsImages?: boolean
  supportsReasoning?: boolean
  supportsSystemPrompts?: boolean
  systemPrompt?: string
  inputTokenCost?: number
  outputTokenCost?: number
  inputCachedTokenCost?: number
  inputWriteCachedTokenCost?: number
  [more: string]: unknown
}

export interface AmplifyAccount {
  user?: string
  /** A secret: never logged, never sent to a provider, never part of a cache key. */
  accessToken?: string
  accountId?: string
  apiKeyId?: string
  [more: string]: unknown
}

export interface AmplifyChatRequest {
  messages: Message[]
  max_tokens?: number
  temperature?: number
  options?: { model?: unknown; requestId?: string; reasoningLevel?: 'low' | 'medium' | 'high'; disableReasoning?: boolean; [more: string]: unknown }
  tools?: Tool[]
  tool_choice?: ToolChoice
  functions?: ChatRequest['functions']
  function_call?: ChatRequest['function_call']
  [more: string]: unknown
}

export type DataSource = string | { id?: string; name?: string; content?: string; text?: string; [more: string]: unknown }

export interface CallOptions {
  signal?: AbortSignal
  /** A router for this call only. */
  router?: Router
  /** End the response stream when done (default true, as amplify's client did). */
  endStream?: boolean
}

export interface UsageDetails {
  reasoning_tokens: number
  prompt_tokens_details: { cached_tokens: number }
  completion_tokens_details: { reasoning_tokens: number }
  /** The provider's whole prompt, cache reads and writes included. */
  prompt_tokens: number
  cache_write_tokens: number
  /** Of the writes, those kept for an hour (absent when none). */
  cache_write_1h_tokens?: number
  /** USD at the model database's prices (absent for an unpriced model). */
  cost_usd?: number
  estimated?: true
}

/** amplify's recordUsage: input billed at the full rate (prompt minus cache reads), output
 * (reasoning included), cache reads. */
export type UsageCallback = (
  account: AmplifyAccount | null,
  requestId: string | null,
  model: AmplifyModel | string,
  inputTokens: number,
  outputTokens: number,
  cachedTokens: number,
  details: UsageDetails,
) => void | Promise<void>

/** One per request, to onSuccess / onFailure: LiteLLM's standard logging payload, in part. Never a secret. */
export interface LogPayload {
  id: string | null
  call_type: 'completion' | 'stream' | 'callLiteLLM' | 'embedding'
  status: 'success' | 'failure'
  model: string
  model_group: string | null
  model_id: string | null
  custom_llm_provider: string | null
  response_model: string | null
  user: string | null
  request_tags: string[]
  /** Epoch milliseconds. */
  startTime: number
  completionStartTime: number | null
  endTime: number
  response_time_ms: number
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  cached_tokens: number
  usage_estimated: boolean
  response_cost: number | null
  cache_hit: boolean
  /** With `model: 'auto'`: the group chosen and why. */
  auto_route: { model_group: string; reason: string } | null
  attempts: number
  fallbacks: string[]
  warnings: string[]
  error_information: { error_code: ErrorCode; error_class: string; error_message: string; status: number | null } | null
  /** With `logMessages: true` only. */
  messages?: unknown
  response?: unknown
}
export type LogCallback = (payload: LogPayload) => void | Promise<void>

export interface ConfigureOptions {
  /** Route every call (callLiteLLM, promptForData, createChatFn, completion, stream) through this router. */
  router?: Router | null
  /** Called once per successful request (every call, direct or routed). */
  onSuccess?: LogCallback | null
  /** Called once per failed request. */
  onFailure?: LogCallback | null
  /** Put the messages and the answer in the logging payload (off by default). */
  logMessages?: boolean
  /** openai-node's option: an Entra ID token for direct calls to `azure/...` models that bring no key (asked before every call; cache in the provider, as @azure/identity does). */
  azureADTokenProvider?: (() => Promise<string> | string) | null
  /** Secrets by their usual names (OPENAI_API_KEY, ANTHROPIC_API_KEY, AWS_ACCESS_KEY_ID, LLM_ENDPOINTS...), or an async provider of them. */
  secrets?: Record<string, unknown> | (() => Promise<Record<string, unknown>> | Record<string, unknown>) | null
  /** How long a provider's answer is reused; then refreshed in the background (stale while revalidate). Default 300 000. */
  secretsTtlMs?: number
  /** How long a first load of the secrets is waited for. Default 10 000. */
  secretsTimeoutMs?: number
  onUsage?: UsageCallback | null
  /** How long an async onUsage is awaited before the call settles (0: not awaited). Default 5 000. */
  onUsageTimeoutMs?: number
  isKilled?: ((account: AmplifyAccount, requestId: string, responseStream?: Writable) => boolean | Promise<boolean>) | null
  killPollMs?: number
  onWarning?: ((message: string) => void) | null
  timeouts?: { connectMs?: number; firstByteMs?: number; totalMs?: number; idleMs?: number }
  /** What an upstream can make llmux hold: one answer (default 64 MiB) and one stream event (default 16 MiB). */
  limits?: { maxResponseBytes?: number; maxEventBytes?: number }
  /** Lets requests name the offline `mock` provider (default off, or on with LLMUX_MOCK=1). */
  mock?: boolean
}

export type ErrorCode =
  | 'invalid_request'
  | 'bad_request'
  | 'auth'
  | 'permission_denied'
  | 'not_found'
  | 'rate_limit'
  | 'context_window'
  | 'content_filter'
  | 'timeout'
  | 'provider_unavailable'
  | 'provider'
  | 'network'
  | 'decode'
  | 'cancelled'
  | 'invalid_output'
  | 'config'
  | 'internal'

export declare class LlmuxError extends Error {
  /** The class's name: `RateLimitError`, `BadRequestError`... */
  name: string
  code: ErrorCode
  /** The provider's HTTP status, when it answered. */
  status?: number
  provider?: string
  retryable: boolean
  providerCode?: string
  param?: string
  retryAfterMs?: number
  /** The start of the provider's error body. */
  body?: string
  /** With `invalid_output`: the model's answer that matched no schema. */
  rawText?: string
}

/** `invalid_request` (refused before sending) and `bad_request` (refused by the provider). */
export declare class BadRequestError extends LlmuxError {}
export declare class AuthenticationError extends LlmuxError {}
export declare class PermissionDeniedError extends LlmuxError {}
export declare class NotFoundError extends LlmuxError {}
/** `not_found`: the model or router group asked for does not exist. */
export declare class ModelNotFoundError extends NotFoundError {}
export declare class RateLimitError extends LlmuxError {}
/** Every `provider_unavailable` (5xx); a 500 is exactly this class, others ServiceUnavailableError. */
export declare class InternalServerError extends LlmuxError {}
export declare class ServiceUnavailableError extends InternalServerError {}
/** `network` */
export declare class APIConnectionError extends LlmuxError {}
/** `timeout` (also exported as `Timeout`, LiteLLM's name) */
export declare class APIConnectionTimeoutError extends APIConnectionError {}
export declare const Timeout: typeof APIConnectionTimeoutError
export declare class ContextWindowExceededError extends BadRequestError {}
export declare class ContentPolicyViolationError extends BadRequestError {}
/** `cancelled` */
export declare class APIUserAbortError extends LlmuxError {}
/** `decode`: the provider sent something that could not be read. */
export declare class APIResponseValidationError extends LlmuxError {}
/** `invalid_output`: promptForData got no answer matching the schema. */
export declare class JSONSchemaValidationError extends LlmuxError {}
/** `config` */
export declare class ConfigurationError extends LlmuxError {}

/** LiteLLM's proxy config, as it is (see examples/litellm_config.yaml). */
export interface RouterConfig {
  model_list: Array<{
    model_name: string
    litellm_params: { model: ModelString; api_key?: string; api_base?: string; api_version?: string; aws_region_name?: string; rpm?: number | string; tpm?: number | string; weight?: number; order?: number; timeout?: number; max_tokens?: number; [more: string]: unknown }
    model_info?: ModelInfo & { id?: string; [more: string]: unknown }
  }>
  router_settings?: {
    routing_strategy?: 'simple-shuffle' | 'least-busy' | 'latency-based-routing' | 'usage-based-routing' | 'cost-based-routing'
    num_retries?: number
    retry_after?: number
    allowed_fails?: number
    cooldown_time?: number | string
    timeout?: number | string
    fallbacks?: Array<Record<string, string[]>>
    context_window_fallbacks?: Array<Record<string, string[]>>
    content_policy_fallbacks?: Array<Record<string, string[]>>
    model_group_alias?: Record<string, string>
    user_limits?: { rpm?: number; tpm?: number; budget_usd?: number; budget_duration?: string | number }
    /** Limits per tag of a request's `metadata.tags`. */
    tag_limits?: Record<string, { rpm?: number; tpm?: number; budget_usd?: number; budget_duration?: string | number }>
    /** Limits over every request of the router. */
    global_limits?: { rpm?: number; tpm?: number; budget_usd?: number; budget_duration?: string | number }
    cache?: boolean | { ttl?: number | string; max_bytes?: number }
    [more: string]: unknown
  }
  /** `drop_params`, `success_callback` / `failure_callback` (names from the Router's `callbacks`), and LiteLLM's others. */
  litellm_settings?: { drop_params?: boolean; success_callback?: string[]; failure_callback?: string[]; [more: string]: unknown }
  [more: string]: unknown
}

export interface DeploymentHealth {
  model_group: string
  deployment: string
  model: string
  healthy: boolean
  cooling_seconds: number | null
  in_flight: number
  ttft_ms: number | null
  last_error: { code: ErrorCode; message: string } | null
}

export interface UsageTotals { requests: number; prompt_tokens: number; completion_tokens: number; cached_tokens: number; cost_usd: number }

export interface RouterOptions {
  onSuccess?: LogCallback
  onFailure?: LogCallback
  /** Named callbacks the config's `litellm_settings.success_callback` / `failure_callback` select. */
  callbacks?: Record<string, LogCallback>
}

export declare class Router {
  constructor(config: RouterConfig, options?: RouterOptions)
  /** Reads a LiteLLM proxy config file (YAML). */
  static fromYaml(path: string, options?: RouterOptions): Router
  /** Warnings raised by the config (unknown keys). */
  readonly warnings: string[]
  completion(request: ChatRequest): Promise<ChatCompletion>
  stream(request: ChatRequest): ChatStream
  embedding(request: EmbeddingRequest & { output?: 'array' }): Promise<EmbeddingResponse<number[] | string>>
  embedding(request: EmbeddingRequest & { output: 'float32' }): Promise<EmbeddingResponse<Float32Array>>
  batchCompletionModelsAllResponses: typeof batchCompletionModelsAllResponses
  batchCompletionModels: typeof batchCompletionModels
  callLiteLLM(...args: Parameters<typeof callLiteLLM>): Promise<string>
  promptForData<T extends Record<string, unknown> = Record<string, unknown>>(...args: Parameters<typeof promptForData>): Promise<T>
  health(): DeploymentHealth[]
  /** Sends each deployment a minimal request (4 at a time, 10 s each) and reports reachability and latency. */
  health(options: { probe: true }): Promise<Array<{ model_group: string; deployment: string; model: string; healthy: boolean; latency_ms: number; mode: 'chat' | 'embedding'; error?: { code: ErrorCode; message: string; status?: number } }>>
  listModels(options?: { capability?: string }): {
    object: 'list'
    data: Array<{ id: string; object: 'model'; owned_by: string; alias_of?: string; capabilities?: string[]; mode?: string; max_input_tokens?: number; input_cost_per_token?: number; output_cost_per_token?: number }>
  }
  getModelInfo(name: string): { model_name: string; deployments: Array<Record<string, unknown>> } | null
  /** Every instance's usage when the router shares state through Redis (`scope: 'shared'`), else this one's. */
  getUsage(options?: { since?: Date | number }): Promise<{ since: number; scope: string; total: UsageTotals; by_model: Record<string, UsageTotals>; by_user: Record<string, UsageTotals> }>
  /** Resolves once every answered request is settled with the router's state (Redis writes done); `true` if all were within `timeoutMs` (default 5000). */
  flush(options?: { timeoutMs?: number }): Promise<boolean>
  /** Prometheus text exposition (every instance's totals with shared state). */
  metrics(): Promise<string>
}

export interface ServeOptions {
  /** A LiteLLM proxy config (model_list, router_settings, litellm_settings, general_settings). */
  config?: Record<string, unknown>
  /** A LiteLLM proxy config file (YAML). */
  configPath?: string
  /** Serve an existing router (its state, cache and metrics). */
  router?: Router
  /** With `router`: master_key and keys (default: the router config's general_settings). */
  generalSettings?: Record<string, unknown>
  /** Default 127.0.0.1. */
  host?: string
  /** Default 4000; 0 picks a free port. */
  port?: number
  /** One JSON line per request on stdout (default false; the CLI turns it on). */
  accessLog?: boolean
}
export interface Gateway {
  url: string
  port: number
  warnings: string[]
  /** Stops accepting, lets requests in progress finish for the grace period, then ends the rest. */
  close(): Promise<void>
}
/** An OpenAI-compatible HTTP gateway, as `npx llmux serve --config litellm_config.yaml`. */
export declare function serve(options: ServeOptions): Promise<Gateway>
export declare function configure(options: ConfigureOptions): void
export declare function completion(request: ChatRequest): Promise<ChatCompletion>
export type MultiModelRequest = Omit<ChatRequest, 'model'> & { /** Model strings, or router groups. */ models: string[] }
export interface ModelResult {
  model: string
  response?: ChatCompletion
  error?: LlmuxError
  usage?: Usage
  /** USD, for a priced model. */
  cost?: number
  latencyMs: number
}
/** Every model's answer at once (LiteLLM's batch_completion_models_all_responses); partial failures never fail the whole. */
export declare function batchCompletionModelsAllResponses(request: MultiModelRequest): Promise<{ results: ModelResult[]; usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number }; cost: number }>
/** The first good answer (LiteLLM's batch_completion_models); the others are cancelled at once. */
export declare function batchCompletionModels(request: MultiModelRequest): Promise<ChatCompletion>
/** LiteLLM's embedding(): an OpenAI CreateEmbeddingResponse. */
export declare function embedding(request: EmbeddingRequest & { output?: 'array' }): Promise<EmbeddingResponse<number[] | string>>
export declare function embedding(request: EmbeddingRequest & { output: 'float32' }): Promise<EmbeddingResponse<Float32Array>>
export declare function stream(request: ChatRequest): ChatStream
export declare function callLiteLLM(
  chatRequest: AmplifyChatRequest,
  model: AmplifyModel | ModelString,
  account: AmplifyAccount,
  responseStream: Writable,
  dataSources?: DataSource[],
  streamToUser?: boolean,
  options?: CallOptions,
): Promise<string>
export declare function promptForData<T extends Record<string, unknown> = Record<string, unknown>>(
  messages: Message[],
  model: AmplifyModel | ModelString,
  prompt: string,
  schema: Record<keyof T & string, Record<string, unknown>>,
  account?: AmplifyAccount | null,
  requestId?: string | null,
  options?: { maxTokens?: number; temperature?: number; reasoningLevel?: 'low' | 'medium' | 'high'; signal?: AbortSignal; router?: Router },
): Promise<T>
export declare const promptLiteLLMForData: typeof promptForData
export declare function createChatFn(
  model: AmplifyModel | ModelString,
  account: AmplifyAccount,
  options?: { streamToUser?: boolean; endStream?: boolean; signal?: AbortSignal; router?: Router },
): (body: AmplifyChatRequest, writable: Writable, context?: { signal?: AbortSignal; dataSources?: DataSource[]; requestId?: string }) => Promise<string>
export declare function getLiteLLMServerStatus(): {
  ready: boolean
  processRunning: boolean
  activeRequests: number
  pendingRequests: number
  serverAge: number
  processId: number
}
export declare function initPythonProcess(): Promise<{ pid: number }>
export declare function shutdownLiteLLMServer(): void
declare const llmux: {
  configure: typeof configure
  completion: typeof completion
  embedding: typeof embedding
  batchCompletionModels: typeof batchCompletionModels
  batchCompletionModelsAllResponses: typeof batchCompletionModelsAllResponses
  stream: typeof stream
  callLiteLLM: typeof callLiteLLM
  promptForData: typeof promptForData
  promptLiteLLMForData: typeof promptForData
  createChatFn: typeof createChatFn
  Router: typeof Router
  getLiteLLMServerStatus: typeof getLiteLLMServerStatus
  initPythonProcess: typeof initPythonProcess
  shutdownLiteLLMServer: typeof shutdownLiteLLMServer
  LlmuxError: typeof LlmuxError
  BadRequestError: typeof BadRequestError
  AuthenticationError: typeof AuthenticationError
  PermissionDeniedError: typeof PermissionDeniedError
  NotFoundError: typeof NotFoundError
  ModelNotFoundError: typeof ModelNotFoundError
  RateLimitError: typeof RateLimitError
  InternalServerError: typeof InternalServerError
  ServiceUnavailableError: typeof ServiceUnavailableError
  APIConnectionError: typeof APIConnectionError
  APIConnectionTimeoutError: typeof APIConnectionTimeoutError
  Timeout: typeof APIConnectionTimeoutError
  ContextWindowExceededError: typeof ContextWindowExceededError
  ContentPolicyViolationError: typeof ContentPolicyViolationError
  APIUserAbortError: typeof APIUserAbortError
  APIResponseValidationError: typeof APIResponseValidationError
  JSONSchemaValidationError: typeof JSONSchemaValidationError
  ConfigurationError: typeof ConfigurationError
}
export default llmux
