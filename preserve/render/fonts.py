"""The fonts: which files, which one draws each character, and coverage errors.

Most fonts are vendored static TrueType files (``preserve/fonts``, provenance in
``preserve/fonts/PROVENANCE.md``) so that a render is byte-identical on every machine:
a system font or a newer package version would change glyphs, metrics and line breaks.
The one CJK font is too large to vendor (17 MB); it comes from a pinned Debian package
and is used only if its SHA-256 is the pinned one, so the same rule holds (see
docs/render.md, "Fonts").
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import uharfbuzz as hb
from fontTools import unicodedata as ftunicode
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import SUBSETN, TTFont

from preserve.errors import RenderError

FONT_DIR = Path(str(resources.files("preserve") / "fonts"))

#: Extra folders (``os.pathsep``-separated) searched for system fonts before their usual
#: place, for machines that are not Debian: the file must still have the pinned SHA-256.
FONT_PATH_ENV = "PRESERVE_FONT_PATH"


@dataclass(frozen=True)
class SystemFont:
    """A font too large to vendor, taken from a pinned package and checked by digest."""

    #: The file name, searched in ``$PRESERVE_FONT_PATH`` and then in ``dirs``.
    file: str
    dirs: tuple[str, ...]
    sha256: str
    #: How to install it, quoted in the error when it is missing.
    install: str
    #: Code point ranges it is there for, so a missing font can be named.
    ranges: tuple[tuple[int, int], ...]
    #: Face index inside a TrueType collection (.ttc).
    subfont: int = 0


@dataclass(frozen=True)
class Family:
    """One typeface in two weights; ``name`` is its ReportLab/PDF base name.

    A family with one weight names the same file twice and is embedded once. A family
    with ``system`` set is not vendored: ``regular``/``bold`` are its display name.
    """

    name: str
    regular: str
    bold: str
    system: SystemFont | None = None

    @property
    def single_weight(self) -> bool:
        return self.regular == self.bold


#: WenQuanYi Zen Hei 0.9.45 (Debian ``fonts-wqy-zenhei`` 0.9.45-8): TrueType outlines
#: for Simplified and Traditional Chinese (20,940 of the 20,992 URO ideographs, 6,582
#: of extension A), Japanese kana and all 11,172 Hangul syllables, in one file.
WQY_ZENHEI = SystemFont(
    file="wqy-zenhei.ttc",
    dirs=("/usr/share/fonts/truetype/wqy",),
    sha256="79c18ebe7b811951e8311bad7103ebeae8c337ed9988ea69e8a78a66cfe029b9",
    install="apt-get install fonts-wqy-zenhei",
    ranges=(
        (0x1100, 0x11FF),  # Hangul jamo
        (0x2E80, 0x2FDF),  # CJK radicals
        (0x3000, 0x33FF),  # CJK punctuation, kana, bopomofo, Hangul compatibility jamo
        (0x3400, 0x4DBF),  # extension A
        (0x4E00, 0x9FFF),  # unified ideographs
        (0xA960, 0xA97F),  # Hangul jamo extended-A
        (0xAC00, 0xD7FF),  # Hangul syllables, jamo extended-B
        (0xF900, 0xFAFF),  # compatibility ideographs
        (0xFE30, 0xFE4F),  # compatibility forms
        (0xFF00, 0xFFEF),  # half- and full-width forms
    ),
)

#: In fallback order: the first family that has a character draws it. Noto Serif covers
#: Latin (with Azerbaijani ə ğ ı İ ş), Cyrillic and Greek; the others add one script
#: each (Noto Sans Arabic also covers the Persian and Urdu letters); emoji come last so
#: that digits, # and * stay text.
FAMILIES: tuple[Family, ...] = (
    Family("NotoSerif", "NotoSerif-Regular.ttf", "NotoSerif-Bold.ttf"),
    Family("NotoSerifArmenian", "NotoSerifArmenian-Regular.ttf", "NotoSerifArmenian-Bold.ttf"),
    Family("NotoSerifGeorgian", "NotoSerifGeorgian-Regular.ttf", "NotoSerifGeorgian-Bold.ttf"),
    Family("NotoSerifHebrew", "NotoSerifHebrew-Regular.ttf", "NotoSerifHebrew-Bold.ttf"),
    Family("NotoSansArabic", "NotoSansArabic-Regular.ttf", "NotoSansArabic-Bold.ttf"),
    Family(
        "NotoSerifDevanagari", "NotoSerifDevanagari-Regular.ttf", "NotoSerifDevanagari-Bold.ttf"
    ),
    Family("NotoSerifBengali", "NotoSerifBengali-Regular.ttf", "NotoSerifBengali-Bold.ttf"),
    Family("NotoSerifTamil", "NotoSerifTamil-Regular.ttf", "NotoSerifTamil-Bold.ttf"),
    Family("NotoSerifThai", "NotoSerifThai-Regular.ttf", "NotoSerifThai-Bold.ttf"),
    Family("NotoSerifKhmer", "NotoSerifKhmer-Regular.ttf", "NotoSerifKhmer-Bold.ttf"),
    Family("NotoSerifEthiopic", "NotoSerifEthiopic-Regular.ttf", "NotoSerifEthiopic-Bold.ttf"),
    Family("NotoSerifGujarati", "NotoSerifGujarati-Regular.ttf", "NotoSerifGujarati-Bold.ttf"),
    Family("NotoSerifGurmukhi", "NotoSerifGurmukhi-Regular.ttf", "NotoSerifGurmukhi-Bold.ttf"),
    Family("NotoSerifTelugu", "NotoSerifTelugu-Regular.ttf", "NotoSerifTelugu-Bold.ttf"),
    Family("NotoSerifKannada", "NotoSerifKannada-Regular.ttf", "NotoSerifKannada-Bold.ttf"),
    Family("NotoSerifMalayalam", "NotoSerifMalayalam-Regular.ttf", "NotoSerifMalayalam-Bold.ttf"),
    Family("NotoSansOriya", "NotoSansOriya-Regular.ttf", "NotoSansOriya-Bold.ttf"),
    Family("NotoSerifSinhala", "NotoSerifSinhala-Regular.ttf", "NotoSerifSinhala-Bold.ttf"),
    Family("NotoSerifMyanmar", "NotoSerifMyanmar-Regular.ttf", "NotoSerifMyanmar-Bold.ttf"),
    Family("NotoSerifLao", "NotoSerifLao-Regular.ttf", "NotoSerifLao-Bold.ttf"),
    Family("NotoSansThaana", "NotoSansThaana-Regular.ttf", "NotoSansThaana-Bold.ttf"),
    Family("NotoSansTifinagh", "NotoSansTifinagh-Regular.ttf", "NotoSansTifinagh-Regular.ttf"),
    Family("WenQuanYiZenHei", "WenQuanYi Zen Hei", "WenQuanYi Zen Hei", WQY_ZENHEI),
    Family("NotoEmoji", "NotoEmoji-Regular.ttf", "NotoEmoji-Regular.ttf"),
)

#: Characters that are layout controls, never drawn, so no font needs them.
INVISIBLE = frozenset(
    "\u200c\u200d\u200e\u200f\u061c\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d\u202e"
)

#: Joiners are kept in the text that is shaped: ZWNJ keeps Persian letters apart
#: (می‌خواهم), ZWJ and ZWNJ choose Indic conjunct forms, ZWJ joins emoji sequences.
JOINERS = frozenset("\u200c\u200d")


def attaches(ch: str) -> bool:
    """A joiner, variation selector or emoji tag: it changes how the character before it
    is drawn and is never drawn itself, so it needs no glyph of its own (a font without
    the variation draws the base character plainly; its text is kept either way)."""
    code = ord(ch)
    return (
        ch in JOINERS
        or 0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
        or 0xE0020 <= code <= 0xE007F
    )


@dataclass(frozen=True)
class FontFile:
    """One embedded font file, as a PREMIS event records it."""

    #: The font's name in the PDF (ReportLab's, as in ``Rendering.fonts``).
    name: str
    path: Path
    sha256: str
    #: Where it came from: ``vendored`` or the package that installs it.
    source: str


_lock = threading.Lock()


def font_name(family: Family, bold: bool) -> str:
    return f"{family.name}-Bold" if bold and not family.single_weight else family.name


def font_file(family: Family, bold: bool) -> Path:
    """The file that draws ``family`` in this weight; RenderError if a system font is missing."""
    if family.system is None:
        return FONT_DIR / (family.bold if bold else family.regular)
    found = locate(family)
    if isinstance(found, str):
        raise RenderError(found)
    return found


def _search_dirs(system: SystemFont) -> list[Path]:
    extra = [Path(d) for d in os.environ.get(FONT_PATH_ENV, "").split(os.pathsep) if d]
    return [*extra, *(Path(d) for d in system.dirs)]


@cache
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def _locate(family: Family, search: tuple[Path, ...]) -> Path | str:
    assert family.system is not None
    system = family.system
    wrong: Path | None = None
    for folder in search:
        path = folder / system.file
        try:
            info = path.lstat()  # a symbolic link is not followed
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        if _sha256(path) == system.sha256:
            return path
        wrong = wrong or path
    if wrong is not None:
        return (
            f"{wrong} is not the pinned {family.regular} (sha256 {system.sha256[:16]}…); "
            f"a different version would change the copy: {system.install}"
        )
    return f"the {family.regular} font is not installed: {system.install}"


def locate(family: Family) -> Path | str:
    """The system font's file, or why it cannot be used (missing, or not the pinned file)."""
    assert family.system is not None
    return _locate(family, tuple(_search_dirs(family.system)))


