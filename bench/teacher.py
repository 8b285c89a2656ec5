#!/usr/bin/env python3
"""Driver of bench/teacher (which builds first). Three measurements:
  client ROUNDS REQUESTS   the bare vxt teacher client against the Python openai client, same
                           stand-in server, interleaved round by round; a table of medians
  run ROUNDS RECORDS       a whole `vxt run pipelines/paper.yaml` (statements + extraction, image
                           work included) at concurrency 256 against a 1000 ms server
  scale REQUESTS           the bare client at 12,000 in flight against an 8.5 s (mean) server
  runscale RECORDS         a whole `vxt run` at 12,000 in flight against the same server, with small
                           JPEGs sent as they are (image mode original): everything but the resize,
                           which two cores cannot do 700 times a second"""
import json
import os
import statistics
import subprocess
import sys
import time
import collections

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VXT = os.path.join(ROOT, ".build/release/vxt")
BENCH = os.path.join(ROOT, ".build/release/vxt-bench")
PYTHON = os.path.join(ROOT, ".build/bench-venv/bin/python")
IMAGE = os.path.join(ROOT, "samples/images/skimage/astronaut.png")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start_server(port, latency_ms, jitter_ms=0):
    server = subprocess.Popen([VXT, "mock-teacher", "--port", str(port), "--fixed-answer", "--latency-ms", str(latency_ms),
                               "--jitter-ms", str(jitter_ms)], stderr=subprocess.PIPE, text=True)
    line = server.stderr.readline()
    if "listening" not in line:
        raise SystemExit(f"mock teacher did not start: {line}")
    return server


