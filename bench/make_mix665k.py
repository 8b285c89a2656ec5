#!/usr/bin/env python3
"""Write a file shaped like LLaVA-1.5's llava_v1_5_mix665k.json (one JSON array, 665,298 records,
~1 GB): coco 364,100 multi-turn conversations, vg 86,417 region records, gqa 72,140 and ocr_vqa
80,000 short-answer records with format suffixes, textvqa 21,953 with OCR hints, 40,688 text-only
ShareGPT records. Deterministic (seeded). Usage: make_mix665k.py OUT [SCALE]  (SCALE 0.01 → 1%)."""
import json
import random
import sys

WORDS = ("the a man woman dog cat bus car tree street sign table plate person people red blue green white black "
         "sitting standing holding next to near on top of in front behind building window sky cloud water boat "
         "train kitchen pizza food bowl shirt hat umbrella phone laptop book cover title author grass field").split()
SHORT = "Answer the question using a single word or phrase."


def sentence(rng, lo, hi):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi))).capitalize() + "."


def coco(i, rng):
    turns = []
    for t in range(rng.randint(2, 6)):
        q = sentence(rng, 6, 14)[:-1] + "?"
        if t == 0:
            q = ("<image>\n" + q) if rng.random() < 0.5 else (q + "\n<image>")
        turns += [{"from": "human", "value": q}, {"from": "gpt", "value": " ".join(sentence(rng, 8, 20) for _ in range(rng.randint(2, 6)))}]
    return {"id": f"{i:012d}", "image": f"coco/train2017/{i:012d}.jpg", "conversations": turns}


def vg(i, rng):
    turns = []
    for t in range(rng.randint(3, 10)):
        box = [round(rng.random() * 0.5, 2), round(rng.random() * 0.5, 2), round(0.5 + rng.random() * 0.5, 2), round(0.5 + rng.random() * 0.5, 2)]
        if rng.random() < 0.5:
            q, a = f"Please provide the bounding box coordinate of the region this sentence describes: {sentence(rng, 3, 7).lower()}", json.dumps(box)
        else:
            q, a = f"Please provide a short description for this region: {json.dumps(box)}.", sentence(rng, 3, 7)
        turns += [{"from": "human", "value": ("<image>\n" if t == 0 else "") + q}, {"from": "gpt", "value": a}]
    return {"id": f"VG_{i}", "image": f"vg/VG_100K/{i}.jpg", "conversations": turns}


def short(i, rng, folder, prefix, ocr=False):
    turns = []
    for t in range(rng.randint(3, 12) if not ocr else rng.randint(1, 3)):
        q = sentence(rng, 5, 10)[:-1] + "?"
        if ocr:
            q += "\nReference OCR token: " + ", ".join(rng.choice(WORDS).upper() for _ in range(rng.randint(2, 8)))
        q += "\n" + SHORT
        turns += [{"from": "human", "value": ("<image>\n" if t == 0 else "") + q}, {"from": "gpt", "value": rng.choice(WORDS)}]
    return {"id": f"{prefix}{i}", "image": f"{folder}/{i}.jpg", "conversations": turns}


def text_only(i, rng):
    turns = []
    for _ in range(rng.randint(1, 4)):
        turns += [{"from": "human", "value": sentence(rng, 10, 40)},
                  {"from": "gpt", "value": " ".join(sentence(rng, 10, 30) for _ in range(rng.randint(5, 25)))}]
    return {"id": f"sharegpt_{i}", "model": "", "conversations": turns}


def main():
    out, scale = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    rng = random.Random(665298)
    plan = [("coco", 364100), ("vg", 86417), ("gqa", 72140), ("ocr_vqa", 80000), ("textvqa", 21953), ("text", 40688)]
    kinds = [k for k, n in plan for _ in range(int(n * scale))]
    rng.shuffle(kinds)
    with open(out, "w") as f:
        f.write("[\n")
        for i, kind in enumerate(kinds):
            if kind == "coco": r = coco(i, rng)
            elif kind == "vg": r = vg(i, rng)
            elif kind == "gqa": r = short(i, rng, "gqa/images", "gqa_")
            elif kind == "ocr_vqa": r = short(i, rng, "ocr_vqa/images", "ocr_")
            elif kind == "textvqa": r = short(i, rng, "textvqa/train_images", "tvqa_", ocr=True)
            else: r = text_only(i, rng)
            f.write(("" if i == 0 else ",\n") + json.dumps(r))
        f.write("\n]\n")


if __name__ == "__main__":
    main()
