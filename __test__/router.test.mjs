// The router against a fault-injecting loopback server: what was retried, where it fell back,
// what was cooled, limits, the user-isolated cache, and that nothing hangs past the deadline.
import { test, before, after, describe } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Router, configure, callLiteLLM, LlmuxError } from '../index.mjs'
import { startFaultServer } from './helpers/mock-faults.mjs'
import { Recorder, userText } from './helpers/util.mjs'

let f
let usage = []
const warnings = []
before(async () => {
  f = await startFaultServer()
  configure({ secrets: {}, onUsage: (...a) => usage.push(a), onWarning: (w) => warnings.push(w) })
})
after(() => f.close())

const ask = (model, content = 'hello router', extra = {}) => ({ model, messages: [{ role: 'user', content }], ...extra })
const fast = { num_retries: 2, retry_after: 0.01 }

describe('config', () => {
  test('Router.fromYaml reads a LiteLLM config as it is, os.environ references included', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmux-'))
    const file = path.join(dir, 'litellm_config.yaml')
    fs.writeFileSync(file, `
model_list:
  - model_name: chat
    litellm_params:
      model: openai/y1
      api_base: ${f.deployment('x', 'y1', 'ok').litellm_params.api_base}
      api_key: os.environ/LLMUX_ROUTER_TEST_KEY
      rpm: 100
router_settings:
  routing_strategy: simple-shuffle
  num_retries: 1
  shade: blue
`)
    configure({ secrets: { LLMUX_ROUTER_TEST_KEY: 'sk-from-secrets' } })
    const before = warnings.length
    const r = Router.fromYaml(file)
    assert.match(warnings.slice(before).join('\n'), /unknown key "shade"/)
    const res = await r.completion(ask('chat', 'from yaml'))
    assert.equal(res.choices[0].message.content, 'from yaml')
    assert.deepEqual(r.listModels().data.map((m) => m.id), ['chat'])
    assert.equal(r.getModelInfo('chat').deployments[0].rpm, 100)
    configure({ secrets: {} })
  })

  test('a wrong type or a missing model is an error naming the entry', () => {
    assert.throws(() => new Router({ model_list: [{ model_name: 'a', litellm_params: { model: 'openai/x', tpm: 'many' } }] }), (e) => e instanceof LlmuxError && /model_list\[0\] \(a\)\.litellm_params\.tpm/.test(e.message))
    assert.throws(() => new Router({ model_list: [{ litellm_params: { model: 'openai/x' } }] }), /model_list\[0\]: model_name is required/)
    assert.throws(() => new Router({ model_list: [f.deployment('a', 'a', 'ok')], router_settings: { routing_strategy: 'fastest' } }), /routing_strategy/)
  })
})

describe('retries', () => {
  test('a 429 is retried with its Retry-After, then a rate_limit error; nothing else is tried', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('g', 'r429', '429')], router_settings: { ...fast, allowed_fails: 10 } })
    const t0 = Date.now()
    await assert.rejects(r.completion(ask('g')), (e) => e.code === 'rate_limit' && e.retryable && e.status === 429)
    assert.equal(f.hits.r429, 3, 'the first try and num_retries=2 retries')
    assert.ok(Date.now() - t0 < 2000)
  })

  test('a failing deployment is retried on a healthy one of the same group', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('g', 'bad', '503', { weight: 1 }), f.deployment('g', 'good', 'ok', { weight: 1 })], router_settings: { ...fast, num_retries: 5 } })
    for (let i = 0; i < 10; i++) assert.equal((await r.completion(ask('g', `n${i}`))).choices[0].message.content, `n${i}`)
    assert.equal(f.hits.good, 10)
  })

  test('529 overloaded is retried like any 5xx', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('g', 'o529', '529', { weight: 1 }), f.deployment('g', 'fine', 'ok', { weight: 1 })], router_settings: { ...fast, allowed_fails: 100 } })
    for (let i = 0; i < 6; i++) assert.equal((await r.completion(ask('g', 'over'))).choices[0].message.content, 'over')
    assert.equal(f.hits.fine, 6)
  })

  test('never after the first chunk reached the caller', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('g', 'mid', 'reset-mid')], router_settings: { ...fast, num_retries: 3 } })
    const got = []
    await assert.rejects(async () => {
      for await (const c of r.stream(ask('g'))) got.push(c.choices[0]?.delta?.content ?? '')
    }, (e) => e.code === 'network')
    assert.equal(got.join(''), 'one two ')
    assert.equal(f.hits.mid, 1, 'not retried: the caller already had chunks')
  })

  test('a reset right after the headers, before any chunk, is retried', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('g', 'rh', 'reset-headers', { weight: 1 }), f.deployment('g', 'ok2', 'ok', { weight: 1 })], router_settings: { ...fast, num_retries: 4, allowed_fails: 100 } })
    const text = []
    for await (const c of r.stream(ask('g', 'after reset'))) text.push(c.choices[0]?.delta?.content ?? '')
    assert.equal(text.join(''), 'after reset')
  })

  test('a hanging deployment cannot hold a request past the router timeout', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('g', 'hang', 'hang')], router_settings: { ...fast, timeout: 0.4 } })
    const t0 = Date.now()
    await assert.rejects(r.completion(ask('g')), (e) => e.code === 'timeout')
    assert.ok(Date.now() - t0 < 1500, `${Date.now() - t0} ms`)
  })
})

