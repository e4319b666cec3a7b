"""Break shaped words into lines and write them as PDF text operators.

Lines are built in logical order and reordered for display per run (UBA rule L2).
Where what is drawn differs from the text (right-to-left order, joining forms,
ligatures), the line is wrapped in a /Span with /ActualText, so text extraction
gives the text in logical order.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import NamedTuple

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from preserve.render.fonts import EmbeddedFont, ensure_registered
from preserve.render.shaping import Run, Word, glyph_advance

#: Width of an inter-word space, in font units (Noto Serif's space is 260/1000 em).
SPACE_UNITS = 260


#: Justified word spaces may grow to (1 + this) times their natural width...
MAX_STRETCH = 1.0
#: ...or shrink to (1 - this) times it; a line that would need more is set ragged.
MAX_SHRINK = 0.2
#: A line with fewer words than this is never justified (its gaps would gape).
MIN_JUSTIFIED_WORDS = 4


class Align(Enum):
    START = "start"
    END = "end"
    CENTER = "center"
    #: Prose: lines the breaker marked ``justified`` fill the measure, others start-align.
    JUSTIFY = "justify"


@dataclass(frozen=True)
class Line:
    """One line: its words in logical order and the paragraph direction."""

    words: tuple[Word, ...]
    base: int
    #: Spaces stretched or shrunk so the line fills the measure; the breaker decides,
    #: never for the last line of a paragraph or a line of fewer than four words.
    justified: bool = False

    @property
    def units(self) -> int:
        return sum(w.units for w in self.words) + SPACE_UNITS * (len(self.words) - 1)

    @property
    def text(self) -> str:
        return " ".join("".join(r.text for r in w.runs) for w in self.words)


def break_lines(words: list[Word], width_units: float, base: int) -> list[Line]:
    """Ragged lines, greedy; a forced break ("\n" after a word) is kept.

    A word wider than the line stands alone on its line (``shaping.words`` cuts such
    words into pieces that fit when given ``max_units``).
    """
    lines: list[Line] = []
    current: list[Word] = []
    used = 0.0
    for word in words:
        extra = word.units + (SPACE_UNITS if current else 0)
        if current and used + extra > width_units:
            lines.append(Line(tuple(current), base))
            current, used = [], 0.0
            extra = word.units
        current.append(word)
        used += extra
        if word.space == "\n":
            lines.append(Line(tuple(current), base))
            current, used = [], 0.0
    if current:
        lines.append(Line(tuple(current), base))
    return lines


#: Demerits of a line that cannot be justified inside the bounds and is set ragged in
#: the middle of a paragraph: far above any justified line, so the breaker avoids it.
_RAGGED = 1e8
#: A ragged line in the middle of a justified paragraph must fill this much of the
#: measure (a cut URL, three long words); shorter, and the paragraph is set ragged.
_NEARLY_FULL = 0.85


def justify_lines(words: list[Word], width_units: float, base: int) -> list[Line]:
    """Total-fit line breaking (Knuth and Plass, without hyphenation) for prose.

    Every way of breaking the paragraph is weighed at once: a justified line costs
    ``(1 + 100·|r|³)²`` where ``r`` is how far its spaces stretch or shrink relative to
    the bound, so loose lines are spread over the paragraph instead of one gaping
    line after a tight one. A line of fewer than four words, or one that would need
    more than the bound, may stay ragged (at a high cost) only if it nearly fills the
    measure; the last line is ragged for free. A paragraph that cannot be broken so
    is set ragged as a whole, so its lines agree.
    """
    n = len(words)
    if n == 0:
        return []
    prefix = [0]
    for w in words:
        prefix.append(prefix[-1] + w.units)
    inf = float("inf")
    best = [0.0] + [inf] * n
    back = [0] * (n + 1)
    kind = [False] * (n + 1)  # justified?
    stretch, shrink = SPACE_UNITS * MAX_STRETCH, SPACE_UNITS * MAX_SHRINK
    full = _NEARLY_FULL * width_units
    lo = 0
    for j in range(1, n + 1):
        # the longest candidate line: it fits once its spaces shrink to the bound
        while lo < j - 1 and (
            prefix[j] - prefix[lo] + (j - lo - 1) * (SPACE_UNITS - shrink) > width_units
        ):
            lo += 1
        for i in range(lo, j):
            if best[i] == inf:
                continue
            gaps = j - i - 1
            natural = prefix[j] - prefix[i] + gaps * SPACE_UNITS
            justified = False
            if j == n:
                if natural > width_units and gaps:
                    continue
                cost = 0.0
            else:
                slack = width_units - natural
                if gaps + 1 >= MIN_JUSTIFIED_WORDS and -gaps * shrink <= slack <= gaps * stretch:
                    ratio = slack / (gaps * (stretch if slack > 0 else shrink))
                    cost = (1 + 100 * abs(ratio) ** 3) ** 2
                    justified = True
                elif natural >= full and (natural <= width_units or not gaps):
                    cost = _RAGGED
                elif natural < full and slack > gaps * stretch:
                    break  # shorter still from here on
                else:
                    continue
            if best[i] + cost < best[j]:
                best[j], back[j], kind[j] = best[i] + cost, i, justified
    if best[n] == inf:
        return break_lines(words, width_units, base)
    breaks: list[tuple[int, int, bool]] = []
    j = n
    while j > 0:
        breaks.append((back[j], j, kind[j]))
        j = back[j]
    breaks.reverse()
    return [Line(tuple(words[i:j]), base, just) for i, j, just in breaks]


@dataclass(frozen=True)
class _Item:
    level: int
    #: Position in logical order: glyphs are written in this order so that extractors
    #: that follow the content stream (pdfminer, pdftotext -raw) read logical text.
    index: int
    run: Run | None  # None: an inter-word space
    #: For a space, the run before it in logical order (its font draws the space).
    before: Run | None = None


def _visual(line: Line) -> list[_Item]:
    """The line's runs and spaces in display order (UBA L2)."""
    items: list[_Item] = []
    for i, word in enumerate(line.words):
        if i:
            prev = line.words[i - 1]
            items.append(_Item(prev.space_level, len(items), None, prev.runs[-1]))
        items += [_Item(run.level, len(items) + k, run) for k, run in enumerate(word.runs)]
    if not items:
        return items
    top = max(it.level for it in items)
    lowest_odd = min((it.level for it in items if it.level % 2), default=top + 1)
    for level in range(top, lowest_odd - 1, -1):
        i = 0
        while i < len(items):
            if items[i].level >= level:
                j = i
                while j < len(items) and items[j].level >= level:
                    j += 1
                items[i:j] = items[i:j][::-1]
                i = j
            else:
                i += 1
    return items


