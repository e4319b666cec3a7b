"""Read the finished copy back with an independent extractor and compare it word by word.

The layout, the fonts' ToUnicode maps and the PDF/A finishing all stand between the
statement's text and what a reader of the copy gets. After rendering, PDFium (the
engine of Chromium, through ``pypdfium2``; nothing of ReportLab, pikepdf or poppler)
extracts the text of each page's body box, and its word sequence must be the words
of the statement's derived text, in order. The header and footer band (metadata,
page numbers) lies outside the body box and is not read. A missing, added or moved
word fails the render with one line naming the first difference.

What is normalised, and why (nothing else, never punctuation):

- NFKC, and white space: the copy does not keep the text's own line breaks, and a
  character written in a compatibility form (an Arabic presentation form "ﻻ", the
  ligature "ﬁ") may come back as the characters it stands for.
- Layout controls (bidi marks, ZWJ/ZWNJ) are not drawn, so they are not compared.
- A word cut at the end of a line (a long URL; never with a hyphen) is joined back.
- PDFium's U+FFFE and U+0002 (its signs for a hyphen it saw at a line end, after
  which it joins the next line on) are read as "-" and a word break.
- Combining marks (Arabic vowel signs, tanwin) are compared as a multiset per
  statement, and the words without them in order: PDFium sometimes puts a mark
  raised above its letter on a line of its own.
- Right-to-left text: PDFium returns such lines in visual order (left to right on
  the page). A page with right-to-left letters is read from PDFium's characters,
  line by line (by baseline); each line must hold the next characters of the text.
  Its words are put back into logical order with the Unicode Bidirectional
  Algorithm (python-bidi, rule L2 applied again) and compared word for
  word; where that inverse is not exact (numbers and Latin words next to each other
  inside right-to-left text), the line is compared by its characters (as a
  multiset) and counted in ``SelfCheck.unordered_lines``: every character and the
  order of the lines are still checked, the order inside that line is not.
  Brackets on such pages are compared without their direction (PDFium mirrors them).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from preserve.errors import RenderError
from preserve.render.fonts import INVISIBLE

#: PDF points: (left, bottom, right, top) of a page's body box.
Box = tuple[float, float, float, float]


class CopyDiffers(RenderError):
    """The copy's text, read back, is not the statement's text (exit 1; nothing written)."""


@dataclass(frozen=True)
class SelfCheck:
    """The outcome of reading a rendered copy back: which extractor, how many words."""

    #: e.g. "PDFium 159.0.8149.0 (pypdfium2 5.15.2)".
    extractor: str
    #: Words of the derived text, all found in order.
    words: int
    #: Right-to-left lines whose characters were checked but not their order inside
    #: the line (the visual-to-logical inverse was not exact there).
    unordered_lines: int = 0

    def detail(self) -> str:
        """The PREMIS event detail for the bag."""
        detail = (
            f"text of the PDF/A copy read back with {self.extractor}: {self.words} words, "
            "identical to the statement's derived text"
        )
        if self.unordered_lines:
            detail += (
                f" ({self.unordered_lines} right-to-left lines with mixed runs compared "
                "by their characters, not their order inside the line)"
            )
        return detail


@cache
def extractor_name() -> str:
    """``PDFium 159.0.8149.0 (pypdfium2 5.15.2)``: which engine read the copy back."""
    import pypdfium2.version as v

    pdfium = ".".join(str(n) for n in v.PDFIUM_INFO.api_tag)
    return f"PDFium {pdfium} (pypdfium2 {v.PYPDFIUM_INFO.version})"


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch) in ("Mn", "Me")


def _rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)


def _clean(text: str) -> str:
    # PDFium marks a hyphen it found at the end of a line as U+FFFE (characters) or
    # U+0002 (bounded text, where it also joins the next line on): the line ended there
    text = text.replace("\ufffe", "- ").replace("\x02", "- ")
    text = unicodedata.normalize("NFC", text)
    # Format characters (soft hyphen, joiners, direction marks) draw nothing, and an
    # extractor may or may not give them back: compared on neither side.
    return "".join(ch for ch in text if ch not in INVISIBLE and unicodedata.category(ch) != "Cf")


def _words(text: str) -> list[str]:
    """Words in compatibility form (NFKC); a word stays one word even where its NFKC
    form has spaces (U+FDFA, an Arabic ligature of four words)."""
    out = []
    for word in text.split():
        folded = "".join(unicodedata.normalize("NFKC", word).split())
        if folded:
            out.append(folded)
    return out


def expected_words(lines: Sequence[str]) -> list[str]:
    """The words of the derived text's lines, in order, as the copy must give them back."""
    return [w for line in lines for w in _words(_clean(line))]


