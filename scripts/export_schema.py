"""Write the JSON Schema of a cadence's YAML/JSON form to ``docs/cadence.schema.json``.

Run it after changing a definition model::

    python scripts/export_schema.py           # rewrite docs/cadence.schema.json
    python scripts/export_schema.py --check   # exit 1 if the file is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import regua
import regua.definitions

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "docs" / "cadence.schema.json"


def schema_text() -> str:
    """The file's content: ``regua.definitions.schema()`` as sorted, indented JSON."""
    return json.dumps(regua.definitions.schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or, with ``--check``, verify) the schema file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the file differs from regua.definitions.schema()",
    )
    parser.add_argument(
        "--output", type=Path, default=SCHEMA_FILE, help="where to write (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    text = schema_text()
    target: Path = args.output
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if current == text:
        return 0
    if args.check:
        print(f"{target} is out of date; run: python scripts/export_schema.py", file=sys.stderr)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