def _hex_utf16(text: str) -> str:
    return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"


def _num(v: float) -> str:
    s = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


class _Placed(NamedTuple):
    """One glyph where it goes (a tuple: a page holds thousands, made and read once)."""

    font: EmbeddedFont
    char: str  # the code character that selects the glyph in ``font``
    x: float
    y: float
    width: float  # the glyph's own advance in points (what the PDF viewer moves by)


class Writer:
    """Writes lines onto a ReportLab canvas; records which fonts it used."""

    def __init__(self, canvas: Canvas) -> None:
        self.canvas = canvas
        self.fonts_used: set[str] = set()

    def line(self, line: Line, x: float, y: float, width: float, size: float, align: Align) -> None:
        items = _visual(line)
        natural = line.units * size / 1000
        spaces = sum(1 for it in items if it.run is None)
        gap = SPACE_UNITS * size / 1000
        rtl = line.base % 2 == 1
        if line.justified and spaces:
            gap += (width - natural) / spaces
            natural = width
        if align is Align.CENTER:
            x += (width - natural) / 2
        elif (align is Align.END) != rtl:
            x += width - natural
        placed: dict[int, list[_Placed]] = {}
        shown: dict[int, str] = {}
        pen = x
        for item in items:
            if item.run is None:
                assert item.before is not None
                font = self._font(item.before)
                space = font.code_for(font.face.charToGlyph[32], " ", 0)
                placed[item.index] = [
                    _Placed(font, space, pen, y, font.face.getCharWidth(32) * size / 1000)
                ]
                shown[item.index] = " "
                pen += gap
                continue
            glyphs, text = self._run(item.run, pen, y, size)
            placed[item.index] = glyphs
            shown[item.index] = text
            pen += item.run.units * size / 1000
        ordered = [g for index in sorted(placed) for g in placed[index]]
        if not ordered:
            return
        logical = line.text
        code = self.canvas._code
        body = "BT " + " ".join(self._ops(ordered, size)) + " ET"
        naive = unicodedata.normalize("NFC", "".join(shown[i] for i in sorted(shown)))
        has_rtl = any(it.level % 2 for it in items)
        # Poppler reorders /ActualText of right-to-left lines a second time, so those
        # lines rely on logical drawing order and ToUnicode alone (tests verify both).
        if naive != unicodedata.normalize("NFC", logical) and not has_rtl:
            code.append(f"/Span <</ActualText {_hex_utf16(logical)}>> BDC {body} EMC")
        else:
            code.append(body)

    def _font(self, run: Run) -> EmbeddedFont:
        name = ensure_registered(run.family, run.bold)
        self.fonts_used.add(name)
        return _font(name)

    def _run(self, run: Run, pen: float, y: float, size: float) -> tuple[list[_Placed], str]:
        """Position the run's glyphs (visual order) and return them in logical order."""
        font = self._font(run)
        scale = size / 1000
        glyphs, text = _layout(run)
        out = [
            _Placed(font, char, pen + x * scale, y + dy * scale, width * scale)
            for char, x, dy, width in glyphs
        ]
        return out, text

    def _ops(self, glyphs: list[_Placed], size: float) -> list[str]:
        """Text operators for glyphs in the given order, each at its own position."""
        doc = self.canvas._doc
        ops: list[str] = []
        current_font = ""
        cx: float | None = None
        cy = 0.0
        parts: list[str] = []

        def flush() -> None:
            if parts:
                ops.append("[" + " ".join(parts) + "] TJ")
                parts.clear()

        i = 0
        while i < len(glyphs):
            font = glyphs[i].font
            j = i
            while j < len(glyphs) and glyphs[j].font is font:
                j += 1
            split = _split(font, glyphs[i:j], doc)  # once: ReportLab walks the run each call
            codes = b"".join(data for _s, data in split)
            names = [n for n, data in split for _ in data]
            for k, g in enumerate(glyphs[i:j]):
                name = names[k]
                if name != current_font:
                    flush()
                    ops.append(f"{name} {_num(size)} Tf")
                    current_font = name
                if cx is None or g.y != cy or abs(g.x - cx) > 200:
                    flush()
                    ops.append(f"1 0 0 1 {_num(g.x)} {_num(g.y)} Tm")
                    cx, cy = g.x, g.y
                adjust = (cx - g.x) * 1000 / size
                if abs(adjust) > 0.0005:
                    parts.append(_num(adjust))
                parts.append(f"<{codes[k]:02X}>")
                cx = g.x + g.width
            i = j
        flush()
        return ops


