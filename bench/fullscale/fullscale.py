#!/usr/bin/env python3
"""Driver of bench/fullscale/run: one table per scale, then per-record costs side by side."""
import json
import os
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# VXT_BINARY runs another build (a baseline) through the same phases.
VXT = os.environ.get("VXT_BINARY") or os.path.join(ROOT, ".build/release/vxt")
WORK = os.environ.get("VXT_FULLSCALE_DIR", "/tmp/vxt-fullscale")
CONCURRENCY = 12_000
LATENCY_MS = 8_500
PORT = 18_650


def size_of(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for folder, _, names in os.walk(path):
        for name in names:
            try:
                total += os.path.getsize(os.path.join(folder, name))
            except OSError:
                pass
    return total


def measured(name, command, records, sample=None, log_folder=None):
    """Runs a command under /usr/bin/time; returns its row (and prints it as it lands)."""
    started = time.time()
    process = subprocess.Popen(["/usr/bin/time", "-f", "TIME %e %U %S %M"] + command, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    samples = []
    stop = threading.Event()
    if sample:
        def sampler():
            while not stop.wait(10):
                samples.append(sample())
        threading.Thread(target=sampler, daemon=True).start()
    _, err = process.communicate()
    stop.set()
    line = [l for l in err.splitlines() if l.startswith("TIME ")]
    if process.returncode != 0 or not line:
        raise SystemExit(f"{name} failed ({process.returncode}): {err[-2000:]}")
    wall, user, system, rss_kb = line[-1].split()[1:]
    row = {"phase": name, "wall_s": float(wall), "cpu_s": float(user) + float(system), "rss_mb": int(rss_kb) / 1024,
           "records": records, "log": err, "samples": samples, "started": started}
    if log_folder:  # the whole stderr (progress lines with their ETA) for later reading
        with open(os.path.join(log_folder, name.replace(" ", "_").replace("-", "") + ".log"), "w") as log:
            log.write(err)
    print(f"  {name:<22} {row['wall_s']:8.1f} s wall {row['cpu_s']:8.1f} s CPU {row['rss_mb']:8.0f} MB peak RSS", flush=True)
    return row


def status_sample(work):
    started = time.time()
    result = subprocess.run([VXT, "status", "--work", work], capture_output=True, text=True)
    return time.time() - started, result.returncode


def one_scale(scale, shards, sharded_only=False):
    folder = os.path.join(WORK, f"scale-{scale}")
    os.makedirs(folder, exist_ok=True)
    corpus = os.path.join(folder, "mix665k.json")
    images = os.path.join(WORK, "images")  # shared by every scale: one file per distinct path
    if not os.path.exists(corpus):
        subprocess.run([sys.executable, os.path.join(ROOT, "bench/make_mix665k.py"), corpus, str(scale)], check=True)
    subprocess.run([sys.executable, os.path.join(ROOT, "bench/fullscale/make_images.py"), corpus, images], check=True,
                   stdout=subprocess.DEVNULL)
    inspected = json.loads(subprocess.run([VXT, "inspect", corpus, "--json"], capture_output=True, text=True, check=True).stdout)
    records = int(inspected["records"])
    server = subprocess.Popen([VXT, "mock-teacher", "--port", str(PORT), "--latency-ms", str(LATENCY_MS), "--jitter-ms", "1000",
                               "--threads", "2"], stderr=subprocess.PIPE, text=True)
    if "listening" not in (server.stderr.readline() or ""):
        raise SystemExit("mock teacher did not start")
    teacher = f"http://127.0.0.1:{PORT}/v1"
    rows = []
    try:
        work = os.path.join(folder, "work")
        subprocess.run(["rm", "-rf", work], check=True)
        print(f"scale {scale}: {records} records, {CONCURRENCY} in flight against a {LATENCY_MS / 1000} s server", flush=True)
        rows.append(measured("inspect", [VXT, "inspect", corpus, "--json"], records))
        if sharded_only:
            rows += sharded_run(folder, corpus, images, teacher, shards, records, inspected)
            return rows
        run = measured("run", [VXT, "run", "pipelines/paper.yaml", "--input", corpus, "--images", images, "--work", work,
                               "--teacher", teacher, "--concurrency", str(CONCURRENCY), "--progress-interval", "10"],
                       records, sample=lambda: status_sample(work), log_folder=folder)
        run["bytes"] = size_of(os.path.join(work, "vxt.sqlite"))
        rows.append(run)
        rows.append(measured("audit --html", [VXT, "audit", "--work", work, "--html", os.path.join(folder, "report.html")], records))
        rows[-1]["bytes"] = size_of(os.path.join(folder, "report.html"))
        for format in ("llava", "jsonl", "paper"):
            out = os.path.join(folder, f"corpus.{format}")
            rows.append(measured(f"export {format}", [VXT, "export", "--work", work, "--format", format, "--out", out], records))
            rows[-1]["bytes"] = size_of(out)
        if shards > 1:
            rows += sharded_run(folder, corpus, images, teacher, shards, records, inspected)
            a, b = os.path.join(folder, "corpus.llava"), os.path.join(folder, "sharded.llava")
            same = open(a, "rb").read() == open(b, "rb").read()
            print(f"  merged shards export {'==' if same else '!='} unsharded export", flush=True)
    finally:
        server.terminate()
        server.wait()
    # What the run's log says: when the first answer and the end of ingest came, and the statuses' costs.
    log = run["log"]
    first = next((l for l in log.splitlines() if "answered" in l), "")
    ingest = next((l for l in log.splitlines() if l.startswith("ingested")), "")
    worst_status = max((s[0] for s in run["samples"]), default=None)
    print(f"  ingest: {ingest}")
    print(f"  first progress line with answers: {first[:120]}")
    print(f"  vxt status while the run wrote: {len(run['samples'])} samples, slowest {worst_status:.2f} s" if worst_status else
          "  vxt status while the run wrote: no sample (run shorter than 10 s)")
    return rows


def sharded_run(folder, corpus, images, teacher, shards, records, inspected):
    """The run split into `shards` processes at once (CONCURRENCY in flight among them), merged and
    exported as `sharded.llava`; checks that the export holds one sample per record with an image."""
    rows = []
    sharded = os.path.join(folder, "sharded")
    subprocess.run(["rm", "-rf", sharded], check=True)
    started = time.time()
    # Each shard's stderr goes to a file of its own: pipes read one after another would stall a
    # shard whose pipe filled while an earlier one was being waited for.
    logs = [os.path.join(folder, f"shard-{i}.log") for i in range(shards)]
    processes = [subprocess.Popen(["/usr/bin/time", "-f", "TIME %e %U %S %M", VXT, "run", "pipelines/paper.yaml",
                                   "--input", corpus, "--images", images, "--work", sharded, "--teacher", teacher,
                                   "--concurrency", str(CONCURRENCY // shards), "--shard", f"{i}/{shards}",
                                   "--progress-interval", "60"], stdout=subprocess.DEVNULL, stderr=open(logs[i], "w"))
                 for i in range(shards)]
    cpu = 0.0
    rss = 0.0
    failed_shards = []
    for i, process in enumerate(processes):
        process.wait()
        with open(logs[i], errors="replace") as log:
            err = log.read()
        line = [l for l in err.splitlines() if l.startswith("TIME ")]
        # Exit status 2: the shard finished, some records failed (timeouts of an overloaded box);
        # counted and merged like the rest. Anything else stops the benchmark, with the shards.
        if process.returncode == 2 and line:
            failed_shards.append(i)
        elif process.returncode != 0 or not line:
            for other in processes:
                other.kill()
            raise SystemExit(f"shard {i} failed: {err[-2000:]}")
        _, user, system, rss_kb = line[-1].split()[1:]
        cpu += float(user) + float(system)
        rss += int(rss_kb) / 1024
    row = {"phase": f"run, {shards} shards", "wall_s": time.time() - started, "cpu_s": cpu, "rss_mb": rss,
           "records": records, "bytes": size_of(sharded)}
    print(f"  {row['phase']:<22} {row['wall_s']:8.1f} s wall {row['cpu_s']:8.1f} s CPU {row['rss_mb']:8.0f} MB RSS summed",
          flush=True)
    rows.append(row)
    if failed_shards:
        print(f"  shards that finished with failed records: {failed_shards}", flush=True)
    rows.append(measured("merge", [VXT, "merge", "--work", sharded], records))
    rows[-1]["bytes"] = size_of(os.path.join(sharded, "vxt.sqlite"))
    out = os.path.join(folder, "sharded.llava")
    rows.append(measured("export llava, merged", [VXT, "export", "--work", sharded, "--format", "llava", "--out", out], records))
    rows[-1]["bytes"] = size_of(out)
    with open(out, "rb") as f:
        samples = json.load(f)
    ids = [sample["id"] for sample in samples]
    print(f"  merged export: {len(samples)} samples for {inspected['withImage']} records with an image, "
          f"{len(ids) - len(set(ids))} ids twice (the corpus repeats {inspected['duplicateIDs']})", flush=True)
    return rows


def main():
    scales = [float(s) for s in sys.argv[1].split(",")]
    shards = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    sharded_only = "--sharded-only" in sys.argv[3:]
    results = {scale: one_scale(scale, shards, sharded_only) for scale in scales}
    print()
    print("per record (ms wall · ms CPU · bytes on disk), by scale:")
    phases = [row["phase"] for row in results[scales[0]]]
    print(f"  {'phase':<22}" + "".join(f"{f'{s:g}':>30}" for s in scales))
    for phase in phases:
        cells = []
        for scale in scales:
            row = next(r for r in results[scale] if r["phase"] == phase)
            n = row["records"]
            bytes_text = f"{row.get('bytes', 0) / n:,.0f} B" if row.get("bytes") else "-"
            cells.append(f"{row['wall_s'] * 1000 / n:8.3f} · {row['cpu_s'] * 1000 / n:7.3f} · {bytes_text:>9}")
        print(f"  {phase:<22}" + "".join(f"{c:>30}" for c in cells))


if __name__ == "__main__":
    main()
