"""Fuzz the sidecar JSON path of ingest: read it, merge it over a draft, validate the
record. Any bytes end in a record, a list of field problems or an InputError."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import instrumented

with instrumented():
    from preserve.errors import InputError
    from preserve.metadata import check_record, merge, read_sidecar

DRAFT = {
    "title": "Library opening hours extended",
    "creator": {"name": "Jane Doe", "role": "Ombudsman"},
    "date_issued": "2024-03-01",
    "language": "en",
    "type": "statement",
}
_FD, _PATH = tempfile.mkstemp(prefix="fuzz-sidecar-", suffix=".json")
os.close(_FD)


def check(data: bytes) -> None:
    Path(_PATH).write_bytes(data)
    try:
        sidecar = read_sidecar(Path(_PATH))
    except InputError as error:
        assert error.message
        return
    assert isinstance(sidecar, dict)
    for problem in check_record(merge(DRAFT, sidecar)):
        assert problem.one_line()


if __name__ == "__main__":
    from _common import run

    run(check)
