#!/usr/bin/env python3
"""Give every distinct image path of a mix665k-shaped corpus a file under IMAGES, as hard links
of a few real photos (samples/images), so that a full-scale run reads real JPEG/PNG bytes without
600k distinct files on disk. Usage: make_images.py CORPUS IMAGES. Idempotent: existing files stay."""
import json
import os
import re
import shutil
import sys
import zlib

corpus, root = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
samples = os.path.join(here, "..", "..", "samples", "images")
# The JPEGs: mix665k's images are JPEGs, most of them COCO-sized (640 px).
photos = sorted(
    os.path.join(folder, name) for folder, _, names in os.walk(samples) for name in names if name.lower().endswith((".jpg", ".jpeg")))
if not photos:
    sys.exit(f"no photos in {samples}")
# One record per line in make_mix665k.py's output; a path is the string after "image": .
pattern = re.compile(rb'"image":\s*("(?:[^"\\]|\\.)*")')
made = seen = 0
copies = [0] * len(photos)
folders = set()
with open(corpus, "rb") as f:
    for line in f:
        m = pattern.search(line)
        if not m:
            continue
        path = json.loads(m.group(1))
        seen += 1
        target = os.path.join(root, path)
        folder = os.path.dirname(target)
        if folder not in folders:
            os.makedirs(folder, exist_ok=True)
            folders.add(folder)
        # The extension decides nothing (vxt reads the magic bytes); the photo is picked by path.
        pick = zlib.crc32(path.encode()) % len(photos)
        if os.path.exists(target):
            continue
        # ext4 allows 65,000 links to one file: link to the first copy of the photo with room.
        while True:
            source = os.path.join(root, ".photos", f"{pick}-{copies[pick]}{os.path.splitext(photos[pick])[1]}")
            if not os.path.exists(source):
                os.makedirs(os.path.dirname(source), exist_ok=True)
                shutil.copyfile(photos[pick], source)
            if os.stat(source).st_nlink < 60_000:
                break
            copies[pick] += 1
        os.link(source, target)
        made += 1
print(f"{seen} image references, {made} files made under {root}")
