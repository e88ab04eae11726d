// `llmux serve` beside the LiteLLM proxy: the same LiteLLM config, the same Rust mock, the same
// client (an undici pool), one run. Each server gets: its added latency p50/p99 over calling the
// mock directly (non-streamed, one at a time), throughput at concurrency 32 and 256 (plain and
// streamed, 100 chunks), the time from spawn to its first answer, RSS idle and with 1,000
// concurrent streams. The llmux side is the standalone binary (target/release/llmux-server).
// Beside them, the floor: a proxy that only forwards bytes (`llmux-bench-mock proxy`), whose
// added latency is what any HTTP hop costs on this machine before any work of its own.
// `npm run bench:gateway`; writes bench/results/gateway.md.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '..')
const N = Number(process.env.GW_N ?? 2000)
const SECONDS = Number(process.env.GW_SECONDS ?? 4)
const KEY = 'sk-bench-master'
const messages = [{ role: 'user', content: 'Say something.' }]

const rss = (pid) => {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024
  } catch {
    return null
  }
}
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

const mock = spawn(path.join(root, 'target/release/llmux-bench-mock'), ['0'], { stdio: ['ignore', 'pipe', 'inherit'] })
const mockPort = await new Promise((resolve) => readline.createInterface({ input: mock.stdout }).on('line', (l) => /listening (\d+)/.test(l) && resolve(/(\d+)/.exec(l)[1])))
const mockUrl = `http://127.0.0.1:${mockPort}`
const shapes = { plain: 'c10/s8/l0/d0', streamy: 'c100/s8/l0/d0', slow: 'c100/s8/l0/d20' }
const cfgFile = path.join(os.tmpdir(), `llmux-gw-bench-${process.pid}.yaml`)
fs.writeFileSync(
  cfgFile,
  [
    'model_list:',
    ...Object.entries(shapes).flatMap(([name, shape]) => [`  - model_name: ${name}`, '    litellm_params:', '      model: openai/bench', `      api_base: ${mockUrl}/${shape}/v1`, '      api_key: sk-bench']),
    'general_settings:',
    `  master_key: ${KEY}`,
    '',
  ].join('\n'),
)

