#!/usr/bin/env python3
"""Writes the bad-input corpus into a folder, with manifest.json saying what `vxt inspect --json`
must make of each file: exit status, records read, problems counted, and a fragment each
problem's (or the error's) message must hold. The files are made, not committed, so that a
400 MB record or a cut gzip never sits in the repository; the manifest is the specification.

usage: make_bad_inputs.py OUT_DIR"""
import gzip
import json
import os
import sys

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
manifest = []


def record(rid, image="a.jpg", question="What is it?", answer="A cup."):
    return {"id": rid, "image": image,
            "conversations": [{"from": "human", "value": "<image>\n" + question}, {"from": "gpt", "value": answer}]}


def case(name, data, *, status=0, usable=None, problems=0, fragment=None, note=""):
    """usable: records that decode; problems: records (or places) reported as unusable."""
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    manifest.append({"file": name, "status": status, "usable": usable, "problems": problems,
                     "fragment": fragment, "note": note})


good = [record(f"r{i}") for i in range(5)]
jsonl = b"".join(json.dumps(r).encode() + b"\n" for r in good)
pretty = json.dumps(good, indent=2).encode()

case("empty.json", b"", status=1, fragment="it is empty", note="0 bytes is an error, not '0 records'")
case("whitespace.json", b"  \n\t\n", status=1, fragment="no records", note="whitespace only")
case("gzip-header-only.json.gz", gzip.compress(b""), status=1, fragment="empty", note="a gzip of nothing")
case("truncated.jsonl.gz", gzip.compress(jsonl)[:-30], status=1, fragment="truncated",
     note="a gzip cut short is an error, never a silent partial corpus")
case("bom-crlf.jsonl", b"\xef\xbb\xbf" + jsonl.replace(b"\n", b"\r\n"), usable=5, note="BOM and CRLF are fine")
first_cut = jsonl.split(b"\n")
case("first-line-cut.jsonl", first_cut[0][:70] + b"\n" + b"\n".join(first_cut[1:]), usable=4, problems=1,
     fragment="ends inside a string", note="a cut first line loses only itself")
# The first question loses its end and its closing quote: a raw newline follows inside the string.
case("array-record-cut.json", pretty.replace(b'What is it?"', b'What\n', 1), usable=4, problems=1, fragment="ends inside a string",
     note="a pretty-printed array resynchronises at the next record")
case("stray-brace.json", b"[" + json.dumps(good[0]).encode() + b", }, " + b", ".join(json.dumps(r).encode() for r in good[1:]) + b"]",
     usable=5, problems=1, fragment="unexpected '}'", note="a stray brace between records")
case("not-an-object.jsonl", jsonl + b"42\n\"text\"\n", usable=5, problems=2, fragment="expected a JSON object")
case("wrong-types.jsonl", json.dumps({"id": "t", "image": 7, "conversations": []}).encode() + b"\n" + jsonl,
     usable=5, problems=1, fragment="`image` is a number")
case("nul-id.jsonl", json.dumps(record("a\u0000b")).encode() + b"\n" + jsonl, usable=5, problems=1, fragment="NUL")
case("control-path.jsonl", json.dumps(record("p", image="a.jpg\u0000.png")).encode() + b"\n" + jsonl,
     usable=5, problems=1, fragment="control character")
case("invalid-utf8.jsonl", b'{"id": "\xff\xfe", "image": "a.jpg"}\n' + jsonl, usable=5, problems=1, fragment="UTF-8")
case("deep-nesting.jsonl", b'{"id": "deep", "x": ' + b"[" * 100000 + b"]" * 100000 + b"}\n" + jsonl, usable=5, problems=1,
     fragment="nested deeper",
     note="deep nesting fails its record, not the process")
big = {"id": "big", "image": "a.jpg", "pad": "x" * (70 << 20)}
case("huge-record.jsonl", json.dumps(big).encode() + b"\n" + jsonl, usable=5, problems=1, fragment="larger than 64 MB",
     note="a record over the cap is counted, not held in memory")
case("text-after-array.json", pretty + b"\ntrailing", usable=5, problems=1, fragment="after the closing ']'")
case("array-unclosed.json", pretty[:-1], usable=5, problems=1, fragment="before the closing ']'")

with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
