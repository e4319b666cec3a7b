"""Render a statement as a PDF/A preservation copy (layout, fonts, shaping, self-check).

The page content comes from :mod:`preserve.render.layout` (the statement's own
blocks, in order); :mod:`preserve.pdfa` adds what PDF/A requires; then
:mod:`preserve.render.selfcheck` reads the finished file back with PDFium and
compares it with the derived text. Statement text and metadata are drawn as glyphs,
never parsed as markup, so nothing in a statement can change the layout.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from preserve.errors import InputError, PreserveError, RenderError
from preserve.fsio import atomic_write
from preserve.metadata import Metadata
from preserve.pdfa import Attachment, PdfaLevel, PdfInfo, finish_pdfa
from preserve.render.layout import body_box, document_of, draw_pages, paginate
from preserve.render.selfcheck import CopyDiffers, SelfCheck, check_copy
from preserve.statement import MAX_STATEMENT_BYTES, Statement

__all__ = [
    "Attachment",
    "CopyDiffers",
    "PdfaLevel",
    "Rendering",
    "SelfCheck",
    "associated_files",
    "default_attachments",
    "render_statement",
    "write_pdf",
]


@dataclass(frozen=True)
class Rendering:
    """A finished PDF/A file and what it was made with."""

    pdf: bytes
    level: PdfaLevel
    page_count: int
    #: Names of the embedded fonts (e.g. ``NotoSerif``, ``NotoNaskhArabic-Bold``).
    fonts: tuple[str, ...]
    #: The copy's text read back with PDFium and found identical to the derived text.
    selfcheck: SelfCheck


def creation_time(created: datetime | None = None) -> datetime:
    """``created`` if given, else SOURCE_DATE_EPOCH (reproducible builds), else now."""
    if created is not None:
        return created if created.tzinfo else created.replace(tzinfo=UTC)
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), UTC)
        except (ValueError, OverflowError, OSError):
            raise InputError(f"SOURCE_DATE_EPOCH={epoch!r} is not a Unix time in seconds") from None
    return datetime.now(UTC).replace(microsecond=0)


def pdf_info(metadata: Metadata) -> PdfInfo:
    record = metadata.record
    return PdfInfo(
        title=metadata.title,
        author=metadata.creator_name,
        language=metadata.language,
        identifier=metadata.identifier,
        description=record.get("description"),
        subjects=tuple(record.get("subjects", ())),
        date_issued=str(record["date_issued"]),
    )


def default_attachments(statement: Statement, metadata: Metadata) -> tuple[Attachment, ...]:
    """For PDF/A-3: a plain-text statement exactly as received, and the metadata record.

    Only for a statement that *is* its text (``preserve render`` of a ``.txt``, the
    Python API): a statement taken out of another file (a page, an e-mail) gets
    :func:`associated_files`, from the files as received.
    """
    name = statement.source_path.name if statement.source_path else "statement.txt"
    return (
        Attachment(
            name, statement.original, "text/plain", "Source", "The statement exactly as received"
        ),
        _metadata_attachment(metadata),
    )


class ReceivedFile(Protocol):
    """A file as received, where the bag keeps it (:class:`preserve.inputs.OriginalFile`)."""

    @property
    def path(self) -> str: ...
    @property
    def content(self) -> bytes: ...
    @property
    def mime(self) -> str: ...


#: Where the bag keeps what a statement arrived as, and the text taken out of it
#: (:class:`preserve.inputs.OriginalFile`); a web capture's WARC is under data/capture/.
RECEIVED_DIR = "data/original/"
EXTRACTED_DIR = "data/extracted/"


def associated_files(files: Sequence[ReceivedFile], metadata: Metadata) -> tuple[Attachment, ...]:
    """For PDF/A-3: what the copy was made from, each file named and typed as what it is.

    ISO 19005-3 (6.8) asks each embedded file for its MIME type and its relationship
    to the document (ISO 32000-2, 7.11.3 and 14.13): *Source*, "the original source
    material for the associated content", is the file the statement arrived as
    (``data/original/``: a page's ``.html``, an e-mail's ``.eml``, a ``.docx``, a
    ``.txt``), its bytes exactly as received under its name in the bag, with its own
    media type (``text/html``). *Data*, "information used to derive a visual
    presentation", is the text taken out of it (``data/extracted/``, ``x.txt``,
    ``text/plain``): the pages were laid out from it. The copy so carries the
    statement as issued and the text it shows, each as what it is, and a verifier
    can match each to the bag's file of the same name (``preserve.bag_checks``). The
    page's requisites (its ``_files/`` folder) and a capture's WARC stay in the bag
    only: they are not the statement, and would make every copy as large as a capture.
    """
    received = [f for f in files if f.path.startswith(RECEIVED_DIR)]
    extracted = [f for f in files if f.path.startswith(EXTRACTED_DIR)]
    out: list[Attachment] = []
    if received:
        source = received[0]  # the statement as received; its requisites follow it
        name = source.path.rsplit("/", 1)[-1]
        out.append(
            Attachment(
                name,
                source.content,
                source.mime,
                "Source",
                f"The statement exactly as received, as the bag keeps it in {source.path}",
            )
        )
    for text in extracted:
        name = text.path.rsplit("/", 1)[-1]
        out.append(
            Attachment(
                name,
                text.content,
                text.mime,
                "Data",
                f"The statement's text as taken out of {out[0].filename if out else 'it'}: "
                f"the text this copy was laid out from, as the bag keeps it in {text.path}",
            )
        )
    out.append(_metadata_attachment(metadata))
    return tuple(out)


def _metadata_attachment(metadata: Metadata) -> Attachment:
    return Attachment(
        "statement.json",
        metadata.to_json(),
        "application/json",
        "Data",
        "Descriptive metadata of the statement",
    )


def render_statement(
    statement: Statement,
    metadata: Metadata,
    level: PdfaLevel = PdfaLevel.A2A,
    *,
    created: datetime | None = None,
    attachments: Sequence[Attachment] | None = None,
) -> Rendering:
    """Lay out, draw and finish one statement as PDF/A of ``level``.

    ``attachments`` apply to PDF/A-3 only; by default it embeds the statement's bytes
    and the metadata JSON (:func:`default_attachments`: for a statement that is its
    text; give :func:`associated_files` for one taken out of a page or an e-mail).
    Raises RenderError when a character has no glyph in any font,
    and CopyDiffers (a RenderError) when the finished copy does not read back as the
    statement's derived text.
    """
    if len(statement.original) > MAX_STATEMENT_BYTES:
        raise InputError(
            f"statement is {len(statement.original):,} bytes; "
            f"the limit is {MAX_STATEMENT_BYTES:,} bytes",
            statement.source_path,
        )
    when = creation_time(created)
    doc = document_of(statement, metadata)
    try:
        pages = paginate(doc)
        raw, fonts, structure = draw_pages(doc, pages, when)
        if level.attachments:
            files = (
                tuple(attachments)
                if attachments is not None
                else default_attachments(statement, metadata)
            )
        else:
            files = ()
        pdf = finish_pdfa(raw, level, pdf_info(metadata), when, files, structure=structure)
        lines = [line for block in doc.blocks for line in block.lines]
        boxes = [body_box(n) for n in range(1, len(pages) + 1)]
        checked = check_copy(pdf, lines, boxes, doc.base % 2 == 1)
    except RenderError as error:
        if error.path is None and statement.source_path is not None:
            raise type(error)(error.message, statement.source_path) from None
        raise
    return Rendering(pdf, level, len(pages), fonts, checked)


def write_pdf(rendering: Rendering, path: Path | str) -> None:
    """Write atomically: a temporary file in the same directory, fsync, then rename.

    A reader (or a crash) never sees a half-written PDF, and on failure nothing is left.
    """
    target = Path(path)
    try:
        atomic_write(target, rendering.pdf)
    except OSError as exc:
        raise PreserveError(f"cannot write the PDF: {exc.strerror or exc}", target) from None