def _logical(line: str, base_rtl: bool) -> str:
    """A visually ordered line back in logical order (UBA rule L2 applied again).

    python-bidi's compiled ``get_display``; its mirroring (L4) does not matter, as
    brackets are compared without their direction on such pages.
    """
    import bidi

    return str(bidi.get_display(line, base_dir="R" if base_rtl else "L"))


def read_back(pdf: bytes, boxes: Sequence[Box], base_rtl: bool) -> list[Page]:
    """What PDFium reads in each page's body box: words, or lines of a visual page."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        pages: list[Page] = []
        for number, box in enumerate(boxes):
            page = document[number]
            textpage = page.get_textpage()
            try:
                left, bottom, right, top = box
                text = textpage.get_text_bounded(left=left, bottom=bottom, right=right, top=top)
                if _rtl(text):
                    rows = [
                        _words(_logical(_clean(row), base_rtl))
                        for row in _visual_lines(textpage, box).split("\n")
                    ]
                    pages.append(Page([w for row in rows for w in row], [r for r in rows if r]))
                else:
                    found: list[str] = []
                    for line in text.replace("\r\n", "\n").split("\n"):
                        found += _words(_clean(line))
                    pages.append(Page(found))
            finally:
                textpage.close()
                page.close()
        return pages
    finally:
        document.close()


def _visual_lines(textpage: object, box: Box) -> str:
    """The body box's text rebuilt from PDFium's characters: lines by baseline, each in
    visual order (left to right), one line per "\n".

    PDFium's own text order is visual on right-to-left lines but breaks a line where
    a raised mark moved the pen, misplaces the space before a number, and gives a
    ligature's characters (lam-alef) in logical order inside the visual line. So
    the characters are taken with their advance ("loose") boxes and ordered here: a
    gap wider than a point between boxes is a space; the characters of one glyph (the
    same box) are reversed so that the bidi reordering of the whole line puts every
    letter back in place. Spaces PDFium generates from gaps are left out: the copy
    draws its spaces, and the gaps say where they are.
    """
    import ctypes

    import pypdfium2.raw as raw

    left, bottom, right, top = box
    text: str = textpage.get_text_range()  # type: ignore[attr-defined]
    handle = textpage.raw  # type: ignore[attr-defined]
    rect = raw.FS_RECTF()
    loose_box = raw.FPDFText_GetLooseCharBox
    where = ctypes.byref(rect)
    chars: list[tuple[float, float, float, int, str]] = []
    for index, ch in enumerate(text):
        if ch.isspace():  # PDFium's generated spaces and line ends, and drawn spaces
            continue
        loose_box(handle, index, where)
        middle = (rect.top + rect.bottom) / 2
        if bottom <= middle <= top and left <= rect.left <= right:
            chars.append((-middle, rect.left, rect.right, index, ch))
    chars.sort()
    lines: list[list[tuple[float, float, float, int, str]]] = []
    for char in chars:
        if lines and char[0] - lines[-1][0][0] < _SAME_LINE:
            lines[-1].append(char)
        else:
            lines.append([char])
    out: list[str] = []
    for line in lines:
        line.sort(key=lambda c: (c[1], c[3]))
        groups: list[list[str]] = []
        reach = float("-inf")
        previous: tuple[float, float] | None = None
        for _middle, x0, x1, _index, ch in line:
            if groups and previous == (x0, x1) and x1 > x0:
                groups[-1].append(ch)
                continue
            if groups and x0 - reach > _SPACE:
                groups.append([" "])
            groups.append([ch])
            reach = max(reach, x1)
            previous = (x0, x1)
        out.append(
            "".join("".join(g[::-1] if len(g) > 1 and _rtl("".join(g)) else g) for g in groups)
        )
    return "\n".join(out)


#: Lines whose character boxes' middles are closer than this (points) are one line: a
#: mark raised or lowered by the shaper stays on its letter's line, and fonts of
#: different ascent share a line; lines of the copy are 13 points apart or more.
_SAME_LINE = 6.0
#: A gap wider than this (points) between two characters' advance boxes is a space:
#: the narrowest word space of the copy is 80 % of 0.26 em at 9.5 pt (2 pt); inside a
#: word, advance boxes touch or overlap (kerning).
_SPACE = 1.0


@dataclass(frozen=True)
class Page:
    """The words read from one page's body; for a page read visually, its lines too."""

    words: list[str]
    #: Right-to-left text on the page: its lines (words in logical order as far as
    #: the inverse reordering goes), compared line by line.
    rows: list[list[str]] | None = None