describe('fallbacks', () => {
  test('fallbacks are tried in order after the group fails', async () => {
    f.reset()
    const r = new Router({
      model_list: [f.deployment('a', 'a1', '500'), f.deployment('b', 'b1', '500'), f.deployment('c', 'c1', 'ok')],
      router_settings: { ...fast, num_retries: 0, fallbacks: [{ a: ['b', 'c'] }] },
    })
    const res = await r.completion(ask('a', 'fell back'))
    assert.equal(res.choices[0].message.content, 'fell back')
    assert.deepEqual([f.hits.a1, f.hits.b1, f.hits.c1], [1, 1, 1])
  })

  test('context_window_fallbacks: chosen before the call by counting tokens', async () => {
    f.reset()
    const r = new Router({
      model_list: [f.deployment('small', 's1', 'ok', {}, { max_input_tokens: 20 }), f.deployment('big', 'b1', 'ok', {}, { max_input_tokens: 100000 })],
      router_settings: { ...fast, context_window_fallbacks: [{ small: ['big'] }] },
    })
    const long = 'word '.repeat(200)
    const res = await r.completion(ask('small', long))
    assert.equal(res.choices[0].message.content, long.trim().length ? long : long)
    assert.equal(f.hits.s1, undefined, 'the small model was never called')
    assert.equal(f.hits.b1, 1)
    assert.equal((await r.completion(ask('small', 'short'))).choices[0].message.content, 'short')
    assert.equal(f.hits.s1, 1)
  })

  test('a context-length error from the provider also falls back by context window', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('x', 'x1', 'ctx'), f.deployment('y', 'y1', 'ok')], router_settings: { ...fast, context_window_fallbacks: [{ x: ['y'] }] } })
    assert.equal((await r.completion(ask('x', 'too long'))).choices[0].message.content, 'too long')
  })

  test('content_policy_fallbacks on content_filter', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('strict', 'st', 'filter'), f.deployment('lenient', 'le', 'ok')], router_settings: { ...fast, content_policy_fallbacks: [{ strict: ['lenient'] }] } })
    assert.equal((await r.completion(ask('strict', 'spicy'))).choices[0].message.content, 'spicy')
    assert.deepEqual([f.hits.st, f.hits.le], [1, 1])
  })
})

describe('cooldown', () => {
  test('allowed_fails failures cool a deployment; a group all cooling answers at once', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('g', 'cool', '500')], router_settings: { num_retries: 0, allowed_fails: 2, cooldown_time: 30 } })
    for (let i = 0; i < 2; i++) await assert.rejects(r.completion(ask('g')), (e) => e.code === 'provider_unavailable')
    const h = r.health()[0]
    assert.equal(h.healthy, false)
    assert.ok(h.cooling_seconds > 25)
    assert.equal(h.last_error.code, 'provider_unavailable')
    const t0 = performance.now()
    await assert.rejects(r.completion(ask('g')), (e) => e.retryable && /cooling down/.test(e.message) && e.retryAfterMs > 25000)
    // A call would have waited 30 s; the bound leaves room for a loaded machine.
    assert.ok(performance.now() - t0 < 1000, 'answered at once')
    assert.equal(f.hits.cool, 2, 'the cooling deployment was not called')
  })
})