def available(family: Family) -> bool:
    return family.system is None or not isinstance(locate(family), str)


@cache
def _cmap(path: Path, subfont: int = 0) -> frozenset[int]:
    # HarfBuzz reads the character map in C: 0.4 ms for the 42,000 characters of the
    # CJK font, where fontTools takes 270 ms (the first render pays for every font
    # before the one that has the character).
    return frozenset(hb.Face(hb.Blob.from_file_path(str(path)), subfont).unicodes)


@cache
def _family_of(ch: str, bold: bool) -> Family | None:
    code = ord(ch)
    for family in FAMILIES:
        if available(family) and code in cmap_of(family, bold):
            return family
    return None


def cmap_of(family: Family, bold: bool) -> frozenset[int]:
    """Code points the font maps to a glyph."""
    return _cmap(font_file(family, bold), subfont_of(family))


def subfont_of(family: Family) -> int:
    """Face index in a TrueType collection (0 for a plain .ttf)."""
    return family.system.subfont if family.system else 0


def family_for(ch: str, bold: bool = False) -> Family | None:
    """The first family (in fallback order) with a glyph for ``ch``, or None."""
    return _family_of(ch, bold)


def clear_caches() -> None:
    """Forget which fonts are installed (after installing one, or in tests)."""
    _locate.cache_clear()
    _family_of.cache_clear()


