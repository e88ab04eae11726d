// `llmux serve`: the gateway driven by clients no one here wrote (the official openai SDK for
// Node; the Python SDK and LiteLLM's in gateway-python.test.mjs), and by raw HTTP where the SDK
// would hide what is checked: auth, errors, bodies as clients send them, keys, the limits that
// protect the server, client disconnects, graceful shutdown, the CLI and the standalone binary.
import { test, before, after, describe } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import OpenAI from 'openai'
import { serve, Router, configure, ConfigurationError } from '../index.mjs'
import { startFaultServer } from './helpers/mock-faults.mjs'
import { listen } from './helpers/mock-providers.mjs'
import { startMockEmbeddings, vectorOf } from './helpers/mock-embeddings.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
let f
let emb
let slow
let gw
const MASTER = 'sk-master-test'

before(async () => {
  configure({ secrets: {}, onWarning: () => {} })
  f = await startFaultServer()
  emb = await startMockEmbeddings()
  // An upstream that answers after the delay its path names (`/ms300/v1`), or never
  // (`/never/v1`), recording when each connection closed.
  slow = await listen((req, res) => {
    const ms = Number(/^\/ms(\d+)\//.exec(req.url)?.[1] ?? 'NaN')
    if (!Number.isFinite(ms)) return
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ id: 'chatcmpl-slow', object: 'chat.completion', created: 1, model: 'slow', choices: [{ index: 0, message: { role: 'assistant', content: 'late' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } }))
    }, ms)
  })
  gw = await serve({
    port: 0,
    config: {
      model_list: [
        f.deployment('gpt-4o', 'ok', 'ok'),
        f.deployment('busy', 'busy', '429'),
        f.deployment('trickle', 'trickle', 'trickle'),
        { model_name: 'hang', litellm_params: { model: 'openai/hang', api_base: `${slow.url}/never/v1`, api_key: 'sk-upstream' } },
        { model_name: 'echo', litellm_params: { model: 'mock/echo' } },
        { model_name: 'embed', litellm_params: { model: 'openai/text-embedding-3-small', api_base: `${emb.url}/v1`, api_key: 'sk-test' } },
      ],
      router_settings: { num_retries: 0 },
      general_settings: {
        master_key: MASTER,
        keys: [
          { key: 'sk-team-a', user_id: 'team-a', models: ['echo'], rpm: 3 },
          { key: 'sk-team-b', user_id: 'team-b' },
        ],
      },
    },
  })
})
after(async () => {
  await gw?.close()
  await f?.close()
  await emb?.close()
  await slow?.close?.()
})

const client = (apiKey = MASTER, extra = {}) => new OpenAI({ apiKey, baseURL: `${gw.url}/v1`, maxRetries: 0, ...extra })
const post = (p, body, headers = {}) =>
  fetch(`${gw.url}${p}`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) })

describe('the openai SDK, unchanged', () => {
  test('a completion, with usage', async () => {
    const r = await client().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello gateway' }] })
    assert.equal(r.choices[0].message.content, 'hello gateway')
    assert.equal(r.usage.prompt_tokens, 10)
    assert.equal(r.object, 'chat.completion')
  })

  test('a stream ends in [DONE]; usage in the last chunk when asked for', async () => {
    const s = await client().chat.completions.create({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'one two three' }] })
    let text = ''
    const chunks = []
    for await (const c of s) {
      chunks.push(c)
      text += c.choices[0]?.delta?.content ?? ''
    }
    assert.equal(text, 'one two three')
    const last = chunks.at(-1)
    assert.deepEqual(last.choices, [])
    assert.equal(last.usage.completion_tokens, 3)
    assert.ok(chunks.slice(0, -1).every((c) => !c.usage), 'usage only in the last chunk')
    const plain = await client().chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'a b' }] })
    const all = []
    for await (const c of plain) all.push(c)
    assert.ok(all.every((c) => !c.usage), 'no usage chunk unless asked')
  })

  test('errors are the SDK’s own classes, with the provider’s status and retry-after', async () => {
    await assert.rejects(client('sk-wrong').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401)
    await assert.rejects(client().chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }), (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found')
    await assert.rejects(client().chat.completions.create({ model: 'busy', messages: [{ role: 'user', content: 'x' }] }), (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError, String(e))
      assert.equal(e.status, 429)
      assert.ok(Number(e.headers.get('retry-after')) >= 1)
      assert.equal(e.error.type, 'rate_limit_error')
      return true
    })
    await assert.rejects(client().chat.completions.create({ model: 'gpt-4o', messages: 'not a list' }), (e) => e instanceof OpenAI.BadRequestError && e.param === 'messages')
  })

  test('models and embeddings', async () => {
    const list = await client().models.list()
    assert.deepEqual(list.data.map((m) => m.id).sort(), ['busy', 'echo', 'embed', 'gpt-4o', 'hang', 'trickle'])
    const onlyEcho = await client('sk-team-a').models.list()
    assert.deepEqual(onlyEcho.data.map((m) => m.id), ['echo'])
    // The SDK asks for base64 and decodes it; floats when asked.
    const e = await client().embeddings.create({ model: 'embed', input: ['alpha', 'beta'], dimensions: 8 })
    assert.equal(e.data.length, 2)
    assert.deepEqual(e.data[1].embedding, Array.from(vectorOf('beta', 8)))
    assert.ok(e.usage.prompt_tokens > 0)
    const floats = await client().embeddings.create({ model: 'embed', input: 'gamma', dimensions: 4, encoding_format: 'float' })
    assert.deepEqual(floats.data[0].embedding, Array.from(vectorOf('gamma', 4)))
  })
})

