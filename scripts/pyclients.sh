#!/usr/bin/env bash
# The Python clients the gateway is tested with (__test__/gateway-python.test.mjs): the official
# openai SDK and LiteLLM's SDK, pinned, in .tools/pyclients. LiteLLM 1.78.7 is the version
# amplify pinned.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.tools/pyclients
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import openai, litellm' 2>/dev/null; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: 'openai==3.57.0' 'litellm==1.78.7'
"$venv/bin/python" -c 'import openai, litellm; print("python clients: openai", openai.__version__)'
