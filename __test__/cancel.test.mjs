// Cancellation stops the upstream request at once, and the usage the provider will still
// bill is reported exactly once, counted locally and marked estimated.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { configure, callLiteLLM, stream, completion, LlmuxError } from '../index.mjs'
import { startMockOpenAI } from './helpers/mock-openai.mjs'
import { Recorder, userText } from './helpers/util.mjs'

let server
let usage = []
before(async () => {
  server = await startMockOpenAI()
  configure({ secrets: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: server.url }, onUsage: (...a) => usage.push(a) })
})
after(() => server.close())

const model = { id: 'gpt-4o', provider: 'OpenAI' }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function waitFor(pred, ms = 2000) {
  const end = Date.now() + ms
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await sleep(2)
  }
}

test('aborting callLiteLLM mid-stream closes the upstream connection within 100 ms', async () => {
  usage = []
  const ac = new AbortController()
  const out = new Recorder()
  const p = callLiteLLM({ messages: [{ role: 'user', content: 'scenario:slow:5' }], options: { requestId: 'abort-1' } }, model, { user: 'u' }, out, [], true, { signal: ac.signal })
  await waitFor(() => userText(out.events()).split(' ').length > 5)
  const req = server.requests.at(-1)
  const abortedAt = performance.now()
  ac.abort()
  await assert.rejects(p, (e) => e.code === 'cancelled' && e instanceof LlmuxError && e.name === 'APIUserAbortError')
  await waitFor(() => req.closedAt !== null, 1000)
  const ms = req.closedAt - abortedAt
  // The goal is 100 ms; the margin is for a loaded CI machine (two cores, builds running).
  assert.ok(ms < 250, `upstream closed ${ms.toFixed(1)} ms after abort`)
  assert.equal(req.finished, false, 'the server never finished: the stream was cut')
  assert.equal(usage.length, 1, 'usage reported exactly once')
  const [, requestId, , input, output, cached, details] = usage[0]
  assert.equal(requestId, 'abort-1')
  assert.equal(details.estimated, true)
  assert.ok(input > 0, 'prompt counted locally')
  assert.ok(output >= 5, `output counted from the text received (${output})`)
  assert.equal(cached, 0)
  await sleep(50)
  assert.equal(usage.length, 1, 'no late second record')
})

test('breaking out of a stream() loop cancels upstream and reports usage once', async () => {
  usage = []
  let n = 0
  for await (const chunk of stream({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'scenario:slow:5' }] })) {
    if (chunk.choices[0]?.delta?.content && ++n === 3) break
  }
  const req = server.requests.at(-1)
  await waitFor(() => req.closedAt !== null, 1000)
  assert.equal(req.finished, false)
  assert.equal(usage.length, 1)
  assert.equal(usage[0][6].estimated, true)
})

test('an AbortSignal stops stream() with a cancelled error', async () => {
  const ac = new AbortController()
  const got = []
  await assert.rejects(async () => {
    for await (const chunk of stream({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'scenario:slow:5' }], signal: ac.signal })) {
      got.push(chunk)
      if (got.length === 3) ac.abort()
    }
  }, (e) => e.code === 'cancelled')
  assert.ok(got.length >= 3)
})

test('an already-aborted signal sends nothing', async () => {
  const before = server.requests.length
  const ac = new AbortController()
  ac.abort()
  await assert.rejects(completion({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }], signal: ac.signal }), (e) => e.code === 'cancelled')
  await assert.rejects(callLiteLLM({ messages: [{ role: 'user', content: 'x' }] }, model, {}, new Recorder(), [], true, { signal: ac.signal }), (e) => e.code === 'cancelled')
  assert.equal(server.requests.length, before)
})

test('aborting a non-streamed completion drops the request at once', async () => {
  usage = []
  const ac = new AbortController()
  const p = completion({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'scenario:hang' }], signal: ac.signal })
  await waitFor(() => server.requests.at(-1)?.scenario === 'hang')
  const req = server.requests.at(-1)
  const t0 = performance.now()
  ac.abort()
  await assert.rejects(p, (e) => e.code === 'cancelled')
  await waitFor(() => req.closedAt !== null, 1000)
  assert.ok(req.closedAt - t0 < 250, `${(req.closedAt - t0).toFixed(1)} ms`)
  assert.equal(usage.length, 1)
  assert.equal(usage[0][6].estimated, true)
})

test('a response stream closed by the client cancels the upstream request', async () => {
  const out = new Recorder()
  const p = callLiteLLM({ messages: [{ role: 'user', content: 'scenario:slow:5' }] }, model, { user: 'u' }, out, [], true)
  await waitFor(() => out.text.length > 0)
  const req = server.requests.at(-1)
  out.destroy()
  await assert.rejects(p, (e) => e.code === 'cancelled')
  await waitFor(() => req.closedAt !== null, 1000)
  assert.equal(req.finished, false)
})