def client(rounds, requests):
    rows = collections.defaultdict(list)
    for r in range(rounds):
        for latency in (200, 1000):
            server = start_server(18400 + latency // 100, latency)
            url = f"http://127.0.0.1:{18400 + latency // 100}/v1"
            try:
                for concurrency in (64, 256, 512):
                    for client in ("vxt", "python-openai"):
                        command = ([BENCH, "teacher", url, str(requests), str(concurrency), IMAGE] if client == "vxt"
                                   else [PYTHON, os.path.join(ROOT, "bench/teacher_openai.py"), url, str(requests), str(concurrency), IMAGE])
                        before = cpu_of(server.pid)
                        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
                        result = json.loads(out.strip().splitlines()[-1])
                        result["server_cpu_ms_per_req"] = (cpu_of(server.pid) - before) * 1000 / requests
                        result["efficiency"] = result["req_per_s"] / (concurrency / (latency / 1000))
                        # vxt also reports each lane's mean call-to-call cycle after its first two calls.
                        result["steady_efficiency"] = (latency / 1000) / result["steady_cycle_mean_s"] if "steady_cycle_mean_s" in result else None
                        rows[(latency, concurrency, client)].append(result)
                        print(f"round {r + 1} latency {latency} ms C={concurrency} {client}: {result['req_per_s']:.0f} req/s, "
                              f"efficiency {result['efficiency']:.2f}, {result['cpu_ms_per_req']:.2f} ms CPU/req, "
                              f"RSS {result['peak_rss_mb']:.0f} MB, server {result['server_cpu_ms_per_req']:.2f} ms CPU/req", file=sys.stderr)
            finally:
                server.terminate()
                server.wait()
    med = lambda key, rs: statistics.median(x[key] for x in rs)
    print(f"\n{requests} requests of {rows[(200, 64, 'vxt')][0]['body_bytes']} bytes each; median of {rounds} round(s)\n")
    print("| latency | C | client | req/s | efficiency | steady-state efficiency | CPU ms/req | peak RSS MB | server CPU ms/req | vxt/Python CPU |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for latency in (200, 1000):
        for concurrency in (64, 256, 512):
            v, p = rows[(latency, concurrency, "vxt")], rows[(latency, concurrency, "python-openai")]
            for name, rs in (("vxt", v), ("Python openai", p)):
                ratio = f"{med('cpu_ms_per_req', v) / med('cpu_ms_per_req', p):.3f}" if name == "vxt" else ""
                steady = f"{med('steady_efficiency', rs):.3f}" if rs[0]["steady_efficiency"] is not None else ""
                print(f"| {latency} ms | {concurrency} | {name} | {med('req_per_s', rs):.0f} | {med('efficiency', rs):.3f} | {steady} | "
                      f"{med('cpu_ms_per_req', rs):.2f} | {med('peak_rss_mb', rs):.0f} | {med('server_cpu_ms_per_req', rs):.2f} | {ratio} |")


def run(rounds, records):
    """A corpus of RECORDS one-question records over the sample photos; every record prepares its
    image anew (nothing is cached), as on a real corpus."""
    base = os.path.join(ROOT, ".build/bench-run")
    os.makedirs(base, exist_ok=True)
    photos = ["skimage/astronaut.png", "skimage/chelsea.png", "skimage/coffee.png", "sklearn/china.jpg",
              "sklearn/flower.jpg", "skimage/rocket.jpg", "skimage/hubble_deep_field.jpg", "skimage/retina.jpg"]
    corpus = os.path.join(base, "corpus.json")
    with open(corpus, "w") as f:
        json.dump([{"id": f"r{n}", "image": photos[n % len(photos)],
                    "conversations": [{"from": "human", "value": "<image>\nWhat color is the object?"},
                                      {"from": "gpt", "value": "Red"}]} for n in range(records)], f)
    concurrency, latency = 256, 1000
    results = []
    for r in range(rounds):
        server = start_server(18450, latency)
        work = os.path.join(base, f"work-{r}")
        subprocess.run(["rm", "-rf", work], check=True)
        try:
            before = cpu_of(server.pid)
            start = time.perf_counter()
            child = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", VXT, "run", os.path.join(ROOT, "pipelines/paper.yaml"),
                                    "--input", corpus, "--images", os.path.join(ROOT, "samples/images"), "--work", work,
                                    "--teacher", "http://127.0.0.1:18450/v1", "--concurrency", str(concurrency),
                                    "--progress-interval", "600"], capture_output=True, text=True)
            wall = time.perf_counter() - start
            if child.returncode != 0:
                raise SystemExit(child.stderr[-2000:])
            user, system, rss_kb = child.stderr.strip().splitlines()[-1].split()
            calls = 2 * records
            result = {"wall_s": wall, "calls_per_s": calls / wall, "efficiency": calls / wall / (concurrency / (latency / 1000)),
                      "cpu_ms_per_call": (float(user) + float(system)) * 1000 / calls, "peak_rss_mb": int(rss_kb) / 1024,
                      "server_cpu_ms_per_call": (cpu_of(server.pid) - before) * 1000 / calls}
            results.append(result)
            print(f"round {r + 1}: {json.dumps(result)}", file=sys.stderr)
        finally:
            server.terminate()
            server.wait()
    med = lambda key: statistics.median(x[key] for x in results)
    print(f"\nwhole `vxt run pipelines/paper.yaml`: {records} records, {2 * records} calls, C={concurrency}, "
          f"server latency {latency} ms, ideal {concurrency / (latency / 1000):.0f} calls/s; median of {rounds} round(s)\n")
    print("| calls/s | efficiency | wall s | vxt CPU ms/call | peak RSS MB | server CPU ms/call |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {med('calls_per_s'):.0f} | {med('efficiency'):.3f} | {med('wall_s'):.1f} | {med('cpu_ms_per_call'):.2f} | "
          f"{med('peak_rss_mb'):.0f} | {med('server_cpu_ms_per_call'):.2f} |")


