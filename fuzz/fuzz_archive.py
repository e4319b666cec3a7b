"""Fuzz the verifier on serialized bags: any bytes as a .tar, .tar.gz or .zip give a
result (valid or not, every problem a Problem) or UnreadableInput, never a crash."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import instrumented

with instrumented():
    from preserve.bagit_format import Limits
    from preserve.errors import UnreadableInput
    from preserve.verify import verify_bag

_DIR = tempfile.mkdtemp(prefix="fuzz-archive-")
SMALL = Limits(max_files=200, max_manifest_bytes=1 << 16, max_bag_info_bytes=1 << 14)


def check(data: bytes) -> None:
    kind = "zip" if data[:2] == b"PK" else "tar"
    path = Path(_DIR) / f"bag.{kind}"
    path.write_bytes(data)
    try:
        result = verify_bag(path, limits=SMALL)
    except UnreadableInput as error:
        assert error.message
        return
    finally:
        os.utime(_DIR)
    assert result.valid == (not result.errors)
    for problem in result.problems:
        problem.one_line().encode("utf-8")


if __name__ == "__main__":
    from _common import run

    run(check)
