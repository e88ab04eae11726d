// A streamed chat, printed as it arrives. OpenAI when OPENAI_API_KEY is set (model from
// LLMUX_DEMO_MODEL, default openai/gpt-4o-mini); otherwise the built-in offline mock provider.
import { configure, stream } from 'llmux'

const prompt = process.argv.slice(2).join(' ') || 'Tell me, in three short sentences, why streaming matters for chat.'
const live = Boolean(process.env.OPENAI_API_KEY)
const model = process.env.LLMUX_DEMO_MODEL ?? (live ? 'openai/gpt-4o-mini' : 'mock/echo')

let usage
// The offline mock answers only where it is turned on: here, when no real key is set.
configure({ mock: !live, onUsage: (_account, _id, _model, input, output, cached, details) => (usage = { input, output, cached, ...details }) })

console.error(`llmux demo: ${model}${live ? '' : ' (offline: set OPENAI_API_KEY for a real model)'}\n`)
const request = { model, messages: [{ role: 'user', content: prompt }] }
if (!live) request.mock_delay_ms = 40
for await (const chunk of stream(request)) {
  const delta = chunk.choices[0]?.delta
  if (delta?.content) process.stdout.write(delta.content)
}
process.stdout.write('\n')
console.error(`\nusage: ${usage.prompt_tokens} prompt tokens (${usage.cached} cached), ${usage.output} completion tokens`)
