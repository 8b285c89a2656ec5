#!/usr/bin/env python3
"""An OpenAI-compatible teacher on 127.0.0.1 that answers the way instruction-tuned chat models
do, not the way vxt's mock does: statements wrapped in a preamble, labels and a closing note,
descriptions that embed whatever statements the prompt carried. It serves one model name and
logs every request path to a file, so tests can see whether it was called at all.

usage: chatty_teacher.py PORT_FILE|--stdio LOG_FILE [MODEL] [huge|tls|thinking|thinking-cut|reasoning-field|blind|text-only|router|short-context]
Writes the port it listens on to PORT_FILE once it accepts connections. With `huge`, every
description is a 40 MB answer (a broken or hostile server that never stops writing). The other
modes answer as a thinking model does (Qwen3, DeepSeek-R1 distills) on vLLM:
`thinking`: no reasoning parser, so the content starts with a <think>…</think> block whose lines
read like statements (unless the body has "chat_template_kwargs": {"enable_thinking": false}); `thinking-cut`: the block never closes, max_tokens ran out mid-thought;
`reasoning-field`: with a reasoning parser that spent every token on thought, the reasoning in
`reasoning_content` and the content null. `blind` drops every image and answers from the text
(TGI in front of a text-only model); `text-only` refuses images with a 400 (vLLM's text models).
`router` serves three models, as LiteLLM or OpenRouter do: MODEL, text-only, MODEL-vl, which sees,
and MODEL-blind, which drops images.
`short-context` refuses (400) any request whose max_tokens leaves no room in a 2048-token context.
vxt's sight check (one plain colour per request, PNG) is answered by reading the image, and
logged as SIGHT instead of POST."""
import base64
import zlib
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT_FILE, LOG_FILE = sys.argv[1], sys.argv[2]
# With PORT_FILE `--stdio`: a local teacher (`--teacher cmd:…`) on stdin and stdout instead of a server.
STDIO = PORT_FILE == "--stdio"
MODEL = sys.argv[3] if len(sys.argv) > 3 else "chatty-8b"
MODE = sys.argv[4] if len(sys.argv) > 4 else ""
HUGE = MODE == "huge"
# With `tls`: HTTPS with the self-signed certificate of Fixtures/tls (nothing trusts it by default).
TLS = MODE == "tls"
# Each served model and the mode it answers in.
MODELS = {MODEL: "text-only", MODEL + "-vl": "", MODEL + "-blind": "blind"} if MODE == "router" else {MODEL: MODE}


def png_color(url):
    # The first pixel of an 8-bit RGB PNG, as vxt's sight check sends it.
    data = base64.b64decode(url.split(",", 1)[1])
    pos, idat = 8, b""
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    r, g, b = zlib.decompress(idat)[1:4]
    names = {(255, 0, 0): "Red", (0, 160, 0): "Green", (0, 0, 255): "Blue", (255, 255, 0): "Yellow"}
    return names.get((r, g, b), "Gray")


def thought(prompt):
    # What Qwen3 writes before answering: sentences that look like statements, one per line.
    pairs = re.findall(r"Question #\d+: (.*?)\nAnswer: (.*?)\n", prompt, re.S)
    lines = ["Okay, let me work through this.", ""]
    for question, answer in pairs:
        question = question.replace("<image>", "").strip().splitlines()[0]
        lines.append(f"The question asks {question} The answer is {answer.strip()}.")
    lines += ["I should write each one as a full sentence.", "Wait, keep the order of the questions."]
    return "\n".join(lines)


def statements_answer(prompt):
    pairs = re.findall(r"Question #\d+: (.*?)\nAnswer: (.*?)\n", prompt, re.S)
    lines = []
    for i, (question, answer) in enumerate(pairs, 1):
        question = question.replace("<image>", "").strip().splitlines()[0].rstrip("?")
        lines.append(f"Statement {i}: Regarding \"{question}\", the answer is {answer.strip()}.")
    return "Sure! Here are the declarative statements:\n\n" + "\n".join(lines) + \
        "\n\nLet me know if you need anything else!"


def description_answer(prompt):
    block = prompt.split("incorporate the following information about the image.\n", 1)[-1]
    block = block.rsplit("\nDescription:", 1)[0]
    return "The image shows a scene. " + " ".join(line.strip() for line in block.splitlines() if line.strip())


