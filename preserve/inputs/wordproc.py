"""What DOCX and ODT readers share: list numbering as displayed, text layout, zip checks.

A word processor stores a numbered list as "level 2 of list 5, decimal, ``%1.%2)``",
not as the ``1.2)`` a reader sees; :class:`Numbering` counts the way Word and
LibreOffice display it, so the extracted text says what the page said.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from preserve.errors import InputError

if TYPE_CHECKING:
    from preserve.inputs import Form, OriginalFile, Received

#: Uncompressed size of a word-processor package taken in (a statement is a few hundred KiB).
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
#: Bullet characters Word stores in symbol fonts' private-use area, shown as a bullet.
_SYMBOL_BULLETS = {"\uf0b7", "\uf0a7", "\uf0d8", "\uf0fc", "\uf076", "\uf0a8", "o", ""}


def check_package(data: bytes, path: Path, what: str, needed: str) -> None:
    """Refuse what is not a ZIP package holding ``needed``, or unpacks too large."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            names = package.namelist()
            unpacked = sum(info.file_size for info in package.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise InputError(
            f"not a {what} file (not a ZIP package); open it in a word processor and save it "
            f"again as {what}",
            path,
        ) from None
    if needed not in names:
        raise InputError(
            f"not a {what} file (no {needed} in the package); save it again as {what}", path
        )
    if unpacked > MAX_UNPACKED_BYTES:
        raise InputError(
            f"the {what} unpacks to {unpacked // (1024 * 1024)} MiB, more than a statement can be",
            path,
        )


def to_roman(number: int) -> str:
    values = zip(
        (1000, 900, 500, 400, 100, 90, 50, 40, 10, 9, 5, 4, 1),
        "m cm d cd c xc l xl x ix v iv i".split(),
        strict=True,
    )
    out = []
    for value, letters in values:
        while number >= value:
            out.append(letters)
            number -= value
    return "".join(out)


def to_letters(number: int) -> str:
    """1 → a, 26 → z, 27 → aa (as Word and LibreOffice count)."""
    if number <= 0:
        return str(number)
    letter = "abcdefghijklmnopqrstuvwxyz"[(number - 1) % 26]
    return letter * ((number - 1) // 26 + 1)


def format_number(number: int, fmt: str) -> str:
    """A counter in a list format (Word's ``decimal``/``lowerLetter``…, ODF's ``1``/``a``/``I``)."""
    if fmt in ("lowerLetter", "a"):
        return to_letters(number)
    if fmt in ("upperLetter", "A"):
        return to_letters(number).upper()
    if fmt in ("lowerRoman", "i"):
        return to_roman(number)
    if fmt in ("upperRoman", "I"):
        return to_roman(number).upper()
    if fmt == "decimalZero":
        return f"{number:02d}"
    if fmt in ("none", ""):
        return ""
    return str(number)


def bullet(char: str) -> str:
    """The bullet a reader sees (symbol-font private-use bullets become •)."""
    return "•" if not char or char in _SYMBOL_BULLETS or "\ue000" <= char <= "\uf8ff" else char


@dataclass
class Numbering:
    """Counters of the lists of one document: level counts, deeper levels reset."""

    counters: dict[str, list[int]] = field(default_factory=dict)

    def next(
        self, list_id: str, level: int, start: int = 1, starts: list[int] | None = None
    ) -> list[int]:
        """Count one item at ``level`` (0-based) of ``list_id``; the counts of levels 0..level."""
        counts = self.counters.setdefault(list_id, [])
        while len(counts) <= level:
            depth = len(counts)
            counts.append((starts[depth] if starts and depth < len(starts) else 1) - 1)
        counts[level] += 1
        if counts[level] < start:
            counts[level] = start
        for deeper in range(level + 1, len(counts)):
            counts[deeper] = (starts[deeper] if starts and deeper < len(starts) else 1) - 1
        return counts[: level + 1]


def join_blocks(blocks: list[tuple[str, str]]) -> str:
    """Document text: one paragraph a block, blank lines between, list items kept together.

    ``blocks`` are (kind, text) with kind ``p``, ``h`` or ``li``.
    """
    out: list[str] = []
    previous = ""
    for kind, text in blocks:
        text = text.strip()
        if not text:
            continue
        if out and not (kind == "li" and previous == "li"):
            out.append("")
        out.append(text)
        previous = kind
    return "\n".join(out) + "\n"


#: A signature table: at most this many rows, cells at most this long.
_SIGNATURE_ROWS = 4
_SIGNATURE_CELL = 100
#: ...and at most this many lines of text after it (a date, a place).
_AFTER_SIGNATURES = 2


#: Note code: a letterhead (page header/footer, a letterhead table) left out of the text.
LETTERHEAD = "wordproc.letterhead"
#: Block kind of page furniture in the body (a letterhead table): left out, not text.
FURNITURE = "furniture"


def is_letterhead(rows: list[list[str]], first: bool) -> bool:
    """A table opening the body with the office's name, address and contacts in short cells.

    Word letters often set the letterhead as a borderless table at the top of the
    body rather than in the page header; read as text it becomes the title. It is
    the first thing in the body, at most three rows, and no cell holds a sentence.
    """
    cells = [cell for row in rows for cell in row if cell]
    return (
        first
        and 0 < len(rows) <= 3
        and bool(cells)
        and all(
            len(line) <= _SIGNATURE_CELL and not line.rstrip().endswith((".", "!", "?", ":"))
            for cell in cells
            for line in cell.split("\n")
        )
    )


def split_furniture(blocks: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
    """(the body's blocks, the lines of page furniture in it)."""
    body = [block for block in blocks if block[0] != FURNITURE]
    lines = tuple(
        line.strip()
        for kind, text in blocks
        if kind == FURNITURE
        for line in text.split("\n")
        if line.strip()
    )
    return body, lines


def table_blocks(rows: list[list[str]], lines_after: int) -> list[tuple[str, str]]:
    """A table's blocks: row by row, or column by column when it is the signatures.

    Joint statements set their signatures side by side in a table: names in one row,
    roles in the next. Read row by row that gives "Name A / Name B / Name C" and then
    the roles, and the names become each other's roles. A table near the end (at most
    :data:`_AFTER_SIGNATURES` lines after it) of two to four columns, at most
    :data:`_SIGNATURE_ROWS` rows of short cells, its first row of several words
    each, is read column by column, one block a signer. Any other table is read row
    by row, a block a row.
    """
    width = len(rows[0]) if rows else 0
    signatures = (
        lines_after <= _AFTER_SIGNATURES
        and 2 <= width <= 4
        and len(rows) <= _SIGNATURE_ROWS
        and all(len(row) == width for row in rows)
        and all(
            len(cell) <= _SIGNATURE_CELL and not cell.endswith(".") for row in rows for cell in row
        )
        and all(any(row[column] for row in rows) for column in range(width))
        # a signer's name is two words or more; a header row ("Day", "Hours") is not names
        and all(len(cell.split()) >= 2 for cell in rows[0] if cell)
    )
    if signatures:
        columns = ["\n".join(row[c] for row in rows if row[c]) for c in range(width)]
        return [("p", column) for column in columns if column]
    blocks: list[tuple[str, str]] = []
    for row in rows:
        cells: list[str] = []
        for value in row:
            if value and (not cells or cells[-1] != value):  # merged cells repeat
                cells.append(value)
        if cells:
            blocks.append(("p", "\n".join(cells)))
    return blocks


def received_from_body(
    form: Form,
    tool: str,
    path: Path,
    original: OriginalFile,
    text: str,
    left_out: tuple[str, ...],
) -> Received:
    """What a DOCX or ODT reader hands on: the original, the text it extracted, the
    statement parsed from it with the letterhead, page header and footer named in the
    record (never dropped silently), and the identification and extraction events."""
    # Imported here: the PDF reader imports this module (through pdf_text).
    from preserve.inputs import Received, record_left_out
    from preserve.inputs.pdf import (
        FORMAT_IDENTIFICATION,
        METADATA_EXTRACTION,
        extracted_file,
        statement_from,
    )
    from preserve.premis import Event

    label = form.name.upper()
    now = dt.datetime.now(dt.UTC)
    left = f"; {LETTERHEAD}: {len(left_out)} line(s) left out: " + " | ".join(left_out)
    events = (
        Event(
            FORMAT_IDENTIFICATION, now, "success", f"{original.pronom} ({label})", (original.path,)
        ),
        Event(
            METADATA_EXTRACTION,
            now,
            "success",
            f"text, headings and lists extracted with {tool}" + (left if left_out else ""),
            (original.path,),
        ),
    )
    statement = record_left_out(
        statement_from(text, original.content, path),
        left_out,
        LETTERHEAD,
        f"letterhead, page header and footer of the {label}",
    )
    return Received(
        form,
        (original, extracted_file(original, text)),
        statement,
        events=events,
        left_out=left_out,
    )
