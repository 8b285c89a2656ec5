#!/usr/bin/env python3
"""Driver of bench/overload/run: see that script for what is measured."""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

RECORDS, CONCURRENCY, STORM, LATENCY = 2000, 400, 8.0, 2.0
HERE = os.path.dirname(os.path.abspath(__file__))


def corpus(path):
    images = ["skimage/coffee.png", "sklearn/china.jpg", "skimage/rocket.jpg"]
    with open(path, "w") as f:
        json.dump([{"id": f"r{i}", "image": images[i % 3], "conversations": [
            {"from": "human", "value": "<image>\nWhat is in the picture?"},
            {"from": "gpt", "value": "A red bus on a street."}]} for i in range(RECORDS)], f)


def one_run(vxt, folder, input_path):
    port_file, log = os.path.join(folder, "port"), os.path.join(folder, "answers.log")
    for p in (port_file, log):
        if os.path.exists(p):
            os.remove(p)
    server = subprocess.Popen([sys.executable, os.path.join(HERE, "storm_server.py"), port_file, log, str(STORM), str(LATENCY)])
    try:
        while not os.path.exists(port_file):
            time.sleep(0.05)
        port = open(port_file).read().strip()
        work = os.path.join(folder, "work")
        shutil.rmtree(work, ignore_errors=True)
        started = time.time()
        result = subprocess.run([vxt, "run", "pipelines/paper.yaml", "--input", input_path, "--images", "samples/images",
                                 "--work", work, "--teacher", f"http://127.0.0.1:{port}/v1", "--model", "m",
                                 "--concurrency", str(CONCURRENCY), "--skip-preflight", "--progress-interval", "30"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.time() - started
    finally:
        server.kill()
        server.wait()
    answers = [line.split() for line in open(log)]
    ok = [float(t) for t, status in answers if status == "200"]
    refused = sum(1 for _, status in answers if status == "429")
    if result.returncode not in (0, 2):
        raise SystemExit(f"{vxt} failed ({result.returncode}): {result.stderr[-2000:]}")
    # After the storm: from its end to the last answer.
    return {"wall": wall, "after": (max(ok) - STORM) if ok else float("nan"), "answers": len(ok), "refused": refused,
            "exit": result.returncode}


def main():
    rounds, current, baseline = int(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else ""
    binaries = [("this checkout", current)] + ([("baseline", baseline)] if baseline else [])
    folder = tempfile.mkdtemp(prefix="vxt-overload-")
    input_path = os.path.join(folder, "corpus.json")
    corpus(input_path)
    calls = 2 * RECORDS
    ideal = calls * LATENCY / CONCURRENCY
    print(f"{RECORDS} records ({calls} calls) at {CONCURRENCY} in flight; {STORM:.0f} s of 429s, then answers in "
          f"{LATENCY:.0f} s: ideal {ideal:.0f} s after the storm", flush=True)
    results = {name: [] for name, _ in binaries}
    for r in range(rounds):
        for name, vxt in (binaries if r % 2 == 0 else list(reversed(binaries))):
            row = one_run(vxt, folder, input_path)
            results[name].append(row)
            print(f"  round {r + 1} {name:<14} wall {row['wall']:6.1f} s · after the storm {row['after']:6.1f} s · "
                  f"{row['answers']} answers, {row['refused']} refused · exit {row['exit']}", flush=True)
    print()
    medians = {name: statistics.median(row["after"] for row in rows) for name, rows in results.items()}
    for name, rows in results.items():
        print(f"{name:<14} median after the storm {medians[name]:6.1f} s = {medians[name] / ideal:5.2f}× ideal · "
              f"median wall {statistics.median(row['wall'] for row in rows):6.1f} s")
    if baseline:
        print(f"this checkout ÷ baseline (after the storm): {medians['this checkout'] / medians['baseline']:.2f}")
    shutil.rmtree(folder, ignore_errors=True)


main()
