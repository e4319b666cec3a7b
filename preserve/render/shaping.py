"""Turn a paragraph's text into shaped words: bidi levels, font runs, HarfBuzz glyphs.

ReportLab's own right-to-left support needs ``rlbidi``, which is not installable
from PyPI, so bidi levels come from python-bidi's reference algorithm and shaping
from uharfbuzz directly. Words are shaped one at a time (and cached): joining and
kerning never cross a space, and the same words recur on every page.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

import uharfbuzz as hb
from bidi import algorithm as uba

from preserve.render.fonts import INVISIBLE, Family, cmap_of, family_for, font_file

_RTL_TYPES = frozenset({"R", "AL", "RLE", "RLO", "RLI"})
_STRONG = {"L": 0, "R": 1, "AL": 1}


@dataclass(frozen=True)
class Glyph:
    """One glyph: id, advance and offset in font units (1000 per em for every vendored font)."""

    gid: int
    advance: int
    dx: int
    dy: int
    cluster: int


@dataclass(frozen=True, eq=False)
class Run:
    """Characters of one font and one bidi level, shaped; glyphs are in drawing order."""

    text: str
    family: Family
    bold: bool
    level: int
    glyphs: tuple[Glyph, ...]
    #: Width in font units; multiply by size / 1000 for points.
    units: int

    @property
    def rtl(self) -> bool:
        return self.level % 2 == 1

    def _key(self) -> tuple[str, str, bool, int]:
        return (self.text, self.family.name, self.bold, self.level)

    # Runs are cache keys when drawing; the glyphs follow from the text, font and level,
    # so hashing those is enough and much cheaper than hashing every glyph.
    def __hash__(self) -> int:
        return hash(self._key())

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Run) and self._key() == other._key() and self.glyphs == other.glyphs
        )


@dataclass(frozen=True)
class Word:
    """A piece of text between spaces, as runs in logical order, plus the space after it."""

    runs: tuple[Run, ...]
    units: int
    #: The whitespace that followed the word ("" at the end of the paragraph, "\n" for
    #: a forced line break), and the bidi level of that space.
    space: str
    space_level: int


def base_level(text: str, default: int) -> int:
    """Paragraph direction by the first strong character (UBA P2/P3), else ``default``."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in _STRONG:
            return _STRONG[kind]
    return default


def levels(text: str, base: int) -> list[int]:
    """Resolved embedding level of every character (UBA X1-I2)."""
    if base == 0 and not any(unicodedata.bidirectional(ch) in _RTL_TYPES for ch in text):
        return [0] * len(text)
    storage = uba.get_empty_storage()
    storage["base_level"] = base
    storage["base_dir"] = ("L", "R")[base]
    uba.get_embedding_levels(text, storage, False, False)
    uba.explicit_embed_and_overrides(storage, False)
    uba.resolve_weak_types(storage, False)
    uba.resolve_neutral_types(storage, False)
    uba.resolve_implicit_levels(storage, False)
    return [int(c["level"]) for c in storage["chars"]]


@cache
def _hb_font(family: Family, bold: bool) -> hb.Font:
    blob = hb.Blob.from_file_path(str(font_file(family, bold)))
    return hb.Font(hb.Face(blob))


@cache
def glyph_advance(family: Family, bold: bool, gid: int) -> int:
    """The glyph's advance in the font's hmtx (what the PDF /Widths must say)."""
    return int(_hb_font(family, bold).get_glyph_h_advance(gid))


@lru_cache(maxsize=1 << 16)
def shape(text: str, family: Family, bold: bool, rtl: bool, language: str | None) -> Run:
    """Shape one run with HarfBuzz; glyphs come back in left-to-right drawing order."""
    buf = hb.Buffer()
    buf.add_str(text)
    buf.guess_segment_properties()
    buf.direction = "rtl" if rtl else "ltr"
    if language:
        buf.language = language
    buf.cluster_level = hb.BufferClusterLevel.MONOTONE_CHARACTERS
    hb.shape(_hb_font(family, bold), buf, {"kern": True, "liga": True})
    glyphs = tuple(
        Glyph(info.codepoint, pos.x_advance, pos.x_offset, pos.y_offset, info.cluster)
        for info, pos in zip(buf.glyph_infos, buf.glyph_positions, strict=True)
    )
    return Run(text, family, bold, 1 if rtl else 0, glyphs, sum(g.advance for g in glyphs))


