"""Compose the pages of a statement: its own blocks, in received order, on A4.

The body of the page is the statement's derived text and nothing else: every line of
every block (:attr:`Statement.blocks`), in the order received. A block's kind (title,
dateline, paragraph, list, signature...) only chooses how its lines look. What the
archive knows from metadata (organization, date of issue, identifier, "page N of M")
is drawn only in a header and footer band outside the body box, as artifacts.

Layout happens before drawing, so the page count is known for "page N of M".
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from preserve.metadata import Metadata
from preserve.render.draw import Align, Line, Writer, break_lines, justify_lines
from preserve.render.fonts import FAMILIES, check_coverage, ensure_registered
from preserve.render.shaping import base_level, words
from preserve.render.tagging import StructNode, StructureBuilder
from preserve.statement import Block, BlockKind, Statement, list_marker, parse_text
from preserve.statement.signature import signature_text

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_X = 72.0  # 25.4 mm
MARGIN_TOP = 64.0
MARGIN_BOTTOM = 72.0
TEXT_WIDTH = PAGE_WIDTH - 2 * MARGIN_X
#: The body box, top-down: the header band sits above BODY_TOP on the first page, the
#: footer band below BODY_BOTTOM on every page. The self-check reads only this box.
BODY_TOP = MARGIN_TOP + 36
BODY_BOTTOM = PAGE_HEIGHT - MARGIN_BOTTOM - 8
#: Room for a list item's marker: the item's text starts this far in (hanging indent).
LIST_HANG = 22.0

RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur", "ps", "yi", "sd", "ug", "ku-arab", "dv"})


@dataclass(frozen=True)
class Style:
    size: float
    leading: float
    bold: bool = False
    align: Align = Align.START
    #: Space above the block, in points (not at the top of a page).
    before: float = 0.0
    gray: float = 0.0


LABEL = Style(9.5, 13, align=Align.CENTER, before=4, gray=0.35)
TITLE = Style(16, 21, bold=True, align=Align.CENTER, before=10)
DATELINE = Style(10.5, 14, gray=0.2, before=8)
BODY = Style(11, 15.5, align=Align.JUSTIFY, before=7)
HEADING = Style(11.5, 15.5, bold=True, before=14)
LINES = Style(11, 15, before=7)
LIST = Style(11, 15.5, align=Align.JUSTIFY, before=7)
CLOSING = Style(11, 15, before=18)
SIGNATURE = Style(11, 15, before=18)
SIGNATURE_NAME = Style(11, 15, bold=True, before=18)
BAND = Style(8.5, 11, gray=0.4)
FOOTER = Style(8, 10, gray=0.4)

STYLES: dict[BlockKind, Style] = {
    BlockKind.LABEL: LABEL,
    BlockKind.TITLE: TITLE,
    BlockKind.DATELINE: DATELINE,
    BlockKind.PARAGRAPH: BODY,
    BlockKind.HEADING: HEADING,
    BlockKind.LINES: LINES,
    BlockKind.LIST: LIST,
    BlockKind.CLOSING: CLOSING,
    BlockKind.SIGNATURE: SIGNATURE,
}
#: Structure type (tagged PDF) of each kind of block.
ROLES: dict[BlockKind, str] = {
    BlockKind.LABEL: "P",
    BlockKind.TITLE: "H1",
    BlockKind.DATELINE: "P",
    BlockKind.PARAGRAPH: "P",
    BlockKind.HEADING: "H2",
    BlockKind.LINES: "Div",
    BlockKind.LIST: "L",
    BlockKind.CLOSING: "P",
    BlockKind.SIGNATURE: "Div",
}
#: How a coverage error names where a character is.
WHERE: dict[BlockKind, str] = {
    BlockKind.LABEL: "the label",
    BlockKind.TITLE: "the title",
    BlockKind.DATELINE: "the dateline",
    BlockKind.PARAGRAPH: "paragraph",
    BlockKind.HEADING: "heading",
    BlockKind.LINES: "the lines of block",
    BlockKind.LIST: "list",
    BlockKind.CLOSING: "the closing",
    BlockKind.SIGNATURE: "the signature",
}


@dataclass(frozen=True)
class Tag:
    """Where a drawn line belongs in the structure tree.

    ``block`` numbers the statement's blocks; ``item`` a list item or a kept line
    inside the block; ``part`` is "Lbl" or "LBody" for a list item's marker and text.
    """

    block: int
    role: str
    item: int | None = None
    part: str | None = None


@dataclass(frozen=True)
class Placed:
    """A line with its position: baseline ``y`` (top-down), measure ``x``..``x + width``."""

    line: Line
    y: float
    style: Style
    tag: Tag
    x: float = MARGIN_X
    width: float = TEXT_WIDTH


@dataclass(frozen=True)
class Document:
    """What the pages show: the statement's blocks, plus the band's metadata."""

    blocks: tuple[Block, ...]
    language: str | None
    #: Paragraph direction of the whole statement (1 = right to left).
    base: int
    #: Signature lines the parser says are names (drawn bold); empty when it cannot
    #: say which lines are names, and then every signature line is drawn regular.
    names: frozenset[str]
    #: Band only, never the body.
    organization: str | None
    date_issued: str
    identifier: str


def _direction(language: str | None) -> int:
    primary = (language or "").lower().split("-")[0]
    return 1 if primary in RTL_LANGUAGES or (language or "").lower().endswith("-arab") else 0


def _names(statement: Statement) -> frozenset[str]:
    """The signers' names, when the parse gives every signer (``Statement.signers``).

    Bold for only the first signer of a joint statement would set one name apart
    from the others, so with a single ``signer_name`` nothing is bold.
    """
    signers = getattr(statement, "signers", None)
    if not signers:
        return frozenset()
    return frozenset(str(s.name) for s in signers if getattr(s, "name", None))


#: A block's structure element gets a /Lang of its own only when the classifier is
#: this sure and the block has this many letters: a wrong /Lang makes a screen reader
#: read a paragraph in the wrong voice, none makes it use the document's language.
BLOCK_LANG_CONFIDENCE = 0.95
BLOCK_LANG_MIN_LETTERS = 20


def block_language(block: Block, document: str | None) -> str | None:
    """The block's language where it surely differs from the document's, else None."""
    from preserve.statement.language import identify_language_confidence

    text = " ".join(block.lines)
    if sum(ch.isalpha() for ch in text) < BLOCK_LANG_MIN_LETTERS:
        return None
    tag, confidence = identify_language_confidence(text)
    if tag is None or confidence < BLOCK_LANG_CONFIDENCE:
        return None
    same = (document or "").lower().split("-")[0] == tag.lower().split("-")[0]
    return None if same else tag


def blocks_of(statement: Statement) -> tuple[Block, ...]:
    """The statement's blocks; a Statement built without them is parsed for them."""
    if statement.blocks or not statement.text.strip():
        return statement.blocks
    return parse_text(statement.text).blocks


