// Embeddings benchmark: 1,000 inputs x 1,536 dimensions a call from the Rust mock, for llmux
// (plain arrays and Float32Array views), the official openai SDK and a raw undici client that
// decodes base64 into Float32Array views itself (the floor). Each contender runs in a fresh
// process: warm-up calls, then timed calls one after another; per call, the median wall time
// and the client CPU (user + system of the whole process, Rust threads included).
// `node bench/embed.mjs [--calls N]` (run by `npm run bench:embed`); writes
// bench/results/embeddings.{md,json}.
import { spawn, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '..')
const INPUTS = 1000
const DIMS = 1536
const argCalls = process.argv.indexOf('--calls')
const CALLS = argCalls > 0 ? Number(process.argv[argCalls + 1]) : 40
const WARMUP = 5
const inputs = Array.from({ length: INPUTS }, (_, i) => `document chunk number ${i}: a paragraph of text about the subject at hand`)

async function one(contender, base) {
  const url = `${base}/e${DIMS}/v1`
  let call
  if (contender === 'raw-undici') {
    const { request } = await import('undici')
    call = async () => {
      const res = await request(`${url}/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
        body: JSON.stringify({ model: 'text-embedding-3-small', input: inputs, encoding_format: 'base64' }),
      })
      const body = await res.body.json()
      return body.data.map((d) => {
        const b = Buffer.from(d.embedding, 'base64')
        return new Float32Array(b.buffer, b.byteOffset, b.length / 4)
      })
    }
  } else if (contender === 'openai-sdk') {
    const { default: OpenAI } = await import('openai')
    const client = new OpenAI({ apiKey: 'sk-bench', baseURL: url, maxRetries: 0 })
    call = async () => (await client.embeddings.create({ model: 'text-embedding-3-small', input: inputs })).data.map((d) => d.embedding)
  } else {
    const llmux = await import(path.join(root, 'index.mjs'))
    llmux.configure({ secrets: { OPENAI_API_KEY: 'sk-bench', OPENAI_BASE_URL: url } })
    const output = contender === 'llmux-float32' ? 'float32' : undefined
    call = async () => (await llmux.embedding({ model: 'openai/text-embedding-3-small', input: inputs, output })).data.map((d) => d.embedding)
  }
  for (let i = 0; i < WARMUP; i++) {
    const rows = await call()
    if (rows.length !== INPUTS || rows[0].length !== DIMS) throw new Error(`${contender}: ${rows.length} rows of ${rows[0]?.length}`)
  }
  const walls = []
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < CALLS; i++) {
    const s = performance.now()
    await call()
    walls.push(performance.now() - s)
  }
  const total = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  walls.sort((a, b) => a - b)
  return {
    contender,
    median_ms: walls[Math.floor(walls.length / 2)],
    p90_ms: walls[Math.floor(walls.length * 0.9)],
    vectors_per_s: (INPUTS * CALLS) / (total / 1000),
    cpu_ms_per_call: (cpu.user + cpu.system) / 1000 / CALLS,
  }
}

if (process.argv[2] === '--one') {
  const r = await one(process.argv[3], process.argv[4])
  console.log(JSON.stringify(r))
  process.exit(0)
}

const mockBin = path.join(root, 'target/release/llmux-bench-mock')
const mock = spawn(mockBin, ['0'], { stdio: ['ignore', 'pipe', 'inherit'] })
const port = await new Promise((resolve) => {
  readline.createInterface({ input: mock.stdout }).on('line', (l) => {
    const m = /listening (\d+)/.exec(l)
    if (m) resolve(m[1])
  })
})
const base = `http://127.0.0.1:${port}`
const results = []
for (const c of ['raw-undici', 'openai-sdk', 'llmux-array', 'llmux-float32']) {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--one', c, base], { env: process.env, cwd: here, maxBuffer: 1 << 20 })
  const r = JSON.parse(out.toString().trim().split('\n').pop())
  results.push(r)
  console.error(`${c}: ${r.median_ms.toFixed(2)} ms/call, ${Math.round(r.vectors_per_s)} vectors/s, ${r.cpu_ms_per_call.toFixed(2)} ms CPU/call`)
}
mock.kill()
const by = Object.fromEntries(results.map((r) => [r.contender, r]))
const ratio = (a, b) => by[a].vectors_per_s / by[b].vectors_per_s
const summary = {
  date: new Date().toISOString().slice(0, 10),
  machine: `${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
  inputs: INPUTS,
  dims: DIMS,
  calls: CALLS,
  results,
  float32_vs_openai_sdk: ratio('llmux-float32', 'openai-sdk'),
  raw_vs_float32: ratio('raw-undici', 'llmux-float32'),
  array_vs_openai_sdk: ratio('llmux-array', 'openai-sdk'),
}
const md = [
  `Embeddings, ${INPUTS} inputs x ${DIMS} dimensions a call, ${CALLS} calls after ${WARMUP} warm-up, ${summary.date}, ${summary.machine}`,
  '',
  '| client | median ms/call | p90 ms/call | vectors/s | client CPU ms/call |',
  '|---|---|---|---|---|',
  ...results.map((r) => `| ${r.contender} | ${r.median_ms.toFixed(2)} | ${r.p90_ms.toFixed(2)} | ${Math.round(r.vectors_per_s)} | ${r.cpu_ms_per_call.toFixed(2)} |`),
  '',
  `llmux Float32Array throughput is ${summary.float32_vs_openai_sdk.toFixed(2)}x the openai SDK's; raw undici is ${summary.raw_vs_float32.toFixed(2)}x llmux Float32Array; llmux arrays are ${summary.array_vs_openai_sdk.toFixed(2)}x the openai SDK.`,
].join('\n')
fs.mkdirSync(path.join(here, 'results'), { recursive: true })
fs.writeFileSync(path.join(here, 'results/embeddings.json'), JSON.stringify(summary, null, 2))
fs.writeFileSync(path.join(here, 'results/embeddings.md'), md + '\n')
console.log(md)
