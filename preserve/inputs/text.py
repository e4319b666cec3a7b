"""Plain text as received (today's path): the file is the original and the statement."""

from __future__ import annotations

from pathlib import Path

from preserve.bagging import PRONOM_TEXT, safe_original_name
from preserve.inputs import Form, OriginalFile, Received
from preserve.statement import read_statement


def accepts(path: Path, head: bytes) -> bool:
    """Whatever no other form claims is read as text (and refused there if it is not)."""
    return True


def read(path: Path) -> Received:
    """The bytes as received, parsed; errors (encoding, size, empty) name the file."""
    statement = read_statement(path)
    stored = safe_original_name(path.name)
    original = OriginalFile(
        f"data/original/{stored}",
        statement.original,
        "text/plain; charset=utf-8",
        PRONOM_TEXT,
        path.name if path.name != stored else None,
    )
    return Received(Form.TEXT, (original,), statement)