def document_of(statement: Statement, metadata: Metadata) -> Document:
    """The body from the statement's own blocks; metadata only for the band."""
    language = metadata.language or statement.language
    blocks = blocks_of(statement)
    return Document(
        blocks=blocks,
        language=language,
        base=_direction(language) if language else base_level(statement.text, 0),
        names=_names(statement),
        organization=metadata.organization,
        date_issued=str(metadata.record["date_issued"]),
        identifier=metadata.identifier,
    )


def coverage_parts(doc: Document) -> list[tuple[str, str]]:
    """Every line of every block, named as a reader would find it, then the band."""
    parts: list[tuple[str, str]] = []
    counts: dict[BlockKind, int] = {}
    for block in doc.blocks:
        counts[block.kind] = counts.get(block.kind, 0) + 1
        where = WHERE[block.kind]
        if not where.startswith("the "):
            where = f"{where} {counts[block.kind]}"
        for n, line in enumerate(block.lines, 1):
            parts.append((where if len(block.lines) == 1 else f"{where} (line {n})", line))
    if doc.organization:
        parts.append(("the organization", doc.organization))
    parts.append(("the identifier", doc.identifier))
    return parts


def _shape(text: str, style: Style, doc: Document, width: float) -> list[Line]:
    """Lines of ``text`` in ``width`` points: justified prose, otherwise ragged."""
    units = width * 1000 / style.size
    base = doc.base
    ws = words(text, bold=style.bold, base=base, language=doc.language, max_units=units)
    if style.align is Align.JUSTIFY:
        return justify_lines(ws, units, base)
    return break_lines(ws, units, base)


