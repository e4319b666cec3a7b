"""OCRmyPDF, the one wrapper: PDF/A from a PDF or a scan, with the OCR's confidence.

OCRmyPDF (>= 17, from PyPI) runs as a child process (``python -m ocrmypdf``), so its
worker pools and logging stay out of ours and a crash in Tesseract is an exit code,
not a dead ingest. It makes PDF/A with its own pikepdf-based backend
(``--pdfa-backend internal``): Debian 12's Ghostscript 10.0.0 is refused by
OCRmyPDF for PDFs that already hold text, and the internal backend leaves the
institution's page content (fonts, letterhead, signature image) as it was. Pages
are rasterised for OCR by PDFium (``--rasterizer pypdfium``), so Ghostscript is not
run at all. In ``--mode skip`` (the same as ``--skip-text``) only pages without a
text layer are OCRed: a mixed PDF's scanned pages, each reported by page number.

The OCR's confidence comes from Tesseract's own word confidences (``x_wconf`` in
the hOCR files OCRmyPDF keeps with ``--keep-temporary-files``): the mean and the
share of words under :data:`LOW_CONFIDENCE`, recorded in the PREMIS event.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import lxml.etree  # type: ignore[import-untyped]  # lxml comes with pikepdf
import lxml.html  # type: ignore[import-untyped]

from preserve.errors import InputError, PreserveError

#: Tesseract word confidence (0–100) under which a word counts as doubtful.
LOW_CONFIDENCE = 60
#: Tesseract languages used when none are given (``PRESERVE_OCR_LANGUAGES=eng+rus`` overrides).
DEFAULT_LANGUAGES = "eng"
#: OCR of one page should take seconds; a stuck child is stopped after this long.
TIMEOUT_SECONDS = 600

_WCONF = re.compile(rb"x_wconf (\d+)")
_PAGE_FILE = re.compile(r"^(\d+)_")


class OcrUnavailable(PreserveError):
    """OCRmyPDF or Tesseract (or a language pack) is not installed: nothing could be tried."""


class _Exit(IntEnum):
    """OCRmyPDF's exit codes that we tell apart (``ocrmypdf.ExitCode``)."""

    ok = 0
    input_file = 2
    missing_dependency = 3
    already_done_ocr = 6
    encrypted_pdf = 8
    pdfa_conversion_failed = 10


class Mode(IntEnum):
    """What OCRmyPDF does with pages that already hold text."""

    #: Keep pages with text as they are; OCR only pages without (the institution's PDF).
    skip = 1
    #: Rasterise every page and OCR it (a PDF whose own fonts cannot be made PDF/A).
    force = 2


@dataclass(frozen=True)
class Confidence:
    """How sure Tesseract was of the words it read."""

    words: int
    #: Mean word confidence, 0–100 (0 when no word was read).
    mean: float
    #: Share of words with confidence under :data:`LOW_CONFIDENCE`, 0–1.
    low_share: float

    def summary(self) -> str:
        return (
            f"{self.words} words, mean confidence {self.mean:.1f}, "
            f"{self.low_share:.1%} under {LOW_CONFIDENCE}"
        )


@dataclass(frozen=True)
class OcrResult:
    """The PDF/A OCRmyPDF wrote, the text of its pages, and the OCR's confidence."""

    pdf: bytes
    #: Text of every page as OCRmyPDF's sidecar gives it (OCRed pages only in skip mode).
    text: str
    #: None when no page was OCRed (every page already had text).
    confidence: Confidence | None
    #: ``OCRmyPDF 17.13.0, Tesseract 5.3.0 (eng)``: for the PREMIS event.
    software: str
    #: Tesseract's hOCR of each OCRed page, in page order (layout and word confidences).
    hocr: tuple[bytes, ...] = ()
    #: The page number (1-based) of each of ``hocr``: in skip mode, only pages without text.
    pages: tuple[int, ...] = ()

    def page_hocr(self) -> dict[int, bytes]:
        """hOCR by page number (1-based)."""
        return dict(zip(self.pages, self.hocr, strict=False))


