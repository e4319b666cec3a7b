"""Break shaped words into lines and write them as PDF text operators.

Lines are built in logical order and reordered for display per run (UBA rule L2).
Where what is drawn differs from the text (right-to-left order, joining forms,
ligatures), the line is wrapped in a /Span with /ActualText, so text extraction
gives the text in logical order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from reportlab.pdfgen.canvas import Canvas

from preserve.render.fonts import EmbeddedFont, ensure_registered
from preserve.render.shaping import Run, Word, glyph_advance

#: Width of an inter-word space, in font units (Noto Serif's space is 260/1000 em).
SPACE_UNITS = 260


import os
NO_RTL_ACTUALTEXT = bool(os.environ.get("NO_RTL_AT"))

class Align(Enum):
    START = "start"
    END = "end"
    CENTER = "center"
    JUSTIFY = "justify"


@dataclass(frozen=True)
class Line:
    """One line of a paragraph: its words in logical order and the paragraph direction."""

    words: tuple[Word, ...]
    base: int
    #: Last line of the paragraph or before a forced break: never justified.
    last: bool

    @property
    def units(self) -> int:
        return sum(w.units for w in self.words) + SPACE_UNITS * (len(self.words) - 1)

    @property
    def text(self) -> str:
        return " ".join("".join(r.text for r in w.runs) for w in self.words)


def break_lines(words: list[Word], width_units: float, base: int) -> list[Line]:
    """Greedy line breaking; a word wider than the line stands alone on its line."""
    lines: list[Line] = []
    current: list[Word] = []
    used = 0.0
    for word in words:
        extra = word.units + (SPACE_UNITS if current else 0)
        if current and used + extra > width_units:
            lines.append(Line(tuple(current), base, False))
            current, used = [], 0.0
            extra = word.units
        current.append(word)
        used += extra
        if word.space == "\n":
            lines.append(Line(tuple(current), base, True))
            current, used = [], 0.0
    if current:
        lines.append(Line(tuple(current), base, True))
    elif lines:
        lines[-1] = Line(lines[-1].words, base, True)
    return lines


@dataclass(frozen=True)
class _Item:
    level: int
    run: Run | None  # None: an inter-word space


def _visual(line: Line) -> list[_Item]:
    """The line's runs and spaces in display order (UBA L2)."""
    items: list[_Item] = []
    for i, word in enumerate(line.words):
        if i:
            items.append(_Item(line.words[i - 1].space_level, None))
        items += [_Item(run.level, run) for run in word.runs]
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
        if align is Align.JUSTIFY and not line.last and spaces and natural < width:
            gap += (width - natural) / spaces
            natural = width
        if align is Align.CENTER:
            x += (width - natural) / 2
        elif (align is Align.END) != rtl:
            x += width - natural
        ops: list[str] = []
        shown: list[str] = []
        pen = x
        for item in items:
            if item.run is None:
                pen += gap
                shown.append(" ")
                continue
            pen = self._run(item.run, pen, y, size, ops, shown)
        if not ops:
            return
        logical = line.text
        code = self.canvas._code
        if "".join(shown) != logical and not (NO_RTL_ACTUALTEXT and rtl):
            code.append(f"/Span <</ActualText {_hex_utf16(logical)}>> BDC")
            code.append("BT " + " ".join(ops) + " ET")
            code.append("EMC")
        else:
            code.append("BT " + " ".join(ops) + " ET")

    def _run(self, run: Run, pen: float, y: float, size: float, ops: list[str], shown: list[str]) -> float:
        name = ensure_registered(run.family, run.bold)
        font = _font(name)
        self.fonts_used.add(name)
        doc = self.canvas._doc
        scale = size / 1000
        clusters = sorted({g.cluster for g in run.glyphs})
        ends = {c: (clusters[i + 1] if i + 1 < len(clusters) else len(run.text)) for i, c in enumerate(clusters)}
        chars = []
        for g in run.glyphs:
            text = run.text[g.cluster : ends[g.cluster]]
            chars.append(font.code_for(g.gid, text, glyph_advance(run.family, run.bold, g.gid)))
        # naive extraction (what a reader without /ActualText support would get)
        shown.append("".join(font.private_text.get(ord(c), c) for c in chars))
        pieces = font.splitString("".join(chars), doc)
        index = 0
        for subset, data in pieces:
            fname = font.getSubsetInternalName(subset, doc)
            ops.append(f"{fname} {_num(size)} Tf")
            k = 0
            while k < len(data):
                g = run.glyphs[index]
                gx = pen + g.dx * scale
                gy = y + g.dy * scale
                ops.append(f"1 0 0 1 {_num(gx)} {_num(gy)} Tm")
                # a stretch of glyphs that need no offsets goes out as one string
                parts: list[str] = []
                cx = gx
                while k < len(data):
                    g = run.glyphs[index]
                    if g.dy * scale + y != gy:
                        break
                    target = pen + g.dx * scale
                    adjust = (cx - target) * 1000 / size
                    if abs(adjust) > 0.001:
                        parts.append(_num(adjust))
                    parts.append(f"<{data[k]:02X}>")
                    cx = target + glyph_advance(run.family, run.bold, g.gid) * scale
                    pen += g.advance * scale
                    index += 1
                    k += 1
                ops.append("[" + " ".join(parts) + "] TJ")
        return pen


def _font(name: str) -> EmbeddedFont:
    from reportlab.pdfbase import pdfmetrics

    font = pdfmetrics.getFont(name)
    assert isinstance(font, EmbeddedFont)
    return font
