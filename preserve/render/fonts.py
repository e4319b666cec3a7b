"""The embedded fonts: which files, which one draws each character, and coverage errors.

The fonts are vendored static TrueType files (``preserve/fonts``, provenance in
``preserve/fonts/PROVENANCE.md``) so that a render is byte-identical on every machine:
a system font or a newer package version would change glyphs, metrics and line breaks.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from fontTools.ttLib import TTFont as FtFont
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import SUBSETN, TTFont

from preserve.errors import RenderError

FONT_DIR = Path(str(resources.files("preserve") / "fonts"))


@dataclass(frozen=True)
class Family:
    """One typeface in two weights; ``name`` is its ReportLab/PDF base name."""

    name: str
    regular: str
    bold: str


#: In fallback order: the first family that has a character draws it. Noto Serif covers
#: Latin (with Azerbaijani ə ğ ı İ ş), Cyrillic and Greek; the others add one script each.
FAMILIES: tuple[Family, ...] = (
    Family("NotoSerif", "NotoSerif-Regular.ttf", "NotoSerif-Bold.ttf"),
    Family("NotoSerifArmenian", "NotoSerifArmenian-Regular.ttf", "NotoSerifArmenian-Bold.ttf"),
    Family("NotoSerifGeorgian", "NotoSerifGeorgian-Regular.ttf", "NotoSerifGeorgian-Bold.ttf"),
    Family("NotoSerifHebrew", "NotoSerifHebrew-Regular.ttf", "NotoSerifHebrew-Bold.ttf"),
    Family("NotoSansArabic", "NotoSansArabic-Regular.ttf", "NotoSansArabic-Bold.ttf"),
)

#: Characters that are layout controls, never drawn, so no font needs them.
INVISIBLE = frozenset(
    "\u200c\u200d\u200e\u200f\u061c\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d\u202e"
)

_lock = threading.Lock()


def font_name(family: Family, bold: bool) -> str:
    return f"{family.name}-Bold" if bold else family.name


def font_file(family: Family, bold: bool) -> Path:
    return FONT_DIR / (family.bold if bold else family.regular)


@cache
def _cmap(path: Path) -> frozenset[int]:
    font = FtFont(str(path), lazy=True)
    try:
        return frozenset(font.getBestCmap())
    finally:
        font.close()


@cache
def _family_of(ch: str, bold: bool) -> Family | None:
    code = ord(ch)
    for family in FAMILIES:
        if code in _cmap(font_file(family, bold)):
            return family
    return None


def cmap_of(family: Family, bold: bool) -> frozenset[int]:
    """Code points the font maps to a glyph."""
    return _cmap(font_file(family, bold))


def family_for(ch: str, bold: bool = False) -> Family | None:
    """The first family (in fallback order) with a glyph for ``ch``, or None."""
    return _family_of(ch, bold)


def ensure_registered(family: Family, bold: bool) -> str:
    """Register the font with ReportLab once per process and return its name.

    ReportLab keeps subsetting state per document, so one registered font serves
    every render; registering is guarded because it mutates a global table.
    """
    name = font_name(family, bold)
    with _lock:
        try:
            pdfmetrics.getFont(name)
        except KeyError:
            font = EmbeddedFont(name, str(font_file(family, bold)), shapable=False)
            pdfmetrics.registerFont(font)
    return name


#: Shaped glyphs that no character maps to (Arabic joining forms, ligatures) are given a
#: private code point from plane 15 so ReportLab's subsetter can carry them.
PRIVATE_BASE = 0xF0000


class EmbeddedFont(TTFont):  # type: ignore[misc]
    """A ReportLab TrueType font whose ToUnicode maps shaped glyphs to the text they show.

    ReportLab would map a private code point to itself; PDF/A-2u needs real Unicode,
    so a glyph drawn for "لا" maps to those two letters.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.private_text: dict[int, str] = {}
        self._private: dict[tuple[int, str], int] = {}

    def code_for(self, gid: int, text: str, advance: int) -> str:
        """The character that selects glyph ``gid`` in this font (private if it has none)."""
        face = self.face
        if len(text) == 1 and face.charToGlyph.get(ord(text)) == gid:
            return text
        # One private code per (glyph, text): the same glyph may stand for different
        # text in different places, and what a code maps to must never depend on
        # which statements this process rendered before. The code's value itself
        # never reaches the PDF (ReportLab numbers subset codes by first use).
        key = (gid, text)
        code = self._private.get(key)
        if code is None:
            with _lock:
                code = self._private.get(key)
                if code is None:
                    n = len(self._private)
                    code = PRIVATE_BASE + n + (2 if n >= 0xFFFE else 0)  # skip U+FFFFE/F
                    if code > 0x10FFFD:
                        raise RenderError(
                            f"too many distinct shaped glyphs in font {self.fontName}"
                        )
                    face.charToGlyph[code] = gid
                    face.glyphToChar.setdefault(gid, []).append(code)
                    face.charWidths[code] = advance
                    self.private_text[code] = text
                    self._private[key] = code
        return chr(code)

    def addObjects(self, doc: object) -> None:
        subsets = self.state_subsets(doc)  # ReportLab forgets them in addObjects
        super().addObjects(doc)
        for n, subset in enumerate(subsets):
            base = b"".join((SUBSETN(n), b"+", self.face.name, self.face.subfontNameX)).decode(
                "pdfdoc"
            )
            stream = doc.idToObject["toUnicodeCMap:" + base]  # type: ignore[attr-defined]
            stream.content = to_unicode_cmap(
                [self.private_text.get(code, chr(code)) if code else "" for code in subset]
            )

    def state_subsets(self, doc: object) -> list[list[int]]:
        return [list(s) for s in self.state[doc].subsets] if doc in self.state else []


def to_unicode_cmap(texts: list[str]) -> str:
    """A ToUnicode CMap for one-byte codes; ``texts[code]`` is what the code shows ("" = none)."""
    pairs = [
        f"<{code:02X}> <{text.encode('utf-16-be').hex().upper()}>"
        for code, text in enumerate(texts)
        if text
    ]
    out = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        "<00> <FF>",
        "endcodespacerange",
    ]
    for i in range(0, len(pairs), 100):
        chunk = pairs[i : i + 100]
        out += [f"{len(chunk)} beginbfchar", *chunk, "endbfchar"]
    out += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(out)


def describe(ch: str) -> str:
    """``U+1F600 GRINNING FACE '😀'`` — how an error names a character."""
    name = unicodedata.name(ch, "unnamed character")
    shown = ch if ch.isprintable() else ""
    return f"U+{ord(ch):04X} {name}" + (f" {shown!r}" if shown else "")


def check_coverage(parts: Iterator[tuple[str, str]] | list[tuple[str, str]]) -> None:
    """Raise RenderError naming the first character no embedded font can draw.

    ``parts`` are (where, text) pairs such as ("paragraph 3", "..."), checked in
    order so that the message points at the first problem a reader would meet.
    """
    for where, text in parts:
        for ch in text:
            if ch in INVISIBLE or ch in "\n\t" or _family_of(ch, False) or _family_of(ch, True):
                continue
            raise RenderError(f"{describe(ch)} in {where} has no glyph in any embedded font")
