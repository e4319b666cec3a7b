"""The text of a PDF as a reader sees it: body in reading order, page furniture apart.

Two ways in, chosen by the file:

- **Tagged PDF** (PDF/UA, PDF/A-2a, our own preservation copies): the structure tree
  (read with pikepdf) says which marked content is a heading, a paragraph or a list
  item, and in which order; PDFium gives each character's marked-content id
  (MCID), so the text is assembled element by element. Content marked
  ``/Artifact`` (running headers, footers, page numbers) is page furniture, and the
  first ``H1``/``Title`` element is the title. If any text on a page is neither an
  artifact nor reachable from the tree, the tree is incomplete and the layout is read.
- **Untagged PDF**: PDFium's text, line by line, with a blank line where the page
  leaves space (:func:`preserve.inputs.ocr.paragraphs_by_spacing`). A line repeated
  at the same place in the top or bottom quarter of every page (a letterhead, a
  footer with the address, "Page 2 of 3" with its digits masked), or of every page
  but the first (a running header under a first-page letterhead), is page furniture.

Page furniture is never dropped silently: it is returned in :attr:`PdfText.left_out`
and recorded by the caller with the code :data:`FURNITURE`. Lines in the top or
bottom band of a single page cannot be told from the letter by repetition; they
are returned in :attr:`PdfText.margins` so the caller can refuse them as title or
signer (a wrong value is worse than none).
"""

from __future__ import annotations

import ctypes
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pikepdf
import pypdfium2
import pypdfium2.raw as pdfium_c

from preserve.inputs import ocr as _ocr
from preserve.inputs.wordproc import join_blocks

#: Note code: lines of page furniture (artifacts, repeated headers/footers) left out.
FURNITURE = "pdf.page-furniture"
#: A line this close (points) to the same place on every page is at "the same position".
SAME_PLACE = 3.0
#: Repeated furniture sits in this top or bottom share of the page.
FURNITURE_BAND = 0.25
#: A running header on every page but the first sits in this top or bottom share.
RUNNING_BAND = 0.12
#: On a page with nothing to compare with, lines in this top / bottom share are margins
#: (a letterhead band, a footer with the address): above a one-inch margin on A4
#: (63 pt), below 50 pt from the foot, where a letter's own text does not start.
TOP_MARGIN = 0.075
BOTTOM_MARGIN = 0.06

#: Runs on one line further apart than this (points) are side-by-side columns.
COLUMN_GAP = 28.0

#: Structure types that are one block of text each (PDF 1.7 §14.8.4), with their kind
#: for :func:`preserve.inputs.wordproc.join_blocks`.
_BLOCKS = {
    "P": "p", "H": "h", "H1": "h", "H2": "h", "H3": "h", "H4": "h", "H5": "h", "H6": "h",
    "Title": "h", "LI": "li", "Caption": "p", "TD": "p", "TH": "p", "BlockQuote": "p",
    "Note": "p", "Code": "p", "Formula": "p", "TOCI": "li", "BibEntry": "p",
}  # fmt: skip
#: A line of the page: (top, bottom, text), y growing down the page.
Line = tuple[float, float, str]
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class PdfText:
    """What :func:`read_text` found in a PDF."""

    #: The body text, pages in order, paragraphs separated by a blank line.
    text: str
    #: Each page's body text ("" for a page with no text layer: a scanned page).
    pages: tuple[str, ...]
    #: Page furniture left out of ``text``, line by line, each once, in page order.
    left_out: tuple[str, ...] = ()
    #: The first ``Title`` element's text, else the first ``H1``'s, when the PDF is tagged.
    title: str | None = None
    #: Lines in the top or bottom band of a page that nothing shows to be furniture.
    margins: tuple[str, ...] = ()
    #: How the text was read: ``structure tree`` or ``layout``.
    how: str = "layout"
    #: Pages (0-based) with no text layer: scanned pages of a mixed PDF, to be OCRed.
    empty_pages: tuple[int, ...] = field(default=())


