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
- Right-to-left lines: PDFium returns them in visual order (left to right on the
  page). Each extracted line holding right-to-left letters is put back into logical
  order with the Unicode Bidirectional Algorithm (python-bidi, rule L2 applied
  again: for the levels our lines have, reordering is its own inverse).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

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

    def detail(self) -> str:
        """The PREMIS event detail for the bag."""
        return (
            f"text of the PDF/A copy read back with {self.extractor}: {self.words} words, "
            "identical to the statement's derived text"
        )


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
    return "".join(ch for ch in text if ch not in INVISIBLE and ch != "\ufeff")


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

    No mirroring (L4): ToUnicode already gives a mirrored bracket's own character.
    """
    from bidi import algorithm as uba

    storage = uba.get_empty_storage()
    storage["base_level"] = 1 if base_rtl else 0
    storage["base_dir"] = "R" if base_rtl else "L"
    uba.get_embedding_levels(line, storage, False, False)
    uba.explicit_embed_and_overrides(storage, False)
    uba.resolve_weak_types(storage, False)
    uba.resolve_neutral_types(storage, False)
    uba.resolve_implicit_levels(storage, False)
    uba.reorder_resolved_levels(storage, False)
    return "".join(str(c["ch"]) for c in storage["chars"])


def read_back(pdf: bytes, boxes: Sequence[Box], base_rtl: bool) -> list[Page]:
    """The words PDFium reads in each page's body box, lines in logical order."""
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
                visual = _rtl(text)
                if visual:
                    text = _visual_lines(textpage, box)
            finally:
                textpage.close()
                page.close()
            found: list[str] = []
            for line in text.replace("\r\n", "\n").split("\n"):
                line = _clean(line)
                if _rtl(line):
                    line = _logical(line, base_rtl)
                found += _words(line)
            pages.append(Page(found, visual))
        return pages
    finally:
        document.close()


def _visual_lines(textpage: object, box: Box) -> str:
    """The body box's text rebuilt from PDFium's characters: lines by baseline, each in
    visual order (left to right), one line per "\n".

    PDFium's own text order is visual on right-to-left lines but breaks a line where
    a raised mark moved the pen, misplaces the space before a number, and gives a
    ligature's characters (lam-alef) in logical order inside the visual line. So
    the characters are taken with their origins and advance boxes and ordered here:
    a gap wider than a tenth of the font size between advance boxes is a space; the
    characters of one glyph (the same box) are reversed so that the bidi reordering
    of the whole line puts every letter back in place.
    """
    import ctypes

    import pypdfium2.raw as raw

    left, bottom, right, top = box
    text: str = textpage.get_text_range()  # type: ignore[attr-defined]
    handle = textpage.raw  # type: ignore[attr-defined]
    charbox = textpage.get_charbox  # type: ignore[attr-defined]
    x, y = ctypes.c_double(), ctypes.c_double()
    chars: list[tuple[float, float, float, float, int, str]] = []
    for index, ch in enumerate(text):
        if ch.isspace() or raw.FPDFText_IsGenerated(handle, index) == 1:
            continue
        raw.FPDFText_GetCharOrigin(handle, index, ctypes.byref(x), ctypes.byref(y))
        if not (bottom <= y.value <= top and left <= x.value <= right):
            continue
        x0, _b, x1, _t = charbox(index, loose=True)
        size = raw.FPDFText_GetFontSize(handle, index)
        chars.append((-y.value, x0, x1, size, index, ch))
    chars.sort()
    lines: list[list[tuple[float, float, float, float, int, str]]] = []
    for char in chars:
        if lines and char[0] - lines[-1][0][0] < _SAME_LINE:
            lines[-1].append(char)
        else:
            lines.append([char])
    out: list[str] = []
    for line in lines:
        line.sort(key=lambda c: (c[1], c[4]))
        groups: list[list[str]] = []
        reach = float("-inf")
        previous: tuple[float, float] | None = None
        for _negy, x0, x1, size, _index, ch in line:
            if groups and previous == (x0, x1) and x1 > x0:
                groups[-1].append(ch)
                continue
            if groups and x0 - reach > 0.1 * size:
                groups.append([" "])
            groups.append([ch])
            reach = max(reach, x1)
            previous = (x0, x1)
        out.append("".join("".join(g[::-1]) for g in groups))
    return "\n".join(out)


#: Baselines closer than this (points) are one line: a mark raised or lowered by the
#: shaper stays on its letter's line; lines of the copy are 13 points apart or more.
_SAME_LINE = 6.0


@dataclass(frozen=True)
class Page:
    """The words read from one page's body, and whether its lines were reordered."""

    words: list[str]
    #: Right-to-left text on the page: read from characters and reordered, brackets
    #: compared without their direction (PDFium mirrors them on such lines).
    visual: bool


def _unmirror(word: str) -> str:
    from bidi.mirror import MIRRORED

    return "".join(min(ch, MIRRORED.get(ch, ch)) for ch in word)


def compare(expected: list[str], pages: list[Page]) -> str | None:
    """None if the pages give back ``expected`` in order, else the first difference."""
    want_marks = _marks(expected)
    got_marks = _marks([w for page in pages for w in page.words])
    want = [_strip(w) for w in expected]
    found: list[tuple[str, int]] = []
    for n, page in enumerate(pages, 1):
        for w in page.words:
            word = _strip(w)
            if word:
                found.append((word, n))
    if any(page.visual for page in pages):
        # which words fall on those pages is not known before matching: fold both sides
        # where any page was read visually (a statement with right-to-left text)
        want = [_unmirror(w) for w in want]
        found = [(_unmirror(w), n) for w, n in found]
    i = j = 0
    while i < len(want):
        if j >= len(found):
            at = found[-1][1] if found else 1
            return f"word {i + 1}: expected {want[i]!r}, found the end of the text (page {at})"
        word, at = found[j]
        if word != want[i]:
            # a word cut at a line end (no hyphen is ever added): join its pieces
            joined, k = word, j
            while joined != want[i] and want[i].startswith(joined) and k + 1 < len(found):
                k += 1
                joined += found[k][0]
            if joined != want[i]:
                return f"word {i + 1}: expected {want[i]!r}, found {word!r} (page {at})"
            j = k
        i += 1
        j += 1
    if j < len(found):
        word, at = found[j]
        return f"word {i + 1}: expected the end of the text, found {word!r} (page {at})"
    if want_marks != got_marks:
        diff = (want_marks - got_marks) or (got_marks - want_marks)
        ch = next(iter(diff))
        which = "missing" if want_marks - got_marks else "added"
        return f"combining mark U+{ord(ch):04X} {unicodedata.name(ch, '')} {which}"
    return None


def _strip(word: str) -> str:
    if word.isascii():
        return word
    return "".join(ch for ch in word if not _is_mark(ch))


def _marks(words: list[str]) -> Counter[str]:
    return Counter(ch for w in words if not w.isascii() for ch in w if _is_mark(ch))


def check_copy(pdf: bytes, lines: Sequence[str], boxes: Sequence[Box], base_rtl: bool) -> SelfCheck:
    """Raise CopyDiffers naming the first difference; else say what was checked."""
    expected = expected_words(lines)
    difference = compare(expected, read_back(pdf, boxes, base_rtl))
    if difference is not None:
        raise CopyDiffers(
            f"the PDF/A copy does not read back as the statement's text: {difference}"
        )
    return SelfCheck(extractor_name(), len(expected))
