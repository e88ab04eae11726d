#!/usr/bin/env python3
"""Rebuilds crates/llmux-core/data/models.json, llmux's model database, from LiteLLM's published
model map (model_prices_and_context_window.json): its prices, limits and capability flags are
facts gathered from the providers' price pages, kept current by LiteLLM's maintainers.

Usage:
  scripts/refresh-models.py                      # downloads the newest litellm wheel from PyPI
  scripts/refresh-models.py path/to/model_prices_and_context_window.json

Only the providers and modes llmux serves are kept, and only the fields it reads, under
LiteLLM's own names (so config `model_info` overrides use the same words).
"""
import json
import os
import subprocess
import sys
import tempfile
import zipfile

PROVIDERS = {
    "openai", "azure", "anthropic", "bedrock", "bedrock_converse", "gemini",
    "vertex_ai", "vertex_ai-language-models", "vertex_ai-anthropic_models",
    "vertex_ai-embedding-models", "vertex_ai-mistral_models", "vertex_ai-llama_models",
}
MODES = {"chat", "embedding", "responses"}
FIELDS = [
    "litellm_provider", "mode", "max_input_tokens", "max_output_tokens", "output_vector_size",
    "input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost",
    "cache_creation_input_token_cost", "cache_creation_input_token_cost_above_1hr",
    "output_cost_per_reasoning_token",
    "input_cost_per_token_above_200k_tokens", "output_cost_per_token_above_200k_tokens",
    "cache_read_input_token_cost_above_200k_tokens", "cache_creation_input_token_cost_above_200k_tokens",
    "input_cost_per_token_above_272k_tokens", "output_cost_per_token_above_272k_tokens",
    "cache_read_input_token_cost_above_272k_tokens",
    "supports_function_calling", "supports_tool_choice", "supports_parallel_function_calling",
    "supports_vision", "supports_pdf_input", "supports_audio_input", "supports_video_input",
    "supports_response_schema", "supports_native_structured_output", "supports_reasoning",
    "supports_adaptive_thinking", "supports_sampling_params", "supports_prompt_caching",
    "supports_system_messages", "supports_none_reasoning_effort", "supports_minimal_reasoning_effort",
    "supports_xhigh_reasoning_effort", "supports_max_reasoning_effort", "supports_web_search",
    "deprecation_date",
]


def load(argv):
    if len(argv) > 1:
        with open(argv[1]) as f:
            return json.load(f), os.path.basename(argv[1])
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "litellm", "-d", d], check=True)
        wheel = next(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".whl"))
        with zipfile.ZipFile(wheel) as z:
            data = json.loads(z.read("litellm/model_prices_and_context_window_backup.json"))
        return data, os.path.basename(wheel).split("-")[0] + " " + os.path.basename(wheel).split("-")[1]


def main(argv):
    data, source = load(argv)
    models = {}
    for key, entry in sorted(data.items()):
        if not isinstance(entry, dict) or key == "sample_spec":
            continue
        if entry.get("litellm_provider") not in PROVIDERS or entry.get("mode") not in MODES:
            continue
        kept = {f: entry[f] for f in FIELDS if f in entry and entry[f] is not None}
        models[key] = kept
    out = {"source": f"LiteLLM model map ({source})", "models": models}
    path = os.path.join(os.path.dirname(__file__), "..", "crates", "llmux-core", "data", "models.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"), sort_keys=True)
        f.write("\n")
    print(f"{len(models)} models from {source} -> {os.path.normpath(path)}")


if __name__ == "__main__":
    main(sys.argv)
