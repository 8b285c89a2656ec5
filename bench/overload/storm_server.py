#!/usr/bin/env python3
"""A stand-in teacher that is overloaded for a while, then well: every chat request that arrives in
the first STORM seconds (counted from the first request) gets a 429 after half a second, without
Retry-After, as a proxy in front of a full vLLM does; after that every request is answered after
LATENCY seconds with one fixed sentence. No limit of its own: how fast a run gets going again is
the client's doing. Writes its port to PORT_FILE; logs one line per answer (time, status) to LOG.

usage: storm_server.py PORT_FILE LOG STORM LATENCY"""
import asyncio
import json
import sys
import time

PORT_FILE, LOG, STORM, LATENCY = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
first = None
log = open(LOG, "w", buffering=1)
ANSWER = json.dumps({
    "id": "x", "object": "chat.completion", "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "The picture shows a red bus on a street."},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 10}}).encode()
MODELS = json.dumps({"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "bench"}]}).encode()
BUSY = json.dumps({"error": {"message": "Too many requests", "type": "rate_limit"}}).encode()


def response(status, body):
    reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests"}[status]
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            .encode() + body)


async def handle(reader, writer):
    global first
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            length = 0
            for line in lines[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if length:
                await reader.readexactly(length)
            if method == "GET" and path.endswith("/models"):
                writer.write(response(200, MODELS))
            elif method == "POST" and path.endswith("/chat/completions"):
                now = time.monotonic()
                first = first or now
                if now - first < STORM:
                    await asyncio.sleep(0.5)
                    writer.write(response(429, BUSY))
                    log.write(f"{time.monotonic() - first:.3f} 429\n")
                else:
                    await asyncio.sleep(LATENCY)
                    writer.write(response(200, ANSWER))
                    log.write(f"{time.monotonic() - first:.3f} 200\n")
            else:
                writer.write(response(404, b'{"detail": "Not Found"}'))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    with open(PORT_FILE + ".tmp", "w") as f:
        f.write(str(server.sockets[0].getsockname()[1]))
    import os
    os.replace(PORT_FILE + ".tmp", PORT_FILE)
    async with server:
        await server.serve_forever()

asyncio.run(main())
