#!/usr/bin/env node
// `npx llmux serve --config litellm_config.yaml [--host 127.0.0.1] [--port 4000]`: the gateway,
// with LiteLLM proxy's command line. Prints `llmux listening on http://HOST:PORT` when ready;
// SIGTERM or SIGINT let requests in progress finish, then exit.
'use strict'
const usage = 'usage: llmux serve --config <litellm_config.yaml> [--host 127.0.0.1] [--port 4000] [--no-access-log]'

function fail(message) {
  process.stderr.write(`llmux: ${message}\n`)
  process.exit(2)
}

async function main(argv) {
  const args = [...argv]
  if (args[0] === 'serve') args.shift()
  else if (args[0] === '--help' || args[0] === '-h' || args.length === 0) return console.log(usage)
  const opts = { host: '127.0.0.1', port: 4000, accessLog: true }
  while (args.length) {
    const a = args.shift()
    const value = () => (args.length ? args.shift() : fail(`${a} needs a value\n${usage}`))
    if (a === '--config' || a === '-c') opts.configPath = value()
    else if (a === '--host') opts.host = value()
    else if (a === '--port' || a === '-p') {
      const p = Number(value())
      if (!Number.isInteger(p) || p < 0 || p > 65535) fail('--port must be a whole number from 0 to 65535')
      opts.port = p
    } else if (a === '--no-access-log') opts.accessLog = false
    else if (a === '--help' || a === '-h') return console.log(usage)
    else fail(`unknown argument ${a}\n${usage}`)
  }
  if (!opts.configPath) fail(`--config is required\n${usage}`)
  const { serve, configure } = require('../index.js')
  // Warnings go to stderr; stdout is the ready line and the access log.
  configure({ onWarning: (w) => process.stderr.write(`llmux: warning: ${w}\n`) })
  let gw
  try {
    gw = await serve(opts)
  } catch (e) {
    fail(e && e.message ? e.message : String(e))
  }
  process.stdout.write(`llmux listening on ${gw.url}\n`)
  let closing = false
  const stop = async () => {
    if (closing) return
    closing = true
    await gw.close()
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main(process.argv.slice(2))
