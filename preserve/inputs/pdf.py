"""The institution's own PDF: kept as issued, its text read, a PDF/A copy made from it.

- The file goes into the bag as received (``data/original/``), byte for byte.
- Its text, extracted with pypdfium2 (PDFium, the engine of Chrome's viewer), is
  parsed like any statement (:func:`preserve.statement.parse_text`) for metadata
  and search only.
- The preservation copy is the PDF itself, made PDF/A by OCRmyPDF's own pikepdf
  backend (:mod:`preserve.inputs.ocr`), so the institution's layout, letterhead and
  signature image are kept. A PDF that already is valid PDF/A (it claims it and
  :func:`preserve.pdfa.check_pdfa` finds nothing) is kept as the copy unchanged.
  One whose fonts cannot be made PDF/A as they are (not embedded) is rasterised
  and OCRed (``pdf.rasterized`` note): the copy then looks as issued and its text
  is OCR, while the original keeps the exact text.
- A PDF with no text at all is a scanned letter: it is OCRed (:mod:`preserve.inputs.scan`).

Encrypted and damaged PDFs are refused with one line naming the file.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pikepdf
import pypdfium2

from preserve.bagging import safe_original_name
from preserve.errors import InputError, UnreadableInput
from preserve.fsio import NotARegularFile, read_input
from preserve.inputs import Copy, Form, OriginalFile, Received, record_left_out, sniff
from preserve.inputs import ocr as _ocr
from preserve.inputs.formats import pdf_pronom, pdf_version, pdfa_claim
from preserve.inputs.pdf_text import FURNITURE, PdfText, read_text
from preserve.pdfa import check_pdfa
from preserve.premis import NORMALIZATION, Event
from preserve.statement import Statement, parse_text
from preserve.statement._record import Note, NoteCode

#: Whether a file is this form: decided in :mod:`preserve.inputs.sniff`, which
#: imports none of this module's libraries, so asking every form stays cheap.
accepts = sniff.pdf

#: The largest PDF taken in (a statement with a few scanned pages is a few MiB).
MAX_PDF_BYTES = 64 * 1024 * 1024
#: PREMIS event types (Library of Congress vocabulary) for what reading a form does.
FORMAT_IDENTIFICATION = "format identification"
METADATA_EXTRACTION = "metadata extraction"


def read(path: Path) -> Received:
    """The PDF as received, the statement in its text, and its PDF/A copy."""
    data = read_file(path, MAX_PDF_BYTES, "PDF")
    if b"%PDF-" not in data[:1024]:
        raise InputError("not a PDF (no %PDF- header); ask the institution for the PDF", path)
    claim = _open_checked(data, path)
    now = dt.datetime.now(dt.UTC)
    pronom = pdf_pronom(data, claim)
    original = original_file(path, data, "application/pdf", pronom)
    found = read_pdf_text(data, path)
    text = found.text
    identified = Event(
        FORMAT_IDENTIFICATION,
        now,
        "success",
        f"{pronom} (PDF {pdf_version(data) or '?'}"
        + (f", claims PDF/A-{claim[0]}{claim[1:].lower()}" if claim else "")
        + ")",
        (original.path,),
    )
    if not text.strip():
        from preserve.inputs.scan import read_scanned_pdf

        return read_scanned_pdf(path, data, original, identified)
    statement = with_layout(statement_from(text, data, path), found)
    copy, notes, made, ocred = preservation_copy(
        path, data, claim, pronom, _ocr.language_for(statement.language)
    )
    if found.empty_pages:
        found, scanned = with_ocr_pages(found, ocred)
        notes += scanned
        text = found.text
        statement = with_layout(statement_from(text, data, path), found)
    extracted = Event(
        METADATA_EXTRACTION,
        now,
        "success",
        f"text extracted through the {found.how} with pypdfium2 "
        f"{pypdfium2.version.PYPDFIUM_INFO} (PDFium {pypdfium2.version.PDFIUM_INFO})"
        + _furniture_detail(found)
        # what the notes say goes into the bag's history (per-page OCR confidence…)
        + "".join(f"; {note}" for note in notes),
        (original.path,),
    )
    return Received(
        Form.PDF,
        (original, extracted_file(original, text)),
        statement,
        events=(identified, extracted, made),
        left_out=found.left_out,
        notes=notes,
        copy=copy,
    )


def _furniture_detail(found: PdfText) -> str:
    if not found.left_out:
        return ""
    return f"; {FURNITURE}: {len(found.left_out)} line(s) left out: " + " | ".join(found.left_out)


def with_layout(statement: Statement, found: PdfText) -> Statement:
    """The parse corrected by what the page layout shows.

    - Page furniture left out of the text is the record's ``left_out``, with a note
      coded :data:`~preserve.inputs.pdf_text.FURNITURE`.
    - A tagged PDF's ``H1``/``Title`` is its title.
    - A title or signer that is a line of a page's top or bottom band (a letterhead,
      the address in a footer) is left blank with a coded note: the band is the
      institution's paper, not the statement.
    """
    statement = record_left_out(
        statement,
        found.left_out,
        FURNITURE,
        "page furniture (running header, footer, letterhead or page numbers)",
    )
    notes = list(statement.notes)
    changes: dict[str, Any] = {}
    title = statement.title
    if found.title and (title is None or _flat(title) != found.title):
        title = found.title
        changes["title"] = title
        notes = [n for n in notes if n.field != "title"]
        changes["confidence"] = (
            *((k, v) for k, v in statement.confidence if k != "title"),
            ("title", 1.0),
        )
    margins = {_flat(line) for line in found.margins}
    if title and not found.title and _in_margin(title, margins):
        changes["title"] = None
        notes.append(
            Note(
                NoteCode.TITLE_UNSURE,
                f"the title line {title!r} is in the page's letterhead or footer band: left blank",
                "title",
            )
        )
    if statement.signer_name and _in_margin(statement.signer_name, margins):
        changes.update(signer_name=None, signer_role=None, signers=())
        notes.append(
            Note(
                NoteCode.SIGNER_UNSURE,
                f"the signer line {statement.signer_name!r} is in the page's letterhead or "
                "footer band: left blank",
                "creator.name",
            )
        )
    if not changes and notes == list(statement.notes):
        return statement
    return replace(statement, notes=tuple(notes), **changes)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _in_margin(value: str, margins: set[str]) -> bool:
    flat = _flat(value)
    # The parse may have run the letterhead into the title line that follows it.
    return any(flat == line or flat.startswith(line + " ") for line in margins)


def extracted_file(original: OriginalFile, text: str) -> OriginalFile:
    """The text the statement was parsed from, kept beside the original (``data/extracted/``).

    Anyone can then check the copy against it and it against the original.
    """
    stem = original.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return OriginalFile(
        f"data/extracted/{stem}.txt", text.encode("utf-8"), "text/plain; charset=utf-8", "x-fmt/111"
    )


def read_file(path: Path, limit: int, what: str) -> bytes:
    """A regular file's bytes (no FIFO, device or directory), at most ``limit``."""
    try:
        if path.is_dir():
            raise UnreadableInput(f"is a directory, not a {what}", path)
        data = read_input(path, limit)
    except NotARegularFile:
        raise UnreadableInput("not a regular file (a FIFO, device or socket)", path) from None
    except OSError as exc:
        raise UnreadableInput(f"cannot read: {exc.strerror or exc}", path) from None
    if len(data) > limit:
        raise InputError(f"{what} is larger than {limit // (1024 * 1024)} MiB", path)
    if not data:
        raise InputError(f"empty file, not a {what}", path)
    return data


