"""Plain text as received (today's path): the file is the original and the statement."""

from __future__ import annotations

from pathlib import Path

from preserve.bagging import PRONOM_TEXT, safe_original_name
from preserve.inputs import Form, OriginalFile, Received, media_type, sniff
from preserve.statement import Statement, read_statement

#: Whether a file is this form: decided in :mod:`preserve.inputs.sniff`, which
#: imports none of this module's libraries, so asking every form stays cheap.
accepts = sniff.text


def read(path: Path) -> Received:
    """The bytes as received, parsed; errors (encoding, size, empty) name the file."""
    return received_from(read_statement(path), path)


def received_from(statement: Statement, path: Path) -> Received:
    """The record of a text statement already parsed (the archive's path for text)."""
    stored = safe_original_name(path.name)
    original = OriginalFile(
        f"data/original/{stored}",
        statement.original,
        media_type("text/plain", statement.encoding),  # the bytes as received, undecoded
        PRONOM_TEXT,
        path.name if path.name != stored else None,
    )
    return Received(Form.TEXT, (original,), statement)
