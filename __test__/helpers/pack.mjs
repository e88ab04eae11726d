// The package as a user gets it: `npm pack` of the checkout and of one platform package, both
// installed into a fresh project, offline, from an empty cache of its own (every runtime
// dependency is packed from the checkout's node_modules and installed by file, so npm asks no
// registry for anything and no developer's cache can make it pass).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export const root = new URL('../..', import.meta.url).pathname
export const npm = (args, cwd) =>
  execFileSync('npm', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' } }).toString()

/** The runtime dependency closure of the package, as paths in the checkout's node_modules. */
function runtimeClosure() {
  const seen = new Map()
  const visit = (pkgJson) => {
    for (const name of Object.keys({ ...pkgJson.dependencies, ...pkgJson.optionalDependencies })) {
      if (seen.has(name) || name.startsWith('llmux-')) continue
      const dir = path.join(root, 'node_modules', name)
      assert.ok(fs.existsSync(dir), `runtime dependency ${name} is installed in the checkout`)
      seen.set(name, dir)
      visit(JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')))
    }
  }
  visit(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')))
  return [...seen.values()]
}

/**
 * Packs the checkout and `npm/<platform>` with `addon` in it, installs both into a fresh ESM
 * project in `work` (extra npm flags, e.g. `--cpu=arm64`), and returns the project's folder and
 * the main package's file list.
 */
export function installPacked(work, platform, addon, flags = []) {
  const main = npm(['pack', '--silent', '--pack-destination', work], root).trim().split('\n').pop()
  const files = JSON.parse(npm(['pack', '--dry-run', '--json'], root))[0].files.map((f) => f.path)
  const plat = path.join(work, 'platform')
  fs.cpSync(path.join(root, 'npm', platform), plat, { recursive: true })
  fs.copyFileSync(addon, path.join(plat, path.basename(addon)))
  const platTgz = npm(['pack', '--silent', '--pack-destination', work], plat).trim().split('\n').pop()
  const app = path.join(work, 'app')
  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }))
  const deps = runtimeClosure().map((dir) => path.join(work, npm(['pack', '--silent', '--pack-destination', work], dir).trim().split('\n').pop()))
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'llmux-npm-cache-'))
  try {
    npm(['install', '--offline', '--no-package-lock', '--cache', cache, ...flags, path.join(work, main), path.join(work, platTgz), ...deps], app)
  } finally {
    fs.rmSync(cache, { recursive: true, force: true })
  }
  fs.writeFileSync(
    path.join(app, 'main.js'),
    "import { completion, callLiteLLM, configure } from 'llmux'\nimport { PassThrough } from 'node:stream'\nconfigure({ mock: true })\n" +
      "const r = await completion({ model: 'mock/echo', messages: [{ role: 'user', content: 'installed' }] })\n" +
      "const t = await callLiteLLM({ messages: [{ role: 'user', content: 'amplify' }] }, { id: 'mock/echo' }, { user: 'u' }, new PassThrough())\n" +
      'console.log(r.choices[0].message.content, t)\n',
  )
  return { app, files }
}

/** ELF facts of a shared object: machine, newest GLIBC symbol version, napi registration. */
export function elfFacts(file) {
  const bin = fs.readFileSync(file)
  assert.equal(bin.readUInt32BE(0), 0x7f454c46, 'an ELF file')
  const text = bin.toString('latin1')
  const versions = [...text.matchAll(/GLIBC_(\d+)\.(\d+)(?:\.(\d+))?/g)].map((m) => [Number(m[1]), Number(m[2])])
  const newest = versions.reduce((a, b) => (b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]) ? b : a), [0, 0])
  return {
    machine: bin.readUInt16LE(18), // e_machine: 0x3e x86-64, 0xb7 aarch64
    class64: bin[4] === 2,
    newestGlibc: newest,
    registersModule: text.includes('napi_register_module_v1'),
    bytes: bin.length,
  }
}
