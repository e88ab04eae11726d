// Nothing outlives its caller: dropped iterators are collected and close their upstream, a
// stalled Writable plus an abort ends the call (usage still reported), a hung secrets provider
// or onUsage is waited on only so long, and the authenticated user is the one limits follow.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import v8 from 'node:v8'
import vm from 'node:vm'
import { Writable } from 'node:stream'
import { configure, completion, stream, callLiteLLM, Router } from '../index.mjs'
import { startHostile } from './helpers/hostile.mjs'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

let h
before(async () => {
  h = await startHostile()
})
after(() => h.close())

const ask = (path, extra = {}) => ({ model: 'openai/m', messages: [{ role: 'user', content: 'hi' }], api_base: h.url(path), api_key: 'k', max_retries: 0, ...extra })

test('1,000 iterators dropped mid-stream close their sockets, stop polling isKilled, and report usage', async () => {
  let polls = 0
  const usage = []
  configure({ isKilled: async () => (polls++, false), killPollMs: 20, onUsage: (...a) => usage.push(a) })
  let its = Array.from({ length: 1000 }, (_, i) => stream(ask('/slow-forever', { requestId: `gc-${i}` })))
  await Promise.all(its.map((it) => it.next())) // one chunk each
  assert.equal(h.activeResponses(), 1000, 'every stream is open')
  its = null // the caller forgets them all, without return()
  for (let i = 0; i < 20 && (h.activeResponses() > 0 || usage.length < 1000); i++) {
    gc()
    await sleep(100)
  }
  assert.equal(h.activeResponses(), 0, 'every upstream answer was closed')
  assert.equal(usage.length, 1000, 'each dropped stream reported its usage once')
  assert.ok(usage.every((u) => u[6].estimated === true))
  const pollsNow = polls
  await sleep(200)
  assert.equal(polls, pollsNow, 'isKilled is no longer polled')
  configure({ isKilled: null, onUsage: null })
})

test('a Writable that never drains, then an abort: the call ends at once and usage is reported', async () => {
  const usage = []
  configure({ onUsage: (...a) => usage.push(a), secrets: { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: h.url('/fast-forever') } })
  // Takes one write, then never calls back: write() returns false and 'drain' never comes.
  const stalled = new Writable({ highWaterMark: 1, write() {} })
  const ac = new AbortController()
  const started = Date.now()
  const call = callLiteLLM({ messages: [{ role: 'user', content: 'hi' }], options: { requestId: 'stall-1' } }, 'openai/m', { user: 'u' }, stalled, [], true, {
    signal: ac.signal,
  }).catch((e) => e)
  await sleep(300)
  ac.abort()
  const e = await call
  assert.equal(e.code, 'cancelled', String(e))
  assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`)
  assert.equal(usage.length, 1)
  assert.equal(usage[0][6].estimated, true)
  configure({ onUsage: null, secrets: null })
})

test('an async onUsage is awaited before the call settles (bounded by onUsageTimeoutMs)', async () => {
  let recorded = false
  configure({ onUsage: async () => (await sleep(100), (recorded = true)), onUsageTimeoutMs: 1000 })
  await completion({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] })
  assert.equal(recorded, true, 'the billing write finished before completion() resolved')
  // One that never settles holds the call only for onUsageTimeoutMs.
  const warnings = []
  configure({ onUsage: () => new Promise(() => {}), onUsageTimeoutMs: 100, onWarning: (w) => warnings.push(w) })
  const t = Date.now()
  await completion({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] })
  assert.ok(Date.now() - t < 1000)
  assert.ok(warnings.some((w) => /onUsage/.test(w)))
  configure({ onUsage: null, onWarning: null, onUsageTimeoutMs: 5000 })
})

test('a hung secrets provider: a first load times out with a config error; later, stale secrets serve', async () => {
  configure({ secrets: () => new Promise(() => {}), secretsTimeoutMs: 100 })
  await assert.rejects(completion({ model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] }), (e) => e.code === 'config' && /did not answer/.test(e.message))
  let calls = 0
  const provider = async () => {
    calls++
    if (calls > 1) return new Promise(() => {}) // every refresh hangs
    return { OPENAI_API_KEY: 'sk-first' }
  }
  // A refresh that waited would wait 5 s: the bound below tells the two apart on a loaded machine.
  configure({ secrets: provider, secretsTtlMs: 1, secretsTimeoutMs: 5000 })
  await completion({ model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] })
  await sleep(5)
  const t = Date.now()
  await completion({ model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] })
  assert.ok(Date.now() - t < 1000, 'the call did not wait for the hung refresh')
  assert.ok(calls >= 2)
  configure({ secrets: null })
})

test('the authenticated account user, not the request user field, is the one limits follow', async () => {
  const r = new Router({
    model_list: [{ model_name: 'g', litellm_params: { model: 'mock/echo' } }],
    router_settings: { user_limits: { rpm: 2 } },
  })
  for (const name of ['mallory-1', 'mallory-2']) {
    await r.completion({ model: 'g', messages: [{ role: 'user', content: 'x' }], user: name, account: { user: 'alice' } })
  }
  // Rotating the request's user field does not escape alice's limit.
  await assert.rejects(
    r.completion({ model: 'g', messages: [{ role: 'user', content: 'x' }], user: 'mallory-3', account: { user: 'alice' } }),
    (e) => e.code === 'rate_limit' && /alice/.test(e.message),
  )
})