def original_file(path: Path, data: bytes, mime: str, pronom: str) -> OriginalFile:
    stored = safe_original_name(path.name)
    return OriginalFile(
        f"data/original/{stored}", data, mime, pronom, path.name if path.name != stored else None
    )


def _open_checked(data: bytes, path: Path) -> str | None:
    """The PDF/A claim of a PDF that opens cleanly; encrypted and damaged PDFs refused."""
    try:
        with pikepdf.open(io.BytesIO(data)) as doc:
            if doc.is_encrypted:
                raise InputError(
                    "the PDF is encrypted (permissions or a password); ask the institution "
                    "for a copy without encryption",
                    path,
                )
            if len(doc.pages) == 0:
                raise InputError("the PDF has no pages; ask the institution for a new copy", path)
            return pdfa_claim(doc)
    except pikepdf.PasswordError:
        raise InputError(
            "the PDF is password-protected; ask the institution for a copy without a password",
            path,
        ) from None
    except pikepdf.PdfError as exc:
        raise InputError(
            f"damaged PDF ({_first_line(exc)}); ask the institution for a new copy", path
        ) from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or ["unreadable"])[0][:200]


def extract_text(data: bytes, path: Path) -> str:
    """The body text of every page, in order, paragraphs separated by a blank line."""
    return read_pdf_text(data, path).text


def read_pdf_text(data: bytes, path: Path) -> PdfText:
    """The PDF's text, furniture apart (:mod:`preserve.inputs.pdf_text`); errors name the file."""
    try:
        return read_text(data)
    except pypdfium2.PdfiumError as exc:
        raise InputError(
            f"damaged PDF ({_first_line(exc)}); ask the institution for a new copy", path
        ) from None


