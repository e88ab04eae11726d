// Real `redis-server` processes for the shared-state tests, each on a free loopback port, so a
// test can kill one and start it again on the same port. `findRedis()` says why when there is
// none (then the tests skip loudly, unless LLMUX_REQUIRE_REDIS=1, as in CI).
import { spawn, execFileSync } from 'node:child_process'
import net from 'node:net'

export function findRedis() {
  try {
    const v = execFileSync('redis-server', ['--version'], { encoding: 'utf8' })
    return { ok: true, version: v.trim() }
  } catch (e) {
    const why = 'redis-server is not installed (apt install redis-server)'
    if (process.env.LLMUX_REQUIRE_REDIS === '1') throw new Error(`LLMUX_REQUIRE_REDIS=1 but ${why}`)
    return { ok: false, why }
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

function listening(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1')
    c.on('connect', () => {
      c.destroy()
      resolve(true)
    })
    c.on('error', () => resolve(false))
  })
}

export async function startRedis(port) {
  port ??= await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  })
  const t0 = Date.now()
  while (!(await listening(port))) {
    if (Date.now() - t0 > 10_000) throw new Error(`redis-server did not listen on ${port}`)
    await new Promise((r) => setTimeout(r, 20))
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null) return
      const gone = new Promise((r) => child.once('exit', r))
      child.kill('SIGKILL')
      await gone
    },
  }
}
