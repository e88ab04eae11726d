// Cold start: a fresh process imports the client, configures it and gets its first answer.
// Prints the milliseconds from process start to that answer (node's own start included).
const [contender, base] = process.argv.slice(2)
const messages = [{ role: 'user', content: 'hi' }]
if (contender === 'llmux') {
  const { configure, completion } = await import('../index.mjs')
  configure({ secrets: { OPENAI_API_KEY: 'sk-bench' } })
  await completion({ model: 'openai/bench', messages, api_base: base, max_retries: 0 })
} else if (contender === 'openai-sdk') {
  const { default: OpenAI } = await import('openai')
  await new OpenAI({ baseURL: base, apiKey: 'sk-bench', maxRetries: 0 }).chat.completions.create({ model: 'bench', messages })
} else if (contender === 'raw-undici') {
  const { request } = await import('undici')
  const r = await request(`${base}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'bench', messages }) })
  JSON.parse(await r.body.text())
}
process.stdout.write(`${performance.now()}\n`)