def ocrmypdf_version() -> str:
    try:
        return version("ocrmypdf")
    except PackageNotFoundError:
        return ""


def tesseract_version() -> str:
    try:
        done = subprocess.run(
            ["tesseract", "--version"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    first = (done.stdout or done.stderr).decode("utf-8", "replace").splitlines()
    return first[0].removeprefix("tesseract ").strip() if first else ""


#: Tesseract languages for each script Tesseract's OSD names, for the statements we keep
#: (Azerbaijani with English in Latin script; Persian with Arabic…); only installed ones are used.
SCRIPT_LANGUAGES = {
    "Latin": ("eng", "aze"),
    "Cyrillic": ("rus", "ukr"),
    "Armenian": ("hye",),
    "Georgian": ("kat",),
    "Arabic": ("ara", "fas"),
    "Hebrew": ("heb",),
    "Han": ("chi_sim",),
}
_SCRIPT = re.compile(r"^Script: (\w+)", re.MULTILINE)


#: Tesseract language for a statement's BCP 47 primary language (for OCR of a PDF with text).
BCP47_TESSERACT = {
    "en": "eng", "az": "aze", "ru": "rus", "hy": "hye", "ka": "kat", "ar": "ara", "fa": "fas",
    "tr": "tur", "uk": "ukr", "he": "heb", "de": "deu", "fr": "fra", "es": "spa", "zh": "chi_sim",
}  # fmt: skip


def language_for(tag: str | None) -> str:
    """Tesseract languages for a statement's language tag (configured ones first)."""
    configured = configured_languages()
    if configured:
        return configured
    primary = (tag or "").split("-")[0].lower()
    return BCP47_TESSERACT.get(primary, DEFAULT_LANGUAGES)


def configured_languages() -> str | None:
    """``PRESERVE_OCR_LANGUAGES`` (``eng+rus``) when set to a valid list, else None."""
    chosen = os.environ.get("PRESERVE_OCR_LANGUAGES", "").strip()
    return chosen if re.fullmatch(r"[a-z_]+(\+[a-z_]+)*", chosen) else None


def languages() -> str:
    """Tesseract languages for OCR: ``PRESERVE_OCR_LANGUAGES``, or English."""
    return configured_languages() or DEFAULT_LANGUAGES


def installed_languages() -> set[str]:
    try:
        done = subprocess.run(
            ["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return set(done.stdout.split()[1:]) if done.returncode == 0 else set()


def detect_languages(image: Path) -> tuple[str, str]:
    """(languages, how chosen) for OCR of a page image: configured, or by the script on it.

    Tesseract's orientation and script detection (``--psm 0``, about a second per
    page) names the script; :data:`SCRIPT_LANGUAGES` turns it into the installed
    language packs for it. Too little text to tell, or no ``osd`` pack: English.
    """
    configured = configured_languages()
    if configured:
        return configured, "PRESERVE_OCR_LANGUAGES"
    installed = installed_languages()
    if "osd" not in installed:
        return DEFAULT_LANGUAGES, "default (no osd language pack for script detection)"
    try:
        done = subprocess.run(
            ["tesseract", str(image), "-", "--psm", "0"],
            capture_output=True,
            text=True,
            env=dict(os.environ, OMP_THREAD_LIMIT="1"),
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return DEFAULT_LANGUAGES, "default (script detection failed)"
    found = _SCRIPT.search(done.stdout)
    script = found.group(1) if found else ""
    packs = [lang for lang in SCRIPT_LANGUAGES.get(script, ()) if lang in installed]
    if not packs:
        return DEFAULT_LANGUAGES, f"default (script {script or 'not detected'})"
    return "+".join(packs), f"script {script} detected by Tesseract OSD"


def confidence_of(hocr: list[bytes]) -> Confidence:
    """Word confidences from hOCR pages (``x_wconf``), summed up."""
    scores = [int(m.group(1)) for page in hocr for m in _WCONF.finditer(page)]
    if not scores:
        return Confidence(0, 0.0, 0.0)
    low = sum(1 for s in scores if s < LOW_CONFIDENCE)
    return Confidence(len(scores), sum(scores) / len(scores), low / len(scores))


def run_ocrmypdf(
    source: Path,
    mode: Mode,
    *,
    image_dpi: int | None = None,
    langs: str | None = None,
    name: Path | None = None,
) -> OcrResult:
    """PDF/A-2b from ``source`` (a PDF or an image) with OCRmyPDF, on one core.

    Raises :class:`InputError` for what is wrong with the file (damaged, encrypted,
    cannot be made PDF/A) and :class:`OcrUnavailable` when the tools are missing;
    errors name ``name`` (the file as received) when ``source`` is a working copy.
    """
    shown = name or source
    if not ocrmypdf_version():
        raise OcrUnavailable("OCRmyPDF is not installed: pip install 'ocrmypdf>=17'", shown)
    langs = langs or languages()
    with tempfile.TemporaryDirectory(prefix="preserve-ocr-") as work:
        out = Path(work) / "copy.pdf"
        text = Path(work) / "copy.txt"
        temp = Path(work) / "tmp"
        temp.mkdir()
        args = [
            sys.executable, "-m", "ocrmypdf", "--quiet", "--jobs", "1",
            "--keep-temporary-files", "--output-type", "pdfa-2", "--pdfa-backend", "internal",
            "--mode", mode.name, "--language", langs, "--sidecar", str(text),
            # PDFium rasterises the pages to OCR: Debian 12's Ghostscript 10.0.0 is never run.
            "--rasterizer", "pypdfium",
            "--optimize", "0",
        ]  # fmt: skip
        if image_dpi is not None:
            args += ["--image-dpi", str(image_dpi)]
        args += ["--", str(source), str(out)]
        env = dict(os.environ, TMPDIR=str(temp), OMP_THREAD_LIMIT="1")
        try:
            done = subprocess.run(
                args, capture_output=True, env=env, timeout=TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired:
            raise InputError(
                f"OCR did not finish within {TIMEOUT_SECONDS} s; split the file into pages",
                shown,
            ) from None
        _raise_for(done.returncode, done.stderr.decode("utf-8", "replace"), shown)
        found = sorted(temp.glob("ocrmypdf.io.*/*.hocr"))
        hocr = [p.read_bytes() for p in found]
        # OCRmyPDF names each page's files by its number: 000002_ocr_hocr.hocr.
        numbers = tuple(int(m.group(1)) for p in found if (m := _PAGE_FILE.match(p.name)))
        recognised = text.read_text("utf-8", "replace") if text.exists() else ""
        confidence = confidence_of(hocr) if hocr else None
        return OcrResult(
            out.read_bytes(),
            recognised.replace("\f", "\n\n"),
            confidence,
            f"OCRmyPDF {ocrmypdf_version()}, Tesseract {tesseract_version()} ({langs})",
            tuple(hocr),
            numbers if len(numbers) == len(hocr) else (),
        )


def _raise_for(code: int, stderr: str, source: Path) -> None:
    if code == _Exit.ok:
        return
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    # OCRmyPDF lists the reasons as "[violation] …" / "[unsupported] …" lines; else its last line.
    reasons = [line for line in lines if line.startswith("[")]
    last = "; ".join(reasons[:3]) if reasons else (lines[-1] if lines else "")
    if code == _Exit.encrypted_pdf:
        raise InputError(
            "the PDF is encrypted; ask the institution for a copy without a password "
            "or restrictions",
            source,
        )
    if code == _Exit.input_file:
        raise InputError(f"damaged or unreadable file ({last.strip()}); ask for a new copy", source)
    if code == _Exit.missing_dependency:
        raise OcrUnavailable(f"OCR tools missing: {last.strip()}", source)
    if code == _Exit.pdfa_conversion_failed:
        raise PdfaNotPossible(last.strip(), source)
    raise InputError(f"OCRmyPDF failed (exit {code}): {last.strip()}", source)


class PdfaNotPossible(InputError):
    """OCRmyPDF's own PDF/A path refused the file as it is (fonts not embedded…)."""


#: hOCR classes of a line of text (Tesseract writes headers and captions as their own kinds).
_LINE_CLASSES = {"ocr_line", "ocr_header", "ocr_caption", "ocr_textfloat"}
#: A step down the page this many times the usual line step starts a new paragraph.
PARAGRAPH_STEP = 1.35


def text_from_hocr(pages: Sequence[bytes]) -> str:
    """The recognised text, line by line, with a blank line where the page leaves space.

    Tesseract's own text groups lines into paragraphs by indentation, and often puts
    a letter's title and its salutation in one; the spacing on the page is what a
    reader goes by, so a line further below the one before than usual starts a new
    paragraph here (:func:`paragraphs_by_spacing`). Pages are separated by a blank line.
    """
    return paragraphs_by_spacing([_hocr_lines(page) for page in pages])


def paragraphs_by_spacing(pages: Sequence[Sequence[tuple[float, float, str]]]) -> str:
    """Lines (top, bottom, text; y grows down the page) as text, a blank line at each wide step.

    The step from one line's top to the next is compared with the page's usual step
    (the lower quartile: in letters of short paragraphs, half the steps are paragraph
    breaks): more than :data:`PARAGRAPH_STEP` times it starts a paragraph. Tops,
    not gaps, because a line's box is its ink (a name without descenders is shorter).
    """
    out: list[str] = []
    for lines in pages:
        if not lines:
            continue
        steps = sorted(b[0] - a[0] for a, b in itertools.pairwise(lines) if b[0] > a[0])
        usual = steps[len(steps) // 4] if steps else 0.0  # lower quartile: lines, not gaps
        if out:
            out.append("")
        previous_top: float | None = None
        for top, _bottom, text in lines:
            step = top - previous_top if previous_top is not None else 0.0
            if previous_top is not None and usual and step > PARAGRAPH_STEP * usual:
                out.append("")
            out.append(text)
            previous_top = top
    return "\n".join(out)


def margin_lines(pages: Sequence[bytes], top: float, bottom: float) -> list[str]:
    """Lines OCR read in the top ``top`` or bottom ``bottom`` share of a page (a letterhead)."""
    found: list[str] = []
    for page in pages:
        size = _PAGE_BBOX.search(page)
        if not size:
            continue
        height = int(size.group(4))
        found += [
            text
            for line_top, line_bottom, text in _hocr_lines(page)
            if line_top < top * height or line_bottom > (1 - bottom) * height
        ]
    return found


def _hocr_lines(page: bytes) -> list[tuple[float, float, str]]:
    """(top, bottom, text) of every line of an hOCR page, in Tesseract's reading order."""
    try:
        root = lxml.html.fromstring(page)
    except (lxml.etree.ParserError, ValueError):
        return []
    lines: list[tuple[float, float, str]] = []
    for element in root.iter("span"):
        if element.get("class") not in _LINE_CLASSES:
            continue
        box = _BBOX.search(element.get("title", ""))
        words = [
            "".join(word.itertext()).strip()
            for word in element.iter("span")
            if word.get("class") == "ocrx_word"
        ]
        text = " ".join(w for w in words if w)
        if box and text:
            lines.append((int(box.group(2)), int(box.group(4)), text))
    return lines


_BBOX = re.compile(r"bbox (\d+) (\d+) (\d+) (\d+)")
_PAGE_BBOX = re.compile(rb"class=['\"]ocr_page['\"][^>]*?bbox (\d+) (\d+) (\d+) (\d+)")
