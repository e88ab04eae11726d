#!/usr/bin/env bash
# Installs the npm tooling and builds the addon (debug profile) when either is missing or stale.
# One profile for the demo and the tests, so two cores build the tree once.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/napi ]; then
  # npm ci refuses this lock file (npm drops optional platform packages of @napi-rs/lzma from it);
  # npm install honours the same pinned versions.
  npm install --no-audit --no-fund
fi
addon=$(ls llmux.*.node 2>/dev/null | head -n 1 || true)
if [ -z "$addon" ] || [ -n "$(find src Cargo.toml Cargo.lock build.rs -newer "$addon" -print -quit)" ]; then
  npx napi build --platform --js binding.js --dts binding.d.ts
fi
