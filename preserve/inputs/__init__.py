"""The forms a statement arrives in: one module per form, one record out of each.

Every form (plain text, saved HTML, a web capture to WARC, an e-mail; PDF, scans
and word-processor files from their own modules) is read into one
:class:`Received`: the files exactly as received, the :class:`Statement` parsed
from the text the form holds, the fields the form itself states (a page's address
and retrieval time, an e-mail's sender), and the PREMIS events of getting there.
Nothing downstream (metadata, render, bagging, the archive) knows which form it
was: it bags ``Received.files`` as they are and renders ``Received.statement``.

A form module provides two functions and registers its name in :data:`FORMS`::

    def accepts(path: Path, head: bytes) -> bool   # by content first, then extension
    def read(path: Path) -> Received               # raises InputError / UnreadableInput

:func:`read_received` picks the first module that accepts a path (plain text is
last: it accepts what no other form claims).
"""

from __future__ import annotations

import codecs
import importlib
import os
import re
import stat
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from preserve.errors import UnreadableInput
from preserve.premis import Event
from preserve.statement import Statement
from preserve.statement._record import Note

#: How many bytes of a file the form modules are shown to decide whether it is theirs.
HEAD_BYTES = 4096

#: Form modules, in the order they are asked; the first that accepts a path reads it.
#: Add a line here for a new form (``preserve.inputs.pdf`` and the like); ``text`` last.
FORMS: tuple[str, ...] = (
    "preserve.inputs.capture",
    "preserve.inputs.eml",
    # before html: a file named .pdf (or an image, a .docx) that is not one is refused
    # as such, never read as a page because its bytes look like HTML
    "preserve.inputs.pdf",
    "preserve.inputs.scan",
    "preserve.inputs.docx",
    "preserve.inputs.odt",
    "preserve.inputs.html",
    "preserve.inputs.text",
)


class Form(StrEnum):
    """What a statement arrived as (recorded in the ingest event, never branched on later)."""

    TEXT = "text"
    HTML = "html"
    CAPTURE = "capture"
    EMAIL = "email"
    PDF = "pdf"
    SCAN = "scan"
    DOCX = "docx"
    ODT = "odt"


#: IANA charset names (the registry RFC 2978 keeps, as media types name them) of the
#: encodings statements arrive in, by Python codec name (``codecs.lookup(x).name``).
_IANA_CHARSETS = {
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8",
    "ascii": "us-ascii",
    "utf-16": "utf-16",
    "utf-16-le": "utf-16le",
    "utf-16-be": "utf-16be",
    "utf-32": "utf-32",
    **{f"cp125{n}": f"windows-125{n}" for n in range(9)},
    "cp874": "windows-874",
    **{f"iso8859-{n}": f"iso-8859-{n}" for n in (*range(1, 11), 13, 14, 15, 16)},
    "koi8-r": "koi8-r",
    "koi8-u": "koi8-u",
    "cp866": "ibm866",
    "cp437": "ibm437",
    "cp850": "ibm850",
    "mac-roman": "macintosh",
    "gb2312": "gb2312",
    "gbk": "gbk",
    "gb18030": "gb18030",
    "big5": "big5",
    "big5hkscs": "big5-hkscs",
    "shift_jis": "shift_jis",
    "euc_jp": "euc-jp",
    "euc_kr": "euc-kr",
    "iso2022_jp": "iso-2022-jp",
    "tis-620": "tis-620",
}


def media_type(base: str, encoding: str) -> str:
    """``base`` with the charset ``encoding`` (a Python codec name) has in the IANA
    registry: ``text/plain; charset=windows-1251`` for ``cp1251``. An encoding with no
    registered name is left out (``text/plain``) rather than named wrongly."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return base
    charset = _IANA_CHARSETS.get(name)
    return f"{base}; charset={charset}" if charset else base


@dataclass(frozen=True)
class OriginalFile:
    """One file as received, and where it goes in the bag's payload."""

    #: Path in the bag, relative to the bag root: ``data/original/…`` for what the
    #: statement arrived as, ``data/capture/…`` for a web capture (the WARC) and
    #: ``data/extracted/…`` for text taken out of it; always ``/``-separated.
    path: str
    content: bytes
    #: IANA media type, with a charset where one applies.
    mime: str
    #: PRONOM format identifier (``fmt/471`` HTML5, ``fmt/1281`` WARC 1.1, ``fmt/950`` e-mail…).
    pronom: str
    #: The name it had when received, where the bag stores it under another.
    original_name: str | None = None


@dataclass(frozen=True)
class Copy:
    """A preservation copy made from the file as received, not rendered from its text.

    The institution's own PDF (converted to PDF/A, or kept when it already is one)
    and a scan (OCRed into a searchable PDF/A): the copy keeps the layout, letterhead
    and signature image that rendering the extracted text would lose.
    """

    pdf: bytes
    #: PRONOM identifier of the copy (``fmt/477`` PDF/A-2b…).
    pronom: str
    #: How it was made, for people: ``kept (already PDF/A-2u)``, ``OCRmyPDF 17.13.0 …``.
    made_by: str


