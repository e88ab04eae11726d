// The credential policy, end to end through the addon: a key from configure({ secrets }) or a
// router deployment is never sent to an endpoint named by the request; a request's own key goes
// only where the request says. Loopback servers record what reaches them.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { configure, completion, Router } from '../index.mjs'

const answer = JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } })

function recorder() {
  const seen = []
  const srv = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      seen.push({ auth: req.headers.authorization, apiKey: req.headers['api-key'], xApiKey: req.headers['x-api-key'], body })
      res.writeHead(200, { 'content-type': 'application/json' }).end(answer)
    })
  })
  return { srv, seen, url: () => `http://127.0.0.1:${srv.address().port}/v1` }
}

const trusted = recorder()
const attacker = recorder()
before(async () => {
  await new Promise((r) => trusted.srv.listen(0, '127.0.0.1', r))
  await new Promise((r) => attacker.srv.listen(0, '127.0.0.1', r))
  configure({ secrets: { OPENAI_API_KEY: 'sk-stored-secret', OPENAI_BASE_URL: trusted.url(), ANTHROPIC_API_KEY: 'sk-ant-stored' } })
})
after(() => {
  trusted.srv.close()
  attacker.srv.close()
})

const ask = { messages: [{ role: 'user', content: 'hi' }], max_retries: 0 }

test('a stored key goes to its own endpoint', async () => {
  await completion({ model: 'openai/m', ...ask })
  assert.equal(trusted.seen.at(-1).auth, 'Bearer sk-stored-secret')
})

test('a request naming its own endpoint never receives a stored key', async () => {
  for (const field of ['api_base', 'base_url']) {
    await completion({ model: 'openai/m', ...ask, [field]: attacker.url() })
    assert.equal(attacker.seen.at(-1).auth, undefined, `${field}: no Authorization header at all`)
  }
  await assert.rejects(completion({ model: 'anthropic/claude-sonnet-4-5', ...ask, api_base: attacker.url() }), (e) => e.code === 'auth')
  assert.ok(!attacker.seen.some((r) => JSON.stringify(r).includes('stored')), 'nothing stored ever reached the other host')
})

test("a request's own key goes to its own endpoint", async () => {
  await completion({ model: 'openai/m', ...ask, api_base: attacker.url(), api_key: 'sk-callers-own' })
  assert.equal(attacker.seen.at(-1).auth, 'Bearer sk-callers-own')
})

test("behind a router, the request's endpoint, key and headers are dropped with a warning", async () => {
  const warnings = []
  configure({ onWarning: (w) => warnings.push(w) })
  const router = new Router({ model_list: [{ model_name: 'g', litellm_params: { model: 'openai/m', api_base: trusted.url(), api_key: 'sk-deployment-key' } }] })
  const before = attacker.seen.length
  await router.completion({ model: 'g', ...ask, api_base: attacker.url(), api_key: 'sk-other', extra_headers: { authorization: 'Bearer x' } })
  assert.equal(attacker.seen.length, before, 'nothing went to the named host')
  assert.equal(trusted.seen.at(-1).auth, 'Bearer sk-deployment-key')
  assert.ok(warnings.some((w) => /api_base is ignored behind a router/.test(w)), warnings.join('; '))
  configure({ onWarning: null })
})

test('hostnames built from a region or location must look like one', async () => {
  await assert.rejects(completion({ model: 'bedrock/anthropic.claude-3', ...ask, aws_region_name: 'evil.example#' }), (e) => e.code === 'invalid_request' && /aws_region_name/.test(e.message))
  await assert.rejects(completion({ model: 'vertex_ai/gemini-2.5-pro', ...ask, vertex_project: 'p', vertex_location: 'x.evil.example/' }), (e) => e.code === 'invalid_request' && /vertex_location/.test(e.message))
})

test('the mock provider is off unless the process turns it on', async () => {
  const { execFileSync } = await import('node:child_process')
  const code = `const { completion, configure } = require(${JSON.stringify(new URL('../index.js', import.meta.url).pathname)});
    (async () => {
      const out = []
      try { await completion({ model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] }); out.push('answered') } catch (e) { out.push(e.code + ': ' + e.message) }
      configure({ mock: true })
      const r = await completion({ model: 'mock/echo', messages: [{ role: 'user', content: 'on' }] })
      out.push(r.choices[0].message.content)
      console.log(JSON.stringify(out))
    })()`
  const env = { ...process.env }
  delete env.LLMUX_MOCK
  const out = JSON.parse(execFileSync(process.execPath, ['-e', code], { env }).toString())
  assert.match(out[0], /^invalid_request: .*mock provider is off/)
  assert.equal(out[1], 'on')
})
