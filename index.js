'use strict'
/**
 * llmux: the public JavaScript API (CommonJS; index.mjs re-exports it for ESM).
 * The native binding does the work; this file only adapts it to JS idioms: Writable
 * backpressure, AbortSignal, async iterators, the error class, the usage callback.
 */
const binding = require('./binding.js')

class LlmuxError extends Error {
  constructor(data) {
    super(data.message)
    this.name = new.target.name
    this.code = data.code
    this.status = data.status ?? undefined
    this.provider = data.provider ?? undefined
    this.retryable = Boolean(data.retryable)
    if (data.providerCode != null) this.providerCode = data.providerCode
    if (data.param != null) this.param = data.param
    if (data.retryAfterMs != null) this.retryAfterMs = data.retryAfterMs
    if (data.body != null) this.body = data.body
    // A structured answer that matched no schema: the model's own words, for the caller to see.
    if (data.code === 'invalid_output' && data.body != null) this.rawText = data.body
  }
}

// The classes JS users already catch, named as the openai SDK and LiteLLM name them; every one
// is an LlmuxError and keeps `code`, `status` and `retryable`. The hierarchy follows theirs:
// a context-window or content-policy refusal is a BadRequestError, a timeout an
// APIConnectionError, every 5xx an InternalServerError.
class BadRequestError extends LlmuxError {}
class AuthenticationError extends LlmuxError {}
class PermissionDeniedError extends LlmuxError {}
class NotFoundError extends LlmuxError {}
/** The model (or router group) asked for does not exist. */
class ModelNotFoundError extends NotFoundError {}
class RateLimitError extends LlmuxError {}
class InternalServerError extends LlmuxError {}
class ServiceUnavailableError extends InternalServerError {}
class APIConnectionError extends LlmuxError {}
class APIConnectionTimeoutError extends APIConnectionError {}
class ContextWindowExceededError extends BadRequestError {}
class ContentPolicyViolationError extends BadRequestError {}
class APIUserAbortError extends LlmuxError {}
/** The provider sent something that could not be read. */
class APIResponseValidationError extends LlmuxError {}
/** promptForData: no answer matched the schema (LiteLLM's name). */
class JSONSchemaValidationError extends LlmuxError {}
class ConfigurationError extends LlmuxError {}

const ERROR_CLASSES = {
  invalid_request: BadRequestError,
  bad_request: BadRequestError,
  auth: AuthenticationError,
  permission_denied: PermissionDeniedError,
  not_found: ModelNotFoundError,
  rate_limit: RateLimitError,
  timeout: APIConnectionTimeoutError,
  network: APIConnectionError,
  context_window: ContextWindowExceededError,
  content_filter: ContentPolicyViolationError,
  cancelled: APIUserAbortError,
  decode: APIResponseValidationError,
  invalid_output: JSONSchemaValidationError,
  config: ConfigurationError,
}

/** The error class for an engine error's data. */
function errorFrom(data) {
  let Class = ERROR_CLASSES[data.code]
  if (data.code === 'provider_unavailable') Class = data.status === 500 ? InternalServerError : ServiceUnavailableError
  return new (Class ?? LlmuxError)(data)
}

const invalid = (message) => new BadRequestError({ code: 'invalid_request', message, retryable: false })

const settings = {
  router: undefined,
  secrets: undefined,
  secretsTtlMs: 300_000,
  onUsage: undefined,
  isKilled: undefined,
  killPollMs: 1000,
  onWarning: undefined,
  onUsageTimeoutMs: 5000,
  secretsTimeoutMs: 10_000,
  // The engine's total timeout, mirrored here: a Writable that never drains is not waited on longer.
  totalMs: 600_000,
  onSuccess: undefined,
  onFailure: undefined,
  logMessages: false,
  azureADTokenProvider: undefined,
}
const loadedAt = Date.now()
let activeRequests = 0

function checkFunction(name, v) {
  if (v !== undefined && v !== null && typeof v !== 'function') throw invalid(`${name} must be a function`)
}

function checkNumber(name, v, min) {
  if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < min)) {
    throw invalid(`${name} must be a number >= ${min}`)
  }
}

/** Sets process-wide options; keys not given keep their value. */
function configure(options = {}) {
  if (options === null || typeof options !== 'object') throw invalid('configure() takes an options object')
  const {
    secrets,
    secretsTtlMs,
    secretsTimeoutMs,
    onUsage,
    onUsageTimeoutMs,
    isKilled,
    killPollMs,
    onWarning,
    timeouts,
    limits,
    router,
    mock,
    azureADTokenProvider,
    onSuccess,
    onFailure,
    logMessages,
  } = options
  if (router !== undefined && router !== null && !(router instanceof Router)) throw invalid('router must be a Router')
  if (secrets !== undefined && secrets !== null && typeof secrets !== 'function' && typeof secrets !== 'object') {
    throw invalid('secrets must be an object or an async function returning one')
  }
  checkNumber('secretsTtlMs', secretsTtlMs, 0)
  checkNumber('secretsTimeoutMs', secretsTimeoutMs, 1)
  checkNumber('onUsageTimeoutMs', onUsageTimeoutMs, 0)
  checkFunction('onUsage', onUsage)
  checkFunction('isKilled', isKilled)
  checkFunction('onWarning', onWarning)
  checkFunction('azureADTokenProvider', azureADTokenProvider)
  checkFunction('onSuccess', onSuccess)
  checkFunction('onFailure', onFailure)
  if (logMessages !== undefined && typeof logMessages !== 'boolean') throw invalid('logMessages must be true or false')
  checkNumber('killPollMs', killPollMs, 10)
  if ('secrets' in options) {
    settings.secrets = secrets ?? undefined
    secretsCache.loadedAt = 0
    secretsCache.source = undefined
    binding.setSecrets({})
  }
  if (secretsTtlMs !== undefined) settings.secretsTtlMs = secretsTtlMs
  if (secretsTimeoutMs !== undefined) settings.secretsTimeoutMs = secretsTimeoutMs
  if (onUsageTimeoutMs !== undefined) settings.onUsageTimeoutMs = onUsageTimeoutMs
  if ('router' in options) settings.router = router ?? undefined
  if ('onUsage' in options) settings.onUsage = onUsage ?? undefined
  if ('isKilled' in options) settings.isKilled = isKilled ?? undefined
  if ('onWarning' in options) settings.onWarning = onWarning ?? undefined
  if ('azureADTokenProvider' in options) settings.azureADTokenProvider = azureADTokenProvider ?? undefined
  if ('onSuccess' in options) settings.onSuccess = onSuccess ?? undefined
  if ('onFailure' in options) settings.onFailure = onFailure ?? undefined
  if (logMessages !== undefined) settings.logMessages = logMessages
  if (killPollMs !== undefined) settings.killPollMs = killPollMs
  if (timeouts !== undefined) {
    if (timeouts === null || typeof timeouts !== 'object') throw invalid('timeouts must be an object')
    for (const k of ['connectMs', 'firstByteMs', 'totalMs', 'idleMs']) checkNumber(`timeouts.${k}`, timeouts[k], 1)
    try {
      binding.setTimeouts(timeouts.connectMs, timeouts.firstByteMs, timeouts.totalMs, timeouts.idleMs)
    } catch (e) {
      throw invalid(e.message)
    }
    if (timeouts.totalMs !== undefined) settings.totalMs = timeouts.totalMs
  }
  if (mock !== undefined) {
    if (typeof mock !== 'boolean') throw invalid('mock must be true or false')
    binding.setMockEnabled(mock)
  }
  if (limits !== undefined) {
    if (limits === null || typeof limits !== 'object') throw invalid('limits must be an object')
    for (const k of ['maxResponseBytes', 'maxEventBytes']) checkNumber(`limits.${k}`, limits[k], 1024)
    binding.setLimits(limits.maxResponseBytes, limits.maxEventBytes)
  }
}

