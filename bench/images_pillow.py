#!/usr/bin/env python3
"""Pillow baseline for bench/images: python3 images_pillow.py MODE REPEAT [--draft] FILE...

Does what the authors' script does (Image.open(...).convert("RGB").resize((512, 512)), default
bicubic) and encodes JPEG q95 into memory, REPEAT times per file; prints the median ms per file.
--draft lets libjpeg decode at reduced scale first (Pillow's own shortcut), for context."""
import io
import json
import sys
import time

from PIL import Image


def prepare(path, mode, draft):
    with open(path, "rb") as f:
        data = f.read()
    im = Image.open(io.BytesIO(data))
    if mode == "exact512":
        target = (512, 512)
    else:
        w, h = im.size
        s = min(1.0, 768 / max(w, h))
        target = (max(1, round(w * s)), max(1, round(h * s)))
    if draft and im.format == "JPEG":
        im.draft("RGB", target)
    im = im.convert("RGB").resize(target)
    out = io.BytesIO()
    im.save(out, format="JPEG", quality=95)
    return im.size


def main():
    mode, repeat = sys.argv[1], int(sys.argv[2])
    files = sys.argv[3:]
    draft = False
    if files and files[0] == "--draft":
        draft, files = True, files[1:]
    for path in files:
        times = []
        size = None
        for _ in range(repeat):
            start = time.perf_counter()
            size = prepare(path, mode, draft)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        print(json.dumps({"file": path.rsplit("/", 1)[-1], "ms": times[len(times) // 2], "size": f"{size[0]}x{size[1]}"}))


if __name__ == "__main__":
    main()