describe('order', () => {
  test('a group routes to its lowest order; the next order only once the lower is cooling or over its limits', async () => {
    f.reset()
    const r = new Router({
      model_list: [
        f.deployment('g', 'o3', 'ok', { order: 3 }),
        f.deployment('g', 'o1', '500', { order: 1 }),
        f.deployment('g', 'none', 'ok'),
        f.deployment('g', 'o2', 'ok', { rpm: 2 }, { order: 2 }),
      ],
      router_settings: { num_retries: 3, retry_after: 0.001, allowed_fails: 1, cooldown_time: 30 },
    })
    for (let i = 0; i < 4; i++) await r.completion(ask('g'))
    // o1 fails once and cools; o2 (its order given in model_info) takes its 2 rpm; o3 the rest.
    assert.deepEqual([f.hits.o1, f.hits.o2, f.hits.o3, f.hits.none ?? 0], [1, 2, 2, 0])
    assert.throws(() => new Router({ model_list: [f.deployment('g', 'bad', 'ok', { order: 'first' })] }), /order/)
  })
})

describe('limits', () => {
  test('deployment rpm: over the limit is refused with a retry-after hint', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('g', 'lim', 'ok', { rpm: 2 })] })
    await r.completion(ask('g'))
    await r.completion(ask('g'))
    await assert.rejects(r.completion(ask('g')), (e) => e.code === 'rate_limit' && e.retryAfterMs > 0)
    assert.equal(f.hits.lim, 2)
  })

  test('deployment tpm counts the prompt tokens before the call', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('g', 'tpm', 'ok', { tpm: 60 })] })
    await r.completion(ask('g', 'word '.repeat(30)))
    await assert.rejects(r.completion(ask('g', 'word '.repeat(30))), (e) => e.code === 'rate_limit' && /rate limit/.test(e.message))
    assert.equal(f.hits.tpm, 1)
  })

  test('per-user rpm: one user over the limit, another unaffected', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('g', 'u1', 'ok')], router_settings: { user_limits: { rpm: 3 } } })
    for (let i = 0; i < 3; i++) await r.completion(ask('g', 'a b', { user: 'alice' }))
    await assert.rejects(r.completion(ask('g', 'a b', { user: 'alice' })), (e) => e.code === 'rate_limit' && /requests-per-minute/.test(e.message) && e.retryAfterMs > 0)
    await r.completion(ask('g', 'a b', { user: 'bob' }))
    assert.equal(f.hits.u1, 4)
    assert.equal((await r.getUsage()).by_user.alice.requests, 3)
  })

  test('per-user spend budget, priced from model_info', async () => {
    f.reset()
    const r = new Router({
      model_list: [f.deployment('g', 'u2', 'ok', {}, { input_cost_per_token: 0.01, output_cost_per_token: 0.01 })],
      router_settings: { user_limits: { budget_usd: 0.25 } },
    })
    // Each answer costs (10 prompt + 2 output tokens) x $0.01 = $0.12: the third starts at $0.24.
    for (let i = 0; i < 3; i++) await r.completion(ask('g', 'a b', { user: 'bob' }))
    await assert.rejects(r.completion(ask('g', 'a b', { user: 'bob' })), (e) => e.code === 'rate_limit' && /budget/.test(e.message) && !e.retryable)
    await r.completion(ask('g', 'a b', { user: 'dave' }))
    assert.ok(Math.abs((await r.getUsage()).by_user.bob.cost_usd - 0.36) < 1e-9)
  })
})