describe('HTTP as clients send it', () => {
  test('health needs no key; everything else does, by Bearer or x-litellm-api-key', async () => {
    assert.equal(await (await fetch(`${gw.url}/health/liveliness`)).json(), "I'm alive!")
    assert.equal((await (await fetch(`${gw.url}/health/readiness`)).json()).status, 'healthy')
    assert.equal((await fetch(`${gw.url}/v1/models`)).status, 401)
    assert.equal((await fetch(`${gw.url}/models`, { headers: { 'x-litellm-api-key': MASTER } })).status, 200)
    const m = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${MASTER}` } })
    const text = await m.text()
    assert.match(text, /llmux_http_requests_total\{route="chat_completions",status="200"\}/)
    assert.match(text, /llmux_requests_total\{model_group="gpt-4o"/)
  })

  test('x-request-id is echoed, or made', async () => {
    const r = await post('/v1/chat/completions', { model: 'echo', messages: [{ role: 'user', content: 'x' }] }, { 'x-request-id': 'trace-123' })
    assert.equal(r.headers.get('x-request-id'), 'trace-123')
    const r2 = await post('/chat/completions', { model: 'echo', messages: [{ role: 'user', content: 'x' }] })
    assert.match(r2.headers.get('x-request-id'), /^req_[0-9a-f]+$/)
  })

  test('a text body is one user message, its settings from the query string', async () => {
    const r = await post('/v1/chat/completions?model=echo&max_tokens=50&temperature=0.2', 'summarise this please', { 'content-type': 'text/plain' })
    assert.equal(r.status, 200)
    assert.equal((await r.json()).choices[0].message.content, 'summarise this please')
    const s = await post('/v1/chat/completions?model=echo&stream=true', 'stream me', { 'content-type': 'text/plain' })
    const body = await s.text()
    assert.match(body, /^data: /)
    assert.ok(body.endsWith('data: [DONE]\n\n'))
  })

  test('content given as a JSON object becomes its text; malformed input is a 400 naming the field', async () => {
    const r = await post('/v1/chat/completions', { model: 'echo', messages: [{ role: 'user', content: { city: 'Paris' } }] })
    assert.equal((await r.json()).choices[0].message.content, '{"city":"Paris"}')
    for (const [body, param] of [
      ['{"model": "echo", "messages": [', 'body'],
      [{ model: 'echo' }, 'messages'],
      [{ messages: [{ role: 'user', content: 'x' }] }, 'model'],
      [{ model: 'echo', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' }, 'temperature'],
    ]) {
      const res = await post('/v1/chat/completions', body)
      assert.equal(res.status, 400, JSON.stringify(body))
      const e = (await res.json()).error
      assert.equal(e.type, 'invalid_request_error')
      assert.ok(e.param === param || e.message.includes(param), `${JSON.stringify(body)}: ${JSON.stringify(e)}`)
    }
  })

  test('a body over the limit is a 413; an unknown route a 404', async () => {
    const big = JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: 'x'.repeat(17 * 1024 * 1024) }] })
    const r = await post('/v1/chat/completions', big)
    assert.equal(r.status, 413)
    assert.equal((await post('/v1/nothing', {})).status, 404)
  })
})

describe('keys', () => {
  test('a key is its user, may call only its models, has its own limits, and never reaches a provider', async () => {
    f.reset()
    await assert.rejects(client('sk-team-a').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }), (e) => e.status === 401 && e.code === 'key_model_access_denied')
    const a = client('sk-team-a')
    for (let i = 0; i < 3; i++) await a.chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: `n${i}` }] })
    await assert.rejects(a.chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: 'one too many' }] }), (e) => e.status === 429)
    // team-b has no limit of its own: team-a's did not touch it.
    await client('sk-team-b').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'b' }] })
    const seen = f.requests.at(-1)
    assert.equal(seen.headers.authorization, 'Bearer sk-fault', 'the deployment’s own key, never the client’s')
    assert.ok(!JSON.stringify(seen).includes('sk-team-b'), 'the client’s key appears nowhere in what the provider got')
  })
})

describe('a gateway that protects itself', () => {
  test('a client that goes away cancels its upstream request within 100 ms', async () => {
    const before = slow.requests.length
    // A raw socket, so the moment of the close is ours to time.
    const net = await import('node:net')
    const u = new URL(gw.url)
    const sock = net.connect(Number(u.port), u.hostname)
    const body = JSON.stringify({ model: 'hang', messages: [{ role: 'user', content: 'wait' }] })
    sock.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${MASTER}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    const t0 = Date.now()
    while (slow.requests.length < before + 1 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10))
    const rec = slow.requests.at(-1)
    const closedAt = performance.now()
    sock.destroy()
    while (rec.closedAt === null && performance.now() - closedAt < 2000) await new Promise((r) => setTimeout(r, 5))
    assert.ok(rec.closedAt !== null, 'the upstream connection was closed')
    // The goal is 100 ms; the margin is for a loaded CI machine.
    assert.ok(rec.closedAt - closedAt < 250, `${(rec.closedAt - closedAt).toFixed(1)} ms`)
  })

  test('streams: a client that goes away mid-stream cancels it, and the usage is still recorded', async () => {
    const router = new Router({ model_list: [f.deployment('t', 'trickle2', 'trickle')] })
    const own = await serve({ router, port: 0 })
    try {
      const s = await new OpenAI({ apiKey: 'x', baseURL: `${own.url}/v1`, maxRetries: 0 }).chat.completions.create({ model: 't', stream: true, messages: [{ role: 'user', content: 'go' }] })
      for await (const c of s) {
        if (c.choices[0]?.delta?.content) break
      }
      // Billed once the cut stream's usage is estimated (the tokenizer loads on first use).
      const t0 = Date.now()
      let u
      while ((u = await router.getUsage()).total.requests === 0 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50))
      assert.equal(u.total.requests, 1, 'the cut stream was billed (estimated)')
      assert.ok(u.total.completion_tokens >= 1 && u.total.completion_tokens < 5, `${u.total.completion_tokens} completion tokens: what was sent, not the whole answer`)
    } finally {
      await own.close()
    }
  })

  test('a client that never finishes its headers (slowloris) is cut off after header_timeout', async () => {
    const own = await serve({ port: 0, config: { model_list: [f.deployment('g', 'sl', 'ok')], general_settings: { header_timeout: 0.5 } } })
    try {
      const net = await import('node:net')
      const sock = net.connect(own.port, '127.0.0.1')
      await new Promise((r) => sock.on('connect', r))
      const t0 = performance.now()
      sock.write('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n')
      const drip = setInterval(() => sock.write('x-slow: 1\r\n'), 100)
      await new Promise((r) => sock.on('close', r))
      clearInterval(drip)
      const took = performance.now() - t0
      assert.ok(took >= 400 && took < 3000, `closed after ${took.toFixed(0)} ms`)
    } finally {
      await own.close()
    }
  })

  test('beyond the cap on requests in progress: 429 at once', async () => {
    const own = await serve({ port: 0, config: { model_list: [{ model_name: 'h', litellm_params: { model: 'openai/h', api_base: `${slow.url}/never/v1`, api_key: 'k' } }], general_settings: { global_max_parallel_requests: 1 } } })
    const ac = new AbortController()
    try {
      // The first request holds the only slot (its upstream never answers) until it is aborted.
      const before = slow.requests.length
      const held = fetch(`${own.url}/v1/chat/completions`, { method: 'POST', signal: ac.signal, body: JSON.stringify({ model: 'h', messages: [{ role: 'user', content: 'a' }] }), headers: { 'content-type': 'application/json' } }).catch(() => {})
      const t0 = Date.now()
      while (slow.requests.length === before && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 5))
      const r = await fetch(`${own.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'h', messages: [{ role: 'user', content: 'b' }] }), headers: { 'content-type': 'application/json' } })
      assert.equal(r.status, 429)
      assert.equal(r.headers.get('retry-after'), '1')
      ac.abort()
      await held
    } finally {
      await own.close()
    }
  })

  test('close() lets a stream in progress finish, and refuses new connections', async () => {
    const own = await serve({ port: 0, config: { model_list: [f.deployment('t', 'trickle3', 'trickle')] } })
    const s = await new OpenAI({ apiKey: 'x', baseURL: `${own.url}/v1`, maxRetries: 0 }).chat.completions.create({ model: 't', stream: true, messages: [{ role: 'user', content: 'go' }] })
    const closing = own.close()
    let text = ''
    for await (const c of s) text += c.choices[0]?.delta?.content ?? ''
    assert.equal(text, 't1 t2 t3 t4 t5 ', 'the stream ran to its end')
    await closing
    await assert.rejects(fetch(`${own.url}/health/liveliness`))
  })

  test('a config the gateway cannot use is a ConfigurationError', async () => {
    await assert.rejects(serve({ port: 0, config: { model_list: [f.deployment('g', 'x', 'ok')], general_settings: { master_key: 'os.environ/LLMUX_UNSET_KEY' } } }), (e) => e instanceof ConfigurationError && /LLMUX_UNSET_KEY/.test(e.message))
    await assert.rejects(serve({ port: 0 }), /exactly one of/)
  })
})