@lru_cache(maxsize=1 << 16)
def _layout(run: Run) -> tuple[tuple[tuple[str, int, int, int], ...], str]:
    """The run's glyphs as (code character, x, y offset, width) in font units, in logical
    order, and the text a reader without /ActualText support extracts from them."""
    font = _font(ensure_registered(run.family, run.bold))
    clusters = sorted({g.cluster for g in run.glyphs})
    ends = {
        c: (clusters[i + 1] if i + 1 < len(clusters) else len(run.text))
        for i, c in enumerate(clusters)
    }
    texts = _glyph_texts(run, font, ends)
    out: list[tuple[str, int, int, int]] = []
    pen = 0
    for g, text in zip(run.glyphs, texts, strict=True):
        advance = glyph_advance(run.family, run.bold, g.gid)
        out.append((font.code_for(g.gid, text, advance), pen + g.dx, g.dy, advance))
        pen += g.advance
    if run.rtl:
        order = sorted(range(len(out)), key=lambda i: (run.glyphs[i].cluster, i))
        out = [out[i] for i in order]
    shown = "".join(font.private_text.get(ord(char), char) for char, *_ in out)
    return tuple(out), shown


def _glyph_texts(run: Run, font: EmbeddedFont, ends: dict[int, int]) -> list[str]:
    """What each glyph shows: its cluster's text, or its own character where a cluster
    has several glyphs that together spell the text (e.g. alef + hamza below for إ)."""
    texts = [run.text[g.cluster : ends[g.cluster]] for g in run.glyphs]
    groups: dict[int, list[int]] = {}
    for i, g in enumerate(run.glyphs):
        groups.setdefault(g.cluster, []).append(i)
    for members in groups.values():
        if run.rtl:
            members = members[::-1]
        cluster_text = texts[members[0]]
        if len(members) > 1:
            own = [_cmap_char(font, run.glyphs[i].gid) for i in members]
            if all(own) and _nfc("".join(own)) == _nfc(cluster_text):
                for i, ch in zip(members, own, strict=True):
                    texts[i] = ch
                continue
            # Marks keep their own character; the rest of the text goes to the first
            # other glyph (e.g. a lam-alef ligature carrying a fatha), so nothing is
            # extracted twice.
            rest = cluster_text
            bases = []
            for i, ch in zip(members, own, strict=True):
                if ch and unicodedata.category(ch).startswith("M") and ch in rest:
                    texts[i] = ch
                    rest = rest.replace(ch, "", 1)
                else:
                    bases.append(i)
            for n, i in enumerate(bases):
                texts[i] = rest if n == 0 else (own[members.index(i)] or "\u200b")
            if not bases:
                continue
            members = bases[:1]
        if run.rtl and len(texts[members[0]]) > 1:
            # A right-to-left ligature (lam-alef): extractors read each glyph's
            # characters in drawing direction, as poppler and pdf.js do, so the
            # mapping is stored in visual order or "على" would come out as "عىل".
            texts[members[0]] = texts[members[0]][::-1]
    return texts


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _cmap_char(font: EmbeddedFont, gid: int) -> str:
    chars = [c for c in font.face.glyphToChar.get(gid, ()) if c < 0xF0000]
    return chr(chars[0]) if chars else ""


def _split(font: EmbeddedFont, glyphs: list[_Placed], doc: object) -> list[tuple[str, bytes]]:
    """(PDF font resource name, one-byte codes) per ReportLab subset, in order."""
    return [
        (font.getSubsetInternalName(subset, doc), data)
        for subset, data in font.splitString("".join(g.char for g in glyphs), doc)
    ]


def _font(name: str) -> EmbeddedFont:
    font = pdfmetrics.getFont(name)
    assert isinstance(font, EmbeddedFont)
    return font
