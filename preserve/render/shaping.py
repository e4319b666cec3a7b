"""Turn a paragraph's text into shaped words: bidi levels, font runs, HarfBuzz glyphs.

ReportLab's own right-to-left support needs ``rlbidi``, which is not installable
from PyPI, so bidi levels come from python-bidi's reference algorithm and shaping
from uharfbuzz directly. Words are shaped one at a time (and cached): joining and
kerning never cross a space, and the same words recur on every page.
"""

from __future__ import annotations

import bisect
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import uharfbuzz as hb
from bidi import algorithm as uba

from preserve.render.fonts import (
    FAMILIES,
    INVISIBLE,
    JOINERS,
    Family,
    attaches,
    cmap_of,
    family_for,
    font_file,
    subfont_of,
)
from preserve.render.linebreak import break_opportunities, needs_dictionary

#: Removed before shaping: bidi controls (their effect is the paragraph's levels).
#: Joiners stay, since they change how letters join and which forms are drawn.
_STRIPPED = INVISIBLE - JOINERS

_RTL_TYPES = frozenset({"R", "AL", "RLE", "RLO", "RLI"})
_STRONG = {"L": 0, "R": 1, "AL": 1}
#: Bidi classes that UBA rule X9 removes before resolving levels.
_X9_REMOVED = frozenset({"RLE", "LRE", "RLO", "LRO", "PDF", "BN"})


@dataclass(frozen=True)
class Glyph:
    """One glyph: id, advance and offset in units of 1/1000 em (fonts with another
    units-per-em, such as the CJK and emoji fonts, are scaled to it)."""

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
    """A piece of text between break opportunities, as runs in logical order, plus the
    space after it."""

    runs: tuple[Run, ...]
    units: int
    #: The whitespace that followed the word: " ", "\n" for a forced line break, or ""
    #: when nothing follows it: at the end of the paragraph, or where the word ends at a
    #: break opportunity inside unspaced text (Chinese, Thai), so the next word must be
    #: set directly after it with no gap. Also the bidi level of that space.
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
    """Resolved embedding level of every character (UBA X1-I2).

    Characters that rule X9 removes (joiners, explicit embeddings) take the level of
    the character before them (UBA's own advice for them), so the list stays one level
    per character of ``text``.
    """
    if base == 0 and not any(unicodedata.bidirectional(ch) in _RTL_TYPES for ch in text):
        return [0] * len(text)
    kept = [i for i, ch in enumerate(text) if unicodedata.bidirectional(ch) not in _X9_REMOVED]
    resolved = _resolve("".join(text[i] for i in kept), base)
    out = [base] * len(text)
    for i, level in zip(kept, resolved, strict=True):
        out[i] = level
    previous = base
    for i in range(len(text)):
        if unicodedata.bidirectional(text[i]) in _X9_REMOVED:
            out[i] = previous
        previous = out[i]
    return out


def _resolve(text: str, base: int) -> list[int]:
    if not text:
        return []
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
    font = hb.Font(hb.Face(blob, subfont_of(family)))
    font.scale = (1000, 1000)  # every advance in 1/1000 em, as PDF widths are
    return font


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
    marks = [attaches(ch) for ch in text]
    if any(marks) and not all(marks):
        # Joiners act during shaping and are then dropped (their text stays in the
        # cluster of a neighbouring glyph): a zero-width glyph of their own would be
        # drawn as a space-wide gap by PDF readers that trust the font's width table.
        # (A run of nothing else keeps them as hidden glyphs, so their text survives.)
        buf.flags = hb.BufferFlags.REMOVE_DEFAULT_IGNORABLES
    hb.shape(_hb_font(family, bold), buf, {"kern": True, "liga": True})
    glyphs = tuple(
        Glyph(info.codepoint, pos.x_advance, pos.x_offset, pos.y_offset, info.cluster)
        for info, pos in zip(buf.glyph_infos, buf.glyph_positions, strict=True)
    )
    return Run(text, family, bold, 1 if rtl else 0, glyphs, sum(g.advance for g in glyphs))


def _family(ch: str, bold: bool, previous: tuple[Family, bool] | None) -> tuple[Family, bool]:
    """Font for one character: marks and neutrals stay in the font of the letters before them."""
    if attaches(ch):  # HarfBuzz hides these in any font; they must not split a run
        if previous is not None:
            return previous
        return family_for(ch, bold) or FAMILIES[0], bold
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