/** A client for a server (or the mock itself): one pool, prebuilt bodies. */
function client(origin, direct) {
  const pool = new Pool(origin, { connections: 1100, pipelining: 1 })
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${direct ? 'sk-bench' : KEY}` }
  const body = (model, stream) => JSON.stringify({ model: direct ? 'bench' : model, messages, stream })
  const bodies = {}
  const pathOf = (model) => (direct ? `/${shapes[model]}/v1/chat/completions` : '/v1/chat/completions')
  return {
    async plain(model = 'plain') {
      const b = (bodies[`${model}0`] ??= body(model, false))
      const r = await pool.request({ method: 'POST', path: pathOf(model), headers, body: b })
      if (r.statusCode !== 200) throw new Error(`status ${r.statusCode}: ${await r.body.text()}`)
      JSON.parse(await r.body.text())
    },
    async stream(model = 'streamy') {
      const b = (bodies[`${model}1`] ??= body(model, true))
      const r = await pool.request({ method: 'POST', path: pathOf(model), headers, body: b })
      if (r.statusCode !== 200) throw new Error(`status ${r.statusCode}: ${await r.body.text()}`)
      let text = ''
      for await (const c of r.body) text += c
      if (!text.includes('[DONE]')) throw new Error('no [DONE]')
    },
    close: () => pool.close(),
  }
}

/**
 * Latency of each client, one request at a time, in interleaved rounds of 100 (direct, then
 * through each server, again and again): the machine's drift over the run falls on every
 * client alike instead of on whichever ran during it. `n` requests each; p50/p99 in ms.
 */
async function latencies(clients, n) {
  const t = clients.map(() => [])
  for (const c of clients) for (let i = 0; i < 200; i++) await c.plain()
  for (let done = 0; done < n; done += 100) {
    for (const [k, c] of clients.entries()) {
      for (let i = 0; i < 100; i++) {
        const s = performance.now()
        await c.plain()
        t[k].push(performance.now() - s)
      }
    }
  }
  return t.map((xs) => ({ p50: pct(xs, 0.5), p99: pct(xs, 0.99) }))
}

async function throughput(c, conc, stream) {
  let done = 0
  let failed = 0
  const end = performance.now() + SECONDS * 1000
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (performance.now() < end) {
        try {
          await (stream ? c.stream() : c.plain())
          done++
        } catch {
          failed++
        }
      }
    }),
  )
  return { rps: done / SECONDS, failed }
}

async function start(name) {
  // A port the kernel says is free (a random one can be a client socket's ephemeral port).
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port
      s.close(() => resolve(p))
    })
  })
  const t0 = performance.now()
  const log = fs.openSync(path.join(os.tmpdir(), `llmux-gw-bench-${name}-${process.pid}.log`), 'w')
  const child =
    name === 'llmux'
      ? spawn(path.join(root, 'target/release/llmux-server'), ['serve', '--config', cfgFile, '--port', String(port), '--no-access-log'], { stdio: ['ignore', log, log] })
      : spawn(path.join(here, '.venv/bin/litellm'), ['--config', cfgFile, '--host', '127.0.0.1', '--port', String(port), '--num_workers', '1'], {
          stdio: ['ignore', log, log],
          env: { ...process.env, LITELLM_LOG: 'ERROR', LITELLM_LOCAL_MODEL_COST_MAP: 'True' },
        })
  const c = client(`http://127.0.0.1:${port}`, false)
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode})`)
    try {
      await c.plain()
      break
    } catch {
      await sleep(5)
    }
    if (performance.now() - t0 > 120_000) throw new Error(`${name} did not answer within 120 s`)
  }
  return { child, c, cold_ms: performance.now() - t0 }
}

/** A server's added latency over the mock, and the floor's when `floorUrl` is given. */
async function added(c, n, floorUrl) {
  const direct = client(mockUrl, true)
  const others = floorUrl ? [client(floorUrl, true)] : []
  const [base, own, fl] = await latencies([direct, c, ...others], n)
  await Promise.all([direct, ...others].map((x) => x.close()))
  const rel = (l) => ({ p50_added: l.p50 - base.p50, p99_added: l.p99 - base.p99, p50: l.p50, p99: l.p99 })
  return { base, own: rel(own), floor: fl && rel(fl) }
}

async function measure(name) {
  const { child, c, cold_ms } = await start(name)
  await sleep(500)
  const idle = rss(child.pid)
  let floorProc
  let floorUrl
  if (name === 'llmux') {
    // The forward-only proxy, measured in the same rounds.
    floorProc = spawn(path.join(root, 'target/release/llmux-bench-mock'), ['proxy', mockPort, '0'], { stdio: ['ignore', 'pipe', 'inherit'] })
    floorUrl = `http://127.0.0.1:${await new Promise((resolve) => readline.createInterface({ input: floorProc.stdout }).on('line', (l) => /listening (\d+)/.test(l) && resolve(/(\d+)/.exec(l)[1])))}`
  }
  const lat = await added(c, name === 'litellm' ? Math.min(N, 500) : N, floorUrl)
  floorProc?.kill()
  if (lat.floor) floorResult = lat.floor
  if (name === 'llmux') base = lat.base
  const out = { cold_ms, rss_idle: idle, ...lat.own }
  for (const [k, conc, stream] of [['rps32', 32, false], ['rps256', 256, false], ['srps32', 32, true], ['srps256', 256, true]]) {
    const r = await throughput(c, conc, stream)
    out[k] = r.rps
    out[`${k}_failed`] = r.failed
  }
  // 1,000 streams at once, each two seconds long: RSS at their height.
  let peak = 0
  const streams = Array.from({ length: 1000 }, () => c.stream('slow').catch(() => {}))
  for (let i = 0; i < 15; i++) {
    await sleep(100)
    peak = Math.max(peak, rss(child.pid) ?? 0)
  }
  await Promise.all(streams)
  out.rss_1000 = peak
  await c.close()
  child.kill('SIGTERM')
  return out
}

