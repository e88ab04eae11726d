#!/usr/bin/env bash
# `npm run bench`: builds what the benchmarks need (the release addon into bench/.build, the Rust
# mock, the bench's npm packages, LiteLLM in bench/.venv when PyPI answers) and runs them on
# Node 22, the Lambda runtime. Pass --quick for one round, --skip-python to leave LiteLLM out;
# `embeddings`, `overhead` and `redis` run bench/embed.mjs, overhead.mjs and redis.mjs instead.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x node_modules/.bin/napi ] || npm ci --no-audit --no-fund
node22=.tools/node22/node_modules/node/bin/node
[ -x "$node22" ] || npm install --no-save --no-audit --no-fund --prefix .tools/node22 node@22 >/dev/null
addon=bench/.build/llmux.linux-x64-gnu.node
if [ ! -f "$addon" ] || [ -n "$(find crates Cargo.toml Cargo.lock -newer "$addon" -print -quit)" ]; then
  npx napi build --platform --release --manifest-path crates/llmux-node/Cargo.toml --package-json-path package.json \
    --output-dir bench/.build --no-js
fi
cargo build --release -p llmux-bench-mock
(cd bench && npm install --no-audit --no-fund >/dev/null)
if [[ " $* " != *" --skip-python "* ]] && [ ! -x bench/.venv/bin/litellm ]; then
  # amplify pinned litellm 1.78.7; the proxy extra brings the `litellm` server.
  (python3 -m venv bench/.venv && bench/.venv/bin/pip install -q 'litellm[proxy]==1.78.7') \
    || echo "LiteLLM could not be installed: its contenders are skipped" >&2
fi
if [ "${1:-}" = "overhead" ]; then
  shift
  NAPI_RS_NATIVE_LIBRARY_PATH="$PWD/$addon" exec "$node22" bench/overhead.mjs "$@"
fi
if [ "${1:-}" = "gateway" ]; then
  shift
  cargo build --release -p llmux-server
  exec "$node22" bench/gateway.mjs "$@"
fi
if [ "${1:-}" = "redis" ]; then
  shift
  NAPI_RS_NATIVE_LIBRARY_PATH="$PWD/$addon" exec "$node22" bench/redis.mjs "$@"
fi
if [ "${1:-}" = "embeddings" ]; then
  shift
  NAPI_RS_NATIVE_LIBRARY_PATH="$PWD/$addon" exec "$node22" bench/embed.mjs "$@"
fi
exec "$node22" bench/run.mjs "$@"
