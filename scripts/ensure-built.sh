#!/usr/bin/env bash
# Installs the npm tooling and builds the addon (debug profile) when either is missing or stale.
# One profile for the demo and the tests, so two cores build the tree once.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/napi ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # The lock file pins every package, the optional platform packages of the tooling included.
  npm ci --no-audit --no-fund
fi
addon=$(ls llmux.*.node 2>/dev/null | head -n 1 || true)
if [ -z "$addon" ] || [ -n "$(find crates Cargo.toml Cargo.lock -newer "$addon" -print -quit)" ]; then
  npx napi build --platform --manifest-path crates/llmux-node/Cargo.toml --package-json-path package.json \
    --output-dir . --js binding.js --dts binding.d.ts
fi
# The standalone gateway (llmux-server), for its tests: same profile, same target/.
server=target/debug/llmux-server
if [ ! -x "$server" ] || [ -n "$(find crates Cargo.toml Cargo.lock -newer "$server" -print -quit)" ]; then
  cargo build -p llmux-server
fi
