"""Fuzz ``parse_bagit_txt``: any bytes give (version, encoding, problems), never raise."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import instrumented

with instrumented():
    from preserve.bagit_format import KNOWN_VERSIONS, Problem, parse_bagit_txt, version_tuple


def check(data: bytes) -> None:
    version, encoding, problems = parse_bagit_txt(data)
    assert all(isinstance(p, Problem) and p.code for p in problems)
    if version is not None:
        version_tuple(version)
    if version in KNOWN_VERSIONS and encoding is not None and not problems:
        assert data.decode("utf-8").startswith("BagIt-Version: ")


if __name__ == "__main__":
    from _common import run

    run(check)