describe('limits by tag and for the whole router', () => {
  test('metadata.tags: a tag over its rpm is refused, other tags and untagged requests are not; a tag budget counts its spend', async () => {
    f.reset()
    const r = new Router({
      model_list: [f.deployment('g', 't1', 'ok', {}, { input_cost_per_token: 0.01, output_cost_per_token: 0.01 })],
      router_settings: { tag_limits: { summarise: { rpm: 2 }, translate: { budget_usd: 0.2 } } },
    })
    const tagged = (tags, user = 'u') => ask('g', 'a b', { user, metadata: { tags } })
    await r.completion(tagged(['summarise']))
    await r.completion(tagged(['summarise'], 'someone-else'))
    await assert.rejects(r.completion(tagged(['summarise', 'other'])), (e) => e.code === 'rate_limit' && /tag "summarise"/.test(e.message) && e.retryAfterMs > 0)
    await r.completion(tagged(['other']))
    await r.completion(ask('g', 'a b'))
    // Each answer costs $0.12: the second translate call starts at $0.12, the third at $0.24.
    await r.completion(tagged(['translate']))
    await r.completion(tagged(['translate']))
    await assert.rejects(r.completion(tagged(['translate'])), (e) => e.code === 'rate_limit' && /tag "translate" has spent its budget/.test(e.message) && !e.retryable)
  })

  test('a tag named twice counts once; a user id cannot pose as the router\'s own keys', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('g', 't3', 'ok')], router_settings: { tag_limits: { dup: { rpm: 2 } }, global_limits: { rpm: 3 } } })
    await r.completion(ask('g', 'a b', { metadata: { tags: ['dup', 'dup'] } }))
    await r.completion(ask('g', 'a b', { metadata: { tags: ['dup', 'dup'] } }))
    await assert.rejects(r.completion(ask('g', 'a b', { metadata: { tags: ['dup'] } })), (e) => /tag "dup"/.test(e.message))
    // Three requests made the global count; a caller naming itself like the global key is a user.
    await assert.rejects(r.completion(ask('g', 'a b', { user: '\u0001global' })), (e) => /the router/.test(e.message))
  })

  test('global_limits: every request of the router, whoever sends it', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('g', 't2', 'ok')], router_settings: { global_limits: { rpm: 2 } } })
    await r.completion(ask('g', 'a b', { user: 'a' }))
    await r.completion(ask('g', 'a b', { user: 'b' }))
    await assert.rejects(r.completion(ask('g', 'a b', { user: 'c' })), (e) => e.code === 'rate_limit' && /the router is over its requests-per-minute limit/.test(e.message))
    assert.equal(f.hits.t2, 2)
  })
})

describe('several models at once', () => {
  test('batchCompletionModelsAllResponses: every answer, a failure never failing the whole, usage and cost summed', async () => {
    f.reset()
    const price = { input_cost_per_token: 0.001, output_cost_per_token: 0.002 }
    const r = new Router({
      model_list: [f.deployment('a', 'm1', 'ok', {}, price), f.deployment('b', 'm2', 'ok', {}, price), f.deployment('c', 'm3', '500')],
      router_settings: { num_retries: 0 },
    })
    usage = []
    const out = await r.batchCompletionModelsAllResponses({ models: ['a', 'b', 'c'], messages: [{ role: 'user', content: 'consensus please' }], user: 'u' })
    assert.deepEqual(out.results.map((x) => x.model), ['a', 'b', 'c'])
    assert.equal(out.results[0].response.choices[0].message.content, 'consensus please')
    assert.equal(out.results[2].error.name, 'InternalServerError')
    assert.ok(out.results.every((x) => x.latencyMs >= 0))
    assert.equal(out.usage.total_tokens, out.results[0].usage.total_tokens + out.results[1].usage.total_tokens)
    assert.ok(Math.abs(out.cost - (out.results[0].cost + out.results[1].cost)) < 1e-12 && out.cost > 0)
    assert.equal(usage.length, 2, 'each answer billed once, the refused one not at all')
  })

  test('batchCompletionModels: the first good answer; the slower ones are cancelled at once and still billed', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('slow', 'm4', 'late'), f.deployment('fast', 'm5', 'ok'), f.deployment('bad', 'm6', '503')], router_settings: { num_retries: 0 } })
    usage = []
    const started = Date.now()
    const res = await r.batchCompletionModels({ models: ['slow', 'bad', 'fast'], messages: [{ role: 'user', content: 'first wins' }], user: 'u' })
    assert.equal(res.choices[0].message.content, 'first wins')
    assert.ok(Date.now() - started < 1500, 'did not wait for the slow one (3 s)')
    await new Promise((resolve) => setTimeout(resolve, 100))
    const billed = (m) => usage.filter((u) => u[2] === m).length
    assert.equal(billed('fast'), 1, 'the winner, once')
    assert.ok(billed('slow') <= 1, 'the cancelled one at most once, for what it used')
    assert.ok(billed('bad') <= 1, 'a refused request bills nothing; one cut while in flight, an estimate')
    const e = await r.batchCompletionModels({ models: ['bad'], messages: [{ role: 'user', content: 'x' }] }).catch((x) => x)
    assert.equal(e.code, 'provider_unavailable')
    assert.equal(e.errors.length, 1)
    await assert.rejects(r.batchCompletionModels({ models: [], messages: [] }), (x) => x.code === 'invalid_request')
  })
})

