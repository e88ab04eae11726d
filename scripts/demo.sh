#!/usr/bin/env bash
# The main job: a streamed chat printed to the terminal. Through OpenAI when OPENAI_API_KEY is
# set, else through the built-in offline `mock` provider.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-built.sh >&2
exec node examples/demo.mjs "$@"
