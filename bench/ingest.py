#!/usr/bin/env python3
"""Driver for bench/ingest: runs each reader as its own process, measures wall time and peak RSS
(os.wait4), checks that all count the same records, images and pairs, prints medians and ratios."""
import json
import os
import statistics
import subprocess
import sys
import time

COUNT = """
import json, sys{extra}
d = {load}
no_image = (None, "", "None", "none", "nan")
print(json.dumps({{"records": len(d), "withImage": sum(1 for x in d if x.get("image") not in no_image),
                  "pairs": sum(len(x.get("conversations", [])) // 2 for x in d)}}))
"""


def measure(cmd):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"{cmd[0]} failed with status {status}")
    counts = json.loads(out)
    return wall, usage.ru_maxrss / 1024, {k: counts[k] for k in ("records", "withImage", "pairs")}


def main():
    rounds, path, vxt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    tools = {
        "vxt inspect": [vxt, "inspect", path, "--json"],
        "python json.load": [sys.executable, "-c", COUNT.format(extra="", load=f"json.load(open({path!r}))")],
        "python orjson": [sys.executable, "-c", COUNT.format(extra="\nimport orjson", load=f"orjson.loads(open({path!r}, 'rb').read())")],
    }
    results = {name: [] for name in tools}
    for r in range(rounds):
        for name, cmd in tools.items():
            wall, rss, counts = measure(cmd)
            results[name].append((wall, rss, counts))
            print(f"round {r + 1}: {name:<17} {wall:7.2f} s  peak RSS {rss:8.1f} MB  {counts}", file=sys.stderr)
    size = os.path.getsize(path)
    base = statistics.median(w for w, _, _ in results["python json.load"])
    print(f"file: {path} ({size / 1e9:.2f} GB), {rounds} rounds, medians")
    print(f"{'reader':<18} {'wall s':>8} {'vs json.load':>13} {'peak RSS MB':>12}  counts")
    for name, rows in results.items():
        wall = statistics.median(w for w, _, _ in rows)
        rss = statistics.median(m for _, m, _ in rows)
        print(f"{name:<18} {wall:8.2f} {wall / base:13.2f} {rss:12.1f}  {rows[0][2]}")
    same = len({json.dumps(rows[0][2], sort_keys=True) for rows in results.values()}) == 1
    print("counts agree" if same else "COUNTS DIFFER")


if __name__ == "__main__":
    main()
