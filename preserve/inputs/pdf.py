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

import pikepdf
import pypdfium2

from preserve.bagging import safe_original_name
from preserve.errors import InputError, UnreadableInput
from preserve.fsio import NotARegularFile, read_input
from preserve.inputs import Copy, Form, OriginalFile, Received, sniff
from preserve.inputs import ocr as _ocr
from preserve.inputs.formats import pdf_pronom, pdf_version, pdfa_claim
from preserve.pdfa import check_pdfa
from preserve.premis import NORMALIZATION, Event
from preserve.statement import Statement, parse_text

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
    text = extract_text(data, path)
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
    statement = statement_from(text, data, path)
    copy, notes, made = preservation_copy(
        path, data, claim, pronom, _ocr.language_for(statement.language)
    )
    extracted = Event(
        METADATA_EXTRACTION,
        now,
        "success",
        f"text extracted with pypdfium2 {pypdfium2.version.PYPDFIUM_INFO} "
        f"(PDFium {pypdfium2.version.PDFIUM_INFO})",
        (original.path,),
    )
    return Received(
        Form.PDF,
        (original, extracted_file(original, text)),
        statement,
        events=(identified, extracted, made),
        notes=notes,
        copy=copy,
    )


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
    """The text of every page, in order, pages separated by a blank line (PDFium)."""
    try:
        doc = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise InputError(
            f"damaged PDF ({_first_line(exc)}); ask the institution for a new copy", path
        ) from None
    try:
        pages: list[str] = []
        laid_out: list[list[tuple[float, float, str]]] = []
        for index in range(len(doc)):
            page = doc[index]
            textpage = page.get_textpage()
            pages.append(_clean(textpage.get_text_bounded()))
            laid_out.append(_page_lines(textpage, page.get_height()))
            textpage.close()
            page.close()
    finally:
        doc.close()
    plain = "\n\n".join(pages)
    spaced = _ocr.paragraphs_by_spacing(laid_out)
    # The spacing only adds blank lines; if any character differs, PDFium's own text wins.
    if "".join(spaced.split()) == "".join(plain.split()):
        return spaced
    return plain


def _clean(text: str) -> str:
    # PDFium ends lines with CRLF and marks hyphens it joined with STX.
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x02", "")


def _page_lines(textpage: pypdfium2.PdfTextPage, height: float) -> list[tuple[float, float, str]]:
    """(top, bottom, text) of each line PDFium finds (runs on one baseline joined)."""
    lines: list[tuple[float, float, str]] = []
    for index in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(index)
        text = _clean(textpage.get_text_bounded(left, bottom, right, top)).strip()
        if not text:
            continue
        top_down, bottom_down = height - top, height - bottom
        if lines and top_down < lines[-1][1] and bottom_down > lines[-1][0]:  # same line
            last_top, last_bottom, last_text = lines[-1]
            lines[-1] = (
                min(last_top, top_down),
                max(last_bottom, bottom_down),
                f"{last_text} {text}",
            )
        else:
            lines.append((top_down, bottom_down, text))
    return lines


def statement_from(text: str, data: bytes, path: Path) -> Statement:
    """The statement in a form's text, holding the file's own bytes as its original."""
    return replace(parse_text(text), original=data, source_path=path)


def preservation_copy(
    path: Path, data: bytes, claim: str | None, pronom: str, langs: str | None = None
) -> tuple[Copy, tuple[str, ...], Event]:
    """The PDF/A copy: the PDF itself when it already is PDF/A, else OCRmyPDF's conversion."""
    now = dt.datetime.now(dt.UTC)
    if claim is not None and not check_pdfa(data):
        made = f"kept as received: already PDF/A-{claim[0]}{claim[1:].lower()} (check_pdfa clean)"
        return Copy(data, pronom, made), (), Event(NORMALIZATION, now, "success", made)
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
    return copy, notes, Event(NORMALIZATION, now, "success", detail)


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
