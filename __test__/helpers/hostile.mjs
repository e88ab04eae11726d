// A hostile upstream on loopback: each path is one misbehaviour an OpenAI-compatible server (or
// something pretending to be one) can show. It counts open sockets, so tests can see that llmux
// closed what it opened.
import http from 'node:http'

const chunk = (i, extra = {}) => `data: ${JSON.stringify({ id: 'h', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: `t${i} ` }, ...extra }] })}\n\n`

export async function startHostile() {
  const sockets = new Set()
  const seen = []
  let active = 0
  const srv = http.createServer((req, res) => {
    active++
    res.on('close', () => active--)
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      seen.push({ url: req.url, headers: req.headers })
      const path = req.url.replace(/\/chat\/completions.*$/, '').replace(/^\/v1/, '') || '/'
      const sse = () => res.writeHead(200, { 'content-type': 'text/event-stream' })
      switch (path) {
        case '/huge-index':
          sse()
          res.end(`data: ${JSON.stringify({ id: 'h', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 4294967295, delta: { content: 'x' } }] })}\n\n`)
          break
        case '/huge-body': {
          // A non-streamed body far over the cap, sent as fast as the socket takes it.
          res.writeHead(200, { 'content-type': 'application/json' })
          const block = Buffer.alloc(1 << 20, 'a')
          let sent = 0
          const pump = () => {
            while (sent < 256 && !res.destroyed) {
              sent++
              if (!res.write(block)) return res.once('drain', pump)
            }
            res.end()
          }
          pump()
          break
        }
        case '/endless-data': {
          // data: lines for ever, never the blank line that ends an event.
          sse()
          const line = `data: ${'y'.repeat(64 * 1024)}\n`
          const pump = () => {
            while (!res.destroyed) if (!res.write(line)) return res.once('drain', pump)
          }
          pump()
          break
        }
        case '/long-line': {
          // One line, never terminated, a megabyte at a time.
          sse()
          res.write('data: ')
          const block = 'z'.repeat(1 << 20)
          const pump = () => {
            while (!res.destroyed) if (!res.write(block)) return res.once('drain', pump)
          }
          pump()
          break
        }
        case '/trickle': {
          // A chunk a byte at a time, 5 ms apart.
          sse()
          const bytes = Buffer.from(chunk(0, { finish_reason: 'stop' }) + 'data: [DONE]\n\n')
          let i = 0
          const t = setInterval(() => {
            if (res.destroyed || i >= bytes.length) {
              clearInterval(t)
              return res.end()
            }
            res.write(bytes.subarray(i, i + 1))
            i++
          }, 1)
          break
        }
        case '/stream': {
          // A normal finite stream: 20 chunks, usage, [DONE].
          sse()
          let out = ''
          for (let i = 0; i < 20; i++) out += chunk(i)
          out += `data: ${JSON.stringify({ id: 'h', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 20, total_tokens: 25 } })}\n\n`
          res.end(out + 'data: [DONE]\n\n')
          break
        }
        case '/slow-forever': {
          // A chunk every 50 ms, never an end: only the client can stop it.
          sse()
          let i = 0
          res.write(chunk(i++))
          const t = setInterval(() => {
            if (res.destroyed) return clearInterval(t)
            res.write(chunk(i++))
          }, 50)
          res.on('close', () => clearInterval(t))
          break
        }
        case '/fast-forever': {
          sse()
          let i = 0
          const pump = () => {
            while (!res.destroyed) if (!res.write(chunk(i++))) return res.once('drain', pump)
          }
          pump()
          break
        }
        case '/retry-after-absurd':
          res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1e20', 'retry-after-ms': '1e300' })
          res.end(JSON.stringify({ error: { message: 'slow down', type: 'rate_limit_error', code: 'rate_limit_exceeded' } }))
          break
        case '/redirect-away':
          res.writeHead(307, { location: `http://127.0.0.1:${srv.other}/v1/chat/completions` })
          res.end()
          break
        case '/redirect-same':
          res.writeHead(307, { location: `/v1/ok/chat/completions` })
          res.end()
          break
        case '/ok':
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'fine' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }))
          break
        default:
          res.writeHead(404).end()
      }
    })
  })
  srv.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  const base = `http://127.0.0.1:${srv.address().port}/v1`
  return {
    url: (path) => `${base}${path}`,
    openSockets: () => sockets.size,
    /** Responses still being written: an answer llmux stopped reading must not stay here. */
    activeResponses: () => active,
    seen,
    setOther: (port) => (srv.other = port),
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise((r) => srv.close(r))
    },
  }
}
