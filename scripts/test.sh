#!/usr/bin/env bash
# Every test: the Rust unit and fixture tests, then the node:test suites against the built addon
# on Node 20 (this machine's node) and Node 22 (the Lambda runtime, from the npm package node@22).
set -euo pipefail
cd "$(dirname "$0")/.."
# The suites use the offline mock provider, which is off unless a process turns it on.
export LLMUX_MOCK=1
bash scripts/ensure-built.sh
echo "== cargo test"
cargo test
echo "== node:test on $(node --version)"
node --test __test__/*.test.mjs
node22=.tools/node22/node_modules/node/bin/node
if [ ! -x "$node22" ]; then
  npm install --no-save --no-audit --no-fund --prefix .tools/node22 node@22 >/dev/null
fi
echo "== node:test on $("$node22" --version)"
"$node22" --test __test__/*.test.mjs
