"""Bytes as received into text: refuse what is not a UTF-8 statement, then normalise.

The checks run before anything else so that bad input is named precisely; the
normalised text is only ever derived, the original bytes stay as they were.
"""

from __future__ import annotations

from pathlib import Path

from preserve.errors import InputError

#: Statements larger than this are refused: a press release is a few pages, and
#: a limit keeps a hostile or mistaken input (a disk image, a log) out of memory.
MAX_STATEMENT_BYTES = 2 * 1024 * 1024

#: Characters that web pages put where a plain space is meant.
_SPACE_LIKE = {
    "\u00a0": " ",  # NO-BREAK SPACE
    "\u202f": " ",  # NARROW NO-BREAK SPACE
    "\u2007": " ",  # FIGURE SPACE
    "\u2009": " ",  # THIN SPACE
    "\u200b": "",  # ZERO WIDTH SPACE (invisible, breaks word matching)
    "\ufeff": "",  # a stray BOM inside the text
    "\t": " ",
    "\f": "\n",  # page break
    "\v": "\n",
    "\u2028": "\n",  # LINE SEPARATOR
    "\u2029": "\n\n",  # PARAGRAPH SEPARATOR
    # Other control characters (a few are let through decoding) carry no text.
    **{chr(c): "" for c in [*range(0, 9), *range(14, 32), 0x7F]},
}
_SPACE_TABLE = str.maketrans(_SPACE_LIKE)


def decode_statement(data: bytes, path: Path | str | None = None) -> str:
    """Decode bytes as received into text, refusing what is not a UTF-8 statement.

    The checks run before anything else so that bad input is named precisely and
    nothing downstream (or on disk) sees it.
    """
    if len(data) > MAX_STATEMENT_BYTES:
        raise InputError(
            f"statement is {len(data):,} bytes; the limit is {MAX_STATEMENT_BYTES:,} bytes",
            path,
        )
    if b"\x00" in data:
        raise InputError(
            "looks like a binary file (it contains NUL bytes), not a text statement", path
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"not valid UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start} (line {line}); "
            "save the statement as UTF-8",
            path,
        ) from None
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > max(3, len(text) // 100):
        raise InputError(
            f"looks like a binary file ({controls} control characters), not a text statement",
            path,
        )
    if not text.strip():
        raise InputError("statement is empty (no text after removing white space)", path)
    return text


def normalize_text(text: str) -> str:
    """Derived text: LF line ends, space-like characters as spaces, no control
    characters, no trailing blanks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_SPACE_TABLE)
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n")