// Secrets: resolved here (the provider is JS), handed to the binding, cached for the TTL.
const secretsCache = { loadedAt: 0, source: undefined, pending: null }

function toSecretMap(value) {
  const out = {}
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'string') out[k] = v
      else if (v !== undefined && v !== null) out[k] = JSON.stringify(v)
    }
  }
  return out
}

/** setTimeout's longest delay: a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1
const timerMs = (ms) => Math.min(ms, MAX_TIMER_MS)

/** Resolves `p`, or rejects after `ms` with `what` timed out. */
function within(p, ms, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), timerMs(ms))
    timer.unref?.()
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

/**
 * Makes the secrets current. A provider's answer is reused for `secretsTtlMs`; after that it is
 * refreshed in the background while calls go on with the last good secrets (stale while
 * revalidate). Only a first load is waited for, at most `secretsTimeoutMs`.
 */
async function ensureSecrets() {
  const source = settings.secrets
  if (source === undefined) return
  if (typeof source !== 'function') {
    if (secretsCache.source !== source) {
      binding.setSecrets(toSecretMap(source))
      secretsCache.source = source
    }
    return
  }
  const have = secretsCache.source === source
  if (have && Date.now() - secretsCache.loadedAt < settings.secretsTtlMs) return
  if (!secretsCache.pending || secretsCache.pendingFor !== source) {
    secretsCache.pendingFor = source
    secretsCache.pending = (async () => {
      try {
        const value = await within(Promise.resolve().then(source), settings.secretsTimeoutMs, 'the secrets provider')
        if (settings.secrets !== source) return
        binding.setSecrets(toSecretMap(value))
        secretsCache.source = source
        secretsCache.loadedAt = Date.now()
      } finally {
        if (secretsCache.pendingFor === source) {
          secretsCache.pending = null
          secretsCache.pendingFor = undefined
        }
      }
    })()
  }
  const pending = secretsCache.pending
  if (have) {
    // Stale secrets serve this call; a failed refresh is said, and tried again next call.
    pending.catch((e) => warn(`secrets refresh failed, using the last good secrets: ${e && e.message}`))
    return
  }
  try {
    await pending
  } catch (e) {
    throw new ConfigurationError({ code: 'config', message: `secrets provider failed: ${e && e.message}`, retryable: true })
  }
}

function warn(message) {
  if (settings.onWarning) {
    try {
      settings.onWarning(message)
    } catch {}
  }
}

// OpenTelemetry: a span per request under the caller's active context, when the application
// has @opentelemetry/api (an optional peer dependency). Looked up once, on the first call; when
// it is absent, or no tracer provider is registered, tracing costs one check per call.
let otelApi
function otel() {
  if (otelApi === undefined) {
    try {
      otelApi = require('@opentelemetry/api')
    } catch {
      otelApi = null
    }
  }
  return otelApi
}

// gen_ai.provider.name values of the OpenTelemetry GenAI conventions, by llmux provider.
const OTEL_PROVIDERS = { openai: 'openai', azure: 'azure.ai.openai', anthropic: 'anthropic', bedrock: 'aws.bedrock', gemini: 'gcp.gemini', vertex_ai: 'gcp.vertex_ai' }

/** Starts a span for one request (`chat` or `embeddings`), or returns undefined. */
function startSpan(operation, model, request) {
  const api = otel()
  if (!api) return undefined
  const name = typeof model === 'string' ? model : model?.id
  const attributes = { 'gen_ai.operation.name': operation, 'gen_ai.request.model': name }
  if (typeof request?.max_tokens === 'number') attributes['gen_ai.request.max_tokens'] = request.max_tokens
  if (typeof request?.temperature === 'number') attributes['gen_ai.request.temperature'] = request.temperature
  if (typeof request?.top_p === 'number') attributes['gen_ai.request.top_p'] = request.top_p
  const span = api.trace.getTracer('llmux').startSpan(`${operation} ${name}`, { kind: api.SpanKind.CLIENT, attributes }, api.context.active())
  // A no-op tracer (no SDK registered) records nothing: no work at the end either.
  return span.isRecording() ? span : undefined
}

/** Ends a request's span with what the call reported. */
function endSpan(span, batch, error, extra = {}) {
  const route = batch?.route
  const u = batch?.usage
  const set = (k, v) => v !== undefined && v !== null && span.setAttribute(k, v)
  set('gen_ai.provider.name', route?.provider ? (OTEL_PROVIDERS[route.provider] ?? route.provider) : undefined)
  set('gen_ai.response.model', route?.model || undefined)
  set('gen_ai.response.id', extra.id)
  set('server.address', route?.serverAddress)
  if (u) {
    set('gen_ai.usage.input_tokens', u.promptTokens)
    set('gen_ai.usage.output_tokens', u.outputTokens)
  }
  if (extra.finishReasons?.length) set('gen_ai.response.finish_reasons', extra.finishReasons)
  set('llmux.model_group', route?.group)
  set('llmux.deployment', route?.deployment)
  set('llmux.cost_usd', u?.costUsd)
  set('llmux.cache_hit', route?.cacheHit || undefined)
  if (route?.attempts > 1) span.addEvent('llmux.retry', { 'llmux.attempts': route.attempts })
  for (const g of route?.fallbacks ?? []) span.addEvent('llmux.fallback', { 'llmux.model_group': g })
  if (error) {
    set('error.type', error.name)
    span.setStatus({ code: otel().SpanStatusCode.ERROR, message: error.message })
  }
  span.end()
}

