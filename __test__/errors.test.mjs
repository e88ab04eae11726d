// Upstream failures and bad input: every one is a typed LlmuxError (code, status, provider,
// retryable), amplify callers also get the user-facing line, and the process stays up.
import { test, before, after } from 'node:test'
import { createRequire } from 'node:module'
import assert from 'node:assert/strict'
import { configure, callLiteLLM, stream, completion, LlmuxError, Router } from '../index.mjs'
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
const ask = (content) => ({ messages: [{ role: 'user', content }] })

async function amplifyFailure(content, extraRequest = {}) {
  const out = new Recorder()
  const err = await callLiteLLM({ ...ask(content), ...extraRequest }, model, { user: 'u' }, out, [], true).then(
    () => assert.fail('should have failed'),
    (e) => e,
  )
  assert.ok(err instanceof LlmuxError, `${err}`)
  assert.ok(out.writableEnded, 'the stream is ended')
  return { err, out }
}

test('401: auth error, not retryable, generic user message', async () => {
  configure({ secrets: { OPENAI_API_KEY: 'bad-key', OPENAI_BASE_URL: server.url } })
  try {
    const { err, out } = await amplifyFailure('hi')
    assert.equal(err.code, 'auth')
    assert.equal(err.status, 401)
    assert.equal(err.provider, 'openai')
    assert.equal(err.retryable, false)
    assert.equal(userText(out.events()), 'Error retrieving response. Please try again.')
  } finally {
    configure({ secrets: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: server.url } })
  }
})

test('429: retried with its Retry-After, then a rate_limit error and the rate-limit message', async () => {
  const before = server.requests.length
  usage = []
  const { err, out } = await amplifyFailure('scenario:status:429')
  assert.equal(err.code, 'rate_limit')
  assert.equal(err.status, 429)
  assert.equal(err.retryable, true)
  assert.equal(err.retryAfterMs, 10)
  assert.equal(server.requests.length - before, 3, 'the first try and two retries')
  assert.match(userText(out.events()), /^Too Many Requests:/)
  assert.equal(usage.length, 0, 'a refused request bills nothing')
})

test('max_retries: 0 sends once', async () => {
  const before = server.requests.length
  await assert.rejects(completion({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'scenario:status:500' }], max_retries: 0 }), (e) => e.code === 'provider_unavailable' && e.status === 500)
  assert.equal(server.requests.length - before, 1)
})

test('500: provider_unavailable, retryable, generic message', async () => {
  const { err, out } = await amplifyFailure('scenario:status:500')
  assert.equal(err.code, 'provider_unavailable')
  assert.equal(err.retryable, true)
  assert.equal(userText(out.events()), 'Error retrieving response. Please try again.')
})

test('503: the timed-out message', async () => {
  const { out } = await amplifyFailure('scenario:status:503')
  assert.match(userText(out.events()), /^Request Timed Out:/)
})

test('connection reset mid-stream: network error after the partial text, usage estimated', async () => {
  usage = []
  const { err, out } = await amplifyFailure('scenario:reset-mid-stream')
  assert.equal(err.code, 'network')
  assert.equal(userText(out.events()), 'partial Error retrieving response. Please try again.')
  assert.equal(usage.length, 1)
  assert.equal(usage[0][6].estimated, true)
})

test('malformed JSON in a chunk: decode error', async () => {
  const { err } = await amplifyFailure('scenario:malformed')
  assert.equal(err.code, 'decode')
  assert.match(err.message, /malformed stream chunk/)
})

test('a server that never answers: timeout error, the timed-out message', async () => {
  const t0 = Date.now()
  configure({ timeouts: { totalMs: 300 } })
  let result
  try {
    result = await amplifyFailure('scenario:hang')
  } finally {
    configure({ timeouts: { totalMs: 600_000 } })
  }
  const { err, out } = result
  assert.equal(err.code, 'timeout')
  assert.ok(Date.now() - t0 < 2000)
  assert.match(userText(out.events()), /^Request Timed Out:/)
})

test('a per-request timeout (seconds, as LiteLLM) bounds completion()', async () => {
  const t0 = Date.now()
  await assert.rejects(completion({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'scenario:hang' }], timeout: 0.2 }), (e) => e.code === 'timeout' && e.retryable)
  assert.ok(Date.now() - t0 < 2000)
})