def answer(body, path):
    """The status and JSON payload of a chat completion request, as this model would answer it."""
    content = body["messages"][0]["content"]
    prompt = content if isinstance(content, str) else next(p["text"] for p in content if p["type"] == "text")
    images = [] if isinstance(content, str) else [p["image_url"]["url"] for p in content if p["type"] == "image_url"]
    sight = prompt.startswith("What single color fills this image?")
    with open(LOG_FILE, "a") as log:
        log.write(("SIGHT " if sight else "POST ") + path + " " + str(body.get("model")) + "\n")
    if body.get("model") not in MODELS:
        return 404, {"error": {"message": f"The model `{body.get('model')}` does not exist."}}
    mode = MODELS[body["model"]]
    if mode == "short-context" and body.get("max_tokens", 0) > 1024:
        # vLLM started with --max-model-len 2048 (as vLLM before 0.7 words it, flat).
        return 400, {"object": "error", "type": "BadRequestError", "code": 400, "message":
                     "This model's maximum context length is 2048 tokens. However, you requested "
                     f"{body['max_tokens'] + 200} tokens (200 in the messages, {body['max_tokens']} in the completion). "
                     "Please reduce the length of the messages or completion."}
    if images and mode == "text-only":
        return 400, {"error": {"message": f"{body['model']} is not a multimodal model"}}
    if mode == "blind":
        images = []
    if sight:
        text = png_color(images[0]) + "." if images else "I cannot determine the color without more context."
    elif "Declarative Statement(s):" in prompt:
        text = statements_answer(prompt)
    else:
        text = description_answer(prompt)
    if HUGE and not sight and "Declarative Statement(s):" not in prompt:
        text = "word " * (8 << 20)
    message = {"role": "assistant", "content": text}
    finish = "stop"
    # As Qwen3's chat template does on vLLM: thinking is off when the request says so.
    thinks = (body.get("chat_template_kwargs") or {}).get("enable_thinking", True) is not False
    if mode == "thinking" and thinks:
        message["content"] = "<think>\n" + thought(prompt) + "\n</think>\n\n" + text
    elif mode == "thinking-cut":
        message["content"] = "<think>\n" + thought(prompt)
        finish = "length"
    elif mode == "reasoning-field":
        message = {"role": "assistant", "content": None, "reasoning_content": thought(prompt)}
        finish = "length"
    return 200, {"id": "x", "object": "chat.completion", "model": body["model"],
                 "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                 "usage": {"prompt_tokens": 10, "completion_tokens": 20}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with open(LOG_FILE, "a") as log:
            log.write("GET " + self.path + "\n")
        if self.path == "/v1/models":
            self.reply(200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "someone"} for m in MODELS]})
        else:
            # vLLM's answer to a route it does not have (a base URL without /v1, say).
            self.reply(404, {"detail": "Not Found"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        if self.path != "/v1/chat/completions":
            with open(LOG_FILE, "a") as log:
                log.write("POST " + self.path + " " + str(body.get("model")) + "\n")
            self.reply(404, {"detail": "Not Found"})
            return
        self.reply(*answer(body, self.path))


def watchdog(parent):
    # Stops by itself: when the test process that started it is gone, or after 15 minutes.
    import os, threading, time
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


import os, signal, threading
# A parent may have blocked SIGTERM; the test's terminate() must end this process.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
threading.Thread(target=watchdog, args=(os.getppid(),), daemon=True).start()
if STDIO:
    # vxt's local teacher protocol: one request per line in, one answer per line out, same id.
    for line in sys.stdin:
        body = json.loads(line)
        request_id = body.pop("id", None)
        status, payload = answer(body, "stdio")
        if status != 200:
            payload = {"error": payload.get("error") or {"message": payload.get("message") or payload.get("detail")}}
        payload["id"] = request_id
        print(json.dumps(payload), flush=True)
    sys.exit(0)
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if TLS:
    import ssl
    here = os.path.dirname(os.path.abspath(__file__))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(here, "..", "tls", "server.pem"), os.path.join(here, "..", "tls", "server.key"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.replace(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
