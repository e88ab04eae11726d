// The benchmark harness: llmux beside the openai SDK, a raw undici client (the floor), LiteLLM
// as amplify ran it (a Python sidecar fed JSON lines) and the LiteLLM proxy, all against one
// fast Rust mock on 127.0.0.1, in one run. Each measurement runs in a fresh process; figures
// are medians of several rounds with their spread. Writes bench/results/latest.{md,json}.
import { spawn, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '..')
const quick = process.argv.includes('--quick')
const skipPython = process.argv.includes('--skip-python') || !fs.existsSync(path.join(here, '.venv/bin/python'))
const ROUNDS = quick ? 1 : 3
const env = { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: path.join(here, '.build/llmux.linux-x64-gnu.node') }
const notes = []

function startProcess(cmd, args, opts, readyRe) {
  const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] })
  return new Promise((resolve, reject) => {
    const onLine = (line) => {
      const m = readyRe.exec(line)
      if (m) resolve({ child, match: m })
    }
    readline.createInterface({ input: child.stdout }).on('line', onLine)
    readline.createInterface({ input: child.stderr }).on('line', onLine)
    child.on('exit', (code) => reject(new Error(`${cmd} exited with ${code}`)))
  })
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor((s.length - 1) / 2)]
}

function drive(contender, scenario, params, extra = {}) {
  const spec = JSON.stringify({ contender, scenario, params, mock: state.mock, proxy: state.proxy, python: state.python, ...extra })
  let out
  try {
    out = execFileSync(process.execPath, ['--expose-gc', path.join(here, 'driver.mjs'), spec], { env, cwd: here, maxBuffer: 1 << 20, timeout: 600_000 })
  } catch (e) {
    out = e.stdout ?? Buffer.from('{"error":"driver failed"}')
  }
  const r = JSON.parse(out.toString().trim().split('\n').pop() || '{"error":"no output"}')
  if (r.error) {
    // One failed measurement is reported, not fatal to the rest of the run.
    notes.push(`${contender} ${scenario}: ${r.error}`)
    return null
  }
  return r
}

/** Runs rounds; returns { value (median), lo, hi } of one field. */
function rounds(contender, scenario, params, field, n = ROUNDS) {
  const vals = []
  for (let i = 0; i < n; i++) {
    const r = drive(contender, scenario, params)
    if (r) vals.push(r[field])
  }
  return vals.length ? { value: median(vals), lo: Math.min(...vals), hi: Math.max(...vals), n: vals.length } : undefined
}

const state = { mock: null, proxy: null, python: path.join(here, '.venv/bin/python') }
const mockBin = path.join(root, 'target/release/llmux-bench-mock')
const { child: mock, match } = await startProcess(mockBin, ['0'], {}, /listening (\d+)/)
state.mock = `http://127.0.0.1:${match[1]}`

const fast = ['raw-undici', 'llmux', 'openai-sdk']
const python = skipPython ? [] : ['litellm-sidecar', 'litellm-proxy']
if (skipPython) notes.push('LiteLLM contenders skipped: no bench/.venv (PyPI unreachable or --skip-python).')
let proxyChild = null
if (!skipPython) {
  const shapes = [[10, 8, 0], [100, 8, 0], [5000, 8, 0], [100, 8, 20]]
  const cfg = ['model_list:']
  for (const [c, s, d] of shapes) {
    cfg.push(`  - model_name: c${c}-s${s}-d${d}`, '    litellm_params:', `      model: openai/bench`, `      api_base: ${state.mock}/c${c}/s${s}/l0/d${d}/v1`, '      api_key: sk-bench')
  }
  cfg.push('general_settings:', '  master_key: sk-proxy-master')
  const cfgFile = path.join(os.tmpdir(), `llmux-bench-proxy-${process.pid}.yaml`)
  fs.writeFileSync(cfgFile, cfg.join('\n') + '\n')
  const t0 = performance.now()
  const port = 40000 + Math.floor(Math.random() * 10000)
  // The proxy logs to a file, never to a pipe: the harness blocks while a driver runs, and a
  // full pipe would stall the proxy.
  const logFd = fs.openSync(path.join(os.tmpdir(), `llmux-bench-proxy-${process.pid}.log`), 'w')
  proxyChild = spawn(path.join(here, '.venv/bin/litellm'), ['--config', cfgFile, '--host', '127.0.0.1', '--port', String(port), '--num_workers', '1'], {
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, LITELLM_LOG: 'ERROR', LITELLM_LOCAL_MODEL_COST_MAP: 'True' },
  })
  let up = false
  while (!up && performance.now() - t0 < 120_000 && proxyChild.exitCode === null) {
    await new Promise((r) => setTimeout(r, 100))
    up = await fetch(`http://127.0.0.1:${port}/health/liveliness`).then((r) => r.ok, () => false)
  }
  if (up) {
    state.proxy = { url: `http://127.0.0.1:${port}`, key: 'sk-proxy-master', start_ms: performance.now() - t0, pid: proxyChild.pid }
  } else {
    notes.push('LiteLLM proxy did not start within 120 s')
    proxyChild.kill()
    python.splice(python.indexOf('litellm-proxy'), 1)
  }
}
const contenders = [...fast, 'llmux-callLiteLLM', ...python]
const results = {}
const put = (scenario, contender, v) => v && ((results[scenario] ??= {})[contender] = v)
const log = (...a) => console.error('[bench]', ...a)

