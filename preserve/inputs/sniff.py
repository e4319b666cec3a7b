"""Which form a file arrived in, from its name and first bytes, without its reader.

Deciding the form needs only the path and the first :data:`~preserve.inputs.HEAD_BYTES`
bytes; reading it needs trafilatura, warcio, pikepdf, python-docx, odfpy or Pillow
(about 1 s of imports together). Each form module's ``accepts`` *is* the function
here of the module's name, so :func:`preserve.inputs.form_for` can ask every form in
turn and :func:`~preserve.inputs.module_for` import only the one that says yes:
``preserve validate letter.txt`` never imports a page extractor. Nothing here may
import more than the standard library and :mod:`preserve.inputs.formats`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from preserve.inputs.formats import image_pronom

#: A saved web page by its name (by content: a doctype or ``<html>`` first).
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
#: The media type an ODF text document states in its first ZIP entry, ``mimetype``.
MIME_ODT = "application/vnd.oasis.opendocument.text"

_MIMETYPE_ENTRY = b"mimetype" + MIME_ODT.encode()
_HEADER_LINE = re.compile(rb"^[A-Za-z][A-Za-z0-9-]*:[ \t]")
_MAIL_HEADERS = (b"message-id:", b"mime-version:", b"received:", b"return-path:")


def capture(path: Path, head: bytes) -> bool:
    """A WARC by its first bytes, or named ``.warc`` / ``.warc.gz``."""
    return head.startswith(b"WARC/") or path.name.lower().endswith((".warc", ".warc.gz"))


def eml(path: Path, head: bytes) -> bool:
    """``.eml``, or a file that opens with mail headers (a header line, and Message-ID etc.)."""
    if path.suffix.lower() == ".eml":
        return True
    lower = head.lower()
    return bool(_HEADER_LINE.match(head)) and any(
        lower.startswith(h) or b"\n" + h in lower for h in _MAIL_HEADERS
    )


def pdf(path: Path, head: bytes) -> bool:
    """A PDF by its header (``%PDF-`` in the first KiB), or named ``.pdf`` (refused there)."""
    return b"%PDF-" in head[:1024] or path.suffix.lower() == ".pdf"


def scan(path: Path, head: bytes) -> bool:
    """A TIFF, PNG or JPEG by its signature, whatever its name."""
    return image_pronom(head) is not None


def docx(path: Path, head: bytes) -> bool:
    """A ZIP holding ``word/`` parts, or any file named ``.docx`` (refused there if not one)."""
    if path.suffix.lower() == ".docx":
        return True
    return head.startswith(b"PK\x03\x04") and b"word/" in head


def odt(path: Path, head: bytes) -> bool:
    """An ODF package whose first entry says ``…opendocument.text``, or a file named ``.odt``."""
    return path.suffix.lower() == ".odt" or (
        head.startswith(b"PK\x03\x04") and _MIMETYPE_ENTRY in head[:200]
    )


def html(path: Path, head: bytes) -> bool:
    """A page by its name, or by a doctype or ``<html>`` first (after a BOM and blanks)."""
    if path.suffix.lower() in HTML_SUFFIXES:
        return True
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html"))


def text(path: Path, head: bytes) -> bool:
    """Whatever no other form claims is read as text (and refused there if it is not)."""
    return True


#: Form module name → its ``accepts``; a form missing here is imported to be asked.
ACCEPTS: dict[str, Callable[[Path, bytes], bool]] = {
    "preserve.inputs.capture": capture,
    "preserve.inputs.eml": eml,
    "preserve.inputs.pdf": pdf,
    "preserve.inputs.scan": scan,
    "preserve.inputs.docx": docx,
    "preserve.inputs.odt": odt,
    "preserve.inputs.html": html,
    "preserve.inputs.text": text,
}
