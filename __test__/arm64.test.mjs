// The linux-arm64-gnu addon (Graviton Lambdas), built here by scripts/build-arm64.sh: its ELF
// facts, and, under user-mode emulation (scripts/arm64-node.sh: Debian's arm64 Node under
// qemu-aarch64), the packed tarball plus the arm64 platform package installed into a fresh
// project and a mock/echo completion run there. Each check says loudly when it cannot run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { root, installPacked, elfFacts } from './helpers/pack.mjs'

const addon = path.join(root, 'npm/linux-arm64-gnu/llmux.linux-arm64-gnu.node')
const built = fs.existsSync(addon)
const why = 'SKIPPED: no arm64 addon (run bash scripts/build-arm64.sh)'
if (!built) console.log(`# ${why}`)

test('the arm64 binary is aarch64, needs glibc <= 2.34 and registers a napi module', { skip: built ? false : why }, () => {
  const f = elfFacts(addon)
  assert.equal(f.machine, 0xb7, 'e_machine is aarch64')
  assert.ok(f.class64)
  assert.ok(f.newestGlibc[0] === 2 && f.newestGlibc[1] <= 34, `needs GLIBC_${f.newestGlibc.join('.')}`)
  assert.ok(f.registersModule, 'exports napi_register_module_v1')
  assert.ok(f.bytes > 1e6 && f.bytes < 64e6, `${f.bytes} bytes`)
  console.log(`# arm64 addon: ${(f.bytes / 1e6).toFixed(1)} MB, newest symbol GLIBC_${f.newestGlibc.join('.')}`)
})

test('installed from the packed tarballs, it runs a completion on an emulated arm64 Node', { skip: built ? false : why, timeout: 600_000 }, (t) => {
  const probe = spawnSync('bash', [path.join(root, 'scripts/arm64-node.sh'), '-p', 'process.arch'], { encoding: 'utf8', timeout: 300_000 })
  if (probe.status !== 0 || probe.stdout.trim() !== 'arm64') {
    console.log(`# SKIPPED: no arm64 Node under emulation here (${probe.status}: ${probe.stderr.slice(-300)})`)
    t.skip('no arm64 Node under emulation')
    return
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'llmux-arm64-'))
  try {
    // A platform package named directly is checked against this (x64) machine, --cpu or not;
    // --force installs it as a deployment package for arm64 is built on x64.
    const { app } = installPacked(work, 'linux-arm64-gnu', addon, ['--cpu=arm64', '--os=linux', '--force'])
    assert.ok(fs.existsSync(path.join(app, 'node_modules/llmux-linux-arm64-gnu/llmux.linux-arm64-gnu.node')))
    const run = spawnSync('bash', [path.join(root, 'scripts/arm64-node.sh'), 'main.js'], { cwd: app, encoding: 'utf8', timeout: 300_000 })
    assert.equal(run.status, 0, run.stderr)
    assert.equal(run.stdout.trim(), 'installed amplify')
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
})