for (const c of contenders) {
  const isPy = c.startsWith('litellm')
  if (c !== 'llmux-callLiteLLM') {
    log(c, 'latency')
    const lat = []
    for (let i = 0; i < ROUNDS; i++) {
      const r = drive(c, 'latency', { warmup: isPy ? 10 : 200, n: isPy ? 100 : (quick ? 500 : 2000), shape: { c: 10, s: 8 } })
      if (r) lat.push(r)
    }
    if (lat.length) put('latency_p50_ms', c, { value: median(lat.map((r) => r.p50_ms)), lo: Math.min(...lat.map((r) => r.p50_ms)), hi: Math.max(...lat.map((r) => r.p50_ms)) })
    if (lat.length) put('latency_p99_ms', c, { value: median(lat.map((r) => r.p99_ms)), lo: Math.min(...lat.map((r) => r.p99_ms)), hi: Math.max(...lat.map((r) => r.p99_ms)) })
  }
  for (const [label, conc, stream] of [['rps_c32', 32, false], ['rps_c256', 256, false], ['rps_stream100_c32', 32, true], ['rps_stream100_c256', 256, true]]) {
    if (c === 'llmux-callLiteLLM' && !stream) continue
    log(c, label)
    put(label, c, rounds(c, 'throughput', { concurrency: conc, stream, ms: isPy ? 3000 : 2000, shape: { c: stream ? 100 : 10, s: 8 } }, 'rps'))
  }
  log(c, 'bigstream')
  put('chunks_per_s_5000', c, rounds(c, 'bigstream', { shape: { c: 5000, s: 8 }, repeat: isPy ? 1 : 9 }, 'chunks_per_s'))
  if (c !== 'llmux-callLiteLLM') {
    log(c, 'memory')
    // The sidecar serves one request at a time (2 s each here): 10 shows its memory well enough.
    const streams = c === 'litellm-sidecar' ? 10 : c === 'litellm-proxy' ? 100 : 1000
    const m = drive(c, 'memory', { streams, shape: { c: 100, s: 8, d: 20 } })
    if (m) {
      put('rss_idle_mb', c, { value: m.idle_mb })
      put('rss_1000_streams_above_idle_mb', c, { value: m.above_idle_mb, failed: m.failed, streams })
    }
  }
}

// Cold start: a fresh process to its first answer.
for (const c of fast) {
  log(c, 'cold start')
  const vals = []
  for (let i = 0; i < (quick ? 3 : 7); i++) {
    const t0 = performance.now()
    execFileSync(process.execPath, [path.join(here, 'cold.mjs'), c, `${state.mock}/c10/s8/l0/d0/v1`], { env, cwd: here })
    vals.push(performance.now() - t0)
  }
  put('cold_start_ms', c, { value: median(vals), lo: Math.min(...vals), hi: Math.max(...vals) })
}
if (python.includes('litellm-sidecar')) {
  const vals = []
  const imports = []
  for (let i = 0; i < (quick ? 1 : 3); i++) {
    const t0 = performance.now()
    const py = spawn(state.python, [path.join(here, 'litellm_sidecar.py')], { stdio: ['pipe', 'pipe', 'inherit'] })
    await new Promise((resolve) => {
      readline.createInterface({ input: py.stdout }).on('line', (l) => {
        const m = JSON.parse(l)
        if (m.ready) imports.push(m.import_s * 1000)
        if (m.ready) py.stdin.write(JSON.stringify({ id: 1, model: 'openai/bench', messages: [{ role: 'user', content: 'hi' }], api_base: `${state.mock}/c10/s8/l0/d0/v1` }) + '\n')
        else if (m.done || m.error) resolve()
      })
    })
    vals.push(performance.now() - t0)
    py.kill()
  }
  put('cold_start_ms', 'litellm-sidecar', { value: median(vals), lo: Math.min(...vals), hi: Math.max(...vals) })
  put('import_ms', 'litellm-sidecar', { value: median(imports), lo: Math.min(...imports), hi: Math.max(...imports) })
}
if (state.proxy) put('cold_start_ms', 'litellm-proxy', { value: state.proxy.start_ms, note: 'process start to serving' })

