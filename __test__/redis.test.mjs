// Many instances, one truth: several Node processes, each with its own router, share limits,
// budgets, cooldowns, the cache and usage through one real redis-server (started here on a free
// loopback port, killed and restarted mid-run). Skips loudly without redis-server, except in CI
// (LLMUX_REQUIRE_REDIS=1), where .ci/run installs it.
import { test, before, after, describe } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Router, ConfigurationError } from '../index.mjs'
import { startFaultServer } from './helpers/mock-faults.mjs'
import { findRedis, startRedis } from './helpers/redis-server.mjs'

const redis = findRedis()
const worker = fileURLToPath(new URL('./helpers/redis-worker.mjs', import.meta.url))
let f
let srv
let ns = 0

before(async () => {
  if (!redis.ok) return
  f = await startFaultServer()
  srv = await startRedis()
})
after(async () => {
  await srv?.stop()
  await f?.close()
})

/** Runs one instance; resolves with what it printed. */
function instance(job, env = {}) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [worker, JSON.stringify(job)], { env: { ...process.env, LLMUX_MOCK: '1', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`instance failed: ${err.message}\n${stderr}`))
      try {
        resolve(JSON.parse(stdout))
      } catch {
        reject(new Error(`instance printed no JSON: ${stdout}\n${stderr}`))
      }
    })
  })
}

/**
 * Runs instances that start together: each connects and says it is ready, then all are told to
 * go at once; `whileRunning` runs from then on. Resolves with what each printed.
 */
