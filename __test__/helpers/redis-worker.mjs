// One instance of an application that routes through llmux with shared state: a separate Node
// process with its own router (argv[2] is the job, as JSON). It prints what happened as JSON.
import { Router, configure } from '../../index.mjs'

const job = JSON.parse(process.argv[2])
configure({ secrets: {}, onWarning: () => {} })
const router = new Router(job.config)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function one(content, user) {
  try {
    const r = await router.completion({ model: job.model ?? 'g', messages: [{ role: 'user', content }], user })
    return { ok: true, warnings: r.warnings ?? [], text: r.choices[0].message.content }
  } catch (e) {
    return { ok: false, code: e.code, message: e.message }
  }
}

const out = { pid: process.pid }
if (job.barrier) {
  // Connected (a report reads Redis), then ready; all instances start on the test's word, so
  // that none starts late however loaded the machine is.
  await router.getUsage()
  process.stdout.write('ready\n')
  await new Promise((resolve) => process.stdin.once('data', resolve))
  process.stdin.pause()
}
if (job.op === 'burst') {
  out.results = await Promise.all(Array.from({ length: job.n }, (_, i) => one(`burst ${process.pid} ${i}`, job.user)))
} else if (job.op === 'sequence') {
  out.results = []
  for (const r of job.requests) {
    out.results.push(await one(r.content, r.user))
    if (r.pauseMs) await sleep(r.pauseMs)
  }
} else if (job.op === 'steady') {
  // One request after another for `ms`, each timed.
  out.results = []
  const end = Date.now() + job.ms
  while (Date.now() < end) {
    const t0 = performance.now()
    const r = await one(`steady ${out.results.length}`, job.user)
    r.ms = performance.now() - t0
    out.results.push(r)
    await sleep(job.gapMs ?? 10)
  }
}
if (job.flush) out.flushed = await router.flush()
if (job.usage) out.usage = await router.getUsage()
if (job.metrics) out.metrics = await router.metrics()
process.stdout.write(JSON.stringify(out))
