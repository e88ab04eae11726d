// Loopback mocks of Anthropic, Bedrock (SigV4-verified, real event-stream frames), Gemini and
// Azure OpenAI. Each is as strict as its real API on what these tests send, replays recorded
// fixtures byte for byte (`scenario:fixture:<file>` as the last user message), and otherwise
// echoes the last user message word by word with usage.
import http from 'node:http'
import crypto from 'node:crypto'
import zlib from 'node:zlib'
import { readFixture, startMockOpenAI } from './mock-openai.mjs'

export const AWS = { accessKeyId: 'AKIDLLMUXTEST', secretAccessKey: 'llmux-test-secret-key', sessionToken: 'llmux-session-token', region: 'us-east-1' }

export function listen(handler) {
  const requests = []
  const sockets = new Set()
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      const record = { method: req.method, url: req.url, headers: req.headers, raw, body: null, closedAt: null, finished: false }
      try {
        record.body = JSON.parse(raw.toString('utf8'))
      } catch {}
      requests.push(record)
      res.on('close', () => {
        record.closedAt = performance.now()
        record.finished = res.writableFinished
      })
      handler(req, res, record)
    })
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        requests,
        close() {
          for (const s of sockets) s.destroy()
          return new Promise((r) => server.close(r))
        },
      }),
    ),
  )
}

const json = (res, status, body, headers = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body))
}
const words = (t) => t.match(/\s*\S+/g) ?? []
const textOf = (content) => (typeof content === 'string' ? content : (content ?? []).map((p) => p.text ?? '').join(''))
const scenarioOf = (text) => (text.startsWith('scenario:') ? text.slice(9) : null)

/** A Claude model's (major, minor) from its id in any provider's spelling, as the real APIs version them. */
export function claudeVersion(model) {
  const m = /claude-(?:[a-z]+-)*?(\d)(?:[-._](\d{1,2})(?!\d))?/.exec(model ?? '')
  return m ? [Number(m[1]), Number(m[2] ?? 0)] : null
}

/**
 * What current Claude models refuse, as the Messages API (and Bedrock, for Claude) answers 400:
 * - Opus 4.7 and later refuse `thinking.type: "enabled"` ("thinking.type.enabled is not supported
 *   for this model. Use thinking.type.adaptive and output_config.effort"), take `temperature` only
 *   at 1, `top_p` only >= 0.99, no `top_k` (anthropic-sdk-typescript deprecation notes; AWS
 *   Bedrock user guide, adaptive thinking);
 * - Claude 4.1 and 4.5+ refuse `temperature` with `top_p` ("`temperature` and `top_p` cannot both
 *   be specified for this model. Please use only one.");
 * - `output_config.effort` is low|medium|high|xhigh|max; xhigh only from Opus 4.7; adaptive
 *   thinking and effort from 4.6 (platform.claude.com/docs/en/build-with-claude/effort).
 * Returns the error message, or null.
 */
export function claudeRefusal(model, { thinking, output_config: oc, temperature, top_p: topP, top_k: topK }) {
  const v = claudeVersion(model)
  if (!v) return null
  const at = (a, b) => v[0] > a || (v[0] === a && v[1] >= b)
  if (thinking?.type === 'enabled' && at(4, 7)) return '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'
  if (thinking?.type === 'adaptive' && !at(4, 6)) return 'thinking.type: adaptive thinking is not supported for this model'
  if (oc?.effort !== undefined) {
    if (!['low', 'medium', 'high', 'xhigh', 'max'].includes(oc.effort)) return `output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'`
    if (oc.effort === 'xhigh' && !at(4, 7)) return 'output_config.effort: xhigh is not supported for this model'
    if (!at(4, 5)) return 'output_config: Extra inputs are not permitted'
  }
  if (at(4, 7)) {
    if (temperature !== undefined && temperature !== 1) return '`temperature` is deprecated for this model.'
    if (topP !== undefined && topP < 0.99) return '`top_p` is deprecated for this model.'
    if (topK !== undefined) return '`top_k` is deprecated for this model.'
  }
  if ((at(4, 5) || (v[0] === 4 && v[1] === 1)) && temperature !== undefined && topP !== undefined) {
    return '`temperature` and `top_p` cannot both be specified for this model. Please use only one.'
  }
  return null
}

