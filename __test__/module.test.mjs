// The package loads as ESM and as CommonJS, with the same API, and loading does no work.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { execFileSync } from 'node:child_process'
import * as esm from '../index.mjs'

const require = createRequire(import.meta.url)
const names = ['configure', 'callLiteLLM', 'promptForData', 'promptLiteLLMForData', 'createChatFn', 'Router', 'completion', 'stream', 'embedding', 'getLiteLLMServerStatus', 'initPythonProcess', 'shutdownLiteLLMServer', 'LlmuxError', 'RateLimitError', 'BadRequestError', 'APIUserAbortError']

test('ESM and CommonJS export the same functions', () => {
  const cjs = require('../index.js')
  for (const n of names) {
    assert.equal(typeof esm[n], 'function', `ESM ${n}`)
    assert.equal(esm[n], cjs[n], `ESM and CJS ${n} are one object`)
  }
})

test('package.json exports map both module systems', () => {
  const root = new URL('..', import.meta.url).pathname
  const out = execFileSync(process.execPath, ['-e', "const m = require('llmux'); console.log(typeof m.callLiteLLM)"], { cwd: root, env: { ...process.env, NODE_PATH: '' } })
  assert.equal(out.toString().trim(), 'function')
  const outEsm = execFileSync(process.execPath, ['--input-type=module', '-e', "import { callLiteLLM } from 'llmux'; console.log(typeof callLiteLLM)"], { cwd: root })
  assert.equal(outEsm.toString().trim(), 'function')
})

test('importing is cheap: no client, no tokenizer until the first call', () => {
  const root = new URL('..', import.meta.url).pathname
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', "const t0 = performance.now(); await import('llmux'); console.log(performance.now() - t0)"], { cwd: root })
  const ms = Number(out.toString().trim())
  // Loading the addon costs tens of ms; a client or the tokenizer would add hundreds. Room for a loaded machine.
  assert.ok(ms < 1000, `import took ${ms} ms`)
})

test('index.d.ts types every export: a TypeScript program using each one passes tsc --noEmit', () => {
  const root = new URL('..', import.meta.url).pathname
  const tsc = new URL('../node_modules/typescript/bin/tsc', import.meta.url).pathname
  execFileSync(process.execPath, [tsc, '-p', '__test__/types/tsconfig.json'], { cwd: root, stdio: 'pipe' })
})