/** The logging callbacks that apply to a call: the process's, and its router's. */
function loggers(router) {
  const r = router ?? settings.router
  // Nothing to call: no arrays, no payload (the common case costs two property reads).
  if (!settings.onSuccess && !settings.onFailure && !r?._onSuccess && !r?._onFailure) return undefined
  const success = [settings.onSuccess, r?._onSuccess].filter(Boolean)
  const failure = [settings.onFailure, r?._onFailure].filter(Boolean)
  return { success, failure }
}

/**
 * One logging payload per request, modelled on LiteLLM's standard logging payload: ids, model,
 * group, deployment, provider, user, tags, timings, usage, cost, cache hit, retries and
 * fallbacks, error. Never a secret; the messages and the answer only with `logMessages`.
 */
function logCall(logs, call) {
  const { kind, model, requestId, account, metadata, started, firstAt, batch, error, messages, response, requestUser } = call
  const route = batch?.route
  const u = batch?.usage
  const endTime = Date.now()
  const payload = {
    id: requestId ?? response?.id ?? null,
    call_type: kind,
    status: error ? 'failure' : 'success',
    model: typeof model === 'string' ? model : model?.id,
    model_group: route?.group ?? null,
    model_id: route?.deployment ?? null,
    custom_llm_provider: route?.provider || null,
    response_model: route?.model || null,
    user: userOf(account) ?? (typeof requestUser === 'string' ? requestUser : null),
    request_tags: Array.isArray(metadata?.tags) ? metadata.tags.filter((t) => typeof t === 'string') : [],
    startTime: started,
    completionStartTime: firstAt ?? null,
    endTime,
    response_time_ms: endTime - started,
    prompt_tokens: u?.promptTokens ?? 0,
    completion_tokens: u?.outputTokens ?? 0,
    total_tokens: (u?.promptTokens ?? 0) + (u?.outputTokens ?? 0),
    cached_tokens: u?.cachedTokens ?? 0,
    usage_estimated: Boolean(u?.estimated),
    response_cost: u?.costUsd ?? null,
    cache_hit: Boolean(route?.cacheHit),
    auto_route: route?.autoGroup ? { model_group: route.autoGroup, reason: route.autoReason } : null,
    attempts: route?.attempts ?? (batch?.usage ? 1 : 0),
    fallbacks: route?.fallbacks ?? [],
    warnings: batch?.warnings ?? [],
    error_information: error ? { error_code: error.code, error_class: error.name, error_message: error.message, status: error.status ?? null } : null,
  }
  if (settings.logMessages) {
    payload.messages = messages ?? null
    payload.response = response ?? null
  }
  for (const fn of error ? logs.failure : logs.success) {
    try {
      const p = fn(payload)
      if (p && typeof p.then === 'function') p.then(undefined, (e) => warn(`${error ? 'onFailure' : 'onSuccess'} failed: ${e && e.message}`))
    } catch (e) {
      warn(`${error ? 'onFailure' : 'onSuccess'} failed: ${e && e.message}`)
    }
  }
}

/**
 * Calls onUsage once, with amplify's recordUsage arguments (computed by the engine), and waits
 * for it (at most `onUsageTimeoutMs`) so a billing write is done before the call settles: Lambda
 * freezes the process as soon as the handler resolves. Its failures never fail the call.
 */
function reportUsage(account, requestId, model, u) {
  // No callback, nothing to wait for: no promise on the hot path.
  if (!u || !settings.onUsage) return undefined
  return reportUsageTo(account, requestId, model, u)
}

async function reportUsageTo(account, requestId, model, u) {
  try {
    const r = settings.onUsage(account, requestId, model, u.inputTokens, u.outputTokens, u.cachedTokens, JSON.parse(u.details))
    if (r && typeof r.then === 'function') {
      // 0: not waited for (its failure is still said).
      if (settings.onUsageTimeoutMs === 0) r.then(undefined, (e) => warn(`onUsage failed: ${e && e.message}`))
      else await within(r, settings.onUsageTimeoutMs, 'onUsage')
    }
  } catch (e) {
    warn(`onUsage failed: ${e && e.message}`)
  }
}

function checkSignal(signal) {
  if (signal === undefined || signal === null) return undefined
  if (typeof signal !== 'object' || typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function') {
    throw invalid('signal must be an AbortSignal')
  }
  return signal
}

function toJson(name, value) {
  try {
    return JSON.stringify(value)
  } catch (e) {
    throw invalid(`${name} is not JSON-serialisable: ${e.message}`)
  }
}

/**
 * Wires cancellation into a handle: the AbortSignal and amplify's isKilled poll. They hold the
 * handle only weakly, so a handle its caller dropped is still collected (and its upstream closed
 * by the binding). Returns the function that unwires them, and a promise that settles when the
 * call was stopped (aborted or killed), for waits that must not outlive it.
 */
const NOT_WATCHED = { unwatch() {}, stopped: undefined }

function watch(handle, signal, account, requestId, responseStream) {
  const isKilled = settings.isKilled
  // Nothing to watch: no allocation on the hot path.
  if (!signal && !(isKilled && requestId != null)) return NOT_WATCHED
  const ref = new WeakRef(handle)
  let stop
  const stopped = new Promise((resolve) => (stop = resolve))
  const cancel = () => {
    ref.deref()?.cancel()
    stop(false)
  }
  let onAbort
  if (signal) {
    onAbort = cancel
    signal.addEventListener('abort', onAbort, { once: true })
    // Aborted while the call was being started (an awaited secrets load): no event will come.
    if (signal.aborted) cancel()
  }
  let timer
  const unwatch = () => {
    if (onAbort) signal.removeEventListener('abort', onAbort)
    if (timer) clearInterval(timer)
    onAbort = undefined
    timer = undefined
  }
  if (isKilled && requestId != null) {
    let polling = false
    timer = setInterval(async () => {
      if (!ref.deref()) return unwatch()
      if (polling) return
      polling = true
      try {
        if (await isKilled(account, requestId, responseStream)) cancel()
      } catch (e) {
        warn(`isKilled failed: ${e && e.message}`)
      } finally {
        polling = false
      }
    }, settings.killPollMs)
    timer.unref?.()
  }
  return { unwatch, stopped }
}

function isWritable(s) {
  return s && typeof s === 'object' && typeof s.write === 'function' && typeof s.end === 'function'
}

