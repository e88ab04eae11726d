// Hostile upstreams: each misbehaviour ends the one call with a typed error, the process stays
// up, memory stays bounded (RSS measured), sockets are closed, and no key follows a redirect to
// another origin.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { configure, completion, stream } from '../index.mjs'
import { startHostile } from './helpers/hostile.mjs'

let h
let other
const otherSeen = []
const usage = []
before(async () => {
  h = await startHostile()
  other = http.createServer((req, res) => {
    otherSeen.push(req.headers)
    res.writeHead(200).end('{}')
  })
  await new Promise((r) => other.listen(0, '127.0.0.1', r))
  h.setOther(other.address().port)
  // Small bounds so the tests are quick; the defaults (64 MiB, 16 MiB) behave the same way.
  configure({
    limits: { maxResponseBytes: 8 << 20, maxEventBytes: 1 << 20 },
    secrets: { OPENAI_API_KEY: 'sk-hostile-test-key' },
    onUsage: (...a) => usage.push(a),
  })
})
after(async () => {
  await h.close()
  other.close()
})

const ask = (path, extra = {}) => ({ model: 'openai/m', messages: [{ role: 'user', content: 'hi' }], api_base: h.url(path), api_key: 'sk-callers-key', max_retries: 0, ...extra })

async function drain(it) {
  const out = []
  for await (const c of it) out.push(c)
  return out
}

const rssMb = () => process.memoryUsage().rss / (1 << 20)

test('a streamed choice index of 4294967295 is a decode error, not an allocation', async () => {
  await assert.rejects(drain(stream(ask('/huge-index'))), (e) => e.code === 'decode' && /index/.test(e.message))
})

test('a non-streamed body over the cap is a decode error, memory bounded', async () => {
  const before = rssMb()
  await assert.rejects(completion(ask('/huge-body')), (e) => e.code === 'decode' && /exceeds/.test(e.message))
  assert.ok(rssMb() - before < 200, `RSS grew ${rssMb() - before} MB`)
})

test('an endless run of data lines without a blank line is bounded', async () => {
  const before = rssMb()
  await assert.rejects(drain(stream(ask('/endless-data'))), (e) => e.code === 'decode' && /exceeds/.test(e.message))
  assert.ok(rssMb() - before < 200, `RSS grew ${rssMb() - before} MB`)
})

test('an unterminated line is bounded', async () => {
  await assert.rejects(drain(stream(ask('/long-line'))), (e) => e.code === 'decode')
})

test('a stream trickled a byte at a time still decodes', async () => {
  const chunks = await drain(stream(ask('/trickle')))
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 't0 ')
})

test('a stream that never ends is cut at the deadline, and usage is still reported', async () => {
  usage.length = 0
  const started = Date.now()
  await assert.rejects(drain(stream(ask('/slow-forever', { timeout: 0.4 }))), (e) => e.code === 'timeout')
  assert.ok(Date.now() - started < 3000)
  assert.equal(usage.length, 1)
  assert.equal(usage[0][6].estimated, true)
})

test('an absurd Retry-After is capped: a typed rate_limit error, no crash', async () => {
  await assert.rejects(completion(ask('/retry-after-absurd', { max_retries: 3 })), (e) => e.code === 'rate_limit' && e.retryAfterMs <= 86_400_000)
})

test('a redirect to another origin is not followed: no key leaves for it', async () => {
  await assert.rejects(completion(ask('/redirect-away')), (e) => /redirect/.test(e.message))
  assert.equal(otherSeen.length, 0, 'the other origin saw nothing')
  // The same origin is followed.
  const r = await completion(ask('/redirect-same'))
  assert.equal(r.choices[0].message.content, 'fine')
})

test('error messages carry no query string or user info', async () => {
  const e = await completion(ask('/huge-index', { api_base: 'http://user:pw@127.0.0.1:9/v1?key=SECRET' })).catch((x) => x)
  assert.ok(!/SECRET|pw@/.test(e.message), e.message)
})

test('after all of it, no answer is still being sent to llmux (only idle pooled connections remain)', async () => {
  const deadline = Date.now() + 2000
  while (h.activeResponses() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  assert.equal(h.activeResponses(), 0)
  assert.ok(h.openSockets() <= 2, `${h.openSockets()} sockets`)
})