describe('capabilities and model: "auto"', () => {
  const cheap = { input_cost_per_token: 0.000001, output_cost_per_token: 0.000002, supports_function_calling: true, max_input_tokens: 1000 }
  const pricey = { input_cost_per_token: 0.00001, output_cost_per_token: 0.00003, supports_function_calling: true, supports_vision: true, max_input_tokens: 100000 }
  const mid = { input_cost_per_token: 0.000005, output_cost_per_token: 0.00001, supports_vision: true, max_input_tokens: 100000 }
  const router = () =>
    new Router({
      model_list: [f.deployment('small', 'a1', 'ok', {}, cheap), f.deployment('large', 'a2', 'ok', {}, pricey), f.deployment('vision-mid', 'a3', 'trickle', {}, mid)],
      router_settings: { quality_ranking: ['large', 'vision-mid', 'small'] },
    })

  test('listModels({ capability }) and getModelInfo report LiteLLM\'s supports_* capabilities', () => {
    const r = router()
    assert.deepEqual(r.listModels({ capability: 'vision' }).data.map((m) => m.id), ['large', 'vision-mid'])
    assert.deepEqual(r.listModels({ capability: 'supports_function_calling' }).data.map((m) => m.id), ['small', 'large'])
    const all = r.listModels().data
    assert.ok(all.find((m) => m.id === 'large').capabilities.includes('vision'))
    assert.equal(all.find((m) => m.id === 'small').max_input_tokens, 1000)
    assert.equal(r.getModelInfo('large').deployments[0].model_info.supports_vision, true)
  })

  test('model: "auto" picks the cheapest, the fastest or the best-ranked group that qualifies, and says why', async () => {
    f.reset()
    const seen = []
    const r = new Router(
      { model_list: [f.deployment('small', 'a1', 'ok', {}, cheap), f.deployment('large', 'a2', 'ok', {}, pricey), f.deployment('vision-mid', 'a3', 'trickle', {}, mid)], router_settings: { quality_ranking: ['large', 'vision-mid', 'small'] } },
      { onSuccess: (p) => seen.push(p.auto_route) },
    )
    const auto = (hints, content = 'auto me') => r.completion(ask('auto', content, { routing_hints: hints }))
    let res = await auto({ priority: 'cost' })
    assert.equal(res.llmux.auto.model_group, 'small')
    assert.match(res.llmux.auto.reason, /cheapest of 3/)
    assert.deepEqual(seen.at(-1), { model_group: 'small', reason: res.llmux.auto.reason })
    res = await auto({ priority: 'cost', required_capabilities: ['vision'] })
    assert.equal(res.llmux.auto.model_group, 'vision-mid')
    res = await auto({ priority: 'quality' })
    assert.equal(res.llmux.auto.model_group, 'large')
    // The prompt must fit: over small's 1,000-token window, small is out.
    res = await auto({ priority: 'cost' }, 'word '.repeat(1500))
    assert.equal(res.llmux.auto.model_group, 'vision-mid')
    // max_cost, estimated before the call: 1,024 output tokens at large's price is over $0.01.
    await assert.rejects(auto({ required_capabilities: ['vision', 'function_calling'], max_cost: 0.01 }), (e) => e.code === 'not_found' && /over max_cost/.test(e.message))
    // Speed is measured: after one call each, the trickling group is the slowest.
    await r.completion(ask('vision-mid', 'x'))
    res = await auto({ priority: 'speed', required_capabilities: ['vision'] })
    assert.equal(res.llmux.auto.model_group, 'large')
    await assert.rejects(auto({ priority: 'fastest' }), (e) => e.code === 'invalid_request')
  })

  test('a cached "auto" answer is keyed by the group chosen: other hints get their own', async () => {
    f.reset()
    const r = router()
    const go = (hints) => r.completion(ask('auto', 'cache auto', { user: 'u', cache: { ttl: 60 }, routing_hints: hints }))
    await go({ priority: 'cost' })
    await go({ priority: 'cost' })
    assert.equal(f.hits.a1, 1, 'the same choice is served from the cache')
    const q = await go({ priority: 'quality' })
    assert.equal(q.llmux.auto.model_group, 'large')
    assert.equal(f.hits.a2, 1, 'another choice is asked, not answered from small\'s entry')
  })
})