def statement_from(text: str, data: bytes, path: Path) -> Statement:
    """The statement in a form's text, holding the file's own bytes as its original."""
    return replace(parse_text(text), original=data, source_path=path)


def with_ocr_pages(found: PdfText, ocred: _ocr.OcrResult | None) -> tuple[PdfText, tuple[str, ...]]:
    """A mixed PDF's text: each page's own text layer, or OCR where it has none, in page order.

    OCRmyPDF (``--mode skip``) OCRs exactly the pages without text; their hOCR, by
    page number, gives their text (:func:`preserve.inputs.ocr.text_from_hocr`) and
    Tesseract's confidence, recorded per page in a note coded ``ocr.confidence``.
    """
    by_page = ocred.page_hocr() if ocred is not None else {}
    pages = list(found.pages)
    notes: list[str] = []
    for index in found.empty_pages:
        hocr = by_page.get(index + 1)
        if hocr is None:
            notes.append(f"ocr.missing: page {index + 1} has no text layer and was not OCRed")
            continue
        from preserve.inputs.scan import ocr_text

        pages[index] = ocr_text(_ocr.text_from_hocr([hocr])).strip("\n")
        notes.append(
            f"ocr.confidence: page {index + 1} (scanned, no text layer): "
            f"{_ocr.confidence_of([hocr]).summary()}; check the fields read from it"
        )
    text = "\n\n".join(page for page in pages if page.strip())
    return replace(found, text=text, pages=tuple(pages)), tuple(notes)


def preservation_copy(
    path: Path, data: bytes, claim: str | None, pronom: str, langs: str | None = None
) -> tuple[Copy, tuple[str, ...], Event, _ocr.OcrResult | None]:
    """The PDF/A copy: the PDF itself when it already is PDF/A, else OCRmyPDF's conversion.

    Also the OCR result, when OCRmyPDF ran (it OCRs the pages that have no text).
    """
    now = dt.datetime.now(dt.UTC)
    if claim is not None and not check_pdfa(data):
        made = f"kept as received: already PDF/A-{claim[0]}{claim[1:].lower()} (check_pdfa clean)"
        return Copy(data, pronom, made), (), Event(NORMALIZATION, now, "success", made), None
    notes: tuple[str, ...] = ()
    with tempfile.TemporaryDirectory(prefix="preserve-pdf-") as work:
        source = Path(work) / "source.pdf"
        removed = _without_viewer_settings(data, source)
        try:
            result = _ocr.run_ocrmypdf(source, _ocr.Mode.skip, name=path, langs=langs)
            how = "converted to PDF/A-2b with its own page content"
        except _ocr.PdfaNotPossible as refused:
            result = _ocr.run_ocrmypdf(source, _ocr.Mode.force, name=path, langs=langs)
            how = "rasterised and OCRed into PDF/A-2b"
            notes = (
                f"pdf.rasterized: the PDF could not be made PDF/A as it is ({refused.message});"
                " the copy shows its pages as images with OCR text; the original keeps the text",
            )
    if removed:
        how += " (viewer settings PDF/A does not allow removed: " + ", ".join(removed) + ")"
    problems = check_pdfa(result.pdf)
    if problems:
        raise InputError(
            "the PDF/A copy fails its check ("
            + "; ".join(p.one_line() for p in problems[:3])
            + "); keep the PDF and report it",
            path,
        )
    detail = f"{how} by {result.software}"
    if result.confidence is not None and result.confidence.words:
        detail += f"; OCR: {result.confidence.summary()}"
    copy = Copy(result.pdf, pdf_pronom(result.pdf, "2B"), detail)
    return copy, notes, Event(NORMALIZATION, now, "success", detail), result


def _without_viewer_settings(data: bytes, target: Path) -> list[str]:
    """Write ``data`` to ``target`` without what only tells a viewer how to open it.

    An opening action (``/OpenAction``: zoom, first page) and empty page transitions
    (``/Trans``, which ReportLab writes) change nothing on the page, and OCRmyPDF's
    PDF/A backend refuses them; the original keeps them.
    """
    removed: list[str] = []
    with pikepdf.open(io.BytesIO(data)) as doc:
        for key in ("/OpenAction", "/AA"):
            if key in doc.Root:
                del doc.Root[key]
                removed.append(key)
        for page in doc.pages:
            if "/Trans" in page.obj and not page.obj.Trans.keys():
                del page.obj.Trans
                if "/Trans" not in removed:
                    removed.append("/Trans")
        doc.save(target)
    return removed
