// What sharing the router's state through Redis costs: the same router config (a per-user rpm
// limit and a budget on a priced deployment) with its state in this process, and in a
// redis-server on loopback, against the Rust mock (answers from memory). Per variant, in a fresh
// process: the median and p99 latency of non-streamed completions one at a time, and the
// throughput of 32 at a time. `npm run bench:redis`; writes bench/results/redis.md.
import { spawn, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '..')
const N = 4000
const WARMUP = 500
const CONCURRENCY = 32
const THROUGHPUT_MS = 4000
const ROUNDS = 3

async function one(variant, base, redisUrl) {
  const llmux = await import(pathToFileURL(path.join(root, 'index.mjs')).href)
  llmux.configure({ secrets: {}, onWarning: () => {} })
  const api = `${base}/c10/s8/l0/d0/v1`
  const settings = { user_limits: { rpm: 10_000_000, budget_usd: 1_000_000, budget_duration: '30d' } }
  if (variant === 'redis') Object.assign(settings, { redis_url: redisUrl, redis_namespace: `bench-${process.pid}` })
  const model_info = { input_cost_per_token: 1e-6, output_cost_per_token: 2e-6 }
  const router = new llmux.Router({ model_list: [{ model_name: 'g', litellm_params: { model: 'openai/bench', api_base: api, api_key: 'sk-bench', max_tokens: 64 }, model_info }], router_settings: settings })
  let local = 0
  const call = async (i) => {
    const r = await router.completion({ model: 'g', messages: [{ role: 'user', content: 'hi' }], user: `user-${i % 100}` })
    if (r.warnings?.some((w) => w.includes('shared state'))) local++
  }
  for (let i = 0; i < WARMUP; i++) await call(i)
  const t = new Float64Array(N)
  for (let i = 0; i < N; i++) {
    const s = performance.now()
    await call(i)
    t[i] = performance.now() - s
  }
  t.sort()
  let done = 0
  const end = performance.now() + THROUGHPUT_MS
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      while (performance.now() < end) await call(w + done++)
    }),
  )
  const rps = done / (THROUGHPUT_MS / 1000)
  await router.flush()
  const usage = await router.getUsage()
  return { variant, p50_us: t[Math.floor(N / 2)] * 1000, p99_us: t[Math.floor(N * 0.99)] * 1000, rps, local, requests: usage.total.requests, scope: usage.scope }
}

if (process.argv[2] === '--one') {
  console.log(JSON.stringify(await one(process.argv[3], process.argv[4], process.argv[5])))
  process.exit(0)
}

const { startRedis, findRedis } = await import(pathToFileURL(path.join(root, '__test__/helpers/redis-server.mjs')).href)
const found = findRedis()
if (!found.ok) {
  console.error(`SKIPPED: ${found.why}`)
  process.exit(1)
}
const redis = await startRedis()
const mock = spawn(path.join(root, 'target/release/llmux-bench-mock'), ['0'], { stdio: ['ignore', 'pipe', 'inherit'] })
const port = await new Promise((resolve) => readline.createInterface({ input: mock.stdout }).on('line', (l) => /listening (\d+)/.test(l) && resolve(/(\d+)/.exec(l)[1])))
const base = `http://127.0.0.1:${port}`
const variants = ['in-process', 'redis']
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]
const rows = {}
for (let r = 0; r < ROUNDS; r++) {
  for (const v of variants) {
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--one', v, base, redis.url], { env: process.env, maxBuffer: 1 << 20 })
    const x = JSON.parse(out.toString().trim().split('\n').pop())
    if (x.local) throw new Error(`${v}: ${x.local} requests fell back to local state`)
    ;(rows[v] ??= []).push(x)
  }
}
mock.kill()
await redis.stop()
const m = (v, k) => med(rows[v].map((x) => x[k]))
const [a, b] = variants
const lines = [
  `Shared state through Redis, ${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, Node ${process.version}, ${found.version.split(' ').slice(0, 3).join(' ')} on loopback.`,
  `Same router (per-user rpm limit and 30-day budget, priced deployment, 100 users) against the Rust mock; ${N} completions one at a time, then ${CONCURRENCY} at a time for ${THROUGHPUT_MS / 1000} s; median of ${ROUNDS} rounds, each variant in a fresh process.`,
  '',
  '| state | p50 µs | p99 µs | req/s at 32 | rounds (p50 µs / req/s) |',
  '|---|---|---|---|---|',
  ...variants.map((v) => `| ${v} | ${m(v, 'p50_us').toFixed(1)} | ${m(v, 'p99_us').toFixed(1)} | ${m(v, 'rps').toFixed(0)} | ${rows[v].map((x) => `${x.p50_us.toFixed(0)} / ${x.rps.toFixed(0)}`).join(', ')} |`),
  '',
  `Redis adds **${(m(b, 'p50_us') - m(a, 'p50_us')).toFixed(1)} µs** at p50 (goal: at most 300) and keeps **${(m(b, 'rps') / m(a, 'rps')).toFixed(2)}x** the in-process throughput at concurrency ${CONCURRENCY} (goal: at least 0.5x). Every request was admitted through Redis (none fell back); getUsage() in the Redis runs reported scope "${rows[b][0].scope}".`,
]
const md = lines.join('\n')
fs.mkdirSync(path.join(here, 'results'), { recursive: true })
fs.writeFileSync(path.join(here, 'results/redis.md'), md + '\n')
console.log(md)