describe('active health checks', () => {
  test('health({ probe: true }) sends each deployment a minimal request and reports reachability and latency', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('g', 'h1', 'ok'), f.deployment('g', 'h2', '503'), f.deployment('g2', 'h3', 'ok')] })
    const report = await r.health({ probe: true })
    assert.deepEqual(report.map((d) => [d.deployment, d.healthy]), [['g#1', true], ['g#2', false], ['g2#1', true]])
    assert.ok(report.every((d) => d.latency_ms >= 0))
    assert.equal(report[1].error.code, 'provider_unavailable')
    assert.equal(f.hits.h1, 1)
    assert.ok(Array.isArray(r.health()), 'without a probe: the passive view, at once')
    assert.equal((await r.getUsage()).by_model.g.requests, 1, 'a probe is a billed request: it is in the ledger')
  })
})

describe('logging callbacks', () => {
  test('onSuccess / onFailure: one payload per request with its route, timings, usage, cost, tags; no secret, no text unless asked', async () => {
    f.reset()
    const ok = []
    const failed = []
    const r = new Router(
      {
        model_list: [f.deployment('primary', 'l1', '500', {}, { input_cost_per_token: 0.001, output_cost_per_token: 0.001 }), f.deployment('backup', 'l2', 'ok', {}, { input_cost_per_token: 0.001, output_cost_per_token: 0.001 })],
        router_settings: { num_retries: 0, fallbacks: [{ primary: ['backup'] }] },
      },
      { onSuccess: (p) => ok.push(p), onFailure: (p) => failed.push(p) },
    )
    const res = await r.completion(ask('primary', 'log me', { user: 'alice', metadata: { tags: ['search-tool'] }, requestId: 'req-7' }))
    assert.equal(ok.length, 1)
    const p = ok[0]
    assert.equal(p.status, 'success')
    assert.equal(p.call_type, 'completion')
    assert.equal(p.model, 'primary')
    assert.equal(p.model_group, 'backup')
    assert.equal(p.model_id, 'backup#1')
    assert.equal(p.custom_llm_provider, 'openai')
    assert.equal(p.user, 'alice')
    assert.deepEqual(p.request_tags, ['search-tool'])
    assert.deepEqual(p.fallbacks, ['backup'])
    assert.equal(p.attempts, 2)
    assert.ok(p.endTime >= p.startTime && p.response_time_ms >= 0)
    assert.equal(p.total_tokens, res.usage.total_tokens)
    assert.ok(p.response_cost > 0)
    assert.equal(p.messages, undefined, 'no message content unless logMessages')
    assert.ok(!JSON.stringify(p).includes('sk-fault'), 'never a key')
    // A failure: onFailure, with the error's class.
    await r.completion(ask('backup', 'x', { max_tokens: -1 })).catch(() => {})
    assert.equal(failed.length, 1)
    assert.equal(failed[0].status, 'failure')
    assert.equal(failed[0].error_information.error_class, 'BadRequestError')
  })

  test('LiteLLM\'s success_callback / failure_callback select named callbacks; configure() adds process-wide ones; logMessages opts in to text', async () => {
    f.reset()
    const seen = []
    const r = new Router(
      { model_list: [f.deployment('g', 'l3', 'ok')], litellm_settings: { success_callback: ['audit', 'langfuse'] } },
      { callbacks: { audit: (p) => seen.push(['audit', p.status]) } },
    )
    assert.ok(r.warnings.some((w) => /no callback named "langfuse"/.test(w)))
    const global = []
    configure({ onSuccess: (p) => global.push(p), logMessages: true })
    try {
      const it = r.stream(ask('g', 'stream me'))
      for await (const _ of it);
      assert.deepEqual(seen, [['audit', 'success']])
      assert.equal(global.length, 1)
      assert.equal(global[0].call_type, 'stream')
      assert.ok(global[0].completionStartTime >= global[0].startTime)
      assert.equal(global[0].messages[0].content, 'stream me')
    } finally {
      configure({ onSuccess: null, logMessages: false })
    }
  })
})

