// Tools, structured output and workflows on every provider: a two-turn tool loop (the model
// calls a tool, the caller answers, the model finishes) against each provider's strict mock,
// streamed and not; promptForData by each provider's strongest means; createChatFn fan-out.
import { test, before, after, describe } from 'node:test'
import assert from 'node:assert/strict'
import { configure, completion, stream, promptForData, createChatFn, LlmuxError } from '../index.mjs'
import { startMocks } from './helpers/mock-providers.mjs'
import { Recorder, userText } from './helpers/util.mjs'

let openai, anthropic, bedrock, gemini, mocks
let usage = []
before(async () => {
  mocks = await startMocks(['openai', 'anthropic', 'bedrock', 'gemini'])
  ;({ openai, anthropic, bedrock, gemini } = mocks)
  configure({ secrets: mocks.secrets, onUsage: (...a) => usage.push(a) })
})
after(() => mocks.close())

const tools = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
  { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
]

/** One turn, streamed or not, as a ChatCompletion-like message. */
async function turn(model, messages, streamed) {
  if (!streamed) return (await completion({ model, messages, tools })).choices[0]
  const msg = { role: 'assistant', content: '', tool_calls: [], thinking_blocks: [] }
  let finish = null
  for await (const c of stream({ model, messages, tools })) {
    const d = c.choices[0]?.delta
    if (!d) continue
    msg.content += d.content ?? ''
    for (const b of d.thinking_blocks ?? []) msg.thinking_blocks.push(b)
    for (const t of d.tool_calls ?? []) {
      msg.tool_calls[t.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } }
      const slot = msg.tool_calls[t.index]
      if (t.id) slot.id = t.id
      slot.function.name += t.function?.name ?? ''
      slot.function.arguments += t.function?.arguments ?? ''
    }
    finish = c.choices[0].finish_reason ?? finish
  }
  return { message: msg, finish_reason: finish }
}

const providers = {
  openai: 'openai/gpt-4o',
  anthropic: 'anthropic/claude-sonnet-4-5',
  bedrock: 'bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0',
  gemini: 'gemini/gemini-2.5-flash',
}

for (const [name, model] of Object.entries(providers)) {
  describe(`${name} tool loop`, () => {
    for (const streamed of [false, true]) {
      test(`model calls a tool, the caller answers, the model finishes (${streamed ? 'streamed' : 'not streamed'})`, async () => {
        const messages = [{ role: 'system', content: 'Use tools.' }, { role: 'user', content: 'call {"city":"Paris"}' }]
        const first = await turn(model, messages, streamed)
        assert.equal(first.finish_reason, 'tool_calls')
        const call = first.message.tool_calls[0]
        assert.equal(call.function.name, 'get_weather')
        assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' })
        assert.ok(call.id, 'the call has an id to answer')
        messages.push({ role: 'assistant', content: null, tool_calls: first.message.tool_calls, thinking_blocks: first.message.thinking_blocks })
        messages.push({ role: 'tool', tool_call_id: call.id, content: '{"temp":21}' })
        const second = await turn(model, messages, streamed)
        assert.equal(second.message.content, 'tool said: {"temp":21}')
        assert.equal(second.finish_reason, 'stop')
      })
    }
  })
}