/**
 * Writes respecting backpressure; false when the stream can take no more (closed, destroyed), or
 * when the call was stopped or the engine's total timeout passed while waiting for `drain`.
 */
function writeTo(stream, data, stopped) {
  if (stream.destroyed || stream.writableEnded) return false
  if (stream.write(data) !== false) return true
  if (typeof stream.once !== 'function') return true
  return new Promise((resolve) => {
    let timer
    let done = (ok) => {
      clearTimeout(timer)
      stream.off?.('drain', onDrain)
      stream.off?.('close', onClose)
      stream.off?.('error', onClose)
      resolve(ok)
    }
    const onDrain = () => done(true)
    const onClose = () => done(false)
    stream.once('drain', onDrain)
    stream.once('close', onClose)
    stream.once('error', onClose)
    timer = setTimeout(() => done(false), timerMs(settings.totalMs))
    timer.unref?.()
    let settled = false
    const finish = done
    done = (ok) => {
      if (settled) return
      settled = true
      finish(ok)
    }
    stopped?.then(() => done(false))
  })
}

function endStream(stream) {
  try {
    if (!stream.writableEnded && !stream.destroyed) stream.end()
  } catch {}
}

function cancelledError() {
  return new APIUserAbortError({ code: 'cancelled', message: 'Request cancelled by user', retryable: false })
}

/**
 * amplify's callLiteLLM: streams the answer into `responseStream` as amplify's `data:` lines
 * and resolves with the whole text. `options`: { signal, endStream = true }.
 */
async function callLiteLLM(chatRequest, model, account, responseStream, dataSources = [], streamToUser = false, options = {}) {
  if (!chatRequest || typeof chatRequest !== 'object') throw invalid('chatRequest must be an object')
  if (!Array.isArray(chatRequest.messages)) throw invalid('chatRequest.messages must be an array')
  if (!model || (typeof model !== 'object' && typeof model !== 'string')) {
    throw invalid('model must be an amplify model object or a model string')
  }
  if (!isWritable(responseStream)) throw invalid('responseStream must be a Writable stream')
  if (dataSources != null && !Array.isArray(dataSources)) throw invalid('dataSources must be an array')
  if (options === null || typeof options !== 'object') throw invalid('options must be an object')
  const signal = checkSignal(options.signal)
  const shouldEnd = options.endStream !== false
  const requestId = chatRequest.options?.requestId ?? null
  if (signal?.aborted) {
    if (shouldEnd) endStream(responseStream)
    throw cancelledError()
  }
  const requestJson = toJson('chatRequest', chatRequest)
  const modelJson = toJson('model', model)
  const sourcesJson = toJson('dataSources', dataSources ?? [])
  await ensureSecrets()
  const logs = loggers(options.router)
  const started = logs ? Date.now() : 0
  const span = startSpan('chat', model, chatRequest)
  let firstAt
  const handle = engine(options.router).startAmplify(requestJson, modelJson, sourcesJson, Boolean(streamToUser), userOf(account))
  activeRequests++
  const { unwatch, stopped } = watch(handle, signal, account, requestId, responseStream)
  let writable = true
  try {
    for (;;) {
      const batch = await handle.next()
      if (batch.data && writable) {
        if (logs && firstAt === undefined) firstAt = Date.now()
        writable = await writeTo(responseStream, batch.data, stopped)
        // The reader is gone (or stalled past the deadline, or the call was stopped): stop
        // paying for an answer nobody will see. The last batch still brings the usage.
        if (!writable) handle.cancel()
      }
      if (batch.done) {
        for (const w of batch.warnings ?? []) warn(w)
        // The user's stream ends first; the billing write is then waited for.
        if (shouldEnd) endStream(responseStream)
        const billed = reportUsage(account, requestId, model, batch.usage)
        if (billed) await billed
        const error = batch.error ? errorFrom(batch.error) : undefined
        if (span) endSpan(span, batch, error, { id: requestId })
        if (logs) {
          logCall(logs, { kind: 'callLiteLLM', model, requestId, account, metadata: chatRequest.options?.metadata, started, firstAt, batch, error, messages: chatRequest.messages, response: batch.text })
        }
        if (error) throw error
        return batch.text ?? ''
      }
    }
  } finally {
    unwatch()
    activeRequests--
  }
}

/** Splits llmux's own fields from the request that goes to the provider. */
function splitRequest(request) {
  if (!request || typeof request !== 'object') throw invalid('request must be an object')
  const { signal, account, requestId, model, ...rest } = request
  // The shape JSON can carry is checked here; what the request means is the engine's to check.
  if (!Array.isArray(rest.messages)) throw invalid('messages must be an array')
  if (!model || (typeof model !== 'object' && typeof model !== 'string')) {
    throw invalid('model must be a model string such as "openai/gpt-4o" or an amplify model object')
  }
  let modelJson = null
  if (typeof model === 'string') rest.model = model
  else modelJson = toJson('model', model)
  return { signal: checkSignal(signal), account: account ?? null, requestId, model, modelJson, rest, body: toJson('request', rest) }
}

/**
 * openai-node's `azureADTokenProvider`: for a direct call to an Azure model that brings no key
 * or token of its own, the provider is asked for an Entra ID token before every call (caching
 * is the provider's, as in openai-node: @azure/identity's refreshes before expiry). Resolves
 * with the token, or undefined when the call needs none from it.
 */
async function azureToken(model, rest) {
  const provider = settings.azureADTokenProvider
  if (!provider || typeof model !== 'string' || !model.startsWith('azure/')) return undefined
  if (rest.api_key !== undefined || rest.azure_ad_token !== undefined) return undefined
  // A process-wide token goes only to the configured resource, never to a host a request names.
  if (rest.api_base !== undefined || rest.base_url !== undefined) return undefined
  let token
  try {
    token = await within(Promise.resolve().then(() => provider()), settings.secretsTimeoutMs, 'azureADTokenProvider')
  } catch (e) {
    throw new AuthenticationError({ code: 'auth', message: `azureADTokenProvider failed: ${e && e.message}`, retryable: true, provider: 'azure' })
  }
  if (typeof token !== 'string' || token === '') {
    throw new AuthenticationError({ code: 'auth', message: 'azureADTokenProvider must return a non-empty string', retryable: false, provider: 'azure' })
  }
  return token
}

/** A direct call's request body with the Azure token of `azureToken`, when there is one. */
async function withAzureToken(r) {
  const token = await azureToken(r.model, r.rest)
  if (token) r.body = toJson('request', { ...r.rest, azure_ad_token: token })
}

/** Who a request is for, for per-user limits and the cache: the account's user. */
function userOf(account) {
  return account && typeof account === 'object' && typeof account.user === 'string' ? account.user : undefined
}

