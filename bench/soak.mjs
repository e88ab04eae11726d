// Soak: N requests at concurrency C against a hostile loopback upstream (in a child process, so
// its sockets are not counted here), mixing plain calls, streams, cancellations and every fault.
// Prints RSS over time, and open file descriptors and live runtime tasks at the end next to their
// idle values; exits non-zero when anything did not come back.
//   node bench/soak.mjs [--requests 100000] [--concurrency 200]
import { fork } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}

if (process.argv[2] === 'server') {
  const { startHostile } = await import('../__test__/helpers/hostile.mjs')
  const h = await startHostile()
  // A redirect to another origin (a port nothing listens on: the policy stops before it).
  h.setOther(1)
  process.send({ url: h.url('') })
  process.on('message', (m) => m === 'stats' && process.send({ active: h.activeResponses() }))
} else {
  const N = arg('requests', 100_000)
  const C = arg('concurrency', 200)
  const llmux = await import('../index.mjs')
  const binding = (await import('node:module')).createRequire(import.meta.url)('../binding.js')
  const server = fork(fileURLToPath(import.meta.url), ['server'], { stdio: 'inherit' })
  const { url } = await new Promise((r) => server.once('message', r))
  const serverStats = () => new Promise((r) => (server.once('message', r), server.send('stats')))
  const fds = () => fs.readdirSync('/proc/self/fd').length
  const mb = () => Math.round(process.memoryUsage().rss / (1 << 20))
  let usage = 0
  const usageBy = {}
  const onUsage = (_account, requestId) => {
    usage++
    const kind = String(requestId).split(':')[0]
    usageBy[kind] = (usageBy[kind] ?? 0) + 1
  }
  llmux.configure({ limits: { maxResponseBytes: 4 << 20, maxEventBytes: 1 << 20 }, onUsage, onWarning: () => {}, mock: true })
  let current = 'warmup'
  let seq = 0
  const ask = (p, extra = {}) => ({ model: 'openai/m', messages: [{ role: 'user', content: 'hi' }], api_base: `${url}${p}`, api_key: 'k', max_retries: 0, requestId: `${current}:${seq++}`, ...extra })
  const drain = async (it) => {
    for await (const _ of it);
  }
  const kinds = [
    ['plain', 30, () => llmux.completion(ask('/ok'))],
    ['stream', 30, () => drain(llmux.stream(ask('/stream')))],
    ['cancel', 10, async () => {
      const ac = new AbortController()
      const it = llmux.stream(ask('/slow-forever', { signal: ac.signal }))
      await it.next()
      ac.abort()
      await drain(it)
    }],
    ['break', 5, async () => {
      for await (const _ of llmux.stream(ask('/fast-forever'))) break
    }],
    ['timeout', 3, () => drain(llmux.stream(ask('/slow-forever', { timeout: 0.15 })))],
    ['429', 5, () => llmux.completion(ask('/retry-after-absurd'))],
    ['huge-index', 5, () => drain(llmux.stream(ask('/huge-index')))],
    ['huge-body', 2, () => llmux.completion(ask('/huge-body'))],
    ['endless', 2, () => drain(llmux.stream(ask('/endless-data')))],
    ['redirect', 3, () => llmux.completion(ask('/redirect-away'))],
    ['mock', 5, () => llmux.completion({ model: 'mock/echo', messages: [{ role: 'user', content: 'soak' }], requestId: `mock:${seq++}` })],
  ]
  const table = kinds.flatMap(([name, w, f]) => Array(w).fill([name, f]))
  // Idle: after a warm-up that opens the connection pool.
  await Promise.all(Array.from({ length: 20 }, () => llmux.completion(ask('/ok'))))
  await new Promise((r) => setTimeout(r, 200))
  usage = 0
  delete usageBy.warmup
  const idle = { rss: mb(), fds: fds(), tasks: await binding.liveTasks() }
  console.log(`soak: ${N} requests at concurrency ${C}; idle RSS ${idle.rss} MB, ${idle.fds} fds, ${idle.tasks} tasks`)
  const counts = {}
  const errors = {}
  let next = 0
  let done = 0
  const started = Date.now()
  const samples = []
  const worker = async () => {
    while (next < N) {
      next++
      const [name, f] = table[Math.floor(Math.random() * table.length)]
      counts[name] = (counts[name] ?? 0) + 1
      current = name
      try {
        await f()
      } catch (e) {
        const k = `${name}:${e.code ?? e.name}`
        errors[k] = (errors[k] ?? 0) + 1
      }
      done++
      if (done % Math.max(1, Math.floor(N / 10)) === 0) {
        samples.push([done, mb()])
        console.log(`  ${done} done, ${Math.round((Date.now() - started) / 1000)} s, RSS ${mb()} MB, ${fds()} fds`)
      }
    }
  }
  await Promise.all(Array.from({ length: C }, worker))
  const secs = (Date.now() - started) / 1000
  // Let the last cancellations land, the collector run, and the pool's idle connections close
  // (the transport drops them after 45 s idle): wait until the fds are back, or 60 s.
  const waitUntil = Date.now() + 60_000
  do {
    globalThis.gc?.()
    await new Promise((r) => setTimeout(r, 500))
  } while (fds() > idle.fds && Date.now() < waitUntil)
  const end = { rss: mb(), fds: fds(), tasks: await binding.liveTasks(), upstream: (await serverStats()).active }
  console.log(`soak: ${N} requests in ${secs.toFixed(1)} s (${Math.round(N / secs)}/s); usage reports ${usage}`)
  console.log(`  mix: ${JSON.stringify(counts)}`)
  console.log(`  outcomes other than success: ${JSON.stringify(errors)}`)
  console.log(`  RSS over time (MB): ${samples.map(([n, m]) => `${n}:${m}`).join(' ')}`)
  console.log(`  end: RSS ${end.rss} MB (idle ${idle.rss}), fds ${end.fds} (idle ${idle.fds}), live tasks ${end.tasks} (idle ${idle.tasks}), upstream answers still open ${end.upstream}`)
  server.kill()
  // Every ending bills exactly once, except a refusal (429) and a redirect never followed,
  // where the provider billed nothing.
  const billable = N - (counts['429'] ?? 0) - (counts.redirect ?? 0)
  console.log(`  usage reports ${usage}, billable endings ${billable}; by kind ${JSON.stringify(usageBy)}`)
  const peak = Math.max(...samples.map((s) => s[1]), end.rss)
  const ok = usage === billable && end.tasks <= idle.tasks && end.upstream === 0 && end.fds <= idle.fds && peak - idle.rss < 400
  console.log(ok ? 'soak: everything came back to idle' : 'soak: FAILED to come back to idle')
  process.exit(ok ? 0 : 1)
}