describe('promptForData', () => {
  const schema = { city: { type: 'string' }, temp: { type: 'integer' } }
  const cases = {
    'openai (strict json_schema)': [{ id: 'gpt-4o', provider: 'OpenAI' }, () => openai.requests.at(-1).body.response_format.json_schema.strict === true],
    'anthropic (forced tool_use)': ['anthropic/claude-sonnet-4-5', () => anthropic.requests.at(-1).body.tool_choice.type === 'tool'],
    'bedrock (forced toolChoice)': [{ id: 'us.anthropic.claude-3-7-sonnet-20250219-v1:0', provider: 'Bedrock' }, () => bedrock.requests.at(-1).body.toolConfig.toolChoice.tool.name === 'structured_response'],
    'gemini (responseSchema)': [{ id: 'gemini-2.5-flash', provider: 'Gemini' }, () => gemini.requests.at(-1).body.generationConfig.responseMimeType === 'application/json'],
  }
  for (const [label, [model, usedStrongest]] of Object.entries(cases)) {
    test(label, async () => {
      usage = []
      const data = await promptForData([{ role: 'user', content: 'Weather?' }], model, 'json:{"city":"Paris","temp":21}', schema, { user: 'u' }, 'pfd-1')
      assert.deepEqual(data, { city: 'Paris', temp: 21 })
      assert.ok(usedStrongest(), 'the provider was asked by its strongest means')
      assert.equal(usage.length, 1)
      assert.equal(usage[0][1], 'pfd-1')
    })
  }

  test('an answer that fails the schema is retried once with the error, then rejected with the raw text', async () => {
    usage = []
    const before = openai.requests.length
    const err = await promptForData([{ role: 'user', content: 'x' }], { id: 'gpt-4o', provider: 'OpenAI' }, 'json:{"city":"Paris","temp":"warm"}', schema, { user: 'u' }, 'pfd-2').catch((e) => e)
    assert.ok(err instanceof LlmuxError)
    assert.equal(err.code, 'invalid_output')
    assert.match(err.message, /temp/)
    assert.equal(err.rawText, '{}', 'the raw text of the last attempt')
    assert.equal(openai.requests.length - before, 2, 'one retry')
    assert.match(openai.requests.at(-1).body.messages.at(-1).content, /did not match the required JSON schema/)
    assert.equal(usage.length, 1, 'both attempts billed in one record')
    assert.equal(usage[0][4], 1 + 1, 'the output tokens of both attempts')
    const [first, second] = openai.requests.slice(-2).map((r) => r.body.messages.length)
    assert.equal(second, first + 2, 'the retry shows the model its answer and the error')
  })

  test('falls back to a fenced JSON block in the text', async () => {
    const data = await promptForData([{ role: 'user', content: 'x' }], 'mock/echo', 'Here you go:\n```json\n{"city":"Oslo","temp":3}\n```', schema, { user: 'u' }, 'pfd-3')
    assert.deepEqual(data, { city: 'Oslo', temp: 3 })
  })

  test('bad input is refused before any request, naming the field', async () => {
    const before = openai.requests.length
    const m = { id: 'gpt-4o', provider: 'OpenAI' }
    await assert.rejects(promptForData([], m, 'p', 'not an object', {}, 'r'), /schema must be an object/)
    await assert.rejects(promptForData([], m, 'p', {}, {}, 'r'), /at least one property/)
    await assert.rejects(promptForData([], m, 'p', { a: 'string' }, {}, 'r'), /schema\.a must be a JSON-schema object/)
    await assert.rejects(promptForData([], m, 42, schema, {}, 'r'), /prompt must be a string/)
    await assert.rejects(completion({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: '' } }] }), /tools\[0\]\.function\.name/)
    await assert.rejects(completion({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: 5 } } }] }), /tools\[0\]\.function\.parameters is not a valid JSON schema/)
    assert.equal(openai.requests.length, before)
  })
})

test('completion() with response_format json_schema returns message.parsed on every provider', async () => {
  const response_format = { type: 'json_schema', json_schema: { name: 'weather', schema: { type: 'object', properties: { temp: { type: 'integer' } }, required: ['temp'], additionalProperties: false } } }
  for (const model of Object.values(providers)) {
    const res = await completion({ model, messages: [{ role: 'user', content: 'json:{"temp":5}' }], response_format })
    assert.deepEqual(res.choices[0].message.parsed, { temp: 5 }, model)
    assert.equal(res.choices[0].message.content, '{"temp":5}', model)
  }
})

test('malformed tool arguments are kept as sent, with a flag', async () => {
  const res = await completion({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'call {"city": Par' }], tools })
  const call = res.choices[0].message.tool_calls[0]
  assert.equal(call.function.arguments, '{"city": Par')
  assert.equal(call.malformed_arguments, true)
})

test('createChatFn: 50 concurrent workflow calls each get their own answer and usage', async () => {
  usage = []
  const chat = createChatFn({ id: 'gpt-4o', provider: 'OpenAI' }, { user: 'wf' })
  const outs = Array.from({ length: 50 }, () => new Recorder())
  const texts = await Promise.all(outs.map((out, i) => chat({ messages: [{ role: 'user', content: `chunk ${i} summary` }] }, out, { requestId: `wf-${i}` })))
  texts.forEach((t, i) => {
    assert.equal(t, `chunk ${i} summary`)
    assert.equal(userText(outs[i].events()), t)
    assert.ok(!outs[i].writableEnded, 'a workflow keeps its writable open by default')
  })
  assert.equal(usage.length, 50)
  assert.deepEqual(usage.map((u) => u[1]).sort(), Array.from({ length: 50 }, (_, i) => `wf-${i}`).sort())
})