proxyChild?.kill()
mock.kill()

// ---------------------------------------------------------------- report
const cols = ['raw-undici', 'llmux', 'llmux-callLiteLLM', 'openai-sdk', ...python]
const rows = [
  ['latency p50 (ms), c=1', 'latency_p50_ms', 'lower'],
  ['latency p99 (ms), c=1', 'latency_p99_ms', 'lower'],
  ['req/s c=32', 'rps_c32', 'higher'],
  ['req/s c=256', 'rps_c256', 'higher'],
  ['streamed req/s (100 chunks) c=32', 'rps_stream100_c32', 'higher'],
  ['streamed req/s (100 chunks) c=256', 'rps_stream100_c256', 'higher'],
  ['chunks/s, one 5,000-chunk stream (median of 9 in turn)', 'chunks_per_s_5000', 'higher'],
  ['cold start to first answer (ms)', 'cold_start_ms', 'lower'],
  ['of which `import litellm` (ms)', 'import_ms', 'lower'],
  ['RSS idle (MB)', 'rss_idle_mb', 'lower'],
  ['RSS with 1,000 concurrent streams, above idle (MB)¹', 'rss_1000_streams_above_idle_mb', 'lower'],
]
const fmt = (v) => (v >= 1000 ? Math.round(v).toLocaleString('en-US') : v >= 10 ? v.toFixed(1) : v.toFixed(3))
const md = []
const when = new Date().toISOString().slice(0, 10)
const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
md.push(`Measured ${when} on ${os.cpus().length} cores (${cpu}), Node ${process.version}, one run of \`npm run bench\`${quick ? ' --quick' : ''}.`)
md.push(`Medians of ${ROUNDS} rounds (spread in brackets); the ratio is to llmux. Mock: Rust hyper on 127.0.0.1.`, '')
md.push(`| scenario | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---').join('|')}|`)
for (const [label, key] of rows) {
  const line = [label]
  const base = results[key]?.llmux?.value
  for (const c of cols) {
    const r = results[key]?.[c]
    if (!r) {
      line.push('–')
      continue
    }
    let cell = fmt(r.value)
    if (r.lo !== undefined && r.hi !== r.lo) cell += ` [${fmt(r.lo)}–${fmt(r.hi)}]`
    if (base && c !== 'llmux') cell += ` (${(r.value / base).toFixed(2)}×)`
    line.push(cell)
  }
  md.push(`| ${line.join(' | ')} |`)
}
const g = (k, c) => results[k]?.[c]?.value
const targets = [
  ['added latency p50 over raw < 0.050 ms', g('latency_p50_ms', 'llmux') - g('latency_p50_ms', 'raw-undici'), (v) => v < 0.05],
  ['added latency p99 over raw < 0.200 ms', g('latency_p99_ms', 'llmux') - g('latency_p99_ms', 'raw-undici'), (v) => v < 0.2],
  ['req/s c=32 ≥ 0.5× raw', g('rps_c32', 'llmux') / g('rps_c32', 'raw-undici'), (v) => v >= 0.5],
  ['streamed req/s c=32 ≥ 0.5× raw', g('rps_stream100_c32', 'llmux') / g('rps_stream100_c32', 'raw-undici'), (v) => v >= 0.5],
  ['5,000-chunk stream ≥ 300,000 chunks/s', g('chunks_per_s_5000', 'llmux'), (v) => v >= 300000],
  ['cold start within 30 ms of raw', g('cold_start_ms', 'llmux') - g('cold_start_ms', 'raw-undici'), (v) => v <= 30],
  ['RSS idle within 15 MB of raw', g('rss_idle_mb', 'llmux') - g('rss_idle_mb', 'raw-undici'), (v) => v <= 15],
  ['1,000 streams < 150 MB above idle', g('rss_1000_streams_above_idle_mb', 'llmux'), (v) => v < 150],
]
md.push('', '| target | measured | met |', '|---|---|---|')
for (const [t, v, ok] of targets) md.push(`| ${t} | ${Number.isFinite(v) ? fmt(v) : '–'} | ${Number.isFinite(v) ? (ok(v) ? 'yes' : '**no**') : '–'} |`)
md.push('', '¹ The LiteLLM sidecar serves one request at a time, so it was measured with 10 streams in turn, and the proxy with 100 at once.')
for (const n of notes) md.push('', `Note: ${n}`)
fs.mkdirSync(path.join(here, 'results'), { recursive: true })
fs.writeFileSync(path.join(here, 'results/latest.md'), md.join('\n') + '\n')
fs.writeFileSync(path.join(here, 'results/latest.json'), JSON.stringify({ date: when, cores: os.cpus().length, cpu, node: process.version, rounds: ROUNDS, results, notes }, null, 2) + '\n')
console.log(md.join('\n'))