// Routers used since the process last went idle: a request's settlement with shared state
// (spend, ledger, cache) is written just after its answer, so before the process exits those
// writes are awaited (a Node process does not wait for native work on its own).
const unsettled = new Set()
let exitHook = false
function used(router) {
  unsettled.add(router)
  if (exitHook) return
  exitHook = true
  process.on('beforeExit', () => {
    if (unsettled.size === 0) return
    const routers = [...unsettled]
    unsettled.clear()
    Promise.all(routers.map((r) => r.flush())).catch(() => {})
  })
}

/** The router given for one call, else the configured one, else direct calls. */
function engine(router) {
  if (router !== undefined && router !== null) {
    if (!(router instanceof Router)) throw invalid('router must be a Router')
    used(router)
    return router._handle
  }
  if (settings.router) {
    used(settings.router)
    return settings.router._handle
  }
  return binding
}

/** One non-streamed answer, as an OpenAI ChatCompletion. */
async function completion(request, router) {
  const r = splitRequest(request)
  if (r.signal?.aborted) throw cancelledError()
  const logs = loggers(router)
  const started = logs ? Date.now() : 0
  await ensureSecrets()
  if (!router && !settings.router) await withAzureToken(r)
  // Started once nothing before the call can throw, so every span is ended.
  const span = startSpan('chat', r.model, r.rest)
  const handle = engine(router).startCompletion(r.body, r.modelJson, userOf(r.account))
  const batch = await finishHandle(handle, r.signal, r.account, r.requestId)
  const result = batch.data ? JSON.parse(batch.data) : undefined
  const billed = reportUsage(r.account, r.requestId ?? result?.id ?? null, r.model, batch.usage)
  if (billed) await billed
  const error = batch.error ? errorFrom(batch.error) : undefined
  if (span) endSpan(span, batch, error, { id: result?.id, finishReasons: result?.choices?.map((c) => c.finish_reason).filter(Boolean) })
  if (logs) {
    logCall(logs, { kind: 'completion', model: r.model, requestId: r.requestId, account: r.account, requestUser: r.rest.user, metadata: r.rest.metadata, started, batch, error, messages: r.rest.messages, response: result })
  }
  if (error) throw error
  return result
}

// A stream() iterator dropped without return() (a `break` that never reached it, an exception
// in the caller's loop, a forgotten iterator): when it is collected, its call is cancelled, its
// last batch drained and its usage reported, so nothing outlives its caller.
const abandoned = new FinalizationRegistry((call) => {
  if (call.settled || !call.handle) return
  call.handle.cancel()
  const drain = async () => {
    let batch
    do batch = await call.handle.next()
    while (!batch.done)
    await call.settle(batch)
  }
  drain().catch((e) => warn(`an abandoned stream could not be closed: ${e && e.message}`))
})

/**
 * A streamed answer: an async iterable of OpenAI ChatCompletionChunks. Breaking out of the
 * loop cancels the upstream request; usage is still reported once.
 */
function stream(request, router) {
  const r = splitRequest(request)
  const target = engine(router)
  // What the call needs to end, apart from the iterator, so the registry can end it.
  const call = { handle: null, starting: null, finished: false, settled: false, unwatch: () => {}, settle: null, warnings: [], cost: undefined }
  call.logs = loggers(router)
  if (call.logs) call.started = Date.now()
  let buffer = []
  let index = 0
  let failure = null
  let lastId = null

  call.settle = async (batch) => {
    if (call.settled) return
    call.settled = true
    // One error object for the span, the callbacks and the iterator's throw.
    const error = batch.error ? errorFrom(batch.error) : undefined
    if (call.span) endSpan(call.span, batch, error, { id: lastId, finishReasons: call.finishReasons })
    if (call.logs) {
      logCall(call.logs, { kind: 'stream', model: r.model, requestId: r.requestId ?? lastId, account: r.account, requestUser: r.rest.user, metadata: r.rest.metadata, started: call.started, firstAt: call.firstAt, batch, error, messages: r.rest.messages })
    }
    call.finished = true
    call.unwatch()
    activeRequests--
    for (const w of batch.warnings ?? []) warn(w)
    // The answer's llmux extension, readable once the loop ends (a stream has no final object).
    // Kept on `call`, never on the iterator: the registry holds `call`, and a reference back
    // to the iterator would keep every dropped iterator alive.
    call.warnings = batch.warnings ?? []
    if (batch.usage) call.cost = batch.usage.costUsd ?? undefined
    const billed = reportUsage(r.account, r.requestId ?? lastId, r.model, batch.usage)
    if (billed) await billed
    if (error) failure = error
  }

  const iterator = {
    /** Set when the stream ends: what was dropped or changed for the provider. */
    get warnings() {
      return call.warnings
    },
    /** Set when the stream ends, for a priced model: what it cost in USD. */
    get cost() {
      return call.cost
    },
    async next() {
      for (;;) {
        if (index < buffer.length) return { value: buffer[index++], done: false }
        if (call.finished) {
          if (failure) {
            const e = failure
            failure = null
            throw e
          }
          return { value: undefined, done: true }
        }
        if (!call.handle) {
          // One start per iterator, even when next() is called again before it resolves.
          call.starting ??= (async () => {
            if (r.signal?.aborted) throw cancelledError()
            await ensureSecrets()
            if (!router && !settings.router) await withAzureToken(r)
            // return() or an abort may have come while the secrets loaded.
            if (call.finished) return
            if (r.signal?.aborted) throw cancelledError()
            call.span = startSpan('chat', r.model, r.rest)
            call.handle = target.startStream(r.body, r.modelJson, userOf(r.account))
            activeRequests++
            call.unwatch = watch(call.handle, r.signal, r.account, r.requestId ?? null, undefined).unwatch
          })()
          try {
            await call.starting
          } catch (e) {
            call.finished = true
            throw e
          }
          if (!call.handle) continue
        }
        const batch = await call.handle.next()
        buffer = batch.data ? JSON.parse(batch.data) : []
        index = 0
        if (buffer.length) {
          lastId = buffer[0].id || lastId
          if (call.logs && call.firstAt === undefined) call.firstAt = Date.now()
          if (call.span) {
            for (const c of buffer) for (const ch of c.choices) if (ch.finish_reason) (call.finishReasons ??= []).push(ch.finish_reason)
          }
        }
        if (batch.done) await call.settle(batch)
      }
    },
    async return() {
      // Set first, so a start still waiting for the secrets does not start the call.
      call.finished = true
      if (call.starting) await call.starting.catch(() => {})
      if (call.handle && !call.settled) {
        call.handle.cancel()
        let batch
        do batch = await call.handle.next()
        while (!batch.done)
        await call.settle(batch)
        failure = null
      }
      call.finished = true
      buffer = []
      return { value: undefined, done: true }
    },
    /** Stops the stream; the iterator then ends with a `cancelled` error. */
    abort() {
      if (call.handle) call.handle.cancel()
    },
    [Symbol.asyncIterator]() {
      return this
    },
  }
  abandoned.register(iterator, call)
  return iterator
}

