// OpenTelemetry: a span per request following the GenAI semantic conventions, parented to the
// caller's active context, exported through the OpenTelemetry SDK's in-memory exporter.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { trace, context, SpanStatusCode, SpanKind } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { configure, completion, stream, embedding, Router } from '../index.mjs'
import { startMockOpenAI } from './helpers/mock-openai.mjs'
import { startFaultServer } from './helpers/mock-faults.mjs'
import { startMockEmbeddings } from './helpers/mock-embeddings.mjs'

const exporter = new InMemorySpanExporter()
let server, faults, emb
before(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))
  ;[server, faults, emb] = await Promise.all([startMockOpenAI(), startFaultServer(), startMockEmbeddings()])
  configure({ secrets: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: server.url } })
})
after(async () => {
  configure({ secrets: null })
  await Promise.all([server.close(), faults.close(), emb.close()])
})

const spans = (name) => exporter.getFinishedSpans().filter((s) => s.name === name)

test('a chat span inside the caller\'s trace, with the GenAI attributes', async () => {
  exporter.reset()
  const tracer = trace.getTracer('app')
  await tracer.startActiveSpan('handle request', async (parent) => {
    await completion({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'traced words' }], max_tokens: 20, temperature: 0.5 })
    parent.end()
  })
  const [s] = spans('chat openai/gpt-4o-mini')
  const [p] = spans('handle request')
  assert.ok(s && p, exporter.getFinishedSpans().map((x) => x.name).join(', '))
  assert.equal(s.spanContext().traceId, p.spanContext().traceId, 'the same trace')
  assert.equal(s.parentSpanContext?.spanId ?? s.parentSpanId, p.spanContext().spanId, 'parented to the active span')
  assert.equal(s.kind, SpanKind.CLIENT)
  const a = s.attributes
  assert.equal(a['gen_ai.operation.name'], 'chat')
  assert.equal(a['gen_ai.provider.name'], 'openai')
  assert.equal(a['gen_ai.request.model'], 'openai/gpt-4o-mini')
  assert.equal(a['gen_ai.request.max_tokens'], 20)
  assert.equal(a['gen_ai.request.temperature'], 0.5)
  assert.ok(a['gen_ai.response.model'])
  assert.ok(a['gen_ai.usage.input_tokens'] > 0 && a['gen_ai.usage.output_tokens'] > 0)
  assert.deepEqual(a['gen_ai.response.finish_reasons'], ['stop'])
  assert.equal(a['server.address'], '127.0.0.1')
})

test('a stream\'s span ends when it does; a failure sets error.type and the status', async () => {
  exporter.reset()
  for await (const _ of stream({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'streamed and traced' }] }));
  const [s] = spans('chat openai/gpt-4o-mini')
  assert.deepEqual(s.attributes['gen_ai.response.finish_reasons'], ['stop'])
  exporter.reset()
  await completion({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], max_retries: 0, extra_headers: { 'x-mock-scenario': 'status:429' } }).catch(() => {})
  const [f] = spans('chat openai/gpt-4o-mini')
  assert.equal(f.attributes['error.type'], 'RateLimitError')
  assert.equal(f.status.code, SpanStatusCode.ERROR)
})

test('through a router: the group, the deployment, and retries and fallbacks as events', async () => {
  exporter.reset()
  const r = new Router({
    model_list: [faults.deployment('primary', 'o1', '500'), faults.deployment('backup', 'o2', 'ok')],
    router_settings: { num_retries: 0, fallbacks: [{ primary: ['backup'] }] },
  })
  await r.completion({ model: 'primary', messages: [{ role: 'user', content: 'fall back' }] })
  const [s] = spans('chat primary')
  assert.equal(s.attributes['llmux.model_group'], 'backup')
  assert.equal(s.attributes['llmux.deployment'], 'backup#1')
  assert.deepEqual(s.events.map((e) => e.name), ['llmux.retry', 'llmux.fallback'])
})

test('an embeddings span', async () => {
  exporter.reset()
  configure({ secrets: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: `${emb.url}/v1` } })
  await embedding({ model: 'openai/text-embedding-3-small', input: ['one', 'two'] })
  const [s] = spans('embeddings openai/text-embedding-3-small')
  assert.equal(s.attributes['gen_ai.operation.name'], 'embeddings')
  assert.ok(s.attributes['gen_ai.usage.input_tokens'] > 0)
  configure({ secrets: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: server.url } })
})