describe('cache', () => {
  test('opt-in per request, keyed per user; a cached answer replays as a stream', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('g', 'c1', 'ok')] })
    const req = (user) => ask('g', 'cache me please', { user, cache: { ttl: 60 } })
    usage = []
    assert.equal((await r.completion(req('alice'))).choices[0].message.content, 'cache me please')
    assert.equal((await r.completion(req('alice'))).choices[0].message.content, 'cache me please')
    assert.equal(f.hits.c1, 1, 'the second answer came from the cache')
    assert.equal(usage.length, 1, 'a cache hit bills nothing')
    await r.completion(req('bob'))
    assert.equal(f.hits.c1, 2, 'another user never gets alice\'s entry')
    const streamed = []
    for await (const c of r.stream(req('alice'))) streamed.push(c.choices[0]?.delta?.content ?? '')
    assert.equal(streamed.join(''), 'cache me please')
    assert.equal(f.hits.c1, 2)
    await r.completion(ask('g', 'cache me please', { user: 'alice', cache: false }))
    assert.equal(f.hits.c1, 3, 'cache: false skips it')
    assert.match(await r.metrics(), /llmux_cache_requests_total\{result="hit"\} 2/)
  })
})

describe('strategies', () => {
  test('least-busy spreads concurrent requests; cost-based picks the cheapest', async () => {
    f.reset()
    const busy = new Router({ model_list: [f.deployment('g', 'lb1', 'trickle'), f.deployment('g', 'lb2', 'trickle')], router_settings: { routing_strategy: 'least-busy' } })
    await Promise.all(Array.from({ length: 10 }, () => busy.completion(ask('g'))))
    // Requests picked at the same instant may see the same counts: near-even, not exact.
    assert.ok(Math.abs(f.hits.lb1 - f.hits.lb2) <= 2, `least-busy split ${f.hits.lb1}:${f.hits.lb2}`)
    const cheap = new Router({
      model_list: [f.deployment('g', 'pricey', 'ok', {}, { input_cost_per_token: 0.01, output_cost_per_token: 0.03 }), f.deployment('g', 'thrifty', 'ok', {}, { input_cost_per_token: 0.001, output_cost_per_token: 0.002 })],
      router_settings: { routing_strategy: 'cost-based-routing' },
    })
    for (let i = 0; i < 5; i++) await cheap.completion(ask('g'))
    assert.equal(f.hits.thrifty, 5)
    assert.equal(f.hits.pricey, undefined)
  })

  test('usage-based routing sends work where the rpm headroom is', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('g', 'small', 'ok', { rpm: 10 }), f.deployment('g', 'large', 'ok', { rpm: 1000 })], router_settings: { routing_strategy: 'usage-based-routing' } })
    for (let i = 0; i < 40; i++) await r.completion(ask('g'))
    assert.ok(f.hits.large >= 36, `large got ${f.hits.large} of 40`)
    assert.ok((f.hits.small ?? 0) <= 4)
  })

  test('latency-based routing prefers the deployment with the faster first token', async () => {
    f.reset()
    const r = new Router({ model_list: [f.deployment('g', 'slow', 'trickle'), f.deployment('g', 'quick', 'ok')], router_settings: { routing_strategy: 'latency-based-routing' } })
    for (let i = 0; i < 4; i++) for await (const _ of r.stream(ask('g', 'x')));
    const before = { ...f.hits }
    for (let i = 0; i < 10; i++) for await (const _ of r.stream(ask('g', 'x')));
    assert.equal(f.hits.quick - (before.quick ?? 0), 10)
  })
})

test('amplify through the router: configure({ router }) serves callLiteLLM by model id', async () => {
  f.reset()
  const r = new Router({ model_list: [f.deployment('gpt-4o', 'amp', 'ok')] })
  configure({ router: r })
  try {
    const out = new Recorder()
    const text = await callLiteLLM({ messages: [{ role: 'user', content: 'routed for amplify' }], options: { requestId: 'rt-1' } }, { id: 'gpt-4o', provider: 'OpenAI' }, { user: 'u' }, out, [], true)
    assert.equal(text, 'routed for amplify')
    assert.equal(userText(out.events()), text)
    assert.equal(f.hits.amp, 1)
  } finally {
    configure({ router: null })
  }
})