def _family(ch: str, bold: bool, previous: tuple[Family, bool] | None) -> tuple[Family, bool]:
    """Font for one character: marks and neutrals stay in the font of the letters before them."""
    if (
        previous is not None
        and not unicodedata.category(ch).startswith("L")
        and ord(ch) in _covers(*previous)
    ):
        return previous
    found = family_for(ch, bold)
    if found is not None:
        return found, bold
    found = family_for(ch, not bold)
    if found is None:  # coverage is checked before layout, so this is a programming error
        raise AssertionError(f"no font for U+{ord(ch):04X}")
    return found, not bold


@cache
def _covers(family: Family, bold: bool) -> frozenset[int]:
    return cmap_of(family, bold)


@lru_cache(maxsize=1 << 16)
def _word(
    chars: str, lv: tuple[int, ...], bold: bool, language: str | None
) -> tuple[tuple[Run, ...], int]:
    """Split one word into runs of one font and one level, and shape each."""
    pieces: list[tuple[str, tuple[Family, bool], int]] = []
    previous: tuple[Family, bool] | None = None
    for ch, level in zip(chars, lv, strict=True):
        font = _family(ch, bold, previous)
        previous = font
        if pieces and pieces[-1][1] == font and pieces[-1][2] == level:
            pieces[-1] = (pieces[-1][0] + ch, font, level)
        else:
            pieces.append((ch, font, level))
    runs: list[Run] = []
    for text, (family, weight), level in pieces:
        run = shape(text, family, weight, level % 2 == 1, language)
        if run.level != level:  # nested levels (digits inside RTL inside LTR) keep their depth
            run = Run(run.text, run.family, run.bold, level, run.glyphs, run.units)
        runs.append(run)
    return tuple(runs), sum(r.units for r in runs)


def _cut(
    text: str,
    lv: list[int],
    start: int,
    end: int,
    bold: bool,
    language: str | None,
    max_units: float,
    space: str,
    after: int,
) -> list[Word]:
    """Pieces of an over-long word, each as wide as fits; never split before a mark."""
    pieces: list[Word] = []
    a = start
    while a < end:
        best: tuple[int, tuple[Run, ...], int] | None = None
        for b in range(a + 1, end + 1):
            if b < end and unicodedata.category(text[b]).startswith("M"):
                continue
            runs, units = _word(text[a:b], tuple(lv[a:b]), bold, language)
            if units > max_units and best is not None:
                break
            best = (b, runs, units)
        assert best is not None
        b, runs, units = best
        last = b >= end
        pieces.append(Word(runs, units, space if last else "", after if last else lv[b]))
        a = b
    return pieces


def words(
    text: str, *, bold: bool, base: int, language: str | None, max_units: float | None = None
) -> list[Word]:
    """Split a paragraph into shaped words (logical order), keeping forced line breaks.

    A word wider than ``max_units`` (a long URL) is cut into pieces that each fit a line.
    """
    text = "".join(ch for ch in text if ch not in INVISIBLE)
    lv = levels(text, base)
    out: list[Word] = []
    i, n = 0, len(text)
    while i < n:
        j = i
        while j < n and not text[j].isspace():
            j += 1
        k = j
        while k < n and text[k].isspace():
            k += 1
        space = "\n" if "\n" in text[j:k] else (" " if k > j else "")
        if j > i:
            after = lv[j] if j < n else base
            runs, units = _word(text[i:j], tuple(lv[i:j]), bold, language)
            if max_units is not None and units > max_units:
                out += _cut(text, lv, i, j, bold, language, max_units, space, after)
            else:
                out.append(Word(runs, units, space, after))
        elif out and space:
            last = out[-1]
            if space == "\n":
                out[-1] = Word(last.runs, last.units, "\n", last.space_level)
        i = k
    return out