test('the error class carries code, status, provider, retryable through stream()', async () => {
  await assert.rejects(
    async () => {
      for await (const _ of stream({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'scenario:status:400' }] }));
    },
    (e) => e instanceof LlmuxError && e.code === 'bad_request' && e.status === 400 && e.provider === 'openai' && e.retryable === false,
  )
})

test('connection refused: network error', async () => {
  await assert.rejects(
    completion({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }], api_base: 'http://127.0.0.1:9/v1', max_retries: 0 }),
    (e) => e.code === 'network' && e.retryable,
  )
})

test('bad input is refused before any request is sent, naming the field', async () => {
  const before = server.requests.length
  const cases = [
    [() => completion({ model: 'openai/gpt-4o' }), /messages must be an array/],
    [() => completion({ model: 'openai/gpt-4o', messages: 'hi' }), /messages must be an array/],
    [() => completion({ model: 'openai/gpt-4o', messages: [] }), /messages must be a non-empty array/],
    [() => completion({ model: 'openai/gpt-4o', messages: [{ role: 'robot', content: 'x' }] }), /messages\[0\]\.role.*robot/],
    [() => completion({ model: 'llama3', messages: [{ role: 'user', content: 'x' }] }), /names no provider/],
    [() => completion({ messages: [{ role: 'user', content: 'x' }] }), /model must be/],
    [() => completion({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 42 }] }), /messages\[0\]\.content/],
    [() => completion({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }], signal: {} }), /signal must be an AbortSignal/],
    [() => callLiteLLM(ask('x'), model, {}, {}), /responseStream must be a Writable/],
    [() => callLiteLLM(ask('x'), model, {}, null), /responseStream must be a Writable/],
    [() => callLiteLLM({}, model, {}, new Recorder()), /chatRequest.messages must be an array/],
    [() => callLiteLLM(ask('x'), 42, {}, new Recorder()), /model must be/],
    [() => callLiteLLM(ask('x'), { id: 'llama-local' }, {}, new Recorder()), /Unsupported model: llama-local/],
  ]
  for (const [fn, re] of cases) {
    await assert.rejects(fn, (e) => e instanceof LlmuxError && ['invalid_request'].includes(e.code) && re.test(e.message), `${re}`)
  }
  assert.throws(() => stream({ model: 'openai/gpt-4o', messages: 'x' }), /messages must be an array/)
  assert.throws(() => configure({ onUsage: 'nope' }), /onUsage must be a function/)
  assert.throws(() => configure({ isKilled: 5 }), /isKilled must be a function/)
  assert.equal(server.requests.length, before)
})

test('a throwing onUsage or isKilled never fails the call', async () => {
  const warnings = []
  configure({ onUsage: () => { throw new Error('db down') }, onWarning: (w) => warnings.push(w) })
  try {
    const text = await callLiteLLM(ask('still works'), model, { user: 'u' }, new Recorder(), [], true)
    assert.equal(text, 'still works')
    assert.match(warnings[0], /onUsage failed: db down/)
  } finally {
    configure({ onUsage: (...a) => usage.push(a), onWarning: null })
  }
})

test('the process is still up and serving after all of the above', async () => {
  const res = await completion({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'alive' }] })
  assert.equal(res.choices[0].message.content, 'alive')
})

test('a panic inside a call rejects that call with an internal error; the process stays up', async () => {
  await assert.rejects(completion({ model: 'mock/panic', messages: [{ role: 'user', content: 'x' }] }), (e) => e instanceof LlmuxError && e.code === 'internal')
  await assert.rejects(async () => {
    for await (const _ of stream({ model: 'mock/panic', messages: [{ role: 'user', content: 'x' }] }));
  }, (e) => e.code === 'internal')
  const res = await completion({ model: 'mock/echo', messages: [{ role: 'user', content: 'still here' }] })
  assert.equal(res.choices[0].message.content, 'still here')
})

test('a panic inside a routed call ends that attempt with an internal error; the router goes on serving', async () => {
  const r = new Router({ model_list: [{ model_name: 'p', litellm_params: { model: 'mock/panic' } }, { model_name: 'e', litellm_params: { model: 'mock/echo' } }], router_settings: { num_retries: 0 } })
  await assert.rejects(r.completion({ model: 'p', messages: [{ role: 'user', content: 'x' }] }), (e) => e instanceof LlmuxError && e.code === 'internal')
  await assert.rejects(async () => {
    for await (const _ of r.stream({ model: 'p', messages: [{ role: 'user', content: 'x' }] }));
  }, (e) => e.code === 'internal')
  assert.equal((await r.completion({ model: 'e', messages: [{ role: 'user', content: 'after' }] })).choices[0].message.content, 'after')
})