// ---------------------------------------------------------------- Anthropic Messages
let anthropicSeq = 1
export function startMockAnthropic() {
  return listen((req, res, r) => {
    const err = (status, type, message) => json(res, status, { type: 'error', error: { type, message }, request_id: 'req_mock' })
    // Claude on Vertex AI: the same Messages body at rawPredict / streamRawPredict, the model in
    // the URL and not in the body, anthropic_version in the body, a Google bearer token
    // (anthropic-sdk-typescript packages/vertex-sdk).
    const vertex = /^\/v1\/projects\/[^/]+\/locations\/[^/]+\/publishers\/anthropic\/models\/([^/:]+):(streamRawPredict|rawPredict)$/.exec(req.url)
    if (vertex) {
      if (req.headers.authorization !== 'Bearer ya29.vertex-test') return err(401, 'authentication_error', 'invalid bearer token')
      if (!r.body) return err(400, 'invalid_request_error', 'invalid JSON')
      if (r.body.anthropic_version !== 'vertex-2023-10-16') return err(400, 'invalid_request_error', 'anthropic_version: Field required')
      if ('model' in r.body) return err(400, 'invalid_request_error', 'model: Extra inputs are not permitted')
      if ((vertex[2] === 'streamRawPredict') !== (r.body.stream === true)) return err(400, 'invalid_request_error', 'stream does not match the method')
      r.body.model = decodeURIComponent(vertex[1])
      delete r.body.anthropic_version
    } else {
      if (req.url !== '/v1/messages') return err(404, 'not_found_error', 'Not found')
      if (req.headers['x-api-key'] !== 'sk-ant-test') return err(401, 'authentication_error', 'invalid x-api-key')
      if (req.headers['anthropic-version'] !== '2023-06-01') return err(400, 'invalid_request_error', 'anthropic-version header is required')
    }
    const b = r.body
    if (!b) return err(400, 'invalid_request_error', 'invalid JSON')
    const refused = claudeRefusal(b.model, b)
    if (refused) return err(400, 'invalid_request_error', refused)
    if (typeof b.max_tokens !== 'number') return err(400, 'invalid_request_error', 'max_tokens: Field required')
    if (!Array.isArray(b.messages) || b.messages.length === 0) return err(400, 'invalid_request_error', 'messages: at least one message is required')
    for (const [i, m] of b.messages.entries()) {
      if (m.role !== 'user' && m.role !== 'assistant') return err(400, 'invalid_request_error', `messages.${i}.role: Input should be 'user' or 'assistant'`)
      // tool_use.id and tool_result.tool_use_id: ^[a-zA-Z0-9_-]+$ (the Messages API's pattern).
      for (const [j, c] of (Array.isArray(m.content) ? m.content : []).entries()) {
        const id = c.type === 'tool_use' ? c.id : c.type === 'tool_result' ? c.tool_use_id : undefined
        if (id !== undefined && !/^[a-zA-Z0-9_-]+$/.test(id)) return err(400, 'invalid_request_error', `messages.${i}.content.${j}.${c.type}.id: String should match pattern '^[a-zA-Z0-9_-]+$'`)
      }
      if (i > 0 && b.messages[i - 1].role === m.role) return err(400, 'invalid_request_error', 'roles must alternate between "user" and "assistant"')
    }
    if (b.thinking?.type === 'enabled') {
      if (b.thinking.budget_tokens < 1024) return err(400, 'invalid_request_error', 'thinking.budget_tokens: must be >= 1024')
      if (b.thinking.budget_tokens >= b.max_tokens) return err(400, 'invalid_request_error', '`max_tokens` must be greater than `thinking.budget_tokens`')
      if (b.temperature !== undefined && b.temperature !== 1) return err(400, 'invalid_request_error', '`temperature` may only be set to 1 when thinking is enabled')
    }
    if (b.thinking?.type === 'adaptive' && b.temperature !== undefined && b.temperature !== 1) return err(400, 'invalid_request_error', '`temperature` may only be set to 1 when thinking is enabled')
    const known = new Set(['model', 'messages', 'max_tokens', 'system', 'stream', 'temperature', 'top_p', 'top_k', 'stop_sequences', 'tools', 'tool_choice', 'thinking', 'output_config', 'metadata'])
    for (const k of Object.keys(b)) if (!known.has(k)) return err(400, 'invalid_request_error', `${k}: Extra inputs are not permitted`)
    const last = b.messages.at(-1)
    const blocks = Array.isArray(last.content) ? last.content : [{ type: 'text', text: last.content }]
    const result = blocks.find((c) => c.type === 'tool_result')
    if (result) {
      const prev = b.messages.at(-2)
      const asked = Array.isArray(prev?.content) && prev.content.some((c) => c.type === 'tool_use' && c.id === result.tool_use_id)
      if (!asked) return err(400, 'invalid_request_error', 'tool_result block(s) provided when previous message does not send tool_use blocks')
    }
    const text = result ? `tool said: ${typeof result.content === 'string' ? result.content : textOf(result.content)}` : (blocks.filter((c) => c.type === 'text').at(-1)?.text ?? '')
    const forced = b.tool_choice?.type === 'tool' ? b.tool_choice.name : null
    if (forced || (b.tools?.length && text.startsWith('call '))) {
      if (forced && b.thinking) return err(400, 'invalid_request_error', 'Thinking may not be enabled when tool_choice forces tool use.')
      const name = forced ?? b.tools[0].name
      const args = text.startsWith('json:') ? text.slice(5) : text.startsWith('call ') ? text.slice(5) : '{}'
      const id = `toolu_mock_${anthropicSeq++}`
      const usage = { input_tokens: 30, output_tokens: 9 }
      if (!b.stream) return json(res, 200, { id: 'msg_tool', type: 'message', role: 'assistant', model: b.model, content: [{ type: 'tool_use', id, name, input: JSON.parse(args) }], stop_reason: 'tool_use', usage })
      const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`
      const half = Math.floor(args.length / 2)
      let out = ev('message_start', { message: { id: 'msg_tool', type: 'message', role: 'assistant', model: b.model, content: [], usage: { input_tokens: 30, output_tokens: 1 } } })
      out += ev('content_block_start', { index: 0, content_block: { type: 'tool_use', id, name, input: {} } })
      out += ev('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: args.slice(0, half) } })
      out += ev('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: args.slice(half) } })
      out += ev('content_block_stop', { index: 0 })
      out += ev('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 9 } })
      out += ev('message_stop', {})
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' })
      return res.end(out)
    }
    const scenario = scenarioOf(text)
    if (scenario?.startsWith('fixture:')) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' })
      return res.end(readFixture(scenario.slice(8)))
    }
    if (scenario?.startsWith('status:')) {
      const s = Number(scenario.slice(7))
      return err(s, s === 429 ? 'rate_limit_error' : s === 529 ? 'overloaded_error' : 'api_error', `mock ${s}`)
    }
    const usage = { input_tokens: 11, cache_creation_input_tokens: 5, cache_read_input_tokens: 7, output_tokens: words(text).length }
    if (!b.stream) {
      return json(res, 200, { id: 'msg_mock', type: 'message', role: 'assistant', model: b.model, content: [{ type: 'text', text }], stop_reason: 'end_turn', stop_sequence: null, usage })
    }
    const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`
    let out = ev('message_start', { message: { id: 'msg_mock', type: 'message', role: 'assistant', model: b.model, content: [], usage: { ...usage, output_tokens: 1 } } })
    let index = 0
    if (b.thinking) {
      out += ev('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } })
      out += ev('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: `Considering: ${text}` } })
      out += ev('content_block_delta', { index, delta: { type: 'signature_delta', signature: 'mock-signature' } })
      out += ev('content_block_stop', { index })
      index++
    }
    out += ev('content_block_start', { index, content_block: { type: 'text', text: '' } })
    for (const w of words(text)) out += ev('content_block_delta', { index, delta: { type: 'text_delta', text: w } })
    out += ev('content_block_stop', { index })
    out += ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage })
    out += ev('message_stop', {})
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' })
    res.end(out)
  })
}

// ---------------------------------------------------------------- Bedrock Converse (SigV4)
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest()
const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex')

/** Verifies a SigV4 Authorization header against the request as received; null when valid. */
export function verifySigV4(req, raw, creds = AWS, service = 'bedrock') {
  const auth = req.headers.authorization ?? ''
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(auth)
  if (!m) return 'malformed Authorization header'
  const [, keyId, date, region, svc, signedHeaders, signature] = m
  if (keyId !== creds.accessKeyId) return 'unknown access key'
  if (svc !== service || region !== creds.region) return 'wrong scope'
  const amzDate = req.headers['x-amz-date'] ?? ''
  if (!amzDate.startsWith(date)) return 'x-amz-date does not match the credential scope'
  const names = signedHeaders.split(';')
  for (const need of ['host', 'x-amz-date']) if (!names.includes(need)) return `${need} is not signed`
  if (creds.sessionToken && req.headers['x-amz-security-token'] !== creds.sessionToken) return 'missing or wrong x-amz-security-token'
  const [path, query = ''] = req.url.split('?')
  // Every service but S3 signs the path encoded once more than it was sent.
  const canonicalUri = path.split('/').map((s) => encodeURIComponent(s)).join('/')
  const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('')
  const canonical = ['POST', canonicalUri, query, canonicalHeaders, signedHeaders, sha256(raw)].join('\n')
  const scope = `${date}/${region}/${svc}/aws4_request`
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n')
  const key = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, date), region), svc), 'aws4_request')
  const expected = hmac(key, toSign).toString('hex')
  return expected === signature ? null : 'signature does not match'
}