/**
 * LiteLLM's `embedding()`: an OpenAI CreateEmbeddingResponse. `output: 'float32'` gives each
 * row as a Float32Array view of one buffer (no number is copied); `encoding_format: 'base64'`
 * gives OpenAI's base64 strings; otherwise plain arrays, as the openai SDK returns them.
 */
async function embedding(request, router) {
  if (!request || typeof request !== 'object') throw invalid('request must be an object')
  const { signal, account, requestId, output, ...rest } = request
  if (output !== undefined && output !== 'float32' && output !== 'array') throw invalid("output must be 'float32' or 'array'")
  checkSignal(signal)
  if (signal?.aborted) throw cancelledError()
  const logs = loggers(router)
  const started = logs ? Date.now() : 0
  await ensureSecrets()
  if (!router && !settings.router) {
    const token = await azureToken(rest.model, rest)
    if (token) rest.azure_ad_token = token
  }
  const span = startSpan('embeddings', rest.model, rest)
  const body = toJson('request', rest)
  const handle = router || settings.router ? engine(router).startEmbedding(body, userOf(account)) : binding.startEmbedding(body, userOf(account))
  activeRequests++
  const { unwatch } = watch(handle, signal, account ?? null, requestId ?? null, undefined)
  let r
  try {
    r = await handle.result()
  } finally {
    unwatch()
    activeRequests--
  }
  for (const w of r.warnings ?? []) warn(w)
  const billed = reportUsage(account ?? null, requestId ?? null, rest.model, r.usage)
  if (billed) await billed
  const error = r.error ? errorFrom(r.error) : undefined
  if (span || logs) {
    // What the engine reports of a chat call's route, as far as an embedding call has one.
    const provider = typeof rest.model === 'string' && rest.model.includes('/') ? rest.model.split('/')[0] : undefined
    const batch = { usage: r.usage, warnings: r.warnings, route: { provider, model: r.model, attempts: r.usage ? 1 : 0, fallbacks: [] } }
    if (span) endSpan(span, batch, error)
    if (logs) logCall(logs, { kind: 'embedding', model: rest.model, requestId, account, requestUser: rest.user, metadata: rest.metadata, started, batch, error })
  }
  if (error) throw error
  const all = r.vectors
  const d = r.dims
  const data = new Array(r.count)
  for (let i = 0; i < r.count; i++) {
    const row = all.subarray(i * d, (i + 1) * d)
    let embedding
    if (output === 'float32') embedding = row
    else if (rest.encoding_format === 'base64') embedding = Buffer.from(row.buffer, row.byteOffset, row.byteLength).toString('base64')
    else embedding = toArray(all, i * d, d)
    data[i] = { object: 'embedding', index: i, embedding }
  }
  const tokens = r.usage ? r.usage.promptTokens : 0
  const out = { object: 'list', data, model: r.model, usage: { prompt_tokens: tokens, total_tokens: tokens } }
  if (r.warnings?.length) out.warnings = r.warnings
  if (r.cost !== undefined && r.cost !== null) out.llmux = { cost: r.cost }
  return out
}

/**
 * Asks several models the same request at once (LiteLLM's
 * `batch_completion_models_all_responses`): every answer, a failure never failing the whole.
 * `{ results: [{ model, response | error, usage, cost, latencyMs }], usage, cost }`, in the
 * order of `models`; usage and cost summed over the answers.
 */
async function batchCompletionModelsAllResponses(request, router) {
  const { models, rest, signal } = splitModels(request)
  const results = await Promise.all(
    models.map(async (model) => {
      const started = performance.now()
      try {
        const response = await completion({ ...rest, model, signal }, router)
        const cost = response.llmux?.cost?.total
        return { model, response, usage: response.usage, cost, latencyMs: performance.now() - started }
      } catch (error) {
        return { model, error, latencyMs: performance.now() - started }
      }
    }),
  )
  return { results, ...sumUsage(results.filter((r) => r.response)) }
}

/**
 * Asks several models at once and resolves with the first good answer (LiteLLM's
 * `batch_completion_models`); the others are cancelled at that moment (and still report what
 * they used through onUsage). Rejects only when every model failed, with the last error
 * (its `errors` holds every model's).
 */
async function batchCompletionModels(request, router) {
  const { models, rest, signal } = splitModels(request)
  if (signal?.aborted) throw cancelledError()
  const controllers = models.map(() => new AbortController())
  const onAbort = () => controllers.forEach((c) => c.abort())
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    return await new Promise((resolve, reject) => {
      const errors = []
      let settled = false
      models.forEach((model, i) => {
        completion({ ...rest, model, signal: controllers[i].signal }, router).then(
          (response) => {
            if (settled) return
            settled = true
            controllers.forEach((c, j) => j !== i && c.abort())
            resolve(response)
          },
          (error) => {
            errors.push({ model, error })
            if (!settled && errors.length === models.length) {
              const last = errors.at(-1).error
              last.errors = errors
              reject(last)
            }
          },
        )
      })
    })
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
}

/** A row as a plain array: an indexed loop into a sized array (Array.from goes through the
 * iterator protocol, about ten times slower on 1,536 floats). */
function toArray(all, offset, length) {
  const a = new Array(length)
  for (let j = 0; j < length; j++) a[j] = all[offset + j]
  return a
}

function splitModels(request) {
  if (!request || typeof request !== 'object') throw invalid('request must be an object')
  const { models, model, signal, ...rest } = request
  const list = models ?? (Array.isArray(model) ? model : undefined)
  if (!Array.isArray(list) || list.length === 0 || list.some((m) => typeof m !== 'string' || !m)) {
    throw invalid('models must be a non-empty array of model strings (or router groups)')
  }
  if (list.length > 64) throw invalid('models may name at most 64 models')
  return { models: list, rest, signal: checkSignal(signal) }
}

function sumUsage(answered) {
  const usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }
  let cost = 0
  for (const r of answered) {
    usage.prompt_tokens += r.usage?.prompt_tokens ?? 0
    usage.completion_tokens += r.usage?.completion_tokens ?? 0
    usage.total_tokens += r.usage?.total_tokens ?? 0
    cost += r.cost ?? 0
  }
  return { usage, cost }
}

