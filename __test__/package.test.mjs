// The package as a user gets it: `npm pack` makes a tarball that installs into a fresh ESM
// project, with its platform package and no Rust and no network, and runs there. The binary
// loads on Amazon Linux 2023: nothing in it needs a glibc newer than 2.34.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { root, installPacked, elfFacts } from './helpers/pack.mjs'

const addon = fs.readdirSync(root).find((f) => /^llmux\.linux-x64-gnu\.node$/.test(f))

test('the binary needs no glibc newer than 2.34 (Amazon Linux 2023), is x86-64 and registers a napi module', { skip: addon ? false : 'no linux-x64-gnu addon built' }, () => {
  const f = elfFacts(path.join(root, addon))
  assert.equal(f.machine, 0x3e)
  assert.ok(f.class64)
  assert.ok(f.newestGlibc[0] === 2 && f.newestGlibc[1] <= 34, `needs GLIBC_${f.newestGlibc.join('.')}`)
  assert.ok(f.registersModule)
})

test('npm pack installs into a fresh ESM project offline and runs there', { skip: addon ? false : 'no linux-x64-gnu addon built', timeout: 120_000 }, () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'llmux-pack-'))
  try {
    const { app, files } = installPacked(work, 'linux-x64-gnu', path.join(root, addon))
    assert.ok(!files.some((f) => f.endsWith('.node')), 'the main package carries no binary')
    assert.ok(!files.some((f) => f.startsWith('crates/') || f.startsWith('__test__/')), `only the runtime files: ${files.join(', ')}`)
    const out = execFileSync(process.execPath, ['main.js'], { cwd: app }).toString().trim()
    assert.equal(out, 'installed amplify')
    assert.ok(!fs.existsSync(path.join(app, 'node_modules/llmux/crates')), 'no Rust sources installed')
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
})

const musl = path.join(root, 'npm/linux-x64-musl/llmux.linux-x64-musl.node')
const muslWhy = 'SKIPPED: no musl addon (run bash scripts/build-musl.sh)'
if (!fs.existsSync(musl)) console.log(`# ${muslWhy}`)

// Built here by scripts/build-musl.sh (Debian's rustc-web, std from rust-web-src with -Zbuild-std,
// musl-gcc). No musl Node can be had here to load it, so the checks are static.
test('the musl binary is x86-64, needs no glibc symbol, links musl\'s libc and registers a napi module', { skip: fs.existsSync(musl) ? false : muslWhy }, () => {
  const f = elfFacts(musl)
  assert.equal(f.machine, 0x3e)
  assert.deepEqual(f.newestGlibc, [0, 0], 'no GLIBC_ symbol version at all')
  assert.ok(f.registersModule)
  const text = fs.readFileSync(musl).toString('latin1')
  assert.ok(text.includes('libc.so\0') && !text.includes('libc.so.6'), 'musl libc.so, not glibc libc.so.6')
})