/** One application/vnd.amazon.eventstream frame (string headers), CRCs included. */
export function eventFrame(headers, payload) {
  const hs = Buffer.concat(
    Object.entries(headers).map(([k, v]) => {
      const name = Buffer.from(k)
      const value = Buffer.from(v)
      const h = Buffer.alloc(1 + name.length + 1 + 2 + value.length)
      h.writeUInt8(name.length, 0)
      name.copy(h, 1)
      h.writeUInt8(7, 1 + name.length)
      h.writeUInt16BE(value.length, 2 + name.length)
      value.copy(h, 4 + name.length)
      return h
    }),
  )
  const body = Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload))
  const total = 12 + hs.length + body.length + 4
  const prelude = Buffer.alloc(8)
  prelude.writeUInt32BE(total, 0)
  prelude.writeUInt32BE(hs.length, 4)
  const preludeCrc = Buffer.alloc(4)
  preludeCrc.writeUInt32BE(zlib.crc32(prelude), 0)
  const msg = Buffer.concat([prelude, preludeCrc, hs, body])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(zlib.crc32(msg), 0)
  return Buffer.concat([msg, crc])
}
const event = (type, payload) => eventFrame({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, { ...payload, p: 'abcdef' })

let bedrockSeq = 1
export function startMockBedrock() {
  return listen((req, res, r) => {
    const fail = (status, type, message) => json(res, status, { message }, { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/` })
    const m = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(req.url)
    if (!m) return fail(404, 'UnknownOperationException', 'unknown operation')
    const bad = verifySigV4(req, r.raw)
    if (bad) return fail(403, 'InvalidSignatureException', `The request signature we calculated does not match the signature you provided (${bad})`)
    const b = r.body
    if (!b) return fail(400, 'ValidationException', 'Malformed input request')
    const known = new Set(['messages', 'system', 'inferenceConfig', 'toolConfig', 'additionalModelRequestFields', 'guardrailConfig', 'promptVariables', 'additionalModelResponseFieldPaths', 'requestMetadata', 'performanceConfig'])
    for (const k of Object.keys(b)) if (!known.has(k)) return fail(400, 'ValidationException', `Unknown parameter: ${k}`)
    let usesTools = false
    for (const [i, msg] of (b.messages ?? []).entries()) {
      if (i > 0 && b.messages[i - 1].role === msg.role) return fail(400, 'ValidationException', 'A conversation must alternate between user and assistant roles.')
      for (const block of msg.content) {
        if ('text' in block && !block.text.trim()) return fail(400, 'ValidationException', 'The text field in the ContentBlock object is blank.')
        if (block.toolUse || block.toolResult) usesTools = true
      }
    }
    if (usesTools && !b.toolConfig) return fail(400, 'ValidationException', 'The toolConfig field must be defined when using toolUse and toolResult content blocks.')
    const modelId = decodeURIComponent(m[1])
    // toolUseId: [a-zA-Z0-9_-]+, 1 to 64 characters (API_runtime_ToolUseBlock).
    for (const msg of b.messages) {
      for (const c of msg.content ?? []) {
        const id = c.toolUse?.toolUseId ?? c.toolResult?.toolUseId
        if (id !== undefined && !/^[a-zA-Z0-9_-]{1,64}$/.test(id)) return fail(400, 'ValidationException', `1 validation error detected: Value '${id.slice(0, 20)}...' at 'messages.content.toolUseId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+`)
      }
    }
    // Claude on Bedrock refuses what the Messages API refuses; its own fields ride in
    // additionalModelRequestFields, sampling in inferenceConfig.
    if (/claude/.test(modelId)) {
      const extra = b.additionalModelRequestFields ?? {}
      const refused = claudeRefusal(modelId, { ...extra, temperature: b.inferenceConfig?.temperature, top_p: b.inferenceConfig?.topP })
      if (refused) return fail(400, 'ValidationException', refused)
    }
    // ToolChoice: `tool` "Only supported by Anthropic Claude 3 and Amazon Nova models"; `any`
    // also by Mistral Large (API_runtime_ToolChoice); others refuse the field.
    const choice = b.toolConfig?.toolChoice
    const takesForced = /anthropic|claude|amazon\.nova/.test(modelId) || (choice?.any && /mistral\.mistral-large/.test(modelId))
    for (const k of ['any', 'tool']) {
      if (choice?.[k] && !takesForced) return fail(400, 'ValidationException', `This model doesn't support the toolConfig.toolChoice.${k} field. Remove toolConfig.toolChoice.${k} and try again.`)
    }
    // ToolResultContentBlock.image: "only supported by Amazon Nova and Anthropic Claude 3 and 4 models".
    for (const msg of b.messages) {
      for (const c of msg.content ?? []) {
        if (c.toolResult?.content?.some((x) => x.image) && !/anthropic|claude|amazon\.nova/.test(modelId)) {
          return fail(400, 'ValidationException', "This model doesn't support the image content block in a tool result.")
        }
      }
    }
    const lastContent = b.messages.at(-1).content
    const result = lastContent.find((c) => c.toolResult)?.toolResult
    if (result) {
      const prev = b.messages.at(-2)
      if (!prev?.content.some((c) => c.toolUse?.toolUseId === result.toolUseId)) return fail(400, 'ValidationException', 'The toolResult blocks must match the toolUse blocks of the previous turn.')
    }
    const text = result ? `tool said: ${result.content.map((c) => c.text ?? JSON.stringify(c.json)).join('')}` : (lastContent.filter((c) => 'text' in c).at(-1)?.text ?? '')
    const forced = b.toolConfig?.toolChoice?.tool?.name ?? (b.toolConfig?.toolChoice?.any ? b.toolConfig.tools[0].toolSpec.name : undefined)
    if (forced || (b.toolConfig?.tools?.length && text.startsWith('call '))) {
      const name = forced ?? b.toolConfig.tools[0].toolSpec.name
      const args = text.startsWith('json:') ? text.slice(5) : text.startsWith('call ') ? text.slice(5) : '{}'
      const id = `tooluse_mock_${bedrockSeq++}`
      const usage = { inputTokens: 30, outputTokens: 9, totalTokens: 39 }
      if (m[2] === 'converse') return json(res, 200, { output: { message: { role: 'assistant', content: [{ toolUse: { toolUseId: id, name, input: JSON.parse(args) } }] } }, stopReason: 'tool_use', usage })
      res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' })
      const half = Math.floor(args.length / 2)
      return res.end(Buffer.concat([
        event('messageStart', { role: 'assistant' }),
        event('contentBlockStart', { contentBlockIndex: 0, start: { toolUse: { toolUseId: id, name } } }),
        event('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: args.slice(0, half) } } }),
        event('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: args.slice(half) } } }),
        event('contentBlockStop', { contentBlockIndex: 0 }),
        event('messageStop', { stopReason: 'tool_use' }),
        event('metadata', { usage, metrics: { latencyMs: 1 } }),
      ]))
    }
    const scenario = scenarioOf(text)
    if (scenario?.startsWith('fixture:')) {
      const file = scenario.slice(8)
      if (file.endsWith('.bin')) {
        res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' })
        return res.end(readFixture(file))
      }
      return json(res, 200, readFixture(file))
    }
    if (scenario?.startsWith('status:')) {
      const s = Number(scenario.slice(7))
      return fail(s, s === 429 ? 'ThrottlingException' : 'ServiceUnavailableException', `mock ${s}`)
    }
    if (scenario === 'exception') {
      res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' })
      res.write(event('messageStart', { role: 'assistant' }))
      res.write(event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'partial' } }))
      return res.end(eventFrame({ ':exception-type': 'throttlingException', ':content-type': 'application/json', ':message-type': 'exception' }, { message: 'Too many tokens, please wait before trying again.' }))
    }
    const usage = { inputTokens: 9, outputTokens: words(text).length, totalTokens: 9 + words(text).length, cacheReadInputTokens: 4, cacheWriteInputTokens: 3 }
    if (m[2] === 'converse') {
      return json(res, 200, { output: { message: { role: 'assistant', content: [{ text }] } }, stopReason: 'end_turn', usage, metrics: { latencyMs: 1 } })
    }
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' })
    const frames = [event('messageStart', { role: 'assistant' })]
    if (b.additionalModelRequestFields?.thinking) {
      frames.push(event('contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { text: `Considering: ${text}` } } }))
      frames.push(event('contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { signature: 'mock-sig' } } }))
      frames.push(event('contentBlockStop', { contentBlockIndex: 0 }))
    }
    for (const w of words(text)) frames.push(event('contentBlockDelta', { contentBlockIndex: 1, delta: { text: w } }))
    frames.push(event('contentBlockStop', { contentBlockIndex: 1 }))
    frames.push(event('messageStop', { stopReason: 'end_turn' }))
    frames.push(event('metadata', { usage, metrics: { latencyMs: 1 } }))
    // Split frames across writes at odd places, as a network does.
    const all = Buffer.concat(frames)
    for (let i = 0; i < all.length; i += 37) res.write(all.subarray(i, i + 37))
    res.end()
    void modelId
  })
}

// ---------------------------------------------------------------- Gemini generateContent
export function startMockGemini() {
  return listen((req, res, r) => {
    const fail = (code, status, message) => json(res, code, { error: { code, message, status } })
    // The Gemini API (an API key) and Vertex AI (an OAuth bearer token, the publisher path) serve
    // the same generateContent body.
    const m = /^\/v1beta\/models\/([^:]+):(generateContent|streamGenerateContent)(\?alt=sse)?$/.exec(req.url)
      ?? /^\/v1\/projects\/[\w-]+\/locations\/[\w-]+\/publishers\/google\/models\/([^:]+):(generateContent|streamGenerateContent)(\?alt=sse)?$/.exec(req.url)
    if (!m) return fail(404, 'NOT_FOUND', `unknown URL ${req.url}`)
    const vertex = req.url.startsWith('/v1/projects/')
    if (vertex && req.headers.authorization !== 'Bearer ya29.vertex-test') return fail(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.')
    if (!vertex && req.headers['x-goog-api-key'] !== 'gemini-test-key') return fail(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.')
    const b = r.body
    if (!b || !Array.isArray(b.contents)) return fail(400, 'INVALID_ARGUMENT', 'contents is required')
    for (const c of b.contents) {
      if (c.role !== 'user' && c.role !== 'model') return fail(400, 'INVALID_ARGUMENT', `Please use a valid role: user, model.`)
      for (const p of c.parts) {
        if (p.functionResponse && (typeof p.functionResponse.response !== 'object' || Array.isArray(p.functionResponse.response))) {
          return fail(400, 'INVALID_ARGUMENT', 'functionResponse.response must be an object')
        }
      }
    }
    // Gemini's own Schema (`parameters`, `responseSchema`) is an OpenAPI subset: JSON Schema's
    // additionalProperties, $ref/$defs, const and type arrays are refused as unknown fields
    // (ai.google.dev/api/caching#Schema). Full JSON Schema goes in parametersJsonSchema /
    // responseJsonSchema, each exclusive with its Schema twin, and a response schema of either
    // kind needs responseMimeType application/json (googleapis/js-genai GenerateContentConfig).
    const gc = b.generationConfig ?? {}
    // ThinkingConfig: a level (Gemini 3) or a budget, never both; 2.x models have no levels
    // (googleapis/js-genai ThinkingConfig; ai.google.dev/gemini-api/docs/thinking).
    const tc = gc.thinkingConfig ?? {}
    if (tc.thinkingLevel !== undefined && tc.thinkingBudget !== undefined) return fail(400, 'INVALID_ARGUMENT', 'thinking_level and thinking_budget cannot both be set.')
    if (tc.thinkingLevel !== undefined && /^gemini-[12]\./.test(m[1])) return fail(400, 'INVALID_ARGUMENT', 'Thinking level is not supported for this model.')
    const decls = (b.tools ?? []).flatMap((t) => t.functionDeclarations ?? [])
    const subsetText = JSON.stringify(decls.map((d) => d.parameters ?? {})) + JSON.stringify(gc.responseSchema ?? {})
    for (const k of ['additionalProperties', '$ref', '$defs', 'const']) {
      if (subsetText.includes(`"${k}"`)) return fail(400, 'INVALID_ARGUMENT', `Invalid JSON payload received. Unknown name "${k}"`)
    }
    if (/"type":\[/.test(subsetText)) return fail(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received. Proto field is not repeating, cannot start list.')
    if (decls.some((d) => d.parameters && d.parametersJsonSchema)) return fail(400, 'INVALID_ARGUMENT', 'parameters and parametersJsonSchema are mutually exclusive')
    if (gc.responseSchema && gc.responseJsonSchema) return fail(400, 'INVALID_ARGUMENT', 'responseSchema and responseJsonSchema are mutually exclusive')
    if ((gc.responseSchema || gc.responseJsonSchema) && gc.responseMimeType !== 'application/json') {
      return fail(400, 'INVALID_ARGUMENT', 'a response schema requires responseMimeType application/json')
    }
    const lastParts = b.contents.at(-1).parts
    const fr = lastParts.find((p) => p.functionResponse)?.functionResponse
    if (fr) {
      const prev = b.contents.at(-2)
      if (!prev?.parts.some((p) => p.functionCall?.name === fr.name)) return fail(400, 'INVALID_ARGUMENT', 'Please ensure that function response turn comes immediately after a function call turn.')
      const sig = prev.parts.find((p) => p.functionCall?.name === fr.name).thoughtSignature
      if (sig !== 'mock-thought-signature') return fail(400, 'INVALID_ARGUMENT', 'Function call is missing a thought_signature.')
    }
    const text = fr ? `tool said: ${JSON.stringify(fr.response)}` : (lastParts.filter((p) => 'text' in p).at(-1)?.text ?? '')
    const fcc = b.toolConfig?.functionCallingConfig
    const forced = fcc?.mode === 'ANY' ? (fcc.allowedFunctionNames?.[0] ?? b.tools[0].functionDeclarations[0].name) : null
    if (forced || (b.tools?.length && text.startsWith('call '))) {
      const name = forced ?? b.tools[0].functionDeclarations[0].name
      const args = JSON.parse(text.startsWith('call ') ? text.slice(5) : '{}')
      const part = { functionCall: { name, args }, thoughtSignature: 'mock-thought-signature' }
      const body = { candidates: [{ content: { role: 'model', parts: [part] }, finishReason: 'STOP', index: 0 }], usageMetadata: { promptTokenCount: 30, candidatesTokenCount: 9 } }
      if (m[2] === 'generateContent') return json(res, 200, body)
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      return res.end(`data: ${JSON.stringify(body)}\r\n\r\n`)
    }
    if (gc.responseSchema || gc.responseJsonSchema) {
      const out = text.startsWith('json:') ? text.slice(5) : '{}'
      const body = { candidates: [{ content: { role: 'model', parts: [{ text: out }] }, finishReason: 'STOP', index: 0 }], usageMetadata: { promptTokenCount: 30, candidatesTokenCount: 9 } }
      if (m[2] === 'generateContent') return json(res, 200, body)
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      return res.end(`data: ${JSON.stringify(body)}\r\n\r\n`)
    }
    const scenario = scenarioOf(text)
    if (scenario?.startsWith('fixture:')) {
      res.writeHead(200, { 'content-type': scenario.endsWith('.sse') ? 'text/event-stream' : 'application/json; charset=UTF-8' })
      return res.end(readFixture(scenario.slice(8)))
    }
    if (scenario?.startsWith('status:')) {
      const s = Number(scenario.slice(7))
      return fail(s, s === 429 ? 'RESOURCE_EXHAUSTED' : 'UNAVAILABLE', `mock ${s}`)
    }
    const thinking = b.generationConfig?.thinkingConfig?.includeThoughts
    const usage = { promptTokenCount: 20, candidatesTokenCount: words(text).length, thoughtsTokenCount: thinking ? 4 : undefined, cachedContentTokenCount: 6 }
    const resp = (parts, extra = {}) => ({ candidates: [{ content: { role: 'model', parts }, index: 0, ...extra }], modelVersion: m[1], responseId: 'resp-mock' })
    if (m[2] === 'generateContent') return json(res, 200, { ...resp([{ text }], { finishReason: 'STOP' }), usageMetadata: usage })
    if (!m[3]) return fail(400, 'INVALID_ARGUMENT', 'this mock serves streams with alt=sse only')
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    let out = ''
    if (thinking) out += `data: ${JSON.stringify(resp([{ text: `Considering: ${text}`, thought: true }]))}\r\n\r\n`
    const ws = words(text)
    ws.forEach((w, i) => {
      const last = i === ws.length - 1
      out += `data: ${JSON.stringify({ ...resp([{ text: w }], last ? { finishReason: 'STOP' } : {}), usageMetadata: last ? usage : { promptTokenCount: 20 } })}\r\n\r\n`
    })
    res.end(out)
  })
}

// ---------------------------------------------------------------- Azure OpenAI
export function startMockAzure() {
  return listen((req, res, r) => {
    const fail = (status, code, message) => json(res, status, { error: { code, message } })
    const m = /^\/openai\/deployments\/([^/]+)\/chat\/completions\?api-version=([\w.-]+)$/.exec(req.url)
    if (!m) return fail(404, '404', 'Resource not found')
    // A resource key in `api-key`, or an Entra ID token as a bearer token (Azure OpenAI
    // reference, "Authentication").
    const entra = req.headers.authorization === 'Bearer entra-test-token'
    if (req.headers['api-key'] !== 'azure-test-key' && !entra) return fail(401, '401', 'Access denied due to invalid subscription key or wrong API endpoint.')
    const b = r.body
    if (b.stream_options && m[2] < '2024-09-01') return fail(400, 'BadRequest', 'Unrecognized request argument supplied: stream_options')
    // A deployment's name says nothing of its model: this resource has a GPT-5 deployment named
    // `prod-chat-7`, which refuses what GPT-5 refuses.
    const model = { 'prod-chat-7': 'gpt-5' }[m[1]] ?? m[1]
    if (/^o\d|^gpt-5(?!-chat)/.test(model)) {
      if (b.max_tokens !== undefined) return fail(400, 'unsupported_parameter', "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.")
      if (b.temperature !== undefined && b.temperature !== 1) return fail(400, 'unsupported_value', `Unsupported value: 'temperature' does not support ${b.temperature} with this model. Only the default (1) value is supported.`)
    }
    const text = textOf(b.messages.at(-1).content)
    const scenario = scenarioOf(text)
    if (scenario === 'content_filter') {
      return fail(400, 'content_filter', "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.")
    }
    if (scenario?.startsWith('fixture:')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      return res.end(readFixture(scenario.slice(8)))
    }
    const chunk = (o) => `data: ${JSON.stringify({ id: 'az', object: 'chat.completion.chunk', created: 1, model: m[1], ...o })}\n\n`
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    let out = chunk({ choices: [], prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] })
    for (const w of words(text)) out += chunk({ choices: [{ index: 0, delta: { content: w }, finish_reason: null, content_filter_results: {} }] })
    out += chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop', content_filter_results: {} }] })
    if (b.stream_options?.include_usage) out += chunk({ choices: [], usage: { prompt_tokens: 12, completion_tokens: words(text).length, total_tokens: 12 + words(text).length } })
    res.end(out + 'data: [DONE]\n\n')
  })
}

/**
 * Starts the named mocks and returns them with the secrets that point llmux at them:
 * `{ openai, anthropic, bedrock, gemini, azure, secrets, close() }`.
 */
export async function startMocks(names) {
  const starters = { openai: startMockOpenAI, anthropic: startMockAnthropic, bedrock: startMockBedrock, gemini: startMockGemini, azure: startMockAzure }
  const mocks = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await starters[n]()])))
  const secrets = {}
  if (mocks.openai) Object.assign(secrets, { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: mocks.openai.url })
  if (mocks.anthropic) {
    // Claude on Vertex AI is answered by the same mock at the Vertex paths.
    Object.assign(secrets, { ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: mocks.anthropic.url, VERTEXAI_BASE_URL: mocks.anthropic.url, VERTEXAI_PROJECT: 'proj', VERTEXAI_LOCATION: 'us-east5', VERTEXAI_ACCESS_TOKEN: 'ya29.vertex-test' })
  }
  if (mocks.bedrock) {
    Object.assign(secrets, {
      AWS_ACCESS_KEY_ID: AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey,
      AWS_SESSION_TOKEN: AWS.sessionToken,
      AWS_REGION: AWS.region,
      AWS_ENDPOINT_URL_BEDROCK_RUNTIME: mocks.bedrock.url,
    })
  }
  if (mocks.gemini) Object.assign(secrets, { GEMINI_API_KEY: 'gemini-test-key', GEMINI_BASE_URL: mocks.gemini.url })
  if (mocks.azure) {
    Object.assign(secrets, {
      AZURE_OPENAI_ENDPOINT: `${mocks.azure.url}/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21`,
      AZURE_OPENAI_API_KEY: 'azure-test-key',
    })
  }
  return { ...mocks, secrets, close: () => Promise.all(Object.values(mocks).map((m) => m.close())) }
}