test('a pooled connection that died (a thawed Lambda) is retried once on a fresh one', async () => {
  // The first connection takes the request and closes without a byte, as a peer that dropped
  // an idle keep-alive connection does; the next connection answers.
  const net = await import('node:net')
  let connections = 0
  const srv = net.createServer((sock) => {
    const n = ++connections
    let buf = ''
    sock.on('data', (d) => {
      buf += d
      if (!buf.includes('\r\n\r\n')) return
      if (n === 1) return sock.destroy()
      const body = JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'fresh' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } })
      sock.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
    })
  })
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  try {
    const res = await completion({ model: 'openai/m', messages: [{ role: 'user', content: 'x' }], api_base: `http://127.0.0.1:${srv.address().port}/v1`, api_key: 'k', max_retries: 0 })
    assert.equal(res.choices[0].message.content, 'fresh')
    assert.equal(connections, 2, 'sent again, once, on a new connection')
  } finally {
    srv.close()
  }
})

test('errors are the classes the openai SDK and LiteLLM name, across ESM and CJS', async () => {
  const esm = await import('../index.mjs')
  const cjs = createRequire(import.meta.url)('../index.js')
  const expect = {
    BadRequestError: { code: 'invalid_request' },
    AuthenticationError: { code: 'auth', status: 401 },
    PermissionDeniedError: { code: 'permission_denied', status: 403 },
    ModelNotFoundError: { code: 'not_found', status: 404 },
    RateLimitError: { code: 'rate_limit', status: 429, retryable: true },
    InternalServerError: { code: 'provider_unavailable', status: 500, retryable: true },
    ServiceUnavailableError: { code: 'provider_unavailable', status: 503, retryable: true },
    APIConnectionError: { code: 'network', retryable: true },
    APIConnectionTimeoutError: { code: 'timeout', retryable: true },
    ContextWindowExceededError: { code: 'context_window', status: 400 },
    ContentPolicyViolationError: { code: 'content_filter', status: 400 },
    APIUserAbortError: { code: 'cancelled' },
    APIResponseValidationError: { code: 'decode' },
  }
  assert.equal(esm.RateLimitError, cjs.RateLimitError, 'one class, whichever way it is loaded')
  // Every code through the engine's own mapping: a mock answers each status.
  const statuses = { 401: 'AuthenticationError', 403: 'PermissionDeniedError', 404: 'ModelNotFoundError', 429: 'RateLimitError', 500: 'InternalServerError', 503: 'ServiceUnavailableError' }
  for (const [status, name] of Object.entries(statuses)) {
    const e = await completion({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], max_retries: 0, extra_headers: { 'x-mock-scenario': `status:${status}` } }).catch((x) => x)
    assert.ok(e instanceof esm[name] && e instanceof cjs[name], `${status}: ${e && e.name} (${e && e.message})`)
    assert.ok(e instanceof cjs.LlmuxError)
    assert.equal(e.name, name)
    assert.equal(e.status, Number(status))
    assert.equal(e.retryable, Boolean(expect[name].retryable))
  }
  const bad = await completion({ model: 'openai/gpt-4o-mini', messages: [] }).catch((x) => x)
  assert.ok(bad instanceof esm.BadRequestError && bad.code === 'invalid_request')
  // The hierarchy: a context-window refusal is a BadRequestError, a timeout a connection error,
  // every 5xx an InternalServerError.
  assert.ok(esm.ContextWindowExceededError.prototype instanceof esm.BadRequestError)
  assert.ok(esm.ContentPolicyViolationError.prototype instanceof esm.BadRequestError)
  assert.ok(esm.APIConnectionTimeoutError.prototype instanceof esm.APIConnectionError)
  assert.ok(esm.ServiceUnavailableError.prototype instanceof esm.InternalServerError)
  assert.equal(esm.Timeout, esm.APIConnectionTimeoutError)
  for (const name of Object.keys(expect)) assert.ok(esm[name].prototype instanceof esm.LlmuxError, name)
})