test('health, models, usage and Prometheus metrics', async () => {
  f.reset()
  const r = new Router({ model_list: [f.deployment('m', 'h1', 'ok', {}, { input_cost_per_token: 0.001, output_cost_per_token: 0.002 })], router_settings: { model_group_alias: { alias: 'm' } } })
  const since = Date.now()
  await r.completion(ask('alias', 'one two three', { user: 'carol' }))
  assert.deepEqual(r.listModels().data.map((m) => m.id).sort(), ['alias', 'm'])
  assert.equal(r.health()[0].healthy, true)
  const u = await r.getUsage({ since: new Date(since) })
  assert.equal(u.by_model.m.completion_tokens, 3)
  assert.ok(Math.abs(u.total.cost_usd - (10 * 0.001 + 3 * 0.002)) < 1e-12)
  assert.equal((await r.getUsage({ since: Date.now() + 60_000 })).total.requests, 0)
  const text = await r.metrics()
  for (const name of ['llmux_requests_total', 'llmux_errors_total', 'llmux_request_duration_seconds_bucket', 'llmux_time_to_first_token_seconds_bucket', 'llmux_tokens_total', 'llmux_cost_usd_total']) {
    assert.match(text, new RegExp(`# TYPE ${name.replace('_bucket', '')}`))
  }
  assert.match(text, /llmux_requests_total\{model_group="m",deployment="m#1"\} 1/)
})

test('load: 5,000 requests at concurrency 200 over three deployments, one failing half the time', async () => {
  f.reset()
  const r = new Router({
    model_list: [f.deployment('load', 'w1', 'ok', { weight: 1 }), f.deployment('load', 'w3', 'ok', { weight: 3 }), f.deployment('load', 'flaky', 'flaky', { weight: 2 })],
    router_settings: { num_retries: 3, retry_after: 0.001, allowed_fails: 3, cooldown_time: 0.5 },
  })
  let next = 0
  let ok = 0
  const errors = {}
  const t0 = Date.now()
  await Promise.all(
    Array.from({ length: 200 }, async () => {
      while (next < 5000) {
        const i = next++
        try {
          const res = await r.completion(ask('load', `req ${i}`))
          assert.equal(res.choices[0].message.content, `req ${i}`)
          ok++
        } catch (e) {
          assert.ok(e instanceof LlmuxError, `untyped failure: ${e}`)
          errors[e.code] = (errors[e.code] ?? 0) + 1
        }
      }
    }),
  )
  const seconds = (Date.now() - t0) / 1000
  assert.equal(ok + Object.values(errors).reduce((a, b) => a + b, 0), 5000)
  assert.ok(ok >= 4950, `answered ${ok}, errors ${JSON.stringify(errors)}`)
  const share = f.hits.w3 / f.hits.w1
  // Binomial: within 20% of 1:3 fails about once in ten million runs; 10% failed about once in 200.
  assert.ok(Math.abs(share - 3) / 3 < 0.2, `healthy deployments shared ${f.hits.w1}:${f.hits.w3} (want 1:3 within 20%)`)
  assert.match(await r.metrics(), /llmux_errors_total\{model_group="load",deployment="load#3",kind="provider_unavailable"\}/)
  assert.ok(f.hits.flaky < 5000 * (2 / 6), `the flaky deployment was cooled (${f.hits.flaky} requests)`)
  console.log(`# load: 5000 requests in ${seconds.toFixed(1)} s, ${ok} answered, errors ${JSON.stringify(errors)}, hits ${JSON.stringify(f.hits)}`)
})

test('the example config in examples/ loads with no warning', () => {
  const before = warnings.length
  const r = Router.fromYaml(new URL('../examples/litellm_config.yaml', import.meta.url).pathname)
  assert.equal(warnings.length, before, warnings.slice(before).join('\n'))
  const groups = r.listModels().data.map((m) => m.id)
  for (const g of ['gpt-4o', 'claude-sonnet', 'gemini-flash', 'gemini-pro-vertex', 'local-llama', 'offline', 'gpt4']) assert.ok(groups.includes(g), g)
  const providers = new Set(r.health().map((h) => h.model.split('/')[0]))
  assert.deepEqual([...providers].sort(), ['anthropic', 'azure', 'bedrock', 'gemini', 'mock', 'openai', 'vertex_ai'])
})