/** Runs a handle to its single last batch (completion-style calls). */
async function finishHandle(handle, signal, account, requestId) {
  activeRequests++
  const { unwatch } = watch(handle, signal, account, requestId ?? null, undefined)
  try {
    let batch
    do batch = await handle.next()
    while (!batch.done)
    for (const w of batch.warnings ?? []) warn(w)
    return batch
  } finally {
    unwatch()
    activeRequests--
  }
}

/**
 * amplify's promptForData (promptLiteLLMForData): asks for an object with the schema's keys by
 * the provider's strongest means, checks it, retries once, and resolves with the object.
 * `schema` maps property names to JSON-schema fragments; every key is required.
 * `options`: { maxTokens = 1000, temperature = 0.1, reasoningLevel, signal }.
 */
async function promptForData(messages, model, prompt, schema, account, requestId, options = {}) {
  if (!Array.isArray(messages)) throw invalid('messages must be an array')
  if (typeof prompt !== 'string') throw invalid('prompt must be a string')
  if (!model || (typeof model !== 'object' && typeof model !== 'string')) {
    throw invalid('model must be an amplify model object or a model string')
  }
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    throw invalid('schema must be an object mapping property names to JSON-schema fragments')
  }
  if (options === null || typeof options !== 'object') throw invalid('options must be an object')
  const signal = checkSignal(options.signal)
  if (signal?.aborted) throw cancelledError()
  const opts = { maxTokens: options.maxTokens, temperature: options.temperature, reasoningLevel: options.reasoningLevel }
  const messagesJson = toJson('messages', messages)
  const modelJson = toJson('model', model)
  const schemaJson = toJson('schema', schema)
  await ensureSecrets()
  const handle = engine(options.router).startPromptForData(messagesJson, modelJson, prompt, schemaJson, opts, userOf(account))
  const batch = await finishHandle(handle, signal, account, requestId)
  const billed = reportUsage(account, requestId ?? null, model, batch.usage)
  if (billed) await billed
  if (batch.error) throw errorFrom(batch.error)
  return JSON.parse(batch.data).choices[0].message.parsed
}

/**
 * A chat function for workflow steps: `async (body, writable, context) => text`, streaming into
 * `writable` in amplify's format. `options`: { streamToUser = true, endStream = false, signal }.
 * `context` may carry `signal`, `dataSources` and `requestId`.
 */
function createChatFn(model, account, options = {}) {
  if (!model || (typeof model !== 'object' && typeof model !== 'string')) {
    throw invalid('model must be an amplify model object or a model string')
  }
  if (options === null || typeof options !== 'object') throw invalid('options must be an object')
  const streamToUser = options.streamToUser !== false
  const endStream = options.endStream === true
  return async function chat(body, writable, context = {}) {
    const ctx = context ?? {}
    const request = ctx.requestId && !body?.options?.requestId ? { ...body, options: { ...body?.options, requestId: ctx.requestId } } : body
    return callLiteLLM(request, model, account, writable, ctx.dataSources ?? [], streamToUser, {
      signal: ctx.signal ?? options.signal,
      endStream,
      router: options.router,
    })
  }
}

/**
 * A LiteLLM-style router over deployments: `new Router({ model_list, router_settings,
 * litellm_settings })` or `Router.fromYaml(path)` with LiteLLM's proxy config as it is.
 */
class Router {
  /**
   * `options`: `{ onSuccess, onFailure, callbacks }`: logging callbacks for this router's calls;
   * `callbacks` names functions that the config's `litellm_settings.success_callback` /
   * `failure_callback` lists select (LiteLLM's integration names).
   */
  constructor(config, options = {}) {
    if (!config || typeof config !== 'object') throw invalid('Router takes a config object ({ model_list, router_settings })')
    if (!options || typeof options !== 'object') throw invalid('Router options must be an object')
    checkFunction('onSuccess', options.onSuccess)
    checkFunction('onFailure', options.onFailure)
    const json = toJson('router config', config)
    this._config = config
    const check = binding.checkRouterConfig(json)
    if (check.error) throw errorFrom(check.error)
    for (const w of check.warnings) warn(w)
    this.warnings = check.warnings
    try {
      this._handle = new binding.RouterHandle(json)
    } catch (e) {
      // A setting only usable once resolved (a Redis URL from the environment...).
      throw new ConfigurationError({ code: 'config', message: String((e && e.message) || e), retryable: false })
    }
    const pick = (names, own, which) => {
      const fns = own ? [own] : []
      for (const name of Array.isArray(names) ? names : []) {
        const fn = options.callbacks?.[name]
        if (typeof fn === 'function') fns.push(fn)
        else {
          const w = `router config: litellm_settings.${which}: no callback named "${name}" was given (new Router(config, { callbacks: { ${name}: fn } }))`
          this.warnings.push(w)
          warn(w)
        }
      }
      if (fns.length === 0) return undefined
      if (fns.length === 1) return fns[0]
      // Each one on its own: one that throws or rejects never stops the others or the process.
      return (payload) => {
        for (const fn of fns) {
          try {
            const p = fn(payload)
            if (p && typeof p.then === 'function') p.then(undefined, (e) => warn(`${which} callback failed: ${e && e.message}`))
          } catch (e) {
            warn(`${which} callback failed: ${e && e.message}`)
          }
        }
      }
    }
    this._onSuccess = pick(config.litellm_settings?.success_callback, options.onSuccess, 'success_callback')
    this._onFailure = pick(config.litellm_settings?.failure_callback, options.onFailure, 'failure_callback')
  }

  /** Reads a LiteLLM proxy config (YAML) from a file. */
  static fromYaml(path, options = {}) {
    const fs = require('node:fs')
    let text
    try {
      text = fs.readFileSync(path, 'utf8')
    } catch (e) {
      throw invalid(`cannot read router config ${path}: ${e.message}`)
    }
    const parsed = binding.routerConfigFromYaml(text)
    if (parsed.error) throw errorFrom({ ...parsed.error, message: `router config ${path}: ${parsed.error.message}` })
    return new Router(JSON.parse(parsed.json), options)
  }

  completion(request) {
    return completion(request, this)
  }

  /** Several groups at once, every answer (see the module's batchCompletionModelsAllResponses). */
  batchCompletionModelsAllResponses(request) {
    return batchCompletionModelsAllResponses(request, this)
  }

  /** Several groups at once, the first good answer; the rest cancelled. */
  batchCompletionModels(request) {
    return batchCompletionModels(request, this)
  }