@cache
def _mirror_table() -> dict[int, str]:
    from bidi.mirror import MIRRORED

    return {ord(ch): min(ch, other) for ch, other in MIRRORED.items()}


def _unmirror(word: str) -> str:
    """The word with each mirrored bracket folded to one of its pair."""
    return word.translate(_mirror_table())


@dataclass
class _Cursor:
    """Where the comparison stands in the expected words: word ``i``, character ``off``."""

    want: list[str]
    i: int = 0
    off: int = 0

    def rest(self) -> str:
        return self.want[self.i][self.off :]

    def take(self, count: int) -> list[str] | None:
        """The next ``count`` characters as (pieces of) words; None past the end."""
        out: list[str] = []
        while count > 0:
            if self.i >= len(self.want):
                return None
            piece = self.rest()[:count]
            out.append(piece)
            count -= len(piece)
            self.off += len(piece)
            if self.off >= len(self.want[self.i]):
                self.i, self.off = self.i + 1, 0
        return out


def compare(expected: list[str], pages: list[Page]) -> tuple[str | None, int]:
    """(None, lines compared unordered) if the pages give back ``expected`` in order,
    else (the first difference, 0)."""
    want_marks = _marks(expected)
    got_marks = _marks([w for page in pages for w in page.words])
    fold = _unmirror if any(page.rows is not None for page in pages) else str
    cursor = _Cursor([fold(_strip(w)) for w in expected])
    unordered = 0
    for n, page in enumerate(pages, 1):
        if page.rows is not None:
            for row in page.rows:
                found = [w for w in (fold(_strip(w)) for w in row) if w]
                start = cursor.i
                window = cursor.take(sum(len(w) for w in found))
                if window is None or Counter("".join(window)) != Counter("".join(found)):
                    shown = " ".join(cursor.want[start : start + max(len(found), 1)])
                    return (
                        f"word {start + 1}: expected {shown!r}, found {' '.join(found)!r} "
                        f"(page {n})"
                    ), 0
                if window != found:
                    unordered += 1
            continue
        words = [w for w in (fold(_strip(w)) for w in page.words) if w]
        j = 0
        while j < len(words):
            if cursor.i >= len(cursor.want):
                found_word = words[j]
                return (
                    f"word {cursor.i + 1}: expected the end of the text, "
                    f"found {found_word!r} (page {n})",
                    0,
                )
            target, first = cursor.rest(), words[j]
            joined = first
            # a word cut at a line end (no hyphen is ever added): join its pieces
            while joined != target and target.startswith(joined) and j + 1 < len(words):
                j += 1
                joined += words[j]
            cut_at_page_end = j + 1 == len(words) and target.startswith(joined)
            if joined != target and not cut_at_page_end:
                return f"word {cursor.i + 1}: expected {target!r}, found {first!r} (page {n})", 0
            cursor.take(len(joined))
            j += 1
    if cursor.i < len(cursor.want):
        return (
            f"word {cursor.i + 1}: expected {cursor.rest()!r}, found the end of the text "
            f"(page {len(pages) or 1})"
        ), 0
    if want_marks != got_marks:
        diff = (want_marks - got_marks) or (got_marks - want_marks)
        ch = next(iter(diff))
        which = "missing" if want_marks - got_marks else "added"
        return f"combining mark U+{ord(ch):04X} {unicodedata.name(ch, '')} {which}", 0
    return None, unordered


@lru_cache(maxsize=1 << 16)
def _strip(word: str) -> str:
    """The word without combining marks (compared apart, see the module docstring)."""
    if word.isascii():
        return word
    return "".join(ch for ch in word if not _is_mark(ch))


def _marks(words: list[str]) -> Counter[str]:
    return Counter(ch for w in words if not w.isascii() for ch in w if _is_mark(ch))


def check_copy(pdf: bytes, lines: Sequence[str], boxes: Sequence[Box], base_rtl: bool) -> SelfCheck:
    """Raise CopyDiffers naming the first difference; else say what was checked."""
    expected = expected_words(lines)
    difference, unordered = compare(expected, read_back(pdf, boxes, base_rtl))
    if difference is not None:
        raise CopyDiffers(
            f"the PDF/A copy does not read back as the statement's text: {difference}"
        )
    return SelfCheck(extractor_name(), len(expected), unordered)
