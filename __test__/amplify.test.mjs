// The amplify drop-in contract (shared/AMPLIFY_CONTRACT.md): lines written, text returned,
// usage once per request under the caller's requestId, endStream, concurrency, isKilled.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { configure, callLiteLLM, getLiteLLMServerStatus, initPythonProcess, shutdownLiteLLMServer } from '../index.mjs'
import { startMockOpenAI } from './helpers/mock-openai.mjs'
import { Recorder, userText } from './helpers/util.mjs'

let server
let usage = []
before(async () => {
  server = await startMockOpenAI()
  configure({ secrets: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: server.url }, onUsage: (...a) => usage.push(a), isKilled: undefined })
})
after(() => server.close())

const openaiModel = { id: 'gpt-4o', name: 'GPT-4o', provider: 'OpenAI', supportsSystemPrompts: true }
const ask = (content, extra = {}) => ({ messages: [{ role: 'user', content }], ...extra })

test('text deltas, end marker and the whole text; usage under options.requestId', async () => {
  usage = []
  const out = new Recorder()
  const text = await callLiteLLM(ask('hello from amplify', { options: { requestId: 'r-1' } }), openaiModel, { user: 'u1' }, out, [], true)
  assert.equal(text, 'hello from amplify')
  const events = out.events()
  assert.equal(userText(events), text)
  assert.deepEqual(events.at(-1), { s: 0, type: 'end' })
  assert.equal(usage.length, 1)
  const [account, requestId, , input, output, cached, details] = usage[0]
  assert.deepEqual(account, { user: 'u1' })
  assert.equal(requestId, 'r-1')
  // The mock reports 2 cached tokens: they are billed at the cached rate, not also as input.
  assert.equal(details.prompt_tokens, input + cached)
  assert.equal(cached, 2)
  assert.equal(output, 3)
  assert.deepEqual(details.prompt_tokens_details, { cached_tokens: 2 })
})

test('streamToUser=false writes no text and no end marker, but ends and returns the text', async () => {
  const out = new Recorder()
  const text = await callLiteLLM(ask('quiet answer'), openaiModel, { user: 'u' }, out)
  assert.equal(text, 'quiet answer')
  assert.equal(out.text, '')
  assert.ok(out.writableEnded)
})

test('endStream=false leaves the stream open for the next context', async () => {
  const out = new Recorder()
  await callLiteLLM(ask('part one'), openaiModel, { user: 'u' }, out, [], true, { endStream: false })
  assert.ok(!out.writableEnded)
  await callLiteLLM(ask('part two'), openaiModel, { user: 'u' }, out, [], true)
  assert.ok(out.writableEnded)
  assert.equal(userText(out.events()), 'part onepart two')
})

test('request preparation reaches the provider: system prompts, documents, defaults, tools', async () => {
  const out = new Recorder()
  const model = { ...openaiModel, supportsSystemPrompts: false, systemPrompt: 'Answer briefly.' }
  await callLiteLLM(
    {
      messages: [{ role: 'system', content: 'You help.' }, { role: 'user', content: '' }, { role: 'user', content: 'question' }],
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }],
      tool_choice: 'auto',
      options: { requestId: 'r-2' },
    },
    model,
    { user: 'u' },
    out,
    [{ name: 'notes.txt', content: 'the notes' }],
    true,
  )
  const body = server.requests.at(-1).body
  assert.deepEqual(body.messages.map((m) => m.role), ['user', 'user', 'user'])
  assert.equal(body.messages[0].content, 'You help.\nAnswer briefly.')
  assert.equal(body.messages[1].content, 'Here are the attached documents to reference:\n\n--- notes.txt ---\nthe notes')
  assert.equal(body.tools[0].function.name, 'lookup', 'tools reach the model')
  assert.equal(body.tool_choice, 'auto')
  assert.equal(body.max_tokens, 1000)
  const status = out.events()[0]
  assert.equal(status.s, 'meta')
  assert.equal(status.st.id, 'datasources')
})

test('reasoning deltas become Thinking Details status events', async () => {
  const out = new Recorder()
  const text = await callLiteLLM(ask('why?'), { id: 'mock/reasoning' }, { user: 'u' }, out, [], true)
  assert.equal(text, 'why?')
  const thinking = out.events().filter((e) => e.s === 'meta' && e.st.summary === 'Thinking Details:')
  assert.equal(thinking.map((e) => e.st.message).join(''), 'Thinking about: why?')
  assert.equal(thinking[0].st.icon, 'bolt')
  assert.equal(thinking[0].st.inProgress, true)
})

test('200 concurrent streams each get their own text and exactly one usage record', async () => {
  usage = []
  const n = 200
  const outs = Array.from({ length: n }, () => new Recorder())
  const texts = await Promise.all(
    outs.map((out, i) => callLiteLLM(ask(`stream number ${i} says ${'word '.repeat(i % 7)}done`, { options: { requestId: `c-${i}` } }), openaiModel, { user: `u${i}` }, out, [], true)),
  )
  for (let i = 0; i < n; i++) {
    const want = `stream number ${i} says ${'word '.repeat(i % 7)}done`
    assert.equal(texts[i], want)
    assert.equal(userText(outs[i].events()), want)
  }
  assert.equal(usage.length, n)
  const ids = usage.map((u) => u[1]).sort()
  assert.deepEqual(ids, Array.from({ length: n }, (_, i) => `c-${i}`).sort())
  for (const [account, requestId] of usage) assert.equal(account.user, `u${requestId.slice(2)}`)
})

test('backpressure: a slow Writable still receives every byte', async () => {
  const out = new Recorder({ highWaterMark: 16 })
  const orig = out._write.bind(out)
  out._write = (c, e, cb) => setTimeout(() => orig(c, e, cb), 1)
  const words = Array.from({ length: 300 }, (_, i) => `w${i}`).join(' ')
  const text = await callLiteLLM(ask(words), openaiModel, { user: 'u' }, out, [], true)
  assert.equal(text, words)
  assert.equal(userText(out.events()), words)
})

test('isKilled cancels the request and it rejects with the cancellation error', async () => {
  usage = []
  const calls = []
  configure({ isKilled: async (account, requestId) => { calls.push([account.user, requestId]); return calls.length >= 2 }, killPollMs: 20 })
  try {
    const out = new Recorder()
    await assert.rejects(
      callLiteLLM(ask('scenario:slow:10', { options: { requestId: 'kill-me' } }), openaiModel, { user: 'k' }, out, [], true),
      (e) => e.code === 'cancelled' && e.message === 'Request cancelled by user',
    )
    assert.deepEqual(calls[0], ['k', 'kill-me'])
    assert.equal(usage.length, 1)
    assert.equal(usage[0][6].estimated, true)
    assert.ok(out.writableEnded)
  } finally {
    configure({ isKilled: null })
  }
})

test('sidecar lifecycle calls stay cheap and compatible', async () => {
  const s = getLiteLLMServerStatus()
  assert.equal(s.ready, true)
  assert.equal(s.processId, process.pid)
  assert.equal(typeof s.activeRequests, 'number')
  assert.ok(await initPythonProcess())
  assert.equal(shutdownLiteLLMServer(), undefined)
})

test('a PassThrough (as promptForData used) works as the response stream', async () => {
  const text = await callLiteLLM(ask('through'), openaiModel, { user: 'u' }, new PassThrough(), [], false)
  assert.equal(text, 'through')
})
