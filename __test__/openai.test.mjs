// The OpenAI provider end to end: recorded responses served byte for byte by a loopback
// server, decoded through completion(), stream() and callLiteLLM().
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { configure, completion, stream, callLiteLLM } from '../index.mjs'
import { startMockOpenAI, haveFixtures } from './helpers/mock-openai.mjs'
import { Recorder, userText } from './helpers/util.mjs'

let server
const usage = []
before(async () => {
  server = await startMockOpenAI()
  configure({ secrets: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: server.url }, onUsage: (...a) => usage.push(a) })
})
after(() => server.close())

const skip = haveFixtures ? false : 'shared fixtures absent'
const scenario = (s) => ({ 'x-mock-scenario': s })

async function collect(iter) {
  const chunks = []
  for await (const c of iter) chunks.push(c)
  return chunks
}

test('stream() decodes the recorded text stream with usage', { skip }, async () => {
  const chunks = await collect(stream({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], extra_headers: scenario('fixture:openai/chat-completion.stream.text.include-usage.sse') }))
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')
  assert.equal(text, 'The capital of the UK is London.')
  assert.equal(chunks.at(-2).choices[0].finish_reason, 'stop')
  const last = chunks.at(-1)
  assert.deepEqual(last.choices, [])
  assert.equal(last.usage.prompt_tokens, 78)
  assert.equal(last.usage.completion_tokens, 9)
  assert.equal(chunks[0].object, 'chat.completion.chunk')
  assert.equal(chunks[0].id, 'chatcmpl-Dx0Xq5Xx9rHB2ehcHZCRDsnuymUXc')
  const sent = server.requests.at(-1).body
  assert.equal(sent.stream, true)
  assert.deepEqual(sent.stream_options, { include_usage: true })
  assert.equal(sent.model, 'gpt-4o-mini')
  assert.equal(sent.extra_headers, undefined, 'llmux options are not forwarded')
})

test('stream() passes tool-call deltas through in order', { skip }, async () => {
  const chunks = await collect(stream({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }], extra_headers: scenario('fixture:openai/chat-completion.stream.parallel-tool-calls.include-usage.sse') }))
  const calls = {}
  for (const c of chunks) {
    for (const t of c.choices[0]?.delta?.tool_calls ?? []) {
      calls[t.index] ??= { id: t.id, name: '', args: '' }
      calls[t.index].name += t.function?.name ?? ''
      calls[t.index].args += t.function?.arguments ?? ''
    }
  }
  assert.deepEqual(Object.values(calls).map((c) => c.name), ['get_country', 'get_product_name'])
  assert.equal(calls[0].id, 'call_3rqTYrA6H21AYUaRGP4F66oq')
})

test('completion() returns the recorded ChatCompletion with cached-token usage', { skip }, async () => {
  const before = usage.length
  const res = await completion({ model: 'openai/gpt-5.6-sol', messages: [{ role: 'user', content: 'hi' }], extra_headers: scenario('fixture:openai/chat-completion.nonstream.cached-tokens.json') })
  assert.equal(res.object, 'chat.completion')
  assert.equal(res.choices[0].message.content, 'OK')
  assert.equal(res.usage.prompt_tokens_details.cached_tokens, 4012)
  assert.equal(server.requests.at(-1).body.stream, undefined, 'a non-streamed request does not say stream')
  assert.equal(usage.length, before + 1)
  const [, , model, input, output, cached, details] = usage.at(-1)
  assert.equal(model, 'openai/gpt-5.6-sol')
  assert.deepEqual([input, output, cached], [8, 4, 4012], 'cache reads are billed once, at the cached rate')
  assert.equal(details.prompt_tokens, 4020)
})

test('completion() reads reasoning tokens from the recorded o3-mini answer', { skip }, async () => {
  const res = await completion({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], extra_headers: scenario('fixture:openai/chat-completion.nonstream.reasoning-o3-mini.json') })
  assert.equal(res.usage.completion_tokens_details.reasoning_tokens, 64)
})

test('callLiteLLM() streams a recorded answer in amplify lines', { skip }, async () => {
  const out = new Recorder()
  const before = usage.length
  const text = await callLiteLLM(
    { messages: [{ role: 'user', content: 'scenario:fixture:openai/chat-completion.stream.text.include-usage.sse' }], options: { requestId: 'req-42' } },
    { id: 'gpt-4o-mini', provider: 'OpenAI' },
    { user: 'alice', accessToken: 'secret-token' },
    out,
    [],
    true,
  )
  assert.equal(text, 'The capital of the UK is London.')
  const events = out.events()
  assert.equal(userText(events), text)
  assert.deepEqual(events.at(-1), { s: 0, type: 'end' })
  assert.ok(out.writableEnded)
  assert.equal(usage.length, before + 1)
  const [account, requestId, model, input, output, cached, details] = usage.at(-1)
  assert.equal(account.user, 'alice')
  assert.equal(requestId, 'req-42')
  assert.equal(model.id, 'gpt-4o-mini')
  assert.deepEqual([input, output, cached], [78, 9, 0])
  assert.deepEqual(details.completion_tokens_details, { reasoning_tokens: 0 })
  const sent = server.requests.at(-1)
  assert.equal(sent.body.model, 'gpt-4o-mini')
  assert.ok(!JSON.stringify(sent.body).includes('secret-token'), 'the access token never leaves')
  assert.equal(sent.body.options, undefined, 'amplify bookkeeping is not forwarded')
  assert.equal(sent.body.max_tokens, 1000)
  assert.equal(sent.body.temperature, 1)
})

test('a reasoning model gets max_completion_tokens, as the real API demands', async () => {
  const res = await completion({ model: 'openai/o3-mini', messages: [{ role: 'user', content: 'think' }], max_tokens: 20 })
  assert.equal(res.choices[0].message.content, 'think')
  assert.equal(server.requests.at(-1).body.max_completion_tokens, 20)
})

test('GPT-5 gets max_completion_tokens, its reasoning_effort, and no sampling it refuses (with a warning on the answer)', async () => {
  const res = await completion({ model: 'openai/gpt-5', messages: [{ role: 'user', content: 'five' }], max_tokens: 30, temperature: 0.2, top_p: 0.5, reasoning_effort: 'minimal' })
  assert.equal(res.choices[0].message.content, 'five')
  const sent = server.requests.at(-1).body
  assert.equal(sent.max_completion_tokens, 30)
  assert.equal(sent.reasoning_effort, 'minimal')
  assert.equal(sent.temperature, undefined)
  assert.equal(sent.top_p, undefined)
  assert.equal(res.warnings.filter((w) => /temperature|top_p/.test(w)).length, 2)
  assert.ok(res.llmux.cost.total > 0)
})
