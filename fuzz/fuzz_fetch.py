"""Fuzz ``parse_fetch``: any bytes give entries and problems; lengths are real integers."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import instrumented

with instrumented():
    from preserve.bagit_format import Limits, format_fetch, parse_fetch, safe_relpath


def check(data: bytes) -> None:
    parse_fetch(data, version="0.97")
    parse_fetch(data, encoding="UTF-16")
    parsed = parse_fetch(data, limits=Limits(max_files=20, max_line_chars=200))
    assert len(parsed.entries) <= 20
    for entry in parsed.entries:
        assert entry.length is None or (isinstance(entry.length, int) and entry.length >= 0)
        safe_relpath(entry.path)
    if not parsed.problems and parsed.entries:
        rows = [(e.url, e.length, e.path) for e in parsed.entries]
        try:
            again = parse_fetch(format_fetch(rows))
        except ValueError:
            return
        assert [(e.url, e.length) for e in again.entries] == [r[:2] for r in rows]


if __name__ == "__main__":
    from _common import run

    run(check)
