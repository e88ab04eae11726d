"""Clients no one here wrote, against the llmux gateway: the official openai SDK for Python and
LiteLLM's SDK (openai/<model> with api_base at the gateway). argv: base URL, API key. Prints one
JSON object of what each saw; any exception fails the run."""
import asyncio
import json
import os
import sys

import openai
import litellm

base, key = sys.argv[1], sys.argv[2]
out = {}

client = openai.OpenAI(api_key=key, base_url=f"{base}/v1", max_retries=0)
r = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "python says hi"}])
out["openai_text"] = r.choices[0].message.content
out["openai_usage"] = r.usage.prompt_tokens
stream = client.chat.completions.create(
    model="gpt-4o", stream=True, stream_options={"include_usage": True}, messages=[{"role": "user", "content": "a b c"}]
)
text, last = "", None
for c in stream:
    if c.choices:
        text += c.choices[0].delta.content or ""
    last = c
out["openai_stream"] = text
out["openai_stream_usage"] = last.usage.completion_tokens if last and last.usage else None
try:
    client.chat.completions.create(model="busy", messages=[{"role": "user", "content": "x"}])
except openai.RateLimitError as e:
    out["openai_429"] = [e.status_code, e.response.headers.get("retry-after")]
try:
    openai.OpenAI(api_key="sk-wrong", base_url=f"{base}/v1", max_retries=0).models.list()
except openai.AuthenticationError as e:
    out["openai_401"] = e.status_code
emb = client.embeddings.create(model="embed", input=["one", "two"])
out["openai_embeddings"] = [len(emb.data), len(emb.data[0].embedding)]
out["openai_models"] = sorted(m.id for m in client.models.list().data)

r = litellm.completion(model="openai/gpt-4o", api_base=f"{base}/v1", api_key=key, messages=[{"role": "user", "content": "litellm says hi"}])
out["litellm_text"] = r.choices[0].message.content
out["litellm_usage"] = r.usage.total_tokens
chunks = litellm.completion(
    model="openai/gpt-4o", api_base=f"{base}/v1", api_key=key, stream=True, messages=[{"role": "user", "content": "x y"}]
)
out["litellm_stream"] = "".join((c.choices[0].delta.content or "") for c in chunks if c.choices)


async def parallel():
    rs = await asyncio.gather(
        *[
            litellm.acompletion(model="openai/gpt-4o", api_base=f"{base}/v1", api_key=key, messages=[{"role": "user", "content": f"n{i}"}])
            for i in range(8)
        ]
    )
    return sorted(r.choices[0].message.content for r in rs)


# Not asyncio.run: closing the loop waits on tasks LiteLLM's async clients leave behind.
out["litellm_parallel"] = asyncio.new_event_loop().run_until_complete(parallel())
try:
    litellm.completion(model="openai/busy", api_base=f"{base}/v1", api_key=key, messages=[{"role": "user", "content": "x"}], num_retries=0)
except litellm.RateLimitError as e:
    out["litellm_429"] = e.status_code
print(json.dumps(out), flush=True)
# Nor the interpreter's own shutdown, for the same reason.
os._exit(0)
