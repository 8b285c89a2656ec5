#!/usr/bin/env python3
"""libvips baseline for bench/images: python3 images_vips.py MODE REPEAT FILE...

Runs Debian's `vipsthumbnail` (libvips-tools: shrink-on-load, SIMD-vectorised resampling) on the
same files and targets as vxt and Pillow: exact 512x512 (aspect not kept) or max side 768 (never
enlarged), JPEG q95, one thread (VIPS_CONCURRENCY=1, as vxt prepares one image per thread) and
no operation cache. Process start is taken out by difference: each file is given under N and
under 2 distinct names (symlinks, so nothing is cached by name) in one invocation each, and
(time(N) - time(2)) / (N - 2) is one image's time. Prints the median of REPEAT such measures, in
ms per file, as images_pillow.py does."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

N = 12


def one_run(path, mode, copies, folder):
    names = []
    for i in range(copies):
        name = os.path.join(folder, f"in-{i}-{os.path.basename(path)}")
        if not os.path.exists(name):
            os.symlink(os.path.abspath(path), name)
        names.append(name)
    size = "512x512!" if mode == "exact512" else "768x768>"
    out = os.path.join(folder, "out-%s.jpg[Q=95]")
    env = dict(os.environ, VIPS_CONCURRENCY="1")
    start = time.perf_counter()
    subprocess.run(["vipsthumbnail", "--vips-cache-max=0", "-s", size, "-o", out] + names, check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    mode, repeat = sys.argv[1], int(sys.argv[2])
    if shutil.which("vipsthumbnail") is None:
        sys.exit("vipsthumbnail not found: apt-get install libvips-tools")
    for path in sys.argv[3:]:
        with tempfile.TemporaryDirectory() as folder:
            measures = []
            for _ in range(repeat):
                many = one_run(path, mode, N, folder)
                two = one_run(path, mode, 2, folder)
                measures.append(max(0.0, (many - two) / (N - 2)) * 1000)
            measures.sort()
            print(json.dumps({"file": os.path.basename(path), "ms": measures[len(measures) // 2]}))


if __name__ == "__main__":
    main()
