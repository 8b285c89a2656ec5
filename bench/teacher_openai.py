#!/usr/bin/env python3
"""The baseline for bench/teacher: a plain Python client as the authors' scripts would write it,
openai.AsyncOpenAI + asyncio.Semaphore, sending REQUESTS chat completions with the same 512x512
JPEG q95 (base64) to URL, CONCURRENCY at a time. Prints one JSON line like vxt-bench teacher.
Usage: teacher_openai.py URL REQUESTS CONCURRENCY IMAGE"""
import asyncio
import base64
import io
import json
import resource
import sys
import time

import openai
from PIL import Image


async def main(url, requests, concurrency, image_path):
    buffer = io.BytesIO()
    Image.open(image_path).convert("RGB").resize((512, 512)).save(buffer, format="JPEG", quality=95)
    data_url = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
    client = openai.AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, timeout=120)
    semaphore = asyncio.Semaphore(concurrency)
    ok = 0

    async def one(n):
        nonlocal ok
        async with semaphore:
            response = await client.chat.completions.create(
                model="Qwen/Qwen3-VL-8B-Instruct", max_tokens=512, temperature=0,
                messages=[{"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": data_url}},
                    {"type": "text", "text": f"Request {n}. Describe the image in fine detail."}]}])
            if response.choices[0].message.content:
                ok += 1

    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    results = await asyncio.gather(*(one(n) for n in range(requests)), return_exceptions=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    errors = [r for r in results if isinstance(r, Exception)]
    if errors:
        print(f"{len(errors)} errors, first: {errors[0]!r}", file=sys.stderr)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({"client": "python-openai", "openai": openai.__version__, "requests": requests, "ok": ok,
                      "concurrency": concurrency, "body_bytes": len(data_url) + 200, "wall_s": wall,
                      "req_per_s": ok / wall, "cpu_s": cpu, "cpu_ms_per_req": cpu * 1000 / max(1, ok),
                      "peak_rss_mb": after.ru_maxrss / 1024}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