@dataclass
class _Unit:
    """Lines that go on the page together, with the space above them."""

    placed: list[tuple[Line, Style, Tag, float, float]]
    before: float
    #: Lines that must not be split from the start of this unit (keep-together).
    keep: int


def _block_units(index: int, block: Block, doc: Document) -> list[_Unit]:
    style = STYLES[block.kind]
    role = ROLES[block.kind]
    x, width = MARGIN_X, TEXT_WIDTH
    if block.kind is BlockKind.PARAGRAPH:
        lines = _shape(" ".join(block.lines), style, doc, width)
        tag = Tag(index, role)
        # three lines or fewer cannot split without leaving one line alone
        keep = len(lines) if len(lines) <= 3 else 2
        return [_Unit([(ln, style, tag, x, width) for ln in lines], style.before, keep)]
    if block.kind is BlockKind.LIST:
        return _list_units(index, block, doc)
    units: list[_Unit] = []
    for n, text in enumerate(block.lines):
        this = style
        # The name as the parse read it from the line ("Olena Kovalenko," names
        # "Olena Kovalenko"); the line itself is drawn as received.
        if block.kind is BlockKind.SIGNATURE and signature_text(text) in doc.names:
            this = SIGNATURE_NAME
        tag = Tag(index, role, n if role == "Div" else None, "P" if role == "Div" else None)
        lines = _shape(text, this, doc, width)
        placed = [(ln, this, tag, x, width) for ln in lines]
        units.append(_Unit(placed, this.before if n == 0 else 0, 2))
    return units


def _list_units(index: int, block: Block, doc: Document) -> list[_Unit]:
    """One unit per item: the marker in the margin part, the text with a hanging indent."""
    style = STYLES[BlockKind.LIST]
    items: list[tuple[str | None, str]] = []
    for line in block.lines:
        marker = list_marker(line)
        if marker is not None or not items:
            rest = line.lstrip()[len(marker) :].strip() if marker else line
            items.append((marker, rest))
        else:
            items[-1] = (items[-1][0], items[-1][1] + " " + line)
    rtl = doc.base % 2 == 1
    mark_style = Style(style.size, style.leading, align=Align.START)
    marks = {
        n: _shape(marker, mark_style, doc, TEXT_WIDTH / 2)
        for n, (marker, _text) in enumerate(items)
        if marker
    }
    # the hang fits the widest marker ("1.2.10.", "(viii)") with a gap after it
    widest = max((ln.units * style.size / 1000 for ls in marks.values() for ln in ls), default=0)
    hang = max(LIST_HANG, widest + 6)
    body_x = MARGIN_X if rtl else MARGIN_X + hang
    body_w = TEXT_WIDTH - hang
    # the marker's measure is the hang: at the left margin, or the right one
    mark_x = PAGE_WIDTH - MARGIN_X - hang if rtl else MARGIN_X
    units: list[_Unit] = []
    for n, (_marker, text) in enumerate(items):
        placed: list[tuple[Line, Style, Tag, float, float]] = []
        for mark in marks.get(n, [])[:1]:
            placed.append((mark, mark_style, Tag(index, "L", n, "Lbl"), mark_x, hang))
        lines = _shape(text, style, doc, body_w) if text else []
        placed += [(ln, style, Tag(index, "L", n, "LBody"), body_x, body_w) for ln in lines]
        units.append(_Unit(placed, style.before if n == 0 else 3, 2))
    return units


