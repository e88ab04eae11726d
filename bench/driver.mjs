// One contender in one scenario, in its own process; prints one JSON line of results.
// Run by bench/run.mjs: `node driver.mjs '<spec json>'`.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { Writable } from 'node:stream'
import readline from 'node:readline'

const spec = JSON.parse(process.argv[2])
const messages = [{ role: 'user', content: 'Say something.' }]
const shapeUrl = (s) => `${spec.mock}/c${s.c}/s${s.s ?? 8}/l${s.l ?? 0}/d${s.d ?? 0}/v1`
const rssMb = (pid = process.pid) => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : null
  } catch {
    return null
  }
}

/** Each contender: nonStream(shape) and stream(shape) -> number of chunks, and its processes. */
async function makeClient(name) {
  if (name.startsWith('llmux')) {
    const llmux = await import('../index.mjs')
    const sink = () => new Writable({ write(_c, _e, cb) { cb() } })
    if (name === 'llmux-callLiteLLM') {
      let current
      const use = (s) => {
        const base = shapeUrl(s)
        if (current !== base) {
          llmux.configure({ secrets: { OPENAI_BASE_URL: base, OPENAI_API_KEY: 'sk-bench' } })
          current = base
        }
      }
      const call = async (s) => {
        use(s)
        await llmux.callLiteLLM({ messages }, { id: 'gpt-4o', provider: 'OpenAI' }, { user: 'bench' }, sink(), [], true)
        return s.c
      }
      return { nonStream: call, stream: call, pids: [] }
    }
    const req = (s) => ({ model: 'openai/bench', messages, api_base: shapeUrl(s), api_key: 'sk-bench', max_retries: 0 })
    return {
      nonStream: async (s) => void (await llmux.completion(req(s))),
      stream: async (s) => {
        let n = 0
        for await (const c of llmux.stream(req(s))) if (c.choices[0]?.delta?.content) n++
        return n
      },
      pids: [],
    }
  }
  if (name === 'openai-sdk') {
    const { default: OpenAI } = await import('openai')
    const clients = new Map()
    const client = (s) => {
      const base = shapeUrl(s)
      if (!clients.has(base)) clients.set(base, new OpenAI({ baseURL: base, apiKey: 'sk-bench', maxRetries: 0 }))
      return clients.get(base)
    }
    return {
      nonStream: async (s) => void (await client(s).chat.completions.create({ model: 'bench', messages })),
      stream: async (s) => {
        let n = 0
        const st = await client(s).chat.completions.create({ model: 'bench', messages, stream: true, stream_options: { include_usage: true } })
        for await (const c of st) if (c.choices[0]?.delta?.content) n++
        return n
      },
      pids: [],
    }
  }
  if (name === 'raw-undici' || name === 'litellm-proxy') {
    const { Pool } = await import('undici')
    const origin = name === 'raw-undici' ? spec.mock : spec.proxy.url
    const pool = new Pool(origin, { connections: 512, pipelining: 1 })
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${name === 'raw-undici' ? 'sk-bench' : spec.proxy.key}` }
    const target = (s, stream) => {
      if (name === 'raw-undici') return { path: `${new URL(shapeUrl(s)).pathname}/chat/completions`, body: JSON.stringify({ model: 'bench', messages, stream }) }
      return { path: '/v1/chat/completions', body: JSON.stringify({ model: `c${s.c}-s${s.s ?? 8}-d${s.d ?? 0}`, messages, stream }) }
    }
    const bodies = new Map()
    const prebuilt = (s, stream) => {
      const k = `${s.c}/${s.s}/${s.d}/${stream}`
      if (!bodies.has(k)) bodies.set(k, target(s, stream))
      return bodies.get(k)
    }
    return {
      nonStream: async (s) => {
        const t = prebuilt(s, false)
        const r = await pool.request({ method: 'POST', path: t.path, headers, body: t.body })
        JSON.parse(await r.body.text())
      },
      stream: async (s) => {
        const t = prebuilt(s, true)
        const r = await pool.request({ method: 'POST', path: t.path, headers, body: t.body })
        let n = 0
        let rest = ''
        for await (const buf of r.body) {
          const parts = (rest + buf.toString('utf8')).split('\n\n')
          rest = parts.pop()
          for (const p of parts) {
            const line = p.trim()
            if (!line.startsWith('data: ') || line === 'data: [DONE]') continue
            const c = JSON.parse(line.slice(6))
            if (c.choices?.[0]?.delta?.content) n++
          }
        }
        return n
      },
      // The proxy's own memory counts with the client's, as the sidecar's does.
      pids: name === 'litellm-proxy' ? [spec.proxy.pid] : [],
    }
  }
  if (name === 'litellm-sidecar') {
    const py = spawn(spec.python, [new URL('./litellm_sidecar.py', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'inherit'] })
    const waiting = new Map()
    let seq = 0
    let ready
    const isReady = new Promise((r) => (ready = r))
    readline.createInterface({ input: py.stdout }).on('line', (line) => {
      const m = JSON.parse(line)
      if (m.ready) return ready(m)
      const w = waiting.get(m.id)
      if (!w) return
      if (m.d !== undefined) return w.chunks++
      waiting.delete(m.id)
      if (m.error) w.reject(new Error(m.error))
      else w.resolve(m.chunks)
    })
    await isReady
    const call = (s) =>
      new Promise((resolve, reject) => {
        const id = ++seq
        waiting.set(id, { resolve, reject, chunks: 0 })
        py.stdin.write(JSON.stringify({ id, model: 'openai/bench', messages, api_base: shapeUrl(s) }) + '\n')
      })
    return { nonStream: call, stream: call, pids: [py.pid], close: () => py.kill() }
  }
  throw new Error(`unknown contender ${name}`)
}

const percentile = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]

async function run() {
  const c = await makeClient(spec.contender)
  const p = spec.params
  let result
  switch (spec.scenario) {
    case 'latency': {
      for (let i = 0; i < p.warmup; i++) await c.nonStream(p.shape)
      const times = []
      for (let i = 0; i < p.n; i++) {
        const t0 = process.hrtime.bigint()
        await c.nonStream(p.shape)
        times.push(Number(process.hrtime.bigint() - t0) / 1e6)
      }
      times.sort((a, b) => a - b)
      result = { p50_ms: percentile(times, 50), p99_ms: percentile(times, 99), n: times.length }
      break
    }
    case 'throughput': {
      const fn = p.stream ? c.stream : c.nonStream
      for (let i = 0; i < Math.min(p.concurrency, 64); i++) await fn(p.shape)
      let done = 0
      let failed = 0
      const t0 = performance.now()
      const until = t0 + p.ms
      await Promise.all(
        Array.from({ length: p.concurrency }, async () => {
          while (performance.now() < until) {
            try {
              await fn(p.shape)
              done++
            } catch {
              failed++
            }
          }
        }),
      )
      const s = (performance.now() - t0) / 1000
      result = { rps: done / s, failed }
      break
    }
    case 'bigstream': {
      // One stream lasts a few milliseconds: take the median of several, one after another.
      await c.stream({ c: 100, s: 8 })
      const rates = []
      let n = 0
      for (let i = 0; i < (p.repeat ?? 1); i++) {
        const t0 = performance.now()
        n = await c.stream(p.shape)
        rates.push((n || p.shape.c) / ((performance.now() - t0) / 1000))
      }
      rates.sort((a, b) => a - b)
      result = { chunks_per_s: rates[Math.floor((rates.length - 1) / 2)], chunks: n, streams: rates.length }
      break
    }
    case 'memory': {
      for (let i = 0; i < 20; i++) await c.nonStream({ c: 10, s: 8 })
      global.gc?.()
      await new Promise((r) => setTimeout(r, 300))
      const mine = () => rssMb() + c.pids.reduce((a, pid) => a + (rssMb(pid) ?? 0), 0)
      const idle = mine()
      let peak = idle
      const timer = setInterval(() => (peak = Math.max(peak, mine())), 50)
      let failed = 0
      await Promise.all(Array.from({ length: p.streams }, () => c.stream(p.shape).catch(() => failed++)))
      clearInterval(timer)
      result = { idle_mb: idle, peak_mb: peak, above_idle_mb: peak - idle, failed }
      break
    }
    default:
      throw new Error(`unknown scenario ${spec.scenario}`)
  }
  c.close?.()
  process.stdout.write(JSON.stringify(result) + '\n')
  process.exit(0)
}
run().catch((e) => {
  process.stdout.write(JSON.stringify({ error: String(e && e.message) }) + '\n')
  process.exit(1)
})
