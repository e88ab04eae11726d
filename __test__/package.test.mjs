// The package as a user gets it: `npm pack` makes a tarball that installs into a fresh ESM
// project, with its platform package and no Rust and no network, and runs there. The binary
// loads on Amazon Linux 2023: nothing in it needs a glibc newer than 2.34.
//
// The install is offline and must not depend on what the npm cache happens to hold: every
// package the tarball needs at run time (its dependency closure, from the checkout's
// node_modules) is packed and installed by file, so npm asks no registry for anything.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const root = new URL('..', import.meta.url).pathname
const npm = (args, cwd) => execFileSync('npm', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' } }).toString()
const addon = fs.readdirSync(root).find((f) => /^llmux\.linux-x64-gnu\.node$/.test(f))

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

test('the binary needs no glibc newer than 2.34 (Amazon Linux 2023) and is x86-64', { skip: addon ? false : 'no linux-x64-gnu addon built' }, () => {
  const bin = fs.readFileSync(path.join(root, addon))
  // ELF header: e_machine at offset 18 (little endian); 0x3e is x86-64.
  assert.equal(bin.readUInt16LE(18), 0x3e)
  const versions = [...bin.toString('latin1').matchAll(/GLIBC_(\d+)\.(\d+)(?:\.(\d+))?/g)].map((m) => [Number(m[1]), Number(m[2])])
  assert.ok(versions.length > 0, 'the binary names its glibc symbol versions')
  const newest = versions.reduce((a, b) => (b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]) ? b : a))
  assert.ok(newest[0] === 2 && newest[1] <= 34, `needs GLIBC_${newest.join('.')}`)
})

test('npm pack installs into a fresh ESM project offline and runs there', { skip: addon ? false : 'no linux-x64-gnu addon built', timeout: 120_000 }, () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'llmux-pack-'))
  try {
    const main = npm(['pack', '--silent', '--pack-destination', work], root).trim().split('\n').pop()
    const listed = npm(['pack', '--dry-run', '--json'], root)
    const files = JSON.parse(listed)[0].files.map((f) => f.path)
    assert.ok(!files.some((f) => f.endsWith('.node')), 'the main package carries no binary')
    assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('__test__/')), `only the runtime files: ${files.join(', ')}`)
    // The platform package, as napi-rs lays it out, with this machine's binary.
    const plat = path.join(work, 'platform')
    fs.cpSync(path.join(root, 'npm/linux-x64-gnu'), plat, { recursive: true })
    fs.copyFileSync(path.join(root, addon), path.join(plat, addon))
    const platTgz = npm(['pack', '--silent', '--pack-destination', work], plat).trim().split('\n').pop()
    const app = path.join(work, 'app')
    fs.mkdirSync(app)
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }))
    const deps = runtimeClosure().map((dir) => path.join(work, npm(['pack', '--silent', '--pack-destination', work], dir).trim().split('\n').pop()))
    // An empty cache of its own: nothing a developer's cache holds can make this pass.
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'llmux-npm-cache-'))
    try {
      npm(['install', '--offline', '--no-package-lock', '--cache', cache, path.join(work, main), path.join(work, platTgz), ...deps], app)
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
    const out = execFileSync(process.execPath, ['main.js'], { cwd: app }).toString().trim()
    assert.equal(out, 'installed amplify')
    assert.ok(!fs.existsSync(path.join(app, 'node_modules/llmux/src')), 'no Rust sources installed')
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
})