describe('npx llmux serve and the standalone binary', () => {
  const yaml = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmux-gw-'))
    const file = path.join(dir, 'litellm_config.yaml')
    fs.writeFileSync(file, `model_list:\n  - model_name: echo\n    litellm_params:\n      model: mock/echo\ngeneral_settings:\n  master_key: os.environ/LITELLM_MASTER_KEY\n`)
    return file
  }
  for (const [name, cmd] of [
    ['npx llmux serve', () => [process.execPath, [path.join(root, 'bin/llmux.js'), 'serve']]],
    ['llmux-server (Rust)', () => [path.join(root, 'target/debug/llmux-server'), ['serve']]],
  ]) {
    test(`${name}: prints its URL when ready, serves, and drains on SIGTERM`, async (t) => {
      const [bin, args] = cmd()
      if (!fs.existsSync(bin)) return t.skip(`SKIPPED: ${bin} is not built (cargo build -p llmux-server)`)
      const child = spawn(bin, [...args, '--config', yaml(), '--port', '0'], { env: { ...process.env, LITELLM_MASTER_KEY: 'sk-cli', LLMUX_MOCK: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      const url = await new Promise((resolve, reject) => {
        child.stdout.on('data', (d) => {
          out += d
          const m = /^llmux listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out)
          if (m) resolve(m[1])
        })
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)))
        setTimeout(() => reject(new Error(`no ready line: ${out}`)), 10_000)
      })
      const r = await new OpenAI({ apiKey: 'sk-cli', baseURL: `${url}/v1`, maxRetries: 0 }).chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: 'from the cli' }] })
      assert.equal(r.choices[0].message.content, 'from the cli')
      const code = await new Promise((resolve) => {
        child.on('exit', resolve)
        child.kill('SIGTERM')
      })
      assert.equal(code, 0)
      const log = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
      assert.equal(log.length, 1, 'one access-log line per request')
      assert.equal(log[0].route, 'chat_completions')
      assert.equal(log[0].status, 200)
      assert.ok(!JSON.stringify(log[0]).includes('from the cli') && !JSON.stringify(log[0]).includes('sk-cli'), 'no content, no secret')
    })
  }
})