def paginate(doc: Document) -> list[list[Placed]]:
    """Place every line of every block, in order, on pages.

    A paragraph leaves no single line at the bottom of a page (keeps two) nor at the
    top of the next (widow); a title, label or heading stays with the first lines of
    what follows it; the closing and signature are not split across pages (up to 14
    lines).
    """
    check_coverage(coverage_parts(doc))
    units: list[tuple[_Unit, BlockKind]] = []
    for index, block in enumerate(doc.blocks):
        block_units = _block_units(index, block, doc)
        if index and doc.blocks[index - 1].kind is block.kind and block_units:
            # a list or signature the text split in two (a blank line, a long item)
            # continues: items keep their spacing, signers are set apart a little
            block_units[0].before = _CONTINUED.get(block.kind, block_units[0].before)
        units += [(u, block.kind) for u in block_units]
    # Keep-with-next: a title, label, dateline above the title or heading drags the
    # next unit along; the signature (with its closing) is kept whole.
    keep_lines = [len(u.placed) if kind in _KEEP_WHOLE else u.keep for u, kind in units]
    tail = [i for i, (_u, kind) in enumerate(units) if kind in _SIGN_OFF]
    if tail and tail[-1] == len(units) - 1:
        start = tail[-1]
        while start - 1 in tail:
            start -= 1
        total = sum(len(units[i][0].placed) for i in range(start, len(units)))
        keep_lines[start] = min(total, 14)
    for i in range(len(units) - 1):
        if units[i][1] in _WITH_NEXT:
            keep_lines[i] = len(units[i][0].placed) + 2

    # rows: a list item's marker shares the row of its first line
    rows = [_rows(unit) for unit, _kind in units]
    # flat heights (with the space above a unit's first row) for keep-together spans
    flat: list[float] = []
    first_row: list[int] = []
    for (unit, _kind), unit_rows in zip(units, rows, strict=True):
        first_row.append(len(flat))
        for r, row in enumerate(unit_rows):
            flat.append(_height(row) + (unit.before if r == 0 else 0.0))

    pages: list[list[Placed]] = [[]]
    y = BODY_TOP
    for u, ((unit, _kind), unit_rows) in enumerate(zip(units, rows, strict=True)):
        g = first_row[u]
        keep = _rows_for(unit, keep_lines[u])
        span = flat[g : g + keep]
        needed = sum(span) - unit.before
        before = unit.before if pages[-1] else 0.0
        if pages[-1] and y + before + needed > BODY_BOTTOM:
            pages.append([])
            y, before = MARGIN_TOP, 0.0
        y += before
        for r, row in enumerate(unit_rows):
            height = _height(row)
            widow = (
                len(unit_rows) - r == 2
                and r >= 2
                and y + height + _height(unit_rows[r + 1]) > BODY_BOTTOM
            )
            if pages[-1] and (y + height > BODY_BOTTOM or widow):
                pages.append([])
                y = MARGIN_TOP
            y += height
            for line, style, tag, x, width in row:
                pages[-1].append(Placed(line, y, style, tag, x, width))
    return pages


_Row = list[tuple[Line, Style, Tag, float, float]]


def _rows(unit: _Unit) -> list[_Row]:
    """The unit's lines by row: a list item's marker (Lbl) and its first line share one."""
    rows: list[_Row] = []
    marker = False
    for entry in unit.placed:
        if marker:
            rows[-1].append(entry)
            marker = False
            continue
        rows.append([entry])
        marker = entry[2].part == "Lbl"
    return rows


def _rows_for(unit: _Unit, lines: int) -> int:
    """How many rows hold the unit's first ``lines`` lines (markers share a row)."""
    markers = sum(1 for entry in unit.placed[:lines] if entry[2].part == "Lbl")
    return max(1, lines - markers)


def _height(row: _Row) -> float:
    return max(style.leading for _line, style, _tag, _x, _w in row)


_CONTINUED = {BlockKind.LIST: 3.0, BlockKind.SIGNATURE: 11.0}
_KEEP_WHOLE = frozenset({BlockKind.TITLE, BlockKind.LABEL, BlockKind.DATELINE})
_WITH_NEXT = frozenset({BlockKind.TITLE, BlockKind.LABEL, BlockKind.HEADING})
_SIGN_OFF = frozenset({BlockKind.CLOSING, BlockKind.SIGNATURE})


def body_box(number: int) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) in PDF points of page ``number``'s body: the band is outside."""
    # 12 pt beyond the body's baselines on both sides: a tall accent or a mark below
    # a letter stays inside; the header's last line and the footer's first stay out
    top = BODY_TOP if number == 1 else MARGIN_TOP
    return (0.0, PAGE_HEIGHT - BODY_BOTTOM - 12, PAGE_WIDTH, PAGE_HEIGHT - top + 12)