def _advances(
    text: str, lv: list[int], start: int, end: int, bold: bool, language: str | None
) -> list[int]:
    """Cumulative advance before each character of ``text[start:end]`` (and after the last),
    from one shaping of the whole piece."""
    runs, _ = _word(text[start:end], tuple(lv[start:end]), bold, language)
    own = [0] * (end - start)
    offset = 0
    for run in runs:
        for g in run.glyphs:
            own[offset + g.cluster] += g.advance
        offset += len(run.text)
    cumulative = [0]
    for units in own:
        cumulative.append(cumulative[-1] + units)
    return cumulative


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
    """Pieces of an over-long word, each as wide as fits a line.

    In unspaced scripts the pieces end at line break opportunities (UAX #14 with CJK
    rules, dictionary breaks in Thai and Khmer); a piece wider than a line on its own
    (a long URL, a long Thai compound) is cut at a character boundary, never before a
    mark. Widths come from one shaping of the whole word and are checked by shaping
    each piece.
    """
    allowed: list[int] = []
    if needs_dictionary(text[start:end]):
        allowed = [start + i for i in break_opportunities(text[start:end], language)]
    cumulative = _advances(text, lv, start, end, bold, language)
    pieces: list[Word] = []
    a = start
    while a < end:
        b = _fit(text, lv, a, end, bold, language, max_units, allowed, cumulative, start)
        runs, units = _word(text[a:b], tuple(lv[a:b]), bold, language)
        last = b >= end
        pieces.append(Word(runs, units, space if last else "", after if last else lv[b]))
        a = b
    return pieces


def _fit(
    text: str,
    lv: list[int],
    a: int,
    end: int,
    bold: bool,
    language: str | None,
    max_units: float,
    allowed: list[int],
    cumulative: list[int],
    start: int,
) -> int:
    """The end of the widest piece from ``a`` that fits ``max_units`` (at least one cluster)."""

    def width(b: int) -> int:
        return cumulative[b - start] - cumulative[a - start]

    def fits(b: int) -> bool:
        return _word(text[a:b], tuple(lv[a:b]), bold, language)[1] <= max_units

    candidates = [b for b in allowed[bisect.bisect_right(allowed, a) :] if b <= end]
    if not candidates or candidates[-1] != end:
        candidates.append(end)
    # the last break opportunity whose estimated width fits, checked by shaping
    k = bisect.bisect_right(candidates, max_units, key=width) - 1
    while k >= 0 and not fits(candidates[k]):
        k -= 1
    if k >= 0:
        return candidates[k]
    # nothing fits whole: cut inside the first chunk at a character boundary
    limit = candidates[0]
    best = None
    for b in range(a + 1, limit + 1):
        if b < limit and unicodedata.category(text[b]).startswith("M"):
            continue
        if best is not None and width(b) > max_units:
            break
        best = b
    assert best is not None
    while best > a + 1 and not fits(best):
        previous = best - 1
        while previous > a + 1 and unicodedata.category(text[previous]).startswith("M"):
            previous -= 1
        best = previous
    return best


def words(
    text: str,
    *,
    bold: bool,
    base: int,
    language: str | None,
    max_units: float | None = None,
    breaks: Sequence[int] | None = None,
) -> list[Word]:
    """Split a paragraph into shaped words (logical order), keeping forced line breaks.

    Words end at whitespace and, when ``breaks`` is given, also at those offsets into
    ``text`` (e.g. ``linebreak.break_opportunities(text, language)``), so that Chinese
    or Thai without spaces can wrap between any two of its words: a word that ends at
    such an offset has ``space == ""`` and the line breaker must set the next word
    directly after it, with no gap, when both stay on one line. Without ``breaks``
    (the old behaviour) only a word wider than ``max_units`` is cut, into pieces that
    each fit a line, at break opportunities where the script has them.
    """
    cuts: frozenset[int] = frozenset(breaks or ())
    if not _STRIPPED.isdisjoint(text):
        keep = [i for i, ch in enumerate(text) if ch not in _STRIPPED]
        cuts = frozenset(bisect.bisect_left(keep, b) for b in cuts)
        text = "".join(text[i] for i in keep)
    lv = levels(text, base)
    out: list[Word] = []
    i, n = 0, len(text)
    while i < n:
        j = i
        while j < n and not text[j].isspace() and not (j > i and j in cuts):
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