def font_files_used(names: Iterable[str]) -> tuple[FontFile, ...]:
    """The files behind font names as in ``Rendering.fonts``, with their SHA-256.

    For the PREMIS event of a rendering: which exact font files drew the copy. Unknown
    names raise KeyError (a name is only ever one this module gave out).
    """
    by_name: dict[str, tuple[Family, bool]] = {}
    for family in FAMILIES:
        for bold in (False, True):
            by_name.setdefault(font_name(family, bold), (family, bold))
    out = []
    for name in sorted(set(names)):
        family, bold = by_name[name]
        path = font_file(family, bold)
        source = family.system.install.split()[-1] if family.system else "vendored"
        out.append(FontFile(name, path, _sha256(path), source))
    return tuple(out)


def ensure_registered(family: Family, bold: bool) -> str:
    """Register the font with ReportLab once per process and return its name.

    ReportLab keeps subsetting state per document, so one registered font serves
    every render; registering is guarded because it mutates a global table.
    """
    name = font_name(family, bold)
    with _lock:
        # ``pdfmetrics.getFont`` parses every AFM file on ReportLab's search path before
        # it raises KeyError for an unregistered name (0.1-0.2 s a font where Ghostscript
        # or TeX fonts are installed); the registry itself answers at once.
        if name not in pdfmetrics._fonts:
            path = str(font_file(family, bold))
            font = EmbeddedFont(name, path, subfontIndex=subfont_of(family), shapable=False)
            repair_hmetrics(font, path, subfont_of(family))
            pdfmetrics.registerFont(font)
    return name


