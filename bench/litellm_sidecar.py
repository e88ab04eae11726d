"""amplify's LiteLLM sidecar, as amplify ran it, for the benchmarks: one persistent Python process
that reads JSON requests line by line on stdin, calls litellm.completion(stream=True) for each in
turn, and writes the chunks back as JSON lines on stdout. One request at a time, as amplify's did.
"""
import json
import sys
import time

t0 = time.time()
import litellm  # noqa: E402  (timed: the import is the sidecar's start-up cost)

litellm.suppress_debug_info = True
sys.stdout.write(json.dumps({"ready": True, "import_s": time.time() - t0}) + "\n")
sys.stdout.flush()

for line in sys.stdin:
    req = json.loads(line)
    rid = req["id"]
    try:
        resp = litellm.completion(
            model=req["model"],
            messages=req["messages"],
            api_base=req["api_base"],
            api_key="sk-bench",
            stream=True,
            max_retries=0,
        )
        text = []
        n = 0
        for chunk in resp:
            d = chunk.choices[0].delta.content if chunk.choices else None
            if d:
                text.append(d)
                n += 1
                if req.get("forward"):
                    sys.stdout.write(json.dumps({"id": rid, "d": d}) + "\n")
        sys.stdout.write(json.dumps({"id": rid, "done": True, "chunks": n, "len": len("".join(text))}) + "\n")
    except Exception as e:  # noqa: BLE001  (report, keep serving)
        sys.stdout.write(json.dumps({"id": rid, "error": str(e)[:300]}) + "\n")
    sys.stdout.flush()