let base
let floorResult
const llmux = await measure('llmux')
const results = { floor: floorResult, llmux }
const haveLitellm = fs.existsSync(path.join(here, '.venv/bin/litellm'))
if (haveLitellm) results.litellm = await measure('litellm')
mock.kill()

const f = (x, d = 1) => (x == null ? '–' : Number(x).toLocaleString('en-US', { maximumFractionDigits: d }))
const rows = [
  ['added latency p50 (µs), c=1', (r) => f(r.p50_added * 1000, 0)],
  ['added latency p99 (µs), c=1', (r) => f(r.p99_added * 1000, 0)],
  ['req/s, c=32', (r) => f(r.rps32, 0)],
  ['req/s, c=256', (r) => f(r.rps256, 0)],
  ['streamed req/s (100 chunks), c=32', (r) => f(r.srps32, 0)],
  ['streamed req/s (100 chunks), c=256', (r) => f(r.srps256, 0)],
  ['cold start to first answer (ms)', (r) => f(r.cold_ms, 1)],
  ['RSS idle (MB)', (r) => f(r.rss_idle, 1)],
  ['RSS with 1,000 concurrent streams (MB)', (r) => f(r.rss_1000, 1)],
]
const names = Object.keys(results)
const title = { floor: 'forward-only proxy (floor)', llmux: 'llmux serve', litellm: 'LiteLLM proxy' }
const md = [
  `Gateway, ${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, Node ${process.version} (client). The same LiteLLM config (three groups over the Rust mock, a master key) for llmux-server (release) and the LiteLLM proxy 1.78.7 (--num_workers 1); the mock directly answers in ${f(base.p50 * 1000, 0)} µs p50, ${f(base.p99 * 1000, 0)} µs p99. Throughput: ${SECONDS} s per cell.`,
  '',
  `| | ${names.map((n) => title[n]).join(' | ')} |${haveLitellm ? ' ratio |' : ''}`,
  `|---|${names.map(() => '---').join('|')}|${haveLitellm ? '---|' : ''}`,
  ...rows.map(([label, get]) => {
    const cells = names.map((n) => get(results[n]))
    let ratio = ''
    if (haveLitellm) {
      const key = { 'req/s, c=32': 'rps32', 'req/s, c=256': 'rps256', 'streamed req/s (100 chunks), c=32': 'srps32', 'streamed req/s (100 chunks), c=256': 'srps256' }[label]
      ratio = key ? ` ${f(results.llmux[key] / results.litellm[key], 1)}x |` : ' |'
    }
    return `| ${label} | ${cells.join(' | ')} |${ratio}`
  }),
  '',
  `Failed requests: ${names.filter((n) => n !== 'floor').map((n) => `${n} ${['rps32', 'rps256', 'srps32', 'srps256'].map((k) => results[n][`${k}_failed`]).join('/')}`).join(', ')}. The floor is a proxy that only forwards each request over a kept-alive connection (bench/mock-server, \`proxy\` mode): what one HTTP hop adds on this machine; llmux adds ${f((results.llmux.p50_added - results.floor.p50_added) * 1000, 0)} µs at p50 above it.`,
]
fs.mkdirSync(path.join(here, 'results'), { recursive: true })
fs.writeFileSync(path.join(here, 'results/gateway.md'), md.join('\n') + '\n')
fs.writeFileSync(path.join(here, 'results/gateway.json'), JSON.stringify({ base, results }, null, 2))
console.log(md.join('\n'))