def scale(requests):
    concurrency = 12000
    server = start_server(18460, 7500, 2000)  # uniform 7.5-9.5 s: mean 8.5 s, as one H100 serving Qwen3-VL-8B
    try:
        before = cpu_of(server.pid)
        out = subprocess.run([BENCH, "teacher", "http://127.0.0.1:18460/v1", str(requests), str(concurrency), IMAGE],
                             capture_output=True, text=True, check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        server_cpu = cpu_of(server.pid) - before
    finally:
        server.terminate()
        server.wait()
    ideal = concurrency / 8.5
    print(f"\nscale: {requests} requests, {concurrency} in flight, server latency 8.5 s mean; ideal {ideal:.0f} req/s\n")
    print("| req/s | achieved / ideal | wall s | client CPU ms/req | peak RSS MB | server CPU ms/req | failed |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {result['req_per_s']:.0f} | {result['req_per_s'] / ideal:.3f} | {result['wall_s']:.1f} | {result['cpu_ms_per_req']:.2f} | "
          f"{result['peak_rss_mb']:.0f} | {server_cpu * 1000 / requests:.2f} | {requests - result['ok']} |")


def runscale(records):
    concurrency, mean_latency = 12000, 8.5
    base = os.path.join(ROOT, ".build/bench-runscale")
    images = os.path.join(base, "images")
    os.makedirs(images, exist_ok=True)
    # Small distinct photos (160x120 JPEG q90, ~5-8 KB): decoding and hashing them is cheap, so the
    # run measures the job store, the runner and the client at 12,000 in flight, not the resampler.
    photos = ["skimage/astronaut.png", "skimage/chelsea.png", "skimage/coffee.png", "sklearn/china.jpg",
              "sklearn/flower.jpg", "skimage/rocket.jpg", "skimage/hubble_deep_field.jpg", "skimage/retina.jpg"]
    subprocess.run([PYTHON, "-c", "import sys\nfrom PIL import Image\nfor i, p in enumerate(sys.argv[2:]):\n"
                    "    Image.open(p).convert('RGB').resize((160, 120)).save(f'{sys.argv[1]}/p{i}.jpg', quality=90)",
                    images] + [os.path.join(ROOT, "samples/images", p) for p in photos], check=True)
    corpus = os.path.join(base, "corpus.json")
    with open(corpus, "w") as f:
        json.dump([{"id": f"r{n}", "image": f"p{n % len(photos)}.jpg",
                    "conversations": [{"from": "human", "value": "<image>\nWhat color is the object?"},
                                      {"from": "gpt", "value": "Red"}]} for n in range(records)], f)
    with open(os.path.join(ROOT, "pipelines/paper.yaml")) as f:
        paper = f.read()
    pipeline = os.path.join(base, "paper-original-images.yaml")
    with open(pipeline, "w") as f:
        f.write(paper.replace("  mode: exact ", "  mode: original ", 1))
    work = os.path.join(base, "work")
    subprocess.run(["rm", "-rf", work], check=True)
    server = start_server(18470, 7500, 2000)
    try:
        before = cpu_of(server.pid)
        start = time.perf_counter()
        child = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", VXT, "run", pipeline, "--input", corpus, "--images", images,
                                "--work", work, "--teacher", "http://127.0.0.1:18470/v1", "--concurrency", str(concurrency),
                                "--progress-interval", "10"], capture_output=True, text=True)
        wall = time.perf_counter() - start
        server_cpu = cpu_of(server.pid) - before
    finally:
        server.terminate()
        server.wait()
    if child.returncode != 0:
        raise SystemExit(child.stderr[-3000:])
    print(child.stderr[-1500:], file=sys.stderr)
    user, system, rss_kb = child.stderr.strip().splitlines()[-1].split()
    calls = 2 * records
    ideal = concurrency / mean_latency
    print(f"\nwhole run at scale: {records} records, {calls} calls, {concurrency} in flight, server latency {mean_latency} s mean, "
          f"ideal {ideal:.0f} calls/s\n")
    print("| calls/s | achieved / ideal | wall s | vxt CPU ms/call | peak RSS MB | server CPU ms/call |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {calls / wall:.0f} | {calls / wall / ideal:.3f} | {wall:.1f} | {(float(user) + float(system)) * 1000 / calls:.2f} | "
          f"{int(rss_kb) / 1024:.0f} | {server_cpu * 1000 / calls:.2f} |")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "client":
        client(int(sys.argv[2]), int(sys.argv[3]))
    elif mode == "run":
        run(int(sys.argv[2]), int(sys.argv[3]))
    elif mode == "scale":
        scale(int(sys.argv[2]))
    elif mode == "runscale":
        runscale(int(sys.argv[2]))
    else:
        raise SystemExit(__doc__)
