#!/usr/bin/env python3
"""Validate vxt files against schemas/: python3 scripts/validate-schemas.py SCHEMA FILE [FILE...]

FILE is read as JSON, as JSON Lines (each line validated) when the schema describes one line
or the file is an input corpus named *.jsonl, or as YAML for the pipeline schema. Exits 1 with the first errors when a file does not conform.
Needs the `jsonschema` package (and PyYAML for pipelines)."""
import json
import sys
from pathlib import Path

import jsonschema


def documents(schema_path: Path, schema: dict, path: Path):
    text = path.read_text(encoding="utf-8")
    if schema_path.name.startswith("pipeline"):
        import yaml
        yield path.name, yaml.safe_load(text)
    elif "(one line)" in schema.get("title", "") or (
        schema_path.name == "llava-input-record.schema.json" and path.suffix == ".jsonl"
    ):
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                yield f"{path.name}:{number}", json.loads(line)
    else:
        data = json.loads(text)
        if schema_path.name == "llava-input-record.schema.json" and isinstance(data, list):
            for number, item in enumerate(data):
                yield f"{path.name}[{number}]", item
        else:
            yield path.name, data


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    schema_path = Path(sys.argv[1])
    schema = json.loads(schema_path.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    failures = 0
    checked = 0
    for name in sys.argv[2:]:
        for where, document in documents(schema_path, schema, Path(name)):
            checked += 1
            for error in validator.iter_errors(document):
                failures += 1
                if failures <= 20:
                    print(f"{where}: {'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}", file=sys.stderr)
    print(f"{schema_path.name}: {checked} documents, {failures} errors")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
