"""Fuzz ``parse_manifest`` (payload and tag manifests, every version rule) and the
round trip: entries parsed without errors are written and read back unchanged."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import instrumented

with instrumented():
    from preserve.bagit_format import (
        Limits,
        Severity,
        format_manifest,
        parse_manifest,
        safe_relpath,
    )

SMALL = Limits(max_files=50, max_line_chars=300)


def check(data: bytes) -> None:
    for name in ("manifest-sha256.txt", "tagmanifest-md5.txt", "manifest-foo.txt"):
        parse_manifest(data, name, version="0.97")
        parse_manifest(data, name, encoding="UTF-16")
    parsed = parse_manifest(data, "manifest-md5.txt", limits=SMALL)
    assert len(parsed.entries) <= SMALL.max_files
    for entry in parsed.entries:
        assert entry.path and len(entry.digest) == 32
        safe_relpath(entry.path)
    if any(p.severity is Severity.error for p in parsed.problems):
        return
    entries = {e.path: e.digest for e in parsed.entries}
    if len(entries) != len(parsed.entries):
        return  # listed twice: the writer refuses that, the verifier reports it
    again = parse_manifest(format_manifest([(d, p) for p, d in entries.items()]), parsed.name)
    assert {e.path: e.digest for e in again.entries} == entries or any(
        p.startswith((" ", "\t"))
        for p in entries  # "digest   path" reads as a separator
    )


if __name__ == "__main__":
    from _common import run

    run(check)
