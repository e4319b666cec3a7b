"""A scanned letter (TIFF, PNG, JPEG, or a PDF of page images): kept, OCRed, made PDF/A.

The scan goes into the bag as received. OCRmyPDF with Tesseract
(:mod:`preserve.inputs.ocr`) makes the preservation copy: the page images with
an invisible text layer, as PDF/A-2b, searchable. The recognised text feeds the
parser for metadata and search, and the OCR's confidence (Tesseract's word
confidences: mean, share of doubtful words) is recorded in the PREMIS event and as
a note, so a person knows how far to trust fields read from it. A scan in which
OCR finds no text is refused: there is no statement to take in.

Tesseract reads the languages in ``PRESERVE_OCR_LANGUAGES`` (``eng+rus``), English
by default.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import tempfile
import warnings
from pathlib import Path

import pypdfium2
from PIL import Image, UnidentifiedImageError

from preserve.errors import InputError
from preserve.inputs import Copy, Form, OriginalFile, Received, sniff
from preserve.inputs import ocr as _ocr
from preserve.inputs.formats import image_pronom, pdf_pronom
from preserve.inputs.pdf import (
    FORMAT_IDENTIFICATION,
    extracted_file,
    original_file,
    read_file,
    statement_from,
    with_layout,
)
from preserve.inputs.pdf_text import BOTTOM_MARGIN, TOP_MARGIN, PdfText
from preserve.premis import NORMALIZATION, Event

#: Whether a file is this form: decided in :mod:`preserve.inputs.sniff`, which
#: imports none of this module's libraries, so asking every form stays cheap.
accepts = sniff.scan

#: The largest scan taken in (an A4 page at 600 dpi, uncompressed, is about 100 MiB).
MAX_SCAN_BYTES = 128 * 1024 * 1024
#: Resolution assumed for an image that states none (the usual scanning resolution).
ASSUMED_DPI = 300
#: More pixels than this is not a page (decompression bombs are refused, not opened).
MAX_PIXELS = 20_000 * 20_000
#: A bar, underscore, tilde or lone quote standing apart at a line's end: a speck, not text.
_EDGE_BARS = re.compile(r"^(?:[|¦_~‘']\s+)+|(?:\s+[|¦_~‘'])+\s*$|^[|¦_~‘']$")


def read(path: Path) -> Received:
    """The scan as received, the statement OCR reads in it, and the searchable PDF/A."""
    data = read_file(path, MAX_SCAN_BYTES, "scanned image")
    kind = image_pronom(data)
    if kind is None:
        raise InputError("not a TIFF, PNG or JPEG image", path)
    pronom, mime = kind
    dpi = _image_dpi(data, path)
    original = original_file(path, data, mime, pronom)
    identified = Event(
        FORMAT_IDENTIFICATION, dt.datetime.now(dt.UTC), "success", f"{pronom} ({mime})",
        (original.path,),
    )  # fmt: skip
    notes: tuple[str, ...] = ()
    if dpi is None:
        notes = (f"scan.no-dpi: the image states no resolution; {ASSUMED_DPI} dpi assumed",)
    return _ocr_received(path, data, original, identified, ASSUMED_DPI if dpi is None else None,
                         notes)  # fmt: skip


def read_scanned_pdf(
    path: Path, data: bytes, original: OriginalFile, identified: Event
) -> Received:
    """A PDF with no text layer: page images, OCRed like any scan (called by the PDF reader)."""
    return _ocr_received(path, data, original, identified, None, ())


def ocr_text(text: str) -> str:
    """OCR text for the parser: marks Tesseract reads from specks and page edges removed.

    A ``|``, ``_``, ``~`` or quote standing alone at either end of a line is a speck
    of dust or the edge of the paper far more often than part of the letter; left in, it would
    become part of a title or a name. Only the derived text loses it: the copy's
    text layer keeps what Tesseract read.
    """
    return "\n".join(_EDGE_BARS.sub("", line) for line in text.split("\n"))


def _languages(path: Path, data: bytes) -> tuple[str, str]:
    """OCR languages for the scan (configured, or by the script on its first page)."""
    if _ocr.configured_languages() or image_pronom(data) is not None:
        return _ocr.detect_languages(path)
    with tempfile.TemporaryDirectory(prefix="preserve-osd-") as work:
        first = Path(work) / "page.png"
        doc = pypdfium2.PdfDocument(data)
        try:
            page = doc[0]
            page.render(scale=300 / 72, grayscale=True).to_pil().save(first)
            page.close()
        finally:
            doc.close()
        return _ocr.detect_languages(first)


def _image_dpi(data: bytes, path: Path) -> int | None:
    """The resolution the image states, after checking that it opens and is a sane size."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise InputError(f"image of {width}×{height} pixels is not a page", path)
                image.load()
                dpi = image.info.get("dpi")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # fmt: skip
        # Pillow's messages name its in-memory buffer ("<_io.BytesIO object at 0x…>"):
        # say what went wrong without Python reprs (one line a person can act on).
        what = (
            "not an image Pillow can decode"
            if isinstance(exc, UnidentifiedImageError)
            else "larger than a page can be"
            if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning))
            else "its data is damaged or cut short"
        )
        raise InputError(
            f"damaged image: it starts like a TIFF, PNG or JPEG but is {what}; "
            "scan the letter again (a text statement must not start with image bytes)",
            path,
        ) from None
    if not dpi:
        return None
    x = float(dpi[0])
    return round(x) if x >= 50 else None


def _ocr_received(
    path: Path,
    data: bytes,
    original: OriginalFile,
    identified: Event,
    image_dpi: int | None,
    notes: tuple[str, ...],
) -> Received:
    langs, chosen = _languages(path, data)
    result = _ocr.run_ocrmypdf(path, _ocr.Mode.skip, image_dpi=image_dpi, langs=langs)
    if not result.text.strip():
        raise InputError(
            "OCR found no text in the scan (blank, a picture, or a language not installed: "
            "set PRESERVE_OCR_LANGUAGES, e.g. eng+rus); nothing was taken in",
            path,
        )
    text = ocr_text(_ocr.text_from_hocr(result.hocr) or result.text)
    # A letterhead read by OCR is never the title or the signer (see pdf.with_layout).
    margins = _ocr.margin_lines(result.hocr, TOP_MARGIN, BOTTOM_MARGIN)
    statement = with_layout(
        statement_from(text, data, path),
        PdfText(text, (), margins=tuple(ocr_text(line).strip() for line in margins)),
    )
    detail = f"scan OCRed into searchable PDF/A-2b by {result.software}, languages by {chosen}"
    if result.confidence is not None:
        detail += f"; OCR: {result.confidence.summary()}"
        notes += (f"ocr.confidence: {result.confidence.summary()}; check the fields read by OCR",)
    made = Event(NORMALIZATION, dt.datetime.now(dt.UTC), "success", detail, (original.path,))
    copy = Copy(result.pdf, pdf_pronom(result.pdf, "2B"), detail)
    return Received(
        Form.SCAN,
        (original, extracted_file(original, text)),
        statement,
        events=(identified, made),
        notes=notes,
        copy=copy,
    )
