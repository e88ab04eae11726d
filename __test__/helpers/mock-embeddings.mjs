// One loopback server answering every provider's embedding API, each as strict as the real one
// on what llmux sends (sources beside each rule), with deterministic vectors so a test can check
// that row i is input i's vector:
// - OpenAI POST /v1/embeddings: at most 2,048 inputs, none empty, `encoding_format` float or
//   base64, `dimensions` only on text-embedding-3 (API reference, "Create embeddings");
// - Azure POST /openai/deployments/{d}/embeddings?api-version=: the same body without `model`;
// - Bedrock POST /model/{id}/invoke, SigV4-verified: Titan takes one `inputText` and dimensions
//   256/512/1024; Cohere takes at most 96 `texts` and requires `input_type`
//   (model-parameters-titan-embed-text.html, model-parameters-embed-v3.html);
// - Gemini POST /v1beta/models/{m}:batchEmbedContents: at most 100 requests, each naming the
//   URL's model ("at most 100 requests can be in one batch");
// - Vertex POST .../publishers/google/models/{m}:predict: at most 250 instances, one for
//   gemini-embedding-001 (text-embeddings-api reference).
// An input starting `slow:` is answered after 400 ms; `status:429` fails OpenAI's with 429.
import { listen, verifySigV4 } from './mock-providers.mjs'

/** The mock's vector for a text: deterministic, `dims` long. */
export function vectorOf(text, dims) {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0
  const v = new Float32Array(dims)
  for (let j = 0; j < dims; j++) v[j] = (((h + j * 2654435761) >>> 0) % 2000) / 1000 - 1
  return v
}
export const tokensOf = (text) => text.split(/\s+/).filter(Boolean).length

