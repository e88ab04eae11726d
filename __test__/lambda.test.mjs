// The Lambda example under a small local emulation of the streaming runtime: a function URL in
// RESPONSE_STREAM mode pipes the handler's stream to the HTTP client as it is written. The first
// bytes must reach the client before the model has finished.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { PassThrough } from 'node:stream'
import { createHandler } from '../examples/lambda/handler.mjs'
import { configure } from '../index.mjs'

/** What the Lambda runtime provides as the `awslambda` global, for streamed responses. */
function emulatedRuntime() {
  return {
    streamifyResponse: (fn) => fn,
    HttpResponseStream: {
      // The runtime sends the metadata as a JSON prelude, then 8 NUL bytes, then the body.
      from(stream, metadata) {
        stream.write(JSON.stringify(metadata))
        stream.write(Buffer.alloc(8))
        return stream
      },
    },
  }
}

/** A function URL: each request invokes the handler with a stream piped to the client. */
function functionUrl(handler) {
  return http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', async () => {
      const out = new PassThrough()
      let prelude = Buffer.alloc(0)
      let started = false
      out.on('data', (chunk) => {
        if (started) return res.write(chunk)
        prelude = Buffer.concat([prelude, chunk])
        const sep = prelude.indexOf(Buffer.alloc(8))
        if (sep < 0) return
        const meta = JSON.parse(prelude.subarray(0, sep).toString())
        res.writeHead(meta.statusCode, meta.headers)
        started = true
        const rest = prelude.subarray(sep + 8)
        if (rest.length) res.write(rest)
      })
      out.on('end', () => res.end())
      await handler({ body }, out, { getRemainingTimeInMillis: () => 60_000 })
    })
  })
}

test('the Lambda handler streams amplify lines; the first bytes arrive before the model finishes', async () => {
  const usage = []
  const handler = createHandler(
    { secrets: async () => ({}), recordUsage: (...a) => usage.push(a), isKilled: async () => false },
    emulatedRuntime(),
  )
  const server = functionUrl(handler)
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  try {
    const words = Array.from({ length: 12 }, (_, i) => `w${i}`).join(' ')
    const payload = JSON.stringify({
      // mock/echo with 50 ms between chunks: the whole answer takes over half a second.
      chatRequest: { messages: [{ role: 'user', content: words }], options: { requestId: 'lambda-1' }, mock_delay_ms: 50 },
      model: 'mock/echo',
      account: { user: 'lambda-user', accessToken: 'secret' },
    })
    const t0 = performance.now()
    const { firstByteMs, endMs, status, type, text } = await new Promise((resolve, reject) => {
      const req = http.request(`http://127.0.0.1:${server.address().port}/`, { method: 'POST' }, (res) => {
        let first = null
        let text = ''
        res.on('data', (d) => {
          first ??= performance.now() - t0
          text += d
        })
        res.on('end', () => resolve({ firstByteMs: first, endMs: performance.now() - t0, status: res.statusCode, type: res.headers['content-type'], text }))
      })
      req.on('error', reject)
      req.end(payload)
    })
    assert.equal(status, 200)
    assert.equal(type, 'text/event-stream')
    const events = text.split('\n\n').filter(Boolean).map((l) => JSON.parse(l.slice(6)))
    assert.equal(events.filter((e) => e.s === 0 && e.d).map((e) => e.d).join(''), words)
    assert.deepEqual(events.at(-1), { s: 0, type: 'end' })
    assert.ok(endMs > 500, `the model took ${endMs} ms`)
    assert.ok(firstByteMs < endMs - 300, `first bytes at ${firstByteMs.toFixed(0)} ms, end at ${endMs.toFixed(0)} ms`)
    assert.equal(usage.length, 1)
    assert.equal(usage[0][1], 'lambda-1')
  } finally {
    server.close()
    configure({ secrets: null, onUsage: null, isKilled: null })
  }
})
