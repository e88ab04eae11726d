// embedding() on every provider, against one strict loopback mock (helpers/mock-embeddings.mjs):
// batches under each API's caps, rows back in input order, usage reported once, the three
// output forms, inputs over the model's limit, errors and cancellation.
import { test, before, after, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { configure, embedding } from '../index.mjs'
import { AWS } from './helpers/mock-providers.mjs'
import { startMockEmbeddings, vectorOf, tokensOf } from './helpers/mock-embeddings.mjs'

let mock
const usage = []
before(async () => {
  mock = await startMockEmbeddings()
  configure({
    secrets: {
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: `${mock.url}/v1`,
      AZURE_OPENAI_ENDPOINT: mock.url,
      AZURE_OPENAI_API_KEY: 'azure-test-key',
      AZURE_OPENAI_API_VERSION: '2024-10-21',
      AWS_ACCESS_KEY_ID: AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey,
      AWS_SESSION_TOKEN: AWS.sessionToken,
      AWS_REGION: AWS.region,
      AWS_ENDPOINT_URL_BEDROCK_RUNTIME: mock.url,
      GEMINI_API_KEY: 'gemini-test-key',
      GEMINI_BASE_URL: mock.url,
      VERTEXAI_BASE_URL: mock.url,
      VERTEXAI_PROJECT: 'proj',
      VERTEXAI_LOCATION: 'us-east5',
      VERTEXAI_ACCESS_TOKEN: 'ya29.vertex-test',
    },
    onUsage: (...a) => usage.push(a),
  })
})
after(async () => {
  configure({ secrets: null, onUsage: null })
  await mock.close()
})

const texts = (n, prefix = 'chunk') => Array.from({ length: n }, (_, i) => `${prefix} number ${i} of the document`)
const callsTo = (re, from) => mock.state.calls.slice(from).filter((c) => re.test(c.path))
/** Batch sizes, largest first: concurrent batches arrive in any order. */
const sizes = (calls) => calls.map((c) => c.count).sort((a, b) => b - a)
function assertRows(res, inputs, dims) {
  assert.equal(res.object, 'list')
  assert.equal(res.data.length, inputs.length)
  for (const i of [0, 1, inputs.length - 1]) {
    assert.equal(res.data[i].index, i)
    assert.deepEqual(Array.from(res.data[i].embedding), Array.from(vectorOf(inputs[i], dims)), `row ${i} is input ${i}'s vector`)
  }
}

describe('OpenAI', () => {
  test('5,000 inputs: three requests under the 2,048 cap, rows in input order, usage once, priced', async () => {
    const inputs = texts(5000)
    const from = mock.state.calls.length
    usage.length = 0
    const res = await embedding({ model: 'openai/text-embedding-3-small', input: inputs, account: { user: 'u' }, requestId: 'e-1' })
    assert.deepEqual(sizes(callsTo(/\/v1\/embeddings/, from)), [2048, 2048, 904])
    assert.ok(callsTo(/\/v1\/embeddings/, from).every((c) => c.body.encoding_format === 'base64'), 'asked as base64, as openai-node does')
    assertRows(res, inputs, 1536)
    assert.ok(Array.isArray(res.data[0].embedding), 'plain arrays by default')
    const tokens = inputs.reduce((n, t) => n + tokensOf(t), 0)
    assert.deepEqual(res.usage, { prompt_tokens: tokens, total_tokens: tokens })
    assert.equal(usage.length, 1, 'reported once for the whole call')
    assert.equal(usage[0][1], 'e-1')
    assert.equal(usage[0][3], tokens)
    assert.ok(res.llmux.cost > 0 && Math.abs(res.llmux.cost - tokens * 2e-8) < 1e-12, `text-embedding-3-small at $0.02/M: ${res.llmux.cost}`)
  })

  test("output: 'float32' gives Float32Array views of one buffer; encoding_format: 'base64' OpenAI's strings", async () => {
    const inputs = ['alpha', 'beta', 'gamma']
    const f = await embedding({ model: 'openai/text-embedding-3-small', input: inputs, dimensions: 256, output: 'float32' })
    assert.ok(f.data[0].embedding instanceof Float32Array)
    assert.equal(f.data[0].embedding.buffer, f.data[2].embedding.buffer, 'one buffer, no copies')
    assertRows(f, inputs, 256)
    const b = await embedding({ model: 'openai/text-embedding-3-small', input: inputs, dimensions: 256, encoding_format: 'base64' })
    const decoded = new Float32Array(Uint8Array.from(Buffer.from(b.data[1].embedding, 'base64')).buffer)
    assert.deepEqual(Array.from(decoded), Array.from(vectorOf('beta', 256)))
    assert.equal(mock.state.calls.at(-1).body.dimensions, 256)
  })

  test('token-id inputs, a single string, and CommonJS', async () => {
    const one = await embedding({ model: 'openai/text-embedding-3-small', input: 'just one' })
    assert.equal(one.data.length, 1)
    const toks = await embedding({ model: 'openai/text-embedding-3-small', input: [[1, 2, 3], [4, 5]] })
    assert.equal(toks.data.length, 2)
    const require = createRequire(import.meta.url)
    const cjs = require('../index.js')
    assert.equal(typeof cjs.embedding, 'function')
    assert.equal((await cjs.embedding({ model: 'openai/text-embedding-3-small', input: 'cjs' })).data.length, 1)
  })

  test('an input over the model limit is an error naming it, or cut when asked', async () => {
    const long = 'token '.repeat(9000)
    const from = mock.state.calls.length
    const e = await embedding({ model: 'openai/text-embedding-3-small', input: ['fine', long] }).catch((x) => x)
    assert.equal(e.code, 'invalid_request')
    assert.equal(e.param, 'input[1]')
    assert.match(e.message, /8191/)
    assert.equal(mock.state.calls.length, from, 'nothing was sent')
    const ok = await embedding({ model: 'openai/text-embedding-3-small', input: ['fine', long], truncate: true })
    assert.equal(ok.data.length, 2)
    assert.ok(ok.warnings.some((w) => /truncated/.test(w)))
  })

  test('bad input is a typed error before anything is sent', async () => {
    for (const input of [[], [''], ['a', 1], null]) {
      const e = await embedding({ model: 'openai/text-embedding-3-small', input }).catch((x) => x)
      assert.equal(e.code, 'invalid_request', JSON.stringify(input))
    }
    const e = await embedding({ model: 'openai/text-embedding-3-small', input: 'x', output: 'int8' }).catch((x) => x)
    assert.equal(e.code, 'invalid_request')
  })

  test('a 429 is a typed rate_limit error; an abort cancels batches in flight and bills what was answered', async () => {
    const e = await embedding({ model: 'openai/text-embedding-3-small', input: ['status:429'], max_retries: 0 }).catch((x) => x)
    assert.equal(e.code, 'rate_limit')
    usage.length = 0
    const ac = new AbortController()
    // Titan fans out one input a request: the fast ones answer, the slow ones (400 ms) are cut.
    const inputs = [...texts(8, 'fast'), ...texts(4, 'slow:')]
    const from = mock.requests.length
    const isSlow = (q) => String(q.body?.inputText).startsWith('slow:')
    // The abort comes once every fast input is answered and a slow one is being asked, whatever
    // the machine's speed.
    const watch = (async () => {
      const t0 = Date.now()
      for (;;) {
        const mine = mock.requests.slice(from)
        if ((mine.filter((q) => !isSlow(q) && q.finished).length === 8 && mine.some(isSlow)) || Date.now() - t0 > 10_000) break
        await new Promise((r) => setTimeout(r, 2))
      }
      ac.abort()
    })()
    const c = await embedding({ model: 'bedrock/amazon.titan-embed-text-v2:0', input: inputs, signal: ac.signal, account: { user: 'u' } }).catch((x) => x)
    await watch
    assert.equal(c.code, 'cancelled', String(c))
    assert.equal(usage.length, 1, 'what was answered is billed')
    const answered = texts(8, 'fast').reduce((n, t) => n + tokensOf(t), 0)
    assert.ok(usage[0][3] > answered, `the cut requests are billed too, estimated: ${usage[0][3]} > ${answered}`)
    assert.equal(usage[0][6].estimated, true)
    // The mock still holds the cut requests for a moment; let them end before the next test.
    while (mock.state.inFlight > 0) await new Promise((r) => setTimeout(r, 20))
    const slow = mock.requests.slice(from).filter(isSlow)
    assert.ok(slow.length > 0 && slow.every((q) => !q.finished), 'the slow requests were cut off before their answers, not waited for')
  })
})

describe('Azure, Bedrock, Gemini, Vertex', () => {
  test('Azure: the deployment URL, api-key, OpenAI\'s body without model', async () => {
    const from = mock.state.calls.length
    const res = await embedding({ model: 'azure/embed-small', input: ['a', 'b'], dimensions: 64 })
    assertRows(res, ['a', 'b'], 64)
    const call = callsTo(/\/openai\/deployments\/embed-small\/embeddings/, from)[0]
    assert.equal(call.body.model, undefined)
    assert.equal(call.headers['api-key'], 'azure-test-key')
  })

  test('Bedrock Titan v2: one text a request, fanned out with bounded concurrency, tokens summed', async () => {
    const inputs = texts(40)
    const from = mock.state.calls.length
    mock.state.maxInFlight = 0
    const res = await embedding({ model: 'bedrock/amazon.titan-embed-text-v2:0', input: inputs, dimensions: 512 })
    const calls = callsTo(/invoke$/, from)
    assert.equal(calls.length, 40)
    assert.ok(mock.state.maxInFlight > 1 && mock.state.maxInFlight <= 8, `in flight at most 8: ${mock.state.maxInFlight}`)
    assertRows(res, inputs, 512)
    assert.equal(res.usage.prompt_tokens, inputs.reduce((n, t) => n + tokensOf(t), 0))
    const e = await embedding({ model: 'bedrock/amazon.titan-embed-text-v2:0', input: 'x', dimensions: 300 }).catch((x) => x)
    assert.equal(e.code, 'invalid_request')
  })

  test('Bedrock Cohere: 96 texts a request with input_type (search_document unless given), tokens from the header', async () => {
    const inputs = texts(200)
    const from = mock.state.calls.length
    const res = await embedding({ model: 'bedrock/cohere.embed-english-v3', input: inputs })
    const calls = callsTo(/invoke$/, from)
    assert.deepEqual(sizes(calls), [96, 96, 8])
    assert.ok(calls.every((c) => c.body.input_type === 'search_document'))
    assertRows(res, inputs, 1024)
    assert.equal(res.usage.prompt_tokens, inputs.reduce((n, t) => n + tokensOf(t), 0))
    await embedding({ model: 'bedrock/cohere.embed-english-v3', input: ['q'], input_type: 'search_query' })
    assert.equal(mock.state.calls.at(-1).body.input_type, 'search_query')
  })

  test('Gemini: batchEmbedContents of 100, taskType and outputDimensionality; usage counted locally and marked estimated', async () => {
    const inputs = texts(250)
    const from = mock.state.calls.length
    usage.length = 0
    const res = await embedding({ model: 'gemini/gemini-embedding-001', input: inputs, dimensions: 768, task_type: 'RETRIEVAL_DOCUMENT' })
    const calls = callsTo(/batchEmbedContents/, from)
    assert.deepEqual(sizes(calls), [100, 100, 50])
    assert.equal(calls[0].body.requests[0].taskType, 'RETRIEVAL_DOCUMENT')
    assertRows(res, inputs, 768)
    assert.equal(usage[0][6].estimated, true)
  })

  test('Vertex AI: :predict with 250 instances a request, one for gemini-embedding-001; tokens from statistics', async () => {
    const inputs = texts(300)
    const from = mock.state.calls.length
    const res = await embedding({ model: 'vertex_ai/text-embedding-005', input: inputs })
    assert.deepEqual(sizes(callsTo(/:predict$/, from)), [250, 50])
    assertRows(res, inputs, 768)
    assert.equal(res.usage.prompt_tokens, inputs.reduce((n, t) => n + tokensOf(t), 0))
    const from2 = mock.state.calls.length
    await embedding({ model: 'vertex_ai/gemini-embedding-001', input: texts(5), dimensions: 256 })
    assert.deepEqual(callsTo(/:predict$/, from2).map((c) => c.count), [1, 1, 1, 1, 1])
  })
})

describe('through the Router', () => {
  const { Router } = createRequire(import.meta.url)('../index.js')
  const config = () => ({
    model_list: [
      // The first deployment is down and (by weight) nearly always picked first: the router
      // retries on the second, and the refused connection bills nothing.
      { model_name: 'embed', litellm_params: { model: 'openai/text-embedding-3-small', api_key: 'sk-test', api_base: 'http://127.0.0.1:9/v1', weight: 1000 }, model_info: { mode: 'embedding' } },
      { model_name: 'embed', litellm_params: { model: 'openai/text-embedding-3-small', api_key: 'sk-test', api_base: `${mock.url}/v1`, weight: 1 }, model_info: { mode: 'embedding' } },
      { model_name: 'embed-backup', litellm_params: { model: 'bedrock/cohere.embed-english-v3' } },
      { model_name: 'broken', litellm_params: { model: 'openai/text-embedding-3-small', api_key: 'sk-test', api_base: 'http://127.0.0.1:9/v1' } },
    ],
    router_settings: { routing_strategy: 'simple-shuffle', num_retries: 2, retry_after: 0, fallbacks: [{ broken: ['embed-backup'] }] },
  })

  test('router.embedding(): retries across deployments; each input cached per user, so a repeat costs nothing', async () => {
    const router = new Router(config())
    const inputs = texts(10, 'routed')
    usage.length = 0
    const a = await router.embedding({ model: 'embed', input: inputs, account: { user: 'alice' }, cache: { ttl: 60 } })
    assertRows(a, inputs, 1536)
    assert.equal(usage.length, 1)
    // Half the inputs again, with five new ones: only the new ones are sent and billed.
    const from = mock.state.calls.length
    const mixed = [...inputs.slice(0, 5), ...texts(5, 'fresh')]
    const b = await router.embedding({ model: 'embed', input: mixed, account: { user: 'alice' }, cache: { ttl: 60 } })
    assertRows(b, mixed, 1536)
    const sent = callsTo(/\/v1\/embeddings/, from).filter((c) => c.headers.authorization === 'Bearer sk-test')
    assert.deepEqual(sent.map((c) => c.count), [5])
    assert.equal(b.usage.prompt_tokens, texts(5, 'fresh').reduce((n, t) => n + tokensOf(t), 0))
    // All cached: nothing sent, nothing billed.
    const before = usage.length
    const c = await router.embedding({ model: 'embed', input: inputs.slice(0, 3), account: { user: 'alice' }, cache: { ttl: 60 } })
    assert.equal(c.usage.prompt_tokens, 0)
    assert.equal(usage.length, before, 'a cache hit bills nothing')
    // Another user never sees alice's entries.
    const from2 = mock.state.calls.length
    await router.embedding({ model: 'embed', input: inputs.slice(0, 3), account: { user: 'bob' }, cache: { ttl: 60 } })
    assert.ok(callsTo(/\/v1\/embeddings/, from2).some((c) => c.headers.authorization === 'Bearer sk-test' && c.count === 3))
    assert.match(await router.metrics(), /llmux_requests_total\{model_group="embed"/)
  })

  test('when a fallback answers, no row of the first group\'s model is mixed in, and its vectors are cached under its own group', async () => {
    const router = new Router({
      model_list: [
        { model_name: 'primary', litellm_params: { model: 'openai/text-embedding-3-small', api_key: 'sk-test', api_base: `${mock.url}/v1` } },
        { model_name: 'backup', litellm_params: { model: 'bedrock/cohere.embed-english-v3' } },
      ],
      router_settings: { num_retries: 0, fallbacks: [{ primary: ['backup'] }] },
    })
    const req = (input) => router.embedding({ model: 'primary', input, account: { user: 'carol' }, cache: { ttl: 60 } })
    await req(['alpha'])
    // 'alpha' is cached from the primary (1,536 dims); the primary then fails, the backup (1,024) answers.
    const res = await req(['alpha', 'status:429 then'])
    assertRows(res, ['alpha', 'status:429 then'], 1024)
  })

  test('a failing group falls back to another; a request cannot bring its own endpoint', async () => {
    const router = new Router(config())
    const res = await router.embedding({ model: 'broken', input: ['fall back please'], api_base: 'http://evil.example', max_retries: 0 })
    assert.equal(res.data.length, 1)
    assert.ok(res.warnings.some((w) => /api_base is ignored behind a router/.test(w)))
    assert.equal(mock.state.calls.at(-1).body.input_type, 'search_document', 'answered by the Cohere backup')
    const e = await router.embedding({ model: 'nope', input: 'x' }).catch((x) => x)
    assert.equal(e.code, 'not_found')
  })
})
