// A loopback OpenAI Chat Completions server for the tests. It is as strict as the real API on
// what these tests send (auth, JSON body, roles, max_tokens on reasoning models), replays
// recorded fixtures byte for byte, and can misbehave on demand.
//
// The scenario comes from the `x-mock-scenario` header, else a last user message that starts
// with "scenario:", else it echoes the last user message word by word.
import http from 'node:http'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
export const fixturesDir = process.env.LLMUX_FIXTURES ?? path.resolve(here, '../../../shared/fixtures')
export const haveFixtures = fs.existsSync(fixturesDir)
export const readFixture = (name) => fs.readFileSync(path.join(fixturesDir, name))

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function'])
const isReasoning = (m) => /^o\d/.test(m) || (/^gpt-5/.test(m) && !/^gpt-5-chat/.test(m))

function sendJson(res, status, body, headers = {}) {
  const text = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(text)
}

const apiError = (message, type, param, code) => ({ error: { message, type, param, code } })

/** Starts the server; resolves with { url, requests, close() }. */
export async function startMockOpenAI() {
  const requests = []
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => handle(req, res, Buffer.concat(chunks)))
  })
  const sockets = new Set()
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })

  function handle(req, res, raw) {
    const record = { method: req.method, url: req.url, headers: req.headers, body: null, scenario: null, closedAt: null, finished: false }
    requests.push(record)
    res.on('close', () => {
      record.closedAt = performance.now()
      record.finished = res.writableFinished
    })
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      return sendJson(res, 404, apiError(`Invalid URL (${req.method} ${req.url})`, 'invalid_request_error', null, null))
    }
    const auth = req.headers.authorization ?? ''
    if (!auth.startsWith('Bearer ') || auth === 'Bearer bad-key') {
      if (haveFixtures) {
        const rec = JSON.parse(readFixture('openai/error.401.invalid-api-key.session-record.json'))
        return sendJson(res, 401, rec.Entries[0].ResponseBody)
      }
      return sendJson(res, 401, apiError('Incorrect API key provided', 'invalid_request_error', null, 'invalid_api_key'))
    }
    let body
    try {
      body = JSON.parse(raw.toString('utf8'))
    } catch {
      return sendJson(res, 400, apiError('We could not parse the JSON body of your request.', 'invalid_request_error', null, null))
    }
    record.body = body
    if (typeof body.model !== 'string' || !body.model) {
      return sendJson(res, 400, apiError('you must provide a model parameter', 'invalid_request_error', null, null))
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return sendJson(res, 400, apiError("Invalid 'messages': empty array.", 'invalid_request_error', 'messages', 'empty_array'))
    }
    for (const [i, m] of body.messages.entries()) {
      if (!ROLES.has(m.role)) {
        return sendJson(res, 400, apiError(`Invalid value: '${m.role}'.`, 'invalid_request_error', `messages[${i}].role`, 'invalid_value'))
      }
    }
    if (isReasoning(body.model) && body.max_tokens !== undefined) {
      return sendJson(res, 400, haveFixtures ? readFixture('openai/error.400.unsupported-parameter.json') : apiError("Unsupported parameter: 'max_tokens'", 'invalid_request_error', 'max_tokens', 'unsupported_parameter'))
    }
    // Reasoning models take sampling settings only at their defaults (OpenAI reasoning guide;
    // the API's `unsupported_value` error).
    for (const k of ['temperature', 'top_p']) {
      if (isReasoning(body.model) && body[k] !== undefined && body[k] !== 1) {
        return sendJson(res, 400, apiError(`Unsupported value: '${k}' does not support ${body[k]} with this model. Only the default (1) value is supported.`, 'invalid_request_error', k, 'unsupported_value'))
      }
    }
    if (body.stream_options !== undefined && body.stream !== true) {
      return sendJson(res, 400, apiError("The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'invalid_request_error', 'stream_options', null))
    }
    const lastUser = [...body.messages].reverse().find((m) => m.role === 'user')
    const lastText = typeof lastUser?.content === 'string' ? lastUser.content : (lastUser?.content ?? []).map((p) => p.text ?? '').join('')
    const scenario = req.headers['x-mock-scenario'] ?? (lastText.startsWith('scenario:') ? lastText.slice(9) : 'echo')
    record.scenario = scenario
    run(scenario, body, lastText, req, res)
  }

  function run(scenario, body, lastText, req, res) {
    const [name, arg] = scenario.split(/:(.*)/s)
    const stream = body.stream === true
    const includeUsage = body.stream_options?.include_usage === true
    const last = body.messages.at(-1)
    if (last.role === 'tool') {
      // The call being answered must exist, by id, in the assistant turn before.
      const asked = body.messages.flatMap((m) => m.tool_calls ?? []).some((t) => t.id === last.tool_call_id)
      if (!asked) return sendJson(res, 400, apiError(`Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.`, 'invalid_request_error', 'messages', null))
      return echo(body, `tool said: ${last.content}`, stream, includeUsage, res)
    }
    const forced = body.tool_choice?.function?.name
    if (forced || (body.tools?.length && lastText.startsWith('call '))) {
      const fn = forced ?? body.tools[0].function.name
      const args = lastText.startsWith('json:') ? lastText.slice(5) : lastText.startsWith('call ') ? lastText.slice(5) : '{}'
      return toolCall(body, fn, args, stream, includeUsage, res)
    }
    const rf = body.response_format
    if (rf?.type === 'json_schema') {
      if (rf.json_schema.strict && !isStrict(rf.json_schema.schema)) {
        return sendJson(res, 400, apiError("Invalid schema for response_format: In context=(), 'additionalProperties' is required to be supplied and to be false.", 'invalid_request_error', 'response_format', 'invalid_json_schema'))
      }
      return echo(body, lastText.startsWith('json:') ? lastText.slice(5) : '{}', stream, includeUsage, res)
    }
    switch (name) {
      case 'fixture': {
        const bytes = readFixture(arg)
        if (arg.endsWith('.sse')) {
          res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' })
          return res.end(bytes)
        }
        return sendJson(res, 200, bytes)
      }
      case 'status': {
        const status = Number(arg)
        const headers = status === 429 ? { 'retry-after-ms': '10' } : {}
        const type = status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'server_error' : 'invalid_request_error'
        return sendJson(res, status, apiError(`mock failure ${status}`, type, null, status === 429 ? 'rate_limit_exceeded' : null), headers)
      }
      case 'hang':
        return // never answers
      case 'reset-mid-stream':
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        res.write(chunk(body.model, { role: 'assistant', content: 'partial ' }))
        return setTimeout(() => req.socket.destroy(), 20)
      case 'malformed':
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        res.write(chunk(body.model, { role: 'assistant', content: 'ok ' }))
        return res.end('data: {"id":"x","choices":[{"delta":{"content":\n\n')
      case 'slow':
        return slow(body, res, Number(arg) || 20)
      default:
        return echo(body, lastText, stream, includeUsage, res)
    }
  }

  let seq = 0
  function chunk(model, delta, finish = null, extra = {}) {
    return `data: ${JSON.stringify({ id: 'chatcmpl-mock', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra })}\n\n`
  }

  function usageOf(body, text) {
    const prompt = body.messages.reduce((n, m) => n + 3 + String(typeof m.content === 'string' ? m.content : '').split(/\s+/).filter(Boolean).length, 3)
    return { prompt_tokens: prompt, completion_tokens: text.split(/\s+/).filter(Boolean).length, total_tokens: 0, prompt_tokens_details: { cached_tokens: 2 }, completion_tokens_details: { reasoning_tokens: 0 } }
  }

  function echo(body, text, stream, includeUsage, res) {
    const id = `chatcmpl-${++seq}`
    const usage = usageOf(body, text)
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
    if (!stream) {
      return sendJson(res, 200, { id, object: 'chat.completion', created: 1, model: body.model, choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, finish_reason: 'stop', logprobs: null }], usage })
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    let out = chunk(body.model, { role: 'assistant', content: '' })
    for (const piece of text.match(/\s*\S+/g) ?? []) out += chunk(body.model, { content: piece })
    out += chunk(body.model, {}, 'stop')
    if (includeUsage) out += `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: body.model, choices: [], usage })}\n\n`
    res.end(out + 'data: [DONE]\n\n')
  }

  function isStrict(schema) {
    if (schema && typeof schema === 'object') {
      if (schema.type === 'object') {
        const keys = Object.keys(schema.properties ?? {})
        if (schema.additionalProperties !== false) return false
        if (keys.length !== (schema.required ?? []).length) return false
      }
      return Object.values(schema).every((v) => typeof v !== 'object' || isStrict(v))
    }
    return true
  }

  function toolCall(body, name, args, stream, includeUsage, res) {
    const id = `call_mock_${++seq}`
    const usage = { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 }
    if (!stream) {
      return sendJson(res, 200, { id: 'chatcmpl-tool', object: 'chat.completion', created: 1, model: body.model, choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name, arguments: args } }] }, finish_reason: 'tool_calls' }], usage })
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    const half = Math.floor(args.length / 2)
    let out = chunk(body.model, { role: 'assistant', content: null, tool_calls: [{ index: 0, id, type: 'function', function: { name, arguments: '' } }] })
    out += chunk(body.model, { tool_calls: [{ index: 0, function: { arguments: args.slice(0, half) } }] })
    out += chunk(body.model, { tool_calls: [{ index: 0, function: { arguments: args.slice(half) } }] })
    out += chunk(body.model, {}, 'tool_calls')
    if (includeUsage) out += `data: ${JSON.stringify({ id: 'chatcmpl-tool', object: 'chat.completion.chunk', created: 1, model: body.model, choices: [], usage })}\n\n`
    res.end(out + 'data: [DONE]\n\n')
  }

  function slow(body, res, everyMs) {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write(chunk(body.model, { role: 'assistant', content: '' }))
    let n = 0
    const timer = setInterval(() => {
      if (res.destroyed || n >= 500) {
        clearInterval(timer)
        if (!res.destroyed) res.end('data: [DONE]\n\n')
        return
      }
      res.write(chunk(body.model, { content: `word${n++} ` }))
    }, everyMs)
    res.on('close', () => clearInterval(timer))
  }

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close() {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(resolve))
    },
  }
}
