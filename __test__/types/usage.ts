// Compiled with `tsc --noEmit` by the test suite: every export used as documented.
import { PassThrough } from 'node:stream'
import llmux, {
  configure, completion, stream, callLiteLLM, promptForData, promptLiteLLMForData, createChatFn,
  getLiteLLMServerStatus, initPythonProcess, shutdownLiteLLMServer, LlmuxError, Router, embedding,
  RateLimitError, ContextWindowExceededError,
  type ChatCompletion, type ChatCompletionChunk, type UsageDetails,
} from 'llmux'

configure({
  secrets: async () => ({ OPENAI_API_KEY: 'sk' }),
  secretsTtlMs: 60_000,
  onUsage: (account, requestId, model, input, output, cached, details: UsageDetails) => {
    void [account, requestId, model, input + output + cached, details.prompt_tokens]
  },
  isKilled: async (_account, _requestId) => false,
  timeouts: { totalMs: 30_000 },
  secretsTimeoutMs: 5_000,
  onUsageTimeoutMs: 2_000,
  limits: { maxResponseBytes: 32 << 20, maxEventBytes: 8 << 20 },
  mock: true,
})

async function main(): Promise<void> {
  const res: ChatCompletion = await completion({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }], signal: AbortSignal.timeout(1000) })
  const text: string | null = res.choices[0].message.content
  for await (const chunk of stream({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] })) {
    const c: ChatCompletionChunk = chunk
    void c.choices[0]?.delta.content
  }
  const answer: string = await callLiteLLM({ messages: [{ role: 'user', content: 'hi' }], options: { requestId: 'r' } }, { id: 'gpt-4o', provider: 'OpenAI' }, { user: 'u' }, new PassThrough(), [], true, { endStream: false })
  const data = await promptForData<{ city: string }>([], 'mock/echo', 'p', { city: { type: 'string' } }, { user: 'u' }, 'r', { maxTokens: 100 })
  const city: string = data.city
  const same = promptLiteLLMForData === promptForData
  const chat = createChatFn('mock/echo', { user: 'u' })
  const out: string = await chat({ messages: [{ role: 'user', content: 'x' }] }, new PassThrough(), { requestId: 'w' })
  const router = new Router({ model_list: [{ model_name: 'g', litellm_params: { model: 'mock/echo', rpm: 10 } }], router_settings: { routing_strategy: 'least-busy' } })
  configure({ router })
  const viaRouter: ChatCompletion = await router.completion({ model: 'g', messages: [{ role: 'user', content: 'x' }], cache: { ttl: 60 } })
  const healthy: boolean = router.health()[0].healthy
  const spent: number = (await router.getUsage({ since: new Date() })).total.cost_usd
  const prom: string = await router.metrics()
  void [viaRouter, healthy, spent, prom, Router.fromYaml]
  const vecs = await embedding({ model: 'openai/text-embedding-3-small', input: ['a', 'b'], dimensions: 256, output: 'float32' })
  const first: Float32Array = vecs.data[0].embedding
  const plain = await router.embedding({ model: 'g', input: 'x', cache: { ttl: 60 } })
  const n: number = plain.usage.prompt_tokens
  void [first, n]
  const s = getLiteLLMServerStatus()
  await initPythonProcess()
  shutdownLiteLLMServer()
  try {
    await completion({ model: 'nope', messages: [] })
  } catch (e) {
    if (e instanceof RateLimitError) void e.retryAfterMs
    if (e instanceof ContextWindowExceededError) void e.param
    if (e instanceof LlmuxError) void [e.code, e.status, e.provider, e.retryable]
  }
  void [text, answer, city, same, out, s.activeRequests, llmux.configure]
}
void main