def draw_pages(
    doc: Document, pages: list[list[Placed]], created: datetime | None
) -> tuple[bytes, tuple[str, ...], StructNode]:
    """Draw the placed lines, marked as content; the band as artifacts.

    Returns the PDF, the names of the fonts used and the structure tree's root.
    """
    buffer = io.BytesIO()
    first = ensure_registered(FAMILIES[0], False)  # else ReportLab adds unembedded Helvetica
    canvas = Canvas(
        buffer,
        pagesize=A4,
        invariant=1,
        pageCompression=1,
        pdfVersion=(1, 4),
        initialFontName=first,
    )
    writer = Writer(canvas)
    tree = StructureBuilder(doc.language)
    nodes: dict[tuple[object, ...], StructNode] = {}
    langs = {n: block_language(block, doc.language) for n, block in enumerate(doc.blocks)}

    def node(tag: Tag) -> StructNode:
        key: tuple[object, ...] = (tag.block,)
        parent = nodes.get(key)
        if parent is None:
            parent = nodes[key] = tree.add(tag.role, lang=langs.get(tag.block))
        if tag.item is None:
            return parent
        if tag.role == "L":
            item_key = (tag.block, tag.item)
            item = nodes.get(item_key)
            if item is None:
                item = nodes[item_key] = tree.add("LI", parent)
            part_key = (tag.block, tag.item, tag.part)
            if part_key not in nodes:
                nodes[part_key] = tree.add(tag.part or "LBody", item)
            return nodes[part_key]
        line_key = (tag.block, tag.item, "P")
        if line_key not in nodes:
            nodes[line_key] = tree.add("P", parent)
        return nodes[line_key]

    total = len(pages)
    band_id = _shape(doc.identifier, FOOTER, _band_doc(doc), TEXT_WIDTH)[:1]
    for number, placed in enumerate(pages, 1):
        with tree.artifact(canvas):
            canvas.setLineWidth(0.5)
            canvas.setStrokeGray(0.55)
            if number == 1:
                _draw_header(canvas, writer, doc)
            fy = MARGIN_BOTTOM - 26
            canvas.line(MARGIN_X, fy + 12, PAGE_WIDTH - MARGIN_X, fy + 12)
            _fill(canvas, FOOTER.gray)
            for line in band_id:
                writer.line(line, MARGIN_X, fy, TEXT_WIDTH, FOOTER.size, Align.START)
            label = _shape(f"page {number} of {total}", FOOTER, _band_doc(doc), TEXT_WIDTH)[0]
            used = (band_id[0].units + label.units) * FOOTER.size / 1000 + 12
            ly = fy if used <= TEXT_WIDTH else fy - FOOTER.leading  # a long identifier
            writer.line(label, MARGIN_X, ly, TEXT_WIDTH, FOOTER.size, Align.END)
        for p in placed:
            with tree.marked(canvas, node(p.tag)):
                _fill(canvas, p.style.gray)
                writer.line(p.line, p.x, PAGE_HEIGHT - p.y, p.width, p.style.size, p.style.align)
        canvas.showPage()
        tree.next_page()
    canvas.save()
    return buffer.getvalue(), tuple(sorted(writer.fonts_used)), tree.root


def _band_doc(doc: Document) -> Document:
    return Document((), "en", 0, frozenset(), None, doc.date_issued, doc.identifier)


def _draw_header(canvas: Canvas, writer: Writer, doc: Document) -> None:
    """The first page's band: who issued it and when, from the metadata, and a rule."""
    y = MARGIN_TOP - 16
    _fill(canvas, BAND.gray)
    if doc.organization:
        org_doc = Document(
            (),
            doc.language,
            base_level(doc.organization, doc.base),
            frozenset(),
            None,
            doc.date_issued,
            doc.identifier,
        )
        for line in _shape(doc.organization, BAND, org_doc, TEXT_WIDTH)[:2]:
            y += BAND.leading
            writer.line(line, MARGIN_X, PAGE_HEIGHT - y, TEXT_WIDTH, BAND.size, Align.CENTER)
    y += BAND.leading
    meta = f"Issued {doc.date_issued} · {doc.identifier}"
    for line in _shape(meta, BAND, _band_doc(doc), TEXT_WIDTH)[:1]:
        writer.line(line, MARGIN_X, PAGE_HEIGHT - y, TEXT_WIDTH, BAND.size, Align.CENTER)
    rule = y + 8
    canvas.line(MARGIN_X, PAGE_HEIGHT - rule, PAGE_WIDTH - MARGIN_X, PAGE_HEIGHT - rule)


def _fill(canvas: Canvas, gray: float) -> None:
    canvas._code.append(f"{gray:g} g")