export async function startMockEmbeddings() {
  const state = { inFlight: 0, maxInFlight: 0, calls: [] }
  const server = await listen(async (req, res, r) => {
    const url = new URL(req.url, 'http://x')
    const b = r.body
    const send = (status, body, headers = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers })
      res.end(JSON.stringify(body))
    }
    const texts = (() => {
      if (!b) return []
      if (Array.isArray(b.input)) return b.input.map(String)
      if (typeof b.input === 'string') return [b.input]
      if (Array.isArray(b.texts)) return b.texts
      if (typeof b.inputText === 'string') return [b.inputText]
      if (Array.isArray(b.requests)) return b.requests.map((q) => q.content?.parts?.[0]?.text ?? '')
      if (Array.isArray(b.instances)) return b.instances.map((i) => i.content ?? '')
      return []
    })()
    state.calls.push({ path: url.pathname, count: texts.length, body: b, headers: req.headers })
    state.inFlight++
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight)
    try {
      if (texts.some((t) => t.startsWith('slow:'))) await new Promise((r2) => setTimeout(r2, 400))
      else await new Promise((r2) => setImmediate(r2))
      const openaiLike = (model, deployment) => {
        if (!Array.isArray(b.input) && typeof b.input !== 'string') return send(400, { error: { message: "'input' is a required property", type: 'invalid_request_error', param: 'input' } })
        const inputs = Array.isArray(b.input) ? b.input : [b.input]
        if (inputs.length > 2048) return send(400, { error: { message: "'$.input' is invalid: array too long (2048 max)", type: 'invalid_request_error', param: 'input' } })
        if (inputs.some((x) => x === '' || (Array.isArray(x) && x.length === 0))) return send(400, { error: { message: "'$.input' is invalid. Please check the API reference.", type: 'invalid_request_error', param: 'input' } })
        if (b.encoding_format !== undefined && !['float', 'base64'].includes(b.encoding_format)) return send(400, { error: { message: 'invalid encoding_format', type: 'invalid_request_error', param: 'encoding_format' } })
        if (b.dimensions !== undefined && !/^text-embedding-3/.test(model)) return send(400, { error: { message: 'This model does not support specifying dimensions.', type: 'invalid_request_error', param: 'dimensions' } })
        const dims = b.dimensions ?? 1536
        const rows = inputs.map(String)
        let tokens = 0
        const data = rows.map((t, index) => {
          tokens += tokensOf(t)
          const v = vectorOf(t, dims)
          return { object: 'embedding', index, embedding: b.encoding_format === 'base64' ? Buffer.from(v.buffer).toString('base64') : Array.from(v) }
        })
        return send(200, { object: 'list', data, model: deployment ?? model, usage: { prompt_tokens: tokens, total_tokens: tokens } })
      }
      if (req.method === 'POST' && url.pathname === '/v1/embeddings') {
        if (req.headers.authorization !== 'Bearer sk-test') return send(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } })
        if (!b?.model) return send(400, { error: { message: 'you must provide a model parameter', type: 'invalid_request_error' } })
        if (texts.some((t) => t.startsWith('status:429'))) return send(429, { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } }, { 'retry-after': '0' })
        return openaiLike(b.model)
      }
      const az = /^\/openai\/deployments\/([^/]+)\/embeddings$/.exec(url.pathname)
      if (req.method === 'POST' && az) {
        if (!url.searchParams.get('api-version')) return send(404, { error: { code: '404', message: 'Resource not found' } })
        if (req.headers['api-key'] !== 'azure-test-key' && req.headers.authorization !== 'Bearer entra-test-token') return send(401, { error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint.' } })
        return openaiLike(az[1] === 'embed-small' ? 'text-embedding-3-small' : az[1], az[1])
      }
      const br = /^\/model\/([^/]+)\/invoke$/.exec(url.pathname)
      if (req.method === 'POST' && br) {
        const bad = verifySigV4(req, r.raw)
        if (bad) return send(403, { message: `The request signature we calculated does not match the signature you provided (${bad})` }, { 'x-amzn-errortype': 'InvalidSignatureException' })
        const model = decodeURIComponent(br[1])
        const invalid = (message) => send(400, { message }, { 'x-amzn-errortype': 'ValidationException' })
        if (/titan-embed/.test(model)) {
          const known = new Set(['inputText', 'dimensions', 'normalize', 'embeddingTypes'])
          for (const k of Object.keys(b)) if (!known.has(k)) return invalid(`Malformed input request: extraneous key [${k}] is not permitted`)
          if (typeof b.inputText !== 'string' || !b.inputText) return invalid('Malformed input request: #: required key [inputText] not found')
          if (b.dimensions !== undefined && ![256, 512, 1024].includes(b.dimensions)) return invalid('Malformed input request: #/dimensions: 300 is not a valid enum value')
          const v = vectorOf(b.inputText, b.dimensions ?? 1024)
          return send(200, { embedding: Array.from(v), inputTextTokenCount: tokensOf(b.inputText), embeddingsByType: { float: Array.from(v) } })
        }
        if (/cohere\.embed/.test(model)) {
          if (!['search_document', 'search_query', 'classification', 'clustering'].includes(b.input_type)) return invalid('Malformed input request: #: required key [input_type] not found')
          if (!Array.isArray(b.texts) || b.texts.length > 96) return invalid('Malformed input request: #/texts: expected maximum item count: 96')
          const rows = b.texts.map((t) => Array.from(vectorOf(t, 1024)))
          const tokens = b.texts.reduce((n, t) => n + tokensOf(t), 0)
          return send(200, { embeddings: rows, id: 'emb-1', response_type: 'embeddings_floats', texts: b.texts }, { 'x-amzn-bedrock-input-token-count': String(tokens) })
        }
        return invalid(`The provided model identifier is invalid: ${model}`)
      }
      const gm = /^\/v1beta\/models\/([^:]+):batchEmbedContents$/.exec(url.pathname)
      if (req.method === 'POST' && gm) {
        const fail = (code, status, message) => send(code, { error: { code, message, status } })
        if (req.headers['x-goog-api-key'] !== 'gemini-test-key') return fail(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.')
        if (!Array.isArray(b.requests) || b.requests.length > 100) return fail(400, 'INVALID_ARGUMENT', '* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch')
        for (const q of b.requests) {
          if (q.model !== `models/${gm[1]}`) return fail(400, 'INVALID_ARGUMENT', `* BatchEmbedContentsRequest.model: the model of each request must match the batch's: ${q.model}`)
        }
        return send(200, { embeddings: b.requests.map((q) => ({ values: Array.from(vectorOf(q.content.parts[0].text, q.outputDimensionality ?? 3072)) })) })
      }
      const vx = /^\/v1\/projects\/[\w-]+\/locations\/[\w-]+\/publishers\/google\/models\/([^:]+):predict$/.exec(url.pathname)
      if (req.method === 'POST' && vx) {
        const fail = (code, status, message) => send(code, { error: { code, message, status } })
        if (req.headers.authorization !== 'Bearer ya29.vertex-test') return fail(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.')
        const max = /^gemini-embedding/.test(vx[1]) ? 1 : 250
        if (!Array.isArray(b.instances) || b.instances.length > max) return fail(400, 'INVALID_ARGUMENT', `Exceeded the maximum number of instances (${max}) per request.`)
        const dims = b.parameters?.outputDimensionality ?? 768
        return send(200, {
          predictions: b.instances.map((i) => ({ embeddings: { values: Array.from(vectorOf(i.content, dims)), statistics: { token_count: tokensOf(i.content), truncated: false } } })),
          metadata: { billableCharacterCount: b.instances.reduce((n, i) => n + i.content.length, 0) },
        })
      }
      send(404, { error: { message: `unknown path ${url.pathname}` } })
    } finally {
      state.inFlight--
    }
  })
  return { ...server, state }
}