def clean(text: str) -> str:
    """PDFium's text with LF line ends and no STX (its mark for a hyphen it joined)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x02", "")


def read_text(data: bytes) -> PdfText:
    """The text of a PDF (see the module's docstring); raises ``pypdfium2.PdfiumError``."""
    doc = pypdfium2.PdfDocument(data)
    try:
        # Marked content is read only where the catalogue says the PDF is tagged, and
        # the layout only where the structure tree does not give the text.
        if pdfium_c.FPDFCatalog_IsTagged(doc.raw):
            pages = [_read_page(doc, index, marked=True) for index in range(len(doc))]
            tagged = _tagged_text(data, pages)
            if tagged is not None:
                return tagged
        pages = [_read_page(doc, index, marked=False) for index in range(len(doc))]
    finally:
        doc.close()
    return _layout_text(pages)


# --------------------------------------------------------------------------- PDFium


@dataclass
class _Page:
    height: float
    #: PDFium's own text of the page.
    plain: str
    lines: list[Line]
    #: The runs of each line: (left, right, text), in PDFium's order.
    pieces: list[list[tuple[float, float, str]]]
    #: Text of each marked-content id on the page, in content order.
    by_mcid: dict[int, str]
    #: Lines of artifact content.
    artifacts: list[str]
    #: Characters of text neither marked as an artifact nor given an MCID.
    unmarked: int


def _read_page(doc: pypdfium2.PdfDocument, index: int, marked: bool) -> _Page:
    """A page's text; with ``marked`` its marked content, else its lines and their runs."""
    page = doc[index]
    textpage = page.get_textpage()
    try:
        plain = clean(textpage.get_text_bounded())
        if marked:
            by_mcid, artifacts, unmarked = _marked_content(textpage)
            return _Page(page.get_height(), plain, [], [], by_mcid, artifacts, unmarked)
        lines, pieces = _page_lines(textpage, page.get_height())
        return _Page(page.get_height(), plain, lines, pieces, {}, [], 0)
    finally:
        textpage.close()
        page.close()


def _page_lines(
    textpage: pypdfium2.PdfTextPage, height: float
) -> tuple[list[Line], list[list[tuple[float, float, str]]]]:
    """(top, bottom, text) of each line PDFium finds (runs on one baseline joined), and its runs."""
    lines: list[Line] = []
    pieces: list[list[tuple[float, float, str]]] = []
    for index in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(index)
        text = clean(textpage.get_text_bounded(left, bottom, right, top)).strip()
        if not text:
            continue
        top_down, bottom_down = height - top, height - bottom
        if lines and top_down < lines[-1][1] and bottom_down > lines[-1][0]:  # same line
            last_top, last_bottom, last_text = lines[-1]
            lines[-1] = (
                min(last_top, top_down),
                max(last_bottom, bottom_down),
                f"{last_text} {text}",
            )
            pieces[-1].append((left, right, text))
        else:
            lines.append((top_down, bottom_down, text))
            pieces.append([(left, right, text)])
    return lines, pieces


_ARTIFACT = -2
_UNMARKED = -1


def _marked_content(textpage: pypdfium2.PdfTextPage) -> tuple[dict[int, str], list[str], int]:
    """Each character's MCID (or artifact mark), grouped: (by MCID, artifact lines, unmarked).

    Characters PDFium adds between runs (spaces, line ends) have no text object; they
    belong to the run before them.
    """
    raw = textpage.raw
    owner: dict[int | None, int] = {}
    chunks: dict[int, list[str]] = {}
    current = _UNMARKED
    for index in range(textpage.count_chars()):
        obj = pdfium_c.FPDFText_GetTextObject(raw, index)
        char = chr(pdfium_c.FPDFText_GetUnicode(raw, index))
        if obj:
            key = ctypes.c_void_p.from_buffer(obj).value  # the address (faster than cast)
            if key not in owner:
                owner[key] = _mark_of(obj)
            current = owner[key]
        chunks.setdefault(current, []).append(char)
    artifacts = clean("".join(chunks.pop(_ARTIFACT, [])))
    unmarked = "".join(chunks.pop(_UNMARKED, []))
    by_mcid = {mcid: clean("".join(chars)) for mcid, chars in chunks.items()}
    lines = [line.strip() for line in artifacts.split("\n") if line.strip()]
    return by_mcid, lines, len("".join(unmarked.split()))


def _mark_of(obj: object) -> int:
    """The object's MCID, :data:`_ARTIFACT` inside ``/Artifact`` content, else unmarked."""
    for number in range(pdfium_c.FPDFPageObj_CountMarks(obj)):
        if _mark_name(pdfium_c.FPDFPageObj_GetMark(obj, number)) == "Artifact":
            return _ARTIFACT
    mcid = int(pdfium_c.FPDFPageObj_GetMarkedContentID(obj))
    return mcid if mcid >= 0 else _UNMARKED


def _mark_name(mark: object) -> str:
    length = ctypes.c_ulong()
    if not pdfium_c.FPDFPageObjMark_GetName(mark, None, 0, ctypes.byref(length)):
        return ""
    buffer = (ctypes.c_ushort * (length.value // 2 + 1))()
    pdfium_c.FPDFPageObjMark_GetName(mark, buffer, length.value, ctypes.byref(length))
    return bytes(buffer)[: length.value].decode("utf-16-le", "replace").rstrip("\0")


# --------------------------------------------------------------------------- tagged


@dataclass
class _Block:
    kind: str
    #: 2 for a ``Title`` element, 1 for ``H1``, 0 for anything else.
    title: int
    #: (page index, MCID, joins the next piece with a space: a list label).
    pieces: list[tuple[int, int, bool]] = field(default_factory=list)


def _tagged_text(data: bytes, pages: list[_Page]) -> PdfText | None:
    """The text read through the structure tree, or None when the tree cannot be trusted."""
    if any(page.unmarked for page in pages) or not any(page.by_mcid for page in pages):
        return None
    try:
        blocks = _structure_blocks(data)
    except (pikepdf.PdfError, AttributeError, KeyError, TypeError, ValueError, RecursionError):
        return None
    if not blocks:
        return None
    used: set[tuple[int, int]] = set()
    out: list[tuple[str, str]] = []
    title: str | None = None
    rank = 0
    for block in blocks:
        text = ""
        for number, mcid, label in block.pieces:
            piece = pages[number].by_mcid.get(mcid, "").strip() if number < len(pages) else ""
            used.add((number, mcid))
            if piece:
                text += piece + (" " if label else "\n")
        text = text.strip()
        if not text:
            continue
        out.append((block.kind, text))
        if block.title > rank:  # the first Title element, else the first H1
            title, rank = " ".join(text.split()), block.title
    for index, page in enumerate(pages):
        if any((index, mcid) not in used and text.strip() for mcid, text in page.by_mcid.items()):
            return None  # marked text no element claims: the tree is not the whole page
    left_out = _once(line for page in pages for line in page.artifacts)
    return PdfText(
        join_blocks(out),
        tuple(page.plain if page.plain.strip() else "" for page in pages),
        left_out,
        title,
        how="structure tree",
        empty_pages=tuple(i for i, page in enumerate(pages) if not page.plain.strip()),
    )


def _structure_blocks(data: bytes) -> list[_Block]:
    """The structure tree's text blocks in document order (pikepdf)."""
    import io

    with pikepdf.open(io.BytesIO(data)) as pdf:
        tree = pdf.Root.get("/StructTreeRoot")
        if not isinstance(tree, pikepdf.Dictionary) or "/K" not in tree:
            return []
        pages = {page.obj.objgen: index for index, page in enumerate(pdf.pages)}
        roles: dict[str, str] = {}
        role_map = tree.get("/RoleMap")
        if isinstance(role_map, pikepdf.Dictionary):
            roles = {str(k)[1:]: str(v)[1:] for k, v in role_map.items()}
        blocks: list[_Block] = []
        _walk(tree.K, None, None, roles, pages, blocks, 0)
        return blocks


def _kind(element: pikepdf.Dictionary, roles: dict[str, str]) -> str:
    name = str(element.get("/S", "/"))[1:]
    seen = 0
    while name in roles and name not in _BLOCKS and seen < 10:
        name, seen = roles[name], seen + 1
    return name


def _walk(
    node: object,
    block: _Block | None,
    page: int | None,
    roles: dict[str, str],
    pages: dict[tuple[int, int], int],
    blocks: list[_Block],
    depth: int,
    label: bool = False,
) -> None:
    if depth > 200:
        raise RecursionError("structure tree too deep")
    if isinstance(node, pikepdf.Array):
        for kid in node:
            _walk(kid, block, page, roles, pages, blocks, depth + 1, label)
        return
    if isinstance(node, int) and not isinstance(node, bool):
        _add(block, blocks, page, int(node), label)
        return
    if not isinstance(node, pikepdf.Dictionary):
        return
    where = node.get("/Pg")
    if isinstance(where, pikepdf.Dictionary) and where.objgen in pages:
        page = pages[where.objgen]
    kind_of = node.get("/Type")
    if kind_of == pikepdf.Name.MCR:
        _add(block, blocks, page, int(node.get("/MCID", -1)), label)
        return
    if kind_of == pikepdf.Name.OBJR or "/S" not in node:
        return
    kind = _kind(node, roles)
    if kind == "Artifact":
        return
    if block is None and kind in _BLOCKS:
        block = _Block(_BLOCKS[kind], {"Title": 2, "H1": 1}.get(kind, 0))
        blocks.append(block)
    if "/K" in node:
        _walk(node.K, block, page, roles, pages, blocks, depth + 1, label or kind == "Lbl")


def _add(
    block: _Block | None, blocks: list[_Block], page: int | None, mcid: int, label: bool
) -> None:
    if page is None or mcid < 0:
        return
    if block is None:  # marked content straight under a grouping element: its own paragraph
        block = _Block("p", 0)
        blocks.append(block)
    block.pieces.append((page, mcid, label))


# --------------------------------------------------------------------------- layout


def _layout_text(pages: list[_Page]) -> PdfText:
    """PDFium's text, with lines repeated at one place on every page taken out as furniture."""
    furniture = _repeated(pages) if len(pages) > 1 else set()
    texts: list[str] = []
    left: list[str] = []
    margins: list[str] = []
    for page in pages:
        kept = [n for n, line in enumerate(page.lines) if _key(page, line) not in furniture]
        gone = [line[2] for line in page.lines if _key(page, line) in furniture]
        left += gone
        lines = [page.lines[n] for n in kept]
        plain = "\n".join(x for x in page.plain.split("\n") if x.strip() not in set(gone))
        spaced = _ocr.paragraphs_by_spacing([_columns(lines, [page.pieces[n] for n in kept])])
        # Spacing adds blank lines and columns are read one after the other; if any
        # character is added or lost, PDFium's own text wins.
        same = Counter("".join(spaced.split())) == Counter("".join(plain.split()))
        texts.append((spaced if same else plain).strip("\n") if plain.strip() else "")
        margins += [
            text
            for top, bottom, text in lines
            if top < TOP_MARGIN * page.height or bottom > (1 - BOTTOM_MARGIN) * page.height
        ]
    return PdfText(
        "\n\n".join(text for text in texts if text),
        tuple(texts),
        _once(left),
        None,
        _once(margins),
        "layout",
        tuple(i for i, text in enumerate(texts) if not text),
    )


def _split(pieces: list[tuple[float, float, str]]) -> list[tuple[float, str]]:
    """A line's runs grouped into columns: a gap wider than :data:`COLUMN_GAP` parts them."""
    columns: list[tuple[float, float, str]] = []
    for left, right, text in sorted(pieces):
        if columns and left - columns[-1][1] <= COLUMN_GAP:
            start, _end, joined = columns[-1]
            columns[-1] = (start, max(right, _end), f"{joined} {text}")
        else:
            columns.append((left, right, text))
    return [(start, text) for start, _end, text in columns]


def _columns(lines: list[Line], pieces: list[list[tuple[float, float, str]]]) -> list[Line]:
    """Lines with side-by-side blocks (two signatures, two columns) read column by column.

    Two or more consecutive lines parted into the same number of columns starting at
    the same places are one group: each column's lines are read in turn, a blank line
    between columns, so "Anna Smith    Tom Brown" over "Director    Chair" reads as
    two signatures, not one name "Anna Smith Tom Brown". The group is one entry
    (spanning its lines) for :func:`preserve.inputs.ocr.paragraphs_by_spacing`.
    """
    split = [_split(row) for row in pieces]
    out: list[Line] = []
    index = 0
    while index < len(lines):
        starts = [left for left, _text in split[index]]
        end = index + 1
        while (
            len(starts) > 1
            and end < len(lines)
            and len(split[end]) == len(starts)
            and all(
                abs(a - b) <= SAME_PLACE * 4
                for a, b in zip(starts, (x for x, _ in split[end]), strict=True)
            )
        ):
            end += 1
        if end - index < 2:
            out.append(lines[index])
            index += 1
            continue
        blocks = [
            "\n".join(split[row][column][1] for row in range(index, end))
            for column in range(len(starts))
        ]
        out.append((lines[index][0], lines[end - 1][1], "\n" + "\n\n".join(blocks) + "\n"))
        index = end
    return out


def _key(page: _Page, line: Line) -> tuple[str, bool]:
    """A line's text with digits masked, and whether it is in the top band."""
    return _DIGITS.sub("#", " ".join(line[2].split())), line[0] < page.height / 2


def _repeated(pages: list[_Page]) -> set[tuple[str, bool]]:
    """Lines in the top or bottom band found at the same place on every page with text.

    A letter of three pages or more often has its letterhead on the first page only
    and a running header ("Statement on …, page 2") on the others: a line repeated on
    every page after the first counts too.
    """
    with_text = [page for page in pages if page.lines]
    if len(with_text) < 2:
        return set()
    found = _on_every(with_text, FURNITURE_BAND)
    if len(with_text) >= 3:  # fewer pages to compare: a narrower band
        found |= _on_every(with_text[1:], RUNNING_BAND)
    return found


def _on_every(pages: list[_Page], band: float) -> set[tuple[str, bool]]:
    first = pages[0]
    found: set[tuple[str, bool]] = set()
    for line in first.lines:
        if band * first.height < line[0] and line[1] < (1 - band) * first.height:
            continue
        key = _key(first, line)
        if all(
            any(_key(page, other) == key and abs(other[0] - line[0]) <= SAME_PLACE
                for other in page.lines)
            for page in pages[1:]
        ):  # fmt: skip
            found.add(key)
    return found


def _once(lines: Iterator[str] | list[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for line in lines:
        seen.setdefault(" ".join(line.split()), None)
    return tuple(seen)