@dataclass(frozen=True)
class Received:
    """A statement as it arrived in some form: the files, the text, what the form says."""

    form: Form
    #: The files as received; the first is *the* original (what identity is computed from).
    files: tuple[OriginalFile, ...]
    #: The statement parsed from the text the form holds (for text: the file itself).
    statement: Statement
    #: Record fields the form states (``source.url``, ``source.retrieved``, ``email``…);
    #: the sidecar overrides them field by field, as it overrides the parsed draft.
    record: Mapping[str, Any] = field(default_factory=dict)
    #: PREMIS events of receiving it (capture, extraction, format identification).
    events: tuple[Event, ...] = ()
    #: Text shown by the source but not taken into the statement (navigation, share
    #: buttons, page furniture…), line by line in reading order: nothing vanishes
    #: silently. The archive puts every line in the record's ``left_out``
    #: (:func:`recorded`), whether or not the form already did.
    left_out: tuple[str, ...] = ()
    #: Anything a person may want to check, ``"code: message"`` (``scan.no-dpi: …``);
    #: the archive makes each a coded :class:`Note` of the statement (:func:`recorded`).
    notes: tuple[str, ...] = ()
    #: The preservation copy when the form makes its own (PDF, scan); None: render it.
    copy: Copy | None = None

    @property
    def original(self) -> OriginalFile:
        return self.files[0]


class FormModule(Protocol):
    """What a module named in :data:`FORMS` provides."""

    __name__: str

    def accepts(self, path: Path, head: bytes) -> bool: ...

    def read(self, path: Path) -> Received: ...


def record_left_out(
    statement: Statement, lines: tuple[str, ...], code: str, what: str
) -> Statement:
    """The statement with lines the form left out of its text named in its record.

    A letterhead, a page header or footer, page numbers: the institution's page
    furniture, not the statement, and never dropped silently. They join the record's
    ``left_out`` (:attr:`Statement.leftovers`) and a note coded ``code`` says what
    they are (``what``: "page header and footer of the DOCX").
    """
    if not lines:
        return statement
    note = Note(
        code,
        f"{len(lines)} line(s) of {what} left out of the text: " + " | ".join(lines)[:500],
    )
    return replace(
        statement,
        leftovers=(*statement.leftovers, *lines),
        notes=(*statement.notes, note),
    )


#: Code of the note naming lines a form left out of its text that its statement did
#: not hold yet (a form that records its own uses its own code: ``pdf.page-furniture``).
LEFT_OUT = "input.left-out"
#: Code of a form's note that came without a code of its own.
FORM_NOTE = "input.note"
#: A form's note that starts with its code: ``scan.no-dpi: the image states…``.
_CODED = re.compile(r"([a-z][a-z0-9-]*(?:\.[a-z0-9-]+)+): (.+)", re.DOTALL)


def coded_note(text: str) -> Note:
    """A form's note as a coded :class:`Note`: its own code when it starts with one,
    else :data:`FORM_NOTE` with the whole text as the message."""
    match = _CODED.fullmatch(text.strip())
    if match:
        return Note(match[1], match[2])
    return Note(FORM_NOTE, text.strip())


def recorded(received: Received) -> Received:
    """The received statement holding everything its form left out or noted.

    The one place a form's :attr:`Received.left_out` and :attr:`Received.notes`
    reach the record, for every form, so a form that forgets to copy them loses
    nothing: each left-out line the statement does not hold yet joins its
    ``leftovers`` (the record's ``left_out``) after those it holds, in the form's
    reading order, with a note coded :data:`LEFT_OUT`; lines the form already put
    there (PDF, DOCX, ODT) are not repeated, counted line by line, so a line the page
    shows twice stays twice. Each note becomes a coded note, once. Calling it again
    changes nothing.
    """
    statement = received.statement
    held = Counter(statement.leftovers)
    missing: list[str] = []
    for line in received.left_out:
        if held[line] > 0:
            held[line] -= 1
        else:
            missing.append(line)
    statement = record_left_out(
        statement,
        tuple(missing),
        LEFT_OUT,
        f"{received.form.value} text outside the statement (navigation, banners, page furniture)",
    )
    known = {(note.code, note.message) for note in statement.notes}
    notes = list(statement.notes)
    for text in received.notes:
        note = coded_note(text)
        if (note.code, note.message) not in known:
            known.add((note.code, note.message))
            notes.append(note)
    if len(notes) != len(statement.notes):
        statement = replace(statement, notes=tuple(notes))
    if statement is received.statement:
        return received
    return replace(received, statement=statement)


def read_head(path: Path) -> bytes:
    """The first bytes of a regular file, never from a FIFO or a device.

    A path named by the caller is read as named (a link named on the command line
    is what was asked for; links *inside* a folder are skipped by the archive's
    collector). A directory gives ``b""``: the form modules then decide by name.
    """
    if path.is_dir():
        return b""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise UnreadableInput(f"cannot read: {exc.strerror or exc}", path) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnreadableInput("not a regular file (a FIFO, device or socket)", path)
        return os.read(fd, HEAD_BYTES)
    finally:
        os.close(fd)


def form_module(name: str) -> FormModule:
    module: FormModule = importlib.import_module(name)
    return module


def form_for(path: Path) -> str:
    """The name of the form module that will read ``path`` (the text reader when no
    other claims it), decided without importing the modules that do not claim it."""
    from preserve.inputs.sniff import ACCEPTS

    head = read_head(path)
    for name in FORMS:
        accepts = ACCEPTS.get(name) or form_module(name).accepts
        if accepts(path, head):
            return name
    return FORMS[-1]


def module_for(path: Path) -> FormModule:
    """The form module that will read ``path`` (the text reader when no other claims it)."""
    return form_module(form_for(path))


def read_received(path: Path) -> Received:
    """Read a statement in whatever form it arrived; errors name the file."""
    return module_for(path).read(path)


__all__ = [
    "FORMS",
    "FORM_NOTE",
    "LEFT_OUT",
    "Form",
    "FormModule",
    "OriginalFile",
    "Received",
    "coded_note",
    "form_for",
    "module_for",
    "read_head",
    "read_received",
    "record_left_out",
    "recorded",
]
