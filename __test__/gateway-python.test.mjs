// The gateway through Python clients no one here wrote: the official openai SDK and LiteLLM's
// SDK (`openai/<model>` with `api_base` at the gateway), as the systems built on LiteLLM call a
// proxy. They come from `.tools/pyclients` (made by .ci/run: scripts/pyclients.sh) or the
// benchmark's venv; without either the test skips, saying so, unless LLMUX_REQUIRE_PYCLIENTS=1.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { serve, configure } from '../index.mjs'
import { startFaultServer } from './helpers/mock-faults.mjs'
import { startMockEmbeddings } from './helpers/mock-embeddings.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const python = ['.tools/pyclients/bin/python', 'bench/.venv/bin/python'].map((p) => path.join(root, p)).find((p) => fs.existsSync(p))
const why = python ? null : 'no Python with openai and litellm (bash scripts/pyclients.sh makes one)'
if (why && process.env.LLMUX_REQUIRE_PYCLIENTS === '1') throw new Error(`LLMUX_REQUIRE_PYCLIENTS=1 but ${why}`)

let f
let emb
let gw
before(async () => {
  if (!python) return
  configure({ secrets: {}, onWarning: () => {} })
  f = await startFaultServer()
  emb = await startMockEmbeddings()
  gw = await serve({
    port: 0,
    config: {
      model_list: [
        f.deployment('gpt-4o', 'ok', 'ok'),
        f.deployment('busy', 'busy', '429'),
        { model_name: 'embed', litellm_params: { model: 'openai/text-embedding-3-small', api_base: `${emb.url}/v1`, api_key: 'sk-test' } },
      ],
      router_settings: { num_retries: 0, allowed_fails: 100 },
      general_settings: { master_key: 'sk-python' },
    },
  })
})
after(async () => {
  await gw?.close()
  await f?.close()
  await emb?.close()
})

test('the openai and LiteLLM Python SDKs work against the gateway unchanged', { skip: why ? `SKIPPED: ${why}` : false }, async () => {
  const out = await new Promise((resolve, reject) =>
    execFile(python, [path.join(root, '__test__/helpers/pyclients.py'), gw.url, 'sk-python'], { timeout: 120_000, env: { ...process.env, LITELLM_LOG: 'ERROR', LITELLM_LOCAL_MODEL_COST_MAP: 'True' } }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message} (code ${err.code}, signal ${err.signal})\n${stderr}\n${stdout}`)) : resolve(JSON.parse(stdout.trim().split('\n').pop())),
    ),
  )
  assert.equal(out.openai_text, 'python says hi')
  assert.equal(out.openai_usage, 10)
  assert.equal(out.openai_stream, 'a b c')
  assert.equal(out.openai_stream_usage, 3)
  assert.deepEqual(out.openai_429, [429, '1'])
  assert.equal(out.openai_401, 401)
  assert.equal(out.openai_embeddings[0], 2)
  assert.ok(out.openai_embeddings[1] > 0)
  assert.deepEqual(out.openai_models, ['busy', 'embed', 'gpt-4o'])
  assert.equal(out.litellm_text, 'litellm says hi')
  assert.ok(out.litellm_usage > 0)
  assert.equal(out.litellm_stream, 'x y')
  assert.deepEqual(out.litellm_parallel, ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7'])
  assert.equal(out.litellm_429, 429)
})