def repair_hmetrics(font: TTFont, path: str, subfont: int) -> None:
    """Give the glyphs past ``numberOfHMetrics`` their advance in font units again.

    ReportLab (4.x, 5.x) stores those glyphs' shared advance already scaled to 1/1000
    em and writes it unscaled into the subset's ``hmtx``; for a font with 1000 units per
    em that is the same number, but for Noto Emoji (2048) or the CJK font (1024) the
    embedded program then disagrees with the PDF's /Widths, which PDF/A forbids
    (veraPDF 6.2.11.5, PDFBox Preflight 3.1.6).
    """
    hhea = hb.Face(hb.Blob.from_file_path(path), subfont).reference_table("hhea").data
    count = int.from_bytes(hhea[34:36], "big")
    metrics = font.face.hmetrics
    if 0 < count < len(metrics):
        advance = metrics[count - 1][0]
        font.face.hmetrics = metrics[:count] + [(advance, lsb) for _aw, lsb in metrics[count:]]


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


def script_of(ch: str) -> str:
    """The character's Unicode script by name ("Han", "Devanagari"; "Common" for emoji)."""
    return str(ftunicode.script_name(ftunicode.script(ch), default="Unknown"))


def describe(ch: str) -> str:
    """``U+1F600 GRINNING FACE '😀'`` — how an error names a character."""
    name = unicodedata.name(ch, "unnamed character")
    shown = ch if ch.isprintable() else ""
    return f"U+{ord(ch):04X} {name}" + (f" {shown!r}" if shown else "")


def _missing_font(ch: str) -> str | None:
    """Why a font that would draw ``ch`` cannot be used, if one is known."""
    code = ord(ch)
    for family in FAMILIES:
        system = family.system
        if system and any(lo <= code <= hi for lo, hi in system.ranges):
            found = locate(family)
            if isinstance(found, str):
                return found
    return None


def _drawable(ch: str) -> bool:
    """A font draws ``ch``, or it is a control or joiner that needs none."""
    if ch in INVISIBLE or ch in "\n\t" or attaches(ch):
        return True
    return _family_of(ch, False) is not None or _family_of(ch, True) is not None


def check_coverage(parts: Iterator[tuple[str, str]] | list[tuple[str, str]]) -> None:
    """Raise RenderError naming the first character no available font can draw.

    ``parts`` are (where, text) pairs such as ("paragraph 3", "..."), checked in
    order so that the message points at the first problem a reader would meet. The
    message names the character and its script, and where a font for it exists but is
    not installed, the command that installs it.
    """
    parts = list(parts)
    distinct: set[str] = set()
    for _where, text in parts:
        distinct.update(text)
    if all(_drawable(ch) for ch in distinct):  # the usual case: each character asked once
        return
    for where, text in parts:
        for ch in text:
            if _drawable(ch):
                continue
            label = f"{describe(ch)} ({script_of(ch)} script) in {where}"
            missing = _missing_font(ch)
            if missing is not None:
                raise RenderError(f"{label} needs a font that cannot be used: {missing}")
            raise RenderError(f"{label} has no glyph in any embedded font")
