// A fault-injecting OpenAI-compatible server for the router tests. Each deployment gets its own
// base URL, `${url}/<name>/<behaviour>/v1`, and the server counts the requests per name:
//   ok            echo the last user message (streamed or not), with usage
//   429 | 500 | 503 | 529   that status (429 with retry-after-ms: 10)
//   reset-headers send the headers, then drop the connection
//   reset-mid     send two chunks, then drop the connection
//   hang          never answer
//   trickle       a chunk every 100 ms
//   late          answers (whole) after 3 s: slower than any bound a test sets for the others
//   flaky         500 half the time, else ok
//   filter        400 content_filter        ctx   400 context_length_exceeded
//   who           answers `<user>|<last message>|<n>` (n counts the server's answers): whom an
//                 answer was made for, and which one it was
import http from 'node:http'

export async function startFaultServer() {
  const hits = {}
  const requests = []
  const sockets = new Set()
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const m = /^\/([^/]+)\/([^/]+)\/v1\/chat\/completions$/.exec(req.url)
      if (!m) {
        res.writeHead(404)
        return res.end()
      }
      const [, name, behaviour] = m
      hits[name] = (hits[name] ?? 0) + 1
      const body = JSON.parse(Buffer.concat(chunks).toString())
      requests.push({ name, headers: req.headers, body })
      if (requests.length > 1000) requests.shift()
      serve(behaviour, body, req, res)
    })
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  const fail = (res, status, code, message, headers = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(JSON.stringify({ error: { message, type: code, param: null, code } }))
  }
  const chunk = (model, delta, finish = null) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-f', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
  function ok(body, res) {
    const last = body.messages.at(-1)
    const text = typeof last.content === 'string' ? last.content : ''
    const words = text.match(/\s*\S+/g) ?? []
    const usage = { prompt_tokens: 10, completion_tokens: words.length, total_tokens: 10 + words.length, prompt_tokens_details: { cached_tokens: 0 } }
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ id: 'chatcmpl-f', object: 'chat.completion', created: 1, model: body.model, choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }], usage }))
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    let out = chunk(body.model, { role: 'assistant', content: '' })
    for (const w of words) out += chunk(body.model, { content: w })
    out += chunk(body.model, {}, 'stop')
    out += `data: ${JSON.stringify({ id: 'chatcmpl-f', object: 'chat.completion.chunk', created: 1, model: body.model, choices: [], usage })}\n\n`
    res.end(out + 'data: [DONE]\n\n')
  }
  let made = 0
  function serve(behaviour, body, req, res) {
    switch (behaviour) {
      case 'ok':
        return ok(body, res)
      case 'who': {
        const text = `${body.user ?? '-'}|${body.messages.at(-1).content}|${++made}`
        res.writeHead(200, { 'content-type': 'application/json' })
        const usage = { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 }
        return res.end(JSON.stringify({ id: `chatcmpl-${made}`, object: 'chat.completion', created: 1, model: body.model, choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }], usage }))
      }
      case '429':
        return fail(res, 429, 'rate_limit_exceeded', 'slow down', { 'retry-after-ms': '10' })
      case '500':
      case '503':
      case '529':
        return fail(res, Number(behaviour), 'server_error', `mock ${behaviour}`)
      case 'flaky':
        return Math.random() < 0.5 ? fail(res, 500, 'server_error', 'flaky') : ok(body, res)
      case 'filter':
        return fail(res, 400, 'content_filter', 'The response was filtered')
      case 'ctx':
        return fail(res, 400, 'context_length_exceeded', "This model's maximum context length is 10 tokens")
      case 'reset-headers':
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        res.flushHeaders()
        return setTimeout(() => req.socket.destroy(), 10)
      case 'reset-mid':
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        res.write(chunk(body.model, { role: 'assistant', content: 'one ' }))
        res.write(chunk(body.model, { content: 'two ' }))
        return setTimeout(() => req.socket.destroy(), 10)
      case 'hang':
        return
      case 'late':
        return setTimeout(() => !res.destroyed && ok(body, res), 3000)
      case 'trickle': {
        if (!body.stream) return setTimeout(() => ok(body, res), 300)
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        let n = 0
        const t = setInterval(() => {
          if (n++ >= 5 || res.destroyed) {
            clearInterval(t)
            return res.end(chunk(body.model, {}, 'stop') + 'data: [DONE]\n\n')
          }
          res.write(chunk(body.model, { content: `t${n} ` }))
        }, 100)
        return
      }
      default:
        res.writeHead(404)
        res.end()
    }
  }
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${server.address().port}`
  return {
    hits,
    /** The last requests (name, headers, body), newest last. */
    requests,
    /** A deployment entry for a LiteLLM model_list. */
    deployment(group, name, behaviour, params = {}, modelInfo = undefined) {
      const d = { model_name: group, litellm_params: { model: `openai/${name}`, api_base: `${url}/${name}/${behaviour}/v1`, api_key: 'sk-fault', ...params } }
      if (modelInfo) d.model_info = modelInfo
      return d
    },
    reset() {
      for (const k of Object.keys(hits)) delete hits[k]
    },
    close() {
      for (const s of sockets) s.destroy()
      return new Promise((r) => server.close(r))
    },
  }
}
