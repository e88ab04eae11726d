// The router's added overhead, and what logging callbacks and OpenTelemetry tracing add to it:
// non-streamed completions one after another against the Rust mock (answers from memory), for
// llmux direct, through a Router, a Router with an onSuccess callback, and a Router with an
// OpenTelemetry SDK tracer (batching processor, in-memory exporter) recording a span per request. Each variant runs
// in a fresh process; the figure is the median of per-request latencies after a warm-up, and
// the differences are the overheads. `npm run bench:overhead`; writes bench/results/overhead.md.
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
const ROUNDS = 3

async function one(variant, base) {
  const llmux = await import(pathToFileURL(path.join(root, 'index.mjs')).href)
  const api = `${base}/c10/s8/l0/d0/v1`
  let call
  if (variant === 'direct') {
    llmux.configure({ secrets: { OPENAI_API_KEY: 'sk-bench', OPENAI_BASE_URL: api } })
    call = () => llmux.completion({ model: 'openai/bench', messages: [{ role: 'user', content: 'hi' }] })
  } else {
    const options = {}
    if (variant === 'router+callbacks') options.onSuccess = (p) => void p.response_cost
    if (variant === 'router+otel') {
      const { trace } = await import(pathToFileURL(path.join(root, 'node_modules/@opentelemetry/api/build/src/index.js')).href)
      const sdk = await import(pathToFileURL(path.join(root, 'node_modules/@opentelemetry/sdk-trace-base/build/src/index.js')).href)
      const exporter = new sdk.InMemorySpanExporter()
      // A batching processor, as applications run the SDK.
      trace.setGlobalTracerProvider(new sdk.BasicTracerProvider({ spanProcessors: [new sdk.BatchSpanProcessor(exporter)] }))
      setInterval(() => exporter.reset(), 1000).unref()
    }
    const router = new llmux.Router({ model_list: [{ model_name: 'g', litellm_params: { model: 'openai/bench', api_base: api, api_key: 'sk-bench' } }] }, options)
    call = () => router.completion({ model: 'g', messages: [{ role: 'user', content: 'hi' }] })
  }
  for (let i = 0; i < WARMUP; i++) await call()
  const t = new Float64Array(N)
  for (let i = 0; i < N; i++) {
    const s = performance.now()
    await call()
    t[i] = performance.now() - s
  }
  t.sort()
  return { variant, p50_us: t[Math.floor(N / 2)] * 1000, p90_us: t[Math.floor(N * 0.9)] * 1000 }
}

if (process.argv[2] === '--one') {
  console.log(JSON.stringify(await one(process.argv[3], process.argv[4])))
  process.exit(0)
}

const mock = spawn(path.join(root, 'target/release/llmux-bench-mock'), ['0'], { stdio: ['ignore', 'pipe', 'inherit'] })
const port = await new Promise((resolve) => readline.createInterface({ input: mock.stdout }).on('line', (l) => /listening (\d+)/.test(l) && resolve(/(\d+)/.exec(l)[1])))
const base = `http://127.0.0.1:${port}`
const variants = ['direct', 'router', 'router+callbacks', 'router+otel']
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]
const rows = {}
for (let r = 0; r < ROUNDS; r++) {
  for (const v of variants) {
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--one', v, base], { env: process.env, maxBuffer: 1 << 20 })
    const x = JSON.parse(out.toString().trim().split('\n').pop())
    ;(rows[v] ??= []).push(x.p50_us)
  }
}
mock.kill()
const p50 = Object.fromEntries(variants.map((v) => [v, med(rows[v])]))
const lines = [
  `Router overhead, ${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, Node ${process.version}: median per-request latency (µs) of ${N} non-streamed completions one at a time, median of ${ROUNDS} rounds (each round's p50 in brackets).`,
  '',
  '| variant | p50 µs | rounds | added over the row above |',
  '|---|---|---|---|',
  ...variants.map((v, i) => `| ${v} | ${p50[v].toFixed(1)} | ${rows[v].map((x) => x.toFixed(0)).join(', ')} | ${i === 0 ? '–' : `${(p50[v] - p50[i === 1 ? 'direct' : 'router']).toFixed(1)} µs over ${i === 1 ? 'direct' : 'router'}`} |`),
]
const md = lines.join('\n')
fs.mkdirSync(path.join(here, 'results'), { recursive: true })
fs.writeFileSync(path.join(here, 'results/overhead.md'), md + '\n')
console.log(md)