  /** Embeddings from an embedding group: retries, fallbacks, limits, and a per-user cache of each input's vector. */
  embedding(request) {
    return embedding(request, this)
  }

  stream(request) {
    return stream(request, this)
  }

  callLiteLLM(chatRequest, model, account, responseStream, dataSources = [], streamToUser = false, options = {}) {
    return callLiteLLM(chatRequest, model, account, responseStream, dataSources, streamToUser, { ...options, router: this })
  }

  promptForData(messages, model, prompt, schema, account, requestId, options = {}) {
    return promptForData(messages, model, prompt, schema, account, requestId, { ...options, router: this })
  }

  /**
   * Per deployment: healthy, cooling, in flight, time to first token, last error. With
   * `{ probe: true }`, a Promise: each deployment is sent a minimal request (LiteLLM's /health)
   * and reported reachable or not, with its latency.
   */
  health(options) {
    if (options?.probe) return this._handle.probeHealth().then((json) => JSON.parse(json))
    return JSON.parse(this._handle.health())
  }

  /** The groups (and aliases), each with its capabilities, window and prices; `{ capability }` keeps those that have it. */
  listModels(options) {
    const capability = options?.capability
    if (capability !== undefined && typeof capability !== 'string') throw invalid('capability must be a string such as "vision"')
    return JSON.parse(this._handle.listModels(capability ?? null))
  }

  getModelInfo(name) {
    const info = this._handle.getModelInfo(String(name))
    return info == null ? null : JSON.parse(info)
  }

  /**
   * Tokens and cost per model group and per user since `since` (a Date or ms; default: all):
   * a Promise, because with shared state (Redis) they are every instance's, read from it.
   */
  async getUsage({ since = 0 } = {}) {
    const ms = since instanceof Date ? since.getTime() : Number(since)
    if (!Number.isFinite(ms)) throw invalid('since must be a Date or a number of milliseconds')
    return JSON.parse(await this._handle.getUsage(ms))
  }

  /**
   * Resolves once every answered request is settled with the router's state (with Redis: its
   * spend, ledger record and cache entry written), within `timeoutMs`; `true` if all were.
   * Call it at the end of a Lambda handler that must leave nothing unwritten when frozen.
   */
  flush({ timeoutMs = 5000 } = {}) {
    const ms = Number(timeoutMs)
    if (!Number.isFinite(ms) || ms < 0) throw invalid('timeoutMs must be a number of milliseconds')
    return this._handle.flush(ms)
  }

  /**
   * Prometheus text: requests, errors by kind, latency and TTFT histograms, tokens, cost, cache
   * (every instance's with shared state), and the shared state's own errors.
   */
  async metrics() {
    return this._handle.metrics()
  }
}

// amplify's sidecar lifecycle: nothing to start or stop any more, kept so callers need no change.
function getLiteLLMServerStatus() {
  return {
    ready: true,
    processRunning: true,
    activeRequests,
    pendingRequests: 0,
    serverAge: Date.now() - loadedAt,
    processId: process.pid,
  }
}

async function initPythonProcess() {
  return { pid: process.pid }
}

function shutdownLiteLLMServer() {}

/**
 * `llmux serve` in a program: an OpenAI-compatible HTTP gateway (`/v1/chat/completions`,
 * `/v1/embeddings`, `/v1/models`, health, metrics) from a LiteLLM proxy config (`config` object,
 * or `configPath` to its YAML), or over an existing `router`. Resolves once it listens:
 * `{ url, port, warnings, close() }`; `close()` stops accepting, lets requests in progress
 * finish (general_settings.graceful_shutdown_timeout, 10 s), then ends the rest.
 */
async function serve(options = {}) {
  if (!options || typeof options !== 'object') throw invalid('serve() takes { config | configPath | router, host, port }')
  const { config, configPath, router, host = '127.0.0.1', port = 4000, accessLog = false, generalSettings } = options
  const given = [config, configPath, router].filter((x) => x !== undefined && x !== null).length
  if (given !== 1) throw invalid('serve() takes exactly one of config, configPath or router')
  if (typeof host !== 'string' || !host) throw invalid('host must be a host name or address')
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalid('port must be a whole number from 0 to 65535 (0: a free one)')
  await ensureSecrets()
  let handle
  try {
    if (router !== undefined && router !== null) {
      if (!(router instanceof Router)) throw invalid('router must be a Router')
      used(router)
      const gs = generalSettings ?? router._config?.general_settings ?? {}
      handle = await router._handle.serve(toJson('general_settings', gs), host, port, Boolean(accessLog))
    } else {
      let cfg = config
      if (configPath !== undefined) {
        const fs = require('node:fs')
        let text
        try {
          text = fs.readFileSync(configPath, 'utf8')
        } catch (e) {
          throw invalid(`cannot read config ${configPath}: ${e.message}`)
        }
        const parsed = binding.routerConfigFromYaml(text)
        if (parsed.error) throw errorFrom({ ...parsed.error, message: `config ${configPath}: ${parsed.error.message}` })
        cfg = JSON.parse(parsed.json)
      }
      if (!cfg || typeof cfg !== 'object') throw invalid('config must be a LiteLLM proxy config object ({ model_list, ... })')
      handle = await binding.serveConfig(toJson('config', cfg), host, port, Boolean(accessLog))
    }
  } catch (e) {
    if (e instanceof LlmuxError) throw e
    throw new ConfigurationError({ code: 'config', message: String((e && e.message) || e), retryable: false })
  }
  for (const w of handle.warnings) warn(w)
  // The server runs on native threads, which do not keep Node alive: this does, until close().
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  let closed
  return {
    url: handle.url,
    port: handle.port,
    warnings: handle.warnings,
    close: () => {
      closed ??= handle.close().finally(() => clearInterval(keepAlive))
      return closed
    },
  }
}

module.exports = {
  configure,
  serve,
  callLiteLLM,
  promptForData,
  promptLiteLLMForData: promptForData,
  createChatFn,
  Router,
  completion,
  stream,
  embedding,
  batchCompletionModels,
  batchCompletionModelsAllResponses,
  getLiteLLMServerStatus,
  initPythonProcess,
  shutdownLiteLLMServer,
  LlmuxError,
  BadRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  ModelNotFoundError,
  RateLimitError,
  InternalServerError,
  ServiceUnavailableError,
  APIConnectionError,
  APIConnectionTimeoutError,
  Timeout: APIConnectionTimeoutError,
  ContextWindowExceededError,
  ContentPolicyViolationError,
  APIUserAbortError,
  APIResponseValidationError,
  JSONSchemaValidationError,
  ConfigurationError,
}