async function together(jobs, whileRunning = async () => {}, env = {}) {
  const kids = jobs.map((job) => {
    const child = spawn(process.execPath, [worker, JSON.stringify({ ...job, barrier: true })], { env: { ...process.env, LLMUX_MOCK: '1', ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const ready = new Promise((resolve, reject) => {
      child.stdout.on('data', () => out.includes('ready\n') && resolve())
      child.on('exit', (code) => reject(new Error(`instance exited (${code}) before it was ready: ${err}`)))
    })
    const done = new Promise((resolve, reject) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
      child.on('exit', (code) => {
        clearTimeout(timer)
        try {
          resolve(JSON.parse(out.slice(out.indexOf('ready\n') + 6)))
        } catch {
          reject(new Error(`instance (exit ${code}) printed no JSON: ${out}\n${err}`))
        }
      })
    })
    return { child, ready, done }
  })
  await Promise.all(kids.map((k) => k.ready))
  for (const k of kids) k.child.stdin.end('go\n')
  await whileRunning()
  return Promise.all(kids.map((k) => k.done))
}

/** A config whose routers share state in this test's own namespace. */
function shared(modelList, settings = {}) {
  ns += 1
  // A generous deadline: a loaded CI machine must not turn these guarantees into fallbacks.
  return { model_list: modelList, router_settings: { redis_url: srv.url, redis_namespace: `t${ns}-${process.pid}`, redis_timeout: 0.5, ...settings } }
}

const okCount = (rs) => rs.filter((r) => r.ok).length
/** Whether an answer says it was served with local state because Redis was away. */
const servedLocally = (r) => (r.warnings ?? []).some((w) => /shared state \(Redis at redis:\/\/127\.0\.0\.1:\d+\) is unavailable/.test(w))
const skip = redis.ok ? false : `SKIPPED: ${redis.why}`

describe('shared state through Redis', { skip }, () => {
  test('four processes sharing a 20 rpm user limit admit at most 20 in all', async () => {
    const config = shared([f.deployment('g', 'rpm', 'ok')], { user_limits: { rpm: 20 } })
    const outs = await together([1, 2, 3, 4].map(() => ({ config, op: 'burst', n: 10, user: 'alice' })))
    const all = outs.flatMap((o) => o.results)
    assert.equal(all.length, 40)
    assert.equal(okCount(all), 20, 'exactly the limit, across instances')
    for (const r of all.filter((r) => !r.ok)) assert.equal(r.code, 'rate_limit', r.message)
    assert.ok(!all.some(servedLocally), 'every admission was shared, none local')
    // Without Redis, each process would have admitted 10 (40 in all).
  })

  test('a cooldown set by one process is seen by the others within 1 s', async () => {
    f.reset()
    // `order` makes the sick deployment every process's first choice while it is not cooling
    // (a shuffle could let the first process miss it).
    const config = shared([f.deployment('g', 'sick', '500', { order: 1 }), f.deployment('g', 'well', 'ok', { order: 2 })], {
      allowed_fails: 1,
      cooldown_time: 60,
      num_retries: 3,
      retry_after: 0.01,
    })
    // The first process fails over to the healthy deployment once it has cooled the sick one.
    const first = await instance({ config, op: 'sequence', requests: Array.from({ length: 6 }, (_, i) => ({ content: `a${i}` })) })
    assert.equal(okCount(first.results), 6)
    assert.ok(!first.results.some(servedLocally), 'the first process recorded the failure in Redis')
    assert.equal(f.hits.sick, 1, 'the first process met the sick deployment once, then skipped it')
    const sick = f.hits.sick
    const t0 = Date.now()
    const second = await instance({ config, op: 'sequence', requests: Array.from({ length: 10 }, (_, i) => ({ content: `b${i}` })) })
    assert.equal(okCount(second.results), 10)
    assert.ok(!second.results.some(servedLocally), 'the second process was admitted by Redis')
    assert.equal(f.hits.sick, sick, 'the second process never sent to the cooled deployment')
    assert.ok(Date.now() - t0 < 30_000)
  })

  test('a cached answer from one process is a hit in another for the same user, a miss for another user', async () => {
    f.reset()
    const config = shared([f.deployment('g', 'cache', 'ok')], { cache: { ttl: 60 } })
    const a = await instance({ config, op: 'sequence', requests: [{ content: 'what is shared?', user: 'alice' }] })
    assert.equal(okCount(a.results), 1)
    assert.equal(f.hits.cache, 1)
    const b = await instance({
      config,
      op: 'sequence',
      requests: [
        { content: 'what is shared?', user: 'alice' },
        { content: 'what is shared?', user: 'bob' },
      ],
    })
    assert.equal(okCount(b.results), 2)
    assert.equal(b.results[0].text, 'what is shared?')
    assert.equal(f.hits.cache, 2, "alice's answer came from the shared cache; bob's was asked for")
  })

  test('property: across processes, a cached answer reaches only the user it was made for, and every repeat is a hit', async () => {
    f.reset()
    const config = shared([f.deployment('g', 'who', 'who')], { cache: { ttl: 60 } })
    const users = ['ann', 'ben', 'cat', 'dan']
    const prompts = ['p0', 'p1', 'p2', 'p3', 'p4']
    let seed = 20261201
    const rnd = (n) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    const seqs = [0, 1, 2].map(() => Array.from({ length: 25 }, () => ({ user: users[rnd(users.length)], content: prompts[rnd(prompts.length)] })))
    const outs = []
    for (const requests of seqs) outs.push(await instance({ config, op: 'sequence', requests }))
    outs.forEach((o, i) =>
      o.results.forEach((r, j) => {
        const { user, content } = seqs[i][j]
        assert.ok(r.ok, r.message)
        assert.ok(r.text.startsWith(`${user}|${content}|`), `process ${i + 1}, request ${j + 1} (${user}, ${content}) got "${r.text}"`)
      }),
    )
    const distinct = new Set(seqs.flat().map((r) => `${r.user}|${r.content}`))
    assert.equal(f.hits.who, distinct.size, 'the provider was asked once per user and prompt, whichever process asked')
  })

  test('a budget spent in one process stops the others; usage and metrics are every process’s', async () => {
    f.reset()
    // 10 prompt + 1 completion tokens at $0.01 each: $0.11 a request; the budget is $0.30.
    const priced = f.deployment('g', 'budget', 'ok', {}, { input_cost_per_token: 0.01, output_cost_per_token: 0.01 })
    const config = shared([priced], { user_limits: { budget_usd: 0.3, budget_duration: '1h' } })
    const a = await instance({ config, op: 'sequence', requests: [1, 2, 3].map(() => ({ content: 'spend', user: 'carol' })) })
    assert.equal(okCount(a.results), 3, 'spent 0.33 of 0.30 (the third was admitted at 0.22)')
    // The first process exited without an explicit flush: its last settlement was awaited on exit.
    const b = await instance({ config, op: 'sequence', requests: [{ content: 'more', user: 'carol' }, { content: 'mine', user: 'dave' }], usage: true, metrics: true })
    assert.equal(b.results[0].ok, false)
    assert.equal(b.results[0].code, 'rate_limit')
    assert.match(b.results[0].message, /spent its budget/)
    assert.equal(b.results[1].ok, true, "another user's budget is their own")
    assert.equal(b.usage.scope, 'shared')
    assert.equal(b.usage.by_user.carol.requests, 3, 'the other process’s requests are in this one’s getUsage()')
    assert.equal(b.usage.total.requests, 4)
    assert.match(b.metrics, /llmux_requests_total\{model_group="g",deployment="g#1"\} 4/)
    assert.match(b.metrics, /llmux_redis_errors_total\{op="admit"\} 0/)
  })

  test('budgets hold with concurrent instances: no more is admitted than the budget and what is in flight', async () => {
    f.reset()
    // max_tokens 1: the most a request can cost is 10 + 1 tokens at $0.01 = $0.11, reserved while in flight.
    const priced = f.deployment('g', 'race', 'ok', { max_tokens: 1 }, { input_cost_per_token: 0.01, output_cost_per_token: 0.01 })
    const config = shared([priced], { user_limits: { budget_usd: 0.5 } })
    const outs = await together([1, 2, 3, 4].map(() => ({ config, op: 'burst', n: 5, user: 'erin' })))
    const ok = okCount(outs.flatMap((o) => o.results))
    // $0.5 / $0.11 reserved: at most 5 at once (the fifth is admitted at 0.44 < 0.5).
    assert.ok(ok >= 1 && ok <= 5, `admitted ${ok}`)
  })

  test('Redis killed and restarted mid-run loses no request, and the processes go back to it', async () => {
    f.reset()
    const config = shared([f.deployment('g', 'steady', 'ok')], { user_limits: { rpm: 100_000 } })
    const outs = await together(
      [1, 2].map(() => ({ config, op: 'steady', ms: 4500, gapMs: 20, user: 'frank' })),
      async () => {
        await new Promise((r) => setTimeout(r, 1000))
        const port = srv.port
        await srv.stop()
        await new Promise((r) => setTimeout(r, 800))
        srv = await startRedis(port)
      },
    )
    for (const o of outs) {
      const rs = o.results
      assert.ok(rs.length > 20, `${rs.length} requests`)
      assert.equal(okCount(rs), rs.length, `every request was served: ${JSON.stringify(rs.find((r) => !r.ok))}`)
      const local = rs.filter(servedLocally)
      assert.ok(local.length >= 1, 'requests while Redis was down were served locally, and said so')
      assert.ok(!servedLocally(rs.at(-1)), 'the last requests went through Redis again')
      const slowest = Math.max(...rs.map((r) => r.ms))
      // A request meets a dead server at most once per 0.5 s pause, for at most the connect
      // timeout; the bound leaves room for a loaded machine.
      assert.ok(slowest < 2000, `no request waited on the dead Redis for long (${slowest.toFixed(0)} ms)`)
    }
  })
})

describe('Redis settings', { skip }, () => {
  test("LiteLLM's REDIS_HOST / REDIS_PORT variables share state with no redis setting in the config", async () => {
    // redis_timeout names no server; it is generous so that a loaded machine cannot turn the shared limit into local ones.
    const config = { model_list: [f.deployment('g', 'env', 'ok')], router_settings: { user_limits: { rpm: 5 }, redis_timeout: 0.5 } }
    const env = { REDIS_HOST: '127.0.0.1', REDIS_PORT: String(srv.port) }
    const user = `env-${process.pid}-${Date.now()}`
    const outs = await together([1, 2].map(() => ({ config, op: 'burst', n: 5, user })), undefined, env)
    assert.equal(okCount(outs.flatMap((o) => o.results)), 5, 'one limit for both processes')
  })

  test('a redis URL that is not one is a ConfigurationError naming the setting', () => {
    assert.throws(
      () => new Router({ model_list: [f.deployment('g', 'x', 'ok')], router_settings: { redis_url: 'http://cache:6379' } }),
      (e) => e instanceof ConfigurationError && /router_settings\.redis_url/.test(e.message),
    )
  })

  test('Redis unreachable from the start: requests are served with local state and a warning', async () => {
    const r = new Router({ model_list: [f.deployment('g', 'x', 'ok')], router_settings: { redis_url: 'redis://127.0.0.1:1', user_limits: { rpm: 5 } } })
    const a = await r.completion({ model: 'g', messages: [{ role: 'user', content: 'hi' }], user: 'u' })
    assert.match(a.warnings.join('\n'), /shared state .* is unavailable/)
    assert.match(await r.metrics(), /llmux_redis_errors_total\{op="admit"\} [1-9]/)
    assert.equal((await r.getUsage()).scope, 'instance (the shared state is unavailable)')
  })
})

describe('gateways sharing one Redis', { skip }, () => {
  const root = path.resolve(path.dirname(worker), '..', '..')
  /** Starts a gateway process; resolves with its URL and a stop(). */
  function gateway(bin, args, file) {
    const child = spawn(bin, [...args, '--config', file, '--port', '0', '--no-access-log'], { env: { ...process.env, LLMUX_MOCK: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    return new Promise((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d
        const m = /llmux listening on (http:\/\/\S+)/.exec(out)
        if (m) resolve({ url: m[1], stop: () => new Promise((r) => (child.on('exit', r), child.kill('SIGTERM'))) })
      })
      child.on('exit', (code) => reject(new Error(`gateway exited ${code}: ${out}`)))
      setTimeout(() => reject(new Error(`no ready line: ${out}`)), 15_000)
    })
  }

  test('two gateway processes (the Node CLI and the Rust binary) share a key’s limit and the cache', async (t) => {
    const binary = path.join(root, 'target/debug/llmux-server')
    if (!fs.existsSync(binary)) return t.skip(`SKIPPED: ${binary} is not built (cargo build -p llmux-server)`)
    f.reset()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmux-gw-redis-'))
    const file = path.join(dir, 'litellm_config.yaml')
    const d = f.deployment('g', 'gws', 'who')
    fs.writeFileSync(
      file,
      [
        'model_list:',
        '  - model_name: g',
        '    litellm_params:',
        `      model: ${d.litellm_params.model}`,
        `      api_base: ${d.litellm_params.api_base}`,
        '      api_key: sk-fault',
        'router_settings:',
        `  redis_url: ${srv.url}`,
        `  redis_namespace: gw-${process.pid}`,
        '  redis_timeout: 0.5',
        '  cache: { ttl: 60 }',
        'general_settings:',
        '  master_key: sk-master',
        '  keys:',
        '    - { key: sk-team, user_id: team, rpm: 4 }',
        '',
      ].join('\n'),
    )
    const gws = await Promise.all([gateway(process.execPath, [path.join(root, 'bin/llmux.js'), 'serve'], file), gateway(binary, ['serve'], file)])
    try {
      const ask = (g, content) =>
        fetch(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer sk-team', 'content-type': 'application/json' }, body: JSON.stringify({ model: 'g', messages: [{ role: 'user', content }] }) })
      // The same question through each gateway: the second is the first's cached answer.
      const a = await (await ask(gws[0], 'shared?')).json()
      const b = await (await ask(gws[1], 'shared?')).json()
      assert.equal(a.choices[0].message.content, b.choices[0].message.content)
      assert.equal(f.hits.gws, 1, 'asked upstream once, whichever gateway was asked')
      // 4 rpm for the key across both gateways: two used above, two more in all.
      const statuses = []
      for (let i = 0; i < 6; i++) statuses.push((await ask(gws[i % 2], `q${i}`)).status)
      assert.deepEqual(statuses.filter((s) => s === 200).length, 2, `statuses ${statuses}`)
      assert.ok(statuses.slice(2).every((s) => s === 429), `statuses ${statuses}`)
    } finally {
      await Promise.all(gws.map((g) => g.stop()))
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
