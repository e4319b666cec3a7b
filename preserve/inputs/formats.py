"""PRONOM identifiers of the files statements arrive as, read from their own bytes.

A bag's PREMIS names each file's format so that a repository decades later knows
what it holds. The identifiers are the ones DROID and FIDO give for the same
bytes (the tests check ours against FIDO): by the PDF header's version and the
PDF/A claim in its XMP, the JFIF version of a JPEG, the ``office:version`` of an
OpenDocument file. Only forms :mod:`preserve.inputs` reads are named here.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pikepdf

#: PDF by header version (``%PDF-1.4``).
_PDF_VERSION = {
    "1.0": "fmt/14",
    "1.1": "fmt/15",
    "1.2": "fmt/16",
    "1.3": "fmt/17",
    "1.4": "fmt/18",
    "1.5": "fmt/19",
    "1.6": "fmt/20",
    "1.7": "fmt/276",
    "2.0": "fmt/1129",
}
#: PDF/A by the XMP claim (``pdfaid:part`` + ``pdfaid:conformance``).
_PDFA = {
    "1A": "fmt/95",
    "1B": "fmt/354",
    "2A": "fmt/476",
    "2B": "fmt/477",
    "2U": "fmt/478",
    "3A": "fmt/479",
    "3B": "fmt/480",
    "3U": "fmt/481",
}
PRONOM_DOCX = "fmt/412"
PRONOM_TIFF = "fmt/353"
#: PNG 1.0, 1.1 (iCCP, sPLT or sRGB chunks) and 1.2 (iTXt), as PRONOM tells them apart.
PRONOM_PNG = "fmt/11"
_PNG_11_CHUNKS = {b"iCCP", b"sPLT", b"sRGB"}
#: OpenDocument Text by ``office:version``.
_ODT = {"1.0": "fmt/136", "1.1": "fmt/290", "1.2": "fmt/291", "1.3": "fmt/1756"}

_PDF_HEADER = re.compile(rb"%PDF-(\d\.\d)")


def pdf_version(data: bytes) -> str | None:
    """The version in the PDF header (within the first KiB, as readers look for it)."""
    found = _PDF_HEADER.search(data[:1024])
    return found.group(1).decode() if found else None


def pdfa_claim(doc: pikepdf.Pdf) -> str | None:
    """``2B``, ``1A``…: what the PDF claims in its XMP, or None (no claim, unreadable XMP)."""
    if "/Metadata" not in doc.Root:
        return None
    try:
        meta = doc.open_metadata()
        part = str(meta.get("pdfaid:part", "")).strip()
        conformance = str(meta.get("pdfaid:conformance", "")).strip().upper()
    except Exception:  # a broken XMP packet is no claim
        return None
    return part + conformance if part and conformance else None


def pdf_pronom(data: bytes, claim: str | None) -> str:
    """PRONOM id of a PDF: its PDF/A level when it claims one, else its header version."""
    if claim in _PDFA:
        return _PDFA[claim]
    return _PDF_VERSION.get(pdf_version(data) or "", "fmt/276")


def image_pronom(data: bytes) -> tuple[str, str] | None:
    """(PRONOM id, media type) of a TIFF, PNG or JPEG by its signature; None for others."""
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return PRONOM_TIFF, "image/tiff"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _png_pronom(data), "image/png"
    if data[:3] == b"\xff\xd8\xff":
        # JFIF 1.02 is fmt/44, 1.01 (and JPEG without a JFIF header) fmt/43.
        if data[6:11] == b"JFIF\x00" and data[11:13] == b"\x01\x02":
            return "fmt/44", "image/jpeg"
        return "fmt/43", "image/jpeg"
    return None


def _png_pronom(data: bytes) -> str:
    """PNG 1.2 when an iTXt chunk is present, 1.1 with iCCP/sPLT/sRGB, else 1.0.

    Walks the chunk headers only (lengths skip the data), to the end as text chunks
    may follow the image data.
    """
    chunks: set[bytes] = set()
    at = 8
    while at + 8 <= len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        kind = data[at + 4 : at + 8]
        chunks.add(kind)
        if kind == b"IEND":
            break
        at += 12 + length
    if b"iTXt" in chunks:
        return "fmt/13"
    if chunks & _PNG_11_CHUNKS:
        return "fmt/12"
    return PRONOM_PNG


def odt_pronom(data: bytes) -> str:
    """PRONOM id of an OpenDocument Text file by the ``office:version`` it declares."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            head = package.read("content.xml")[:4096]
    except (zipfile.BadZipFile, KeyError, OSError):
        return _ODT["1.2"]
    found = re.search(rb'office:version="([0-9.]+)"', head)
    return _ODT.get(found.group(1).decode() if found else "1.2", _ODT["1.2"])
