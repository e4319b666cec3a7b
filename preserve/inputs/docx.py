"""A statement as a Word document (DOCX): kept as received, its text read with python-docx.

The file goes into the bag as received. Its body (paragraphs, headings, lists and
tables, in document order) becomes the statement's text: headings and paragraphs
one block each, list items with their numbers as Word displays them (``1.``,
``a)``, ``2.1``, bullets as •), table cells row by row. Page headers and footers
(the letterhead) are not body text: they are listed in ``Received.left_out`` so
nothing vanishes silently. The preservation copy is rendered from that text by
:mod:`preserve.render`, like a plain-text statement.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
from docx.oxml.ns import qn as _docx_qn
from docx.table import Table
from docx.text.paragraph import Paragraph

from preserve.errors import InputError
from preserve.inputs import Form, Received, sniff
from preserve.inputs.formats import PRONOM_DOCX
from preserve.inputs.pdf import (
    original_file,
    read_file,
)
from preserve.inputs.wordproc import (
    FURNITURE,
    Numbering,
    bullet,
    check_package,
    format_number,
    is_letterhead,
    join_blocks,
    received_from_body,
    split_furniture,
    table_blocks,
)

#: Whether a file is this form: decided in :mod:`preserve.inputs.sniff`, which
#: imports none of this module's libraries, so asking every form stays cheap.
accepts = sniff.docx

#: Clark names of WordprocessingML tags, computed once (python-docx's ``qn`` parses each time).
qn = functools.lru_cache(maxsize=None)(_docx_qn)

MIME_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
#: The largest DOCX taken in (images in a letterhead make a few MiB).
MAX_DOCX_BYTES = 64 * 1024 * 1024


def read(path: Path) -> Received:
    """The DOCX as received and the statement in its body."""
    data = read_file(path, MAX_DOCX_BYTES, "DOCX")
    check_package(data, path, "DOCX", "word/document.xml")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors…
        raise InputError(
            f"damaged DOCX ({type(exc).__name__}); open it in a word processor and save it again",
            path,
        ) from None
    blocks, letterhead = split_furniture(list(body_blocks(document)))
    text = join_blocks(blocks)
    if not text.strip():
        raise InputError("the DOCX has no text in its body; nothing to take in", path)
    original = original_file(path, data, MIME_DOCX, PRONOM_DOCX)
    left_out = (*letterhead, *headers_and_footers(document))
    tool = f"python-docx {getattr(docx, '__version__', '?')}"
    return received_from_body(Form.DOCX, tool, path, original, text, left_out)


def body_blocks(document: Any) -> Iterator[tuple[str, str]]:
    """(kind, text) of the body in order: ``h`` headings, ``li`` list items, ``p`` the rest."""
    lists = _Lists(document)
    body = document.element.body
    children = list(body.iterchildren())
    started = False  # whether any text came before
    for index, child in enumerate(children):
        if child.tag == qn("w:p"):
            kind, text = _paragraph(Paragraph(child, document), lists)
            started = started or bool(text.strip())
            yield kind, text
        elif child.tag == qn("w:tbl"):
            table = Table(child, document)
            rows = [_unique([cell.text.strip() for cell in row.cells]) for row in table.rows]
            if is_letterhead(rows, not started):
                yield FURNITURE, "\n".join(cell for row in rows for cell in row if cell)
            else:
                yield from table_blocks(rows, _lines_after(children[index + 1 :], document))
            started = True


def _unique(cells: list[str]) -> list[str]:
    """A row's cells, a merged cell (python-docx repeats it) once, empty kept in place."""
    out: list[str] = []
    for cell in cells:
        if not (out and cell and out[-1] == cell):
            out.append(cell)
    return out


def _lines_after(children: list[Any], document: Any) -> int:
    """How many non-blank lines (a table counts as many) follow in the body."""
    count = 0
    for child in children:
        if child.tag == qn("w:p"):
            text = Paragraph(child, document).text
            count += sum(1 for line in text.split("\n") if line.strip())
        elif child.tag == qn("w:tbl"):
            count += 10
    return count


def _paragraph(paragraph: Any, lists: _Lists) -> tuple[str, str]:
    text = paragraph.text
    style = lists.style_of(paragraph)
    name = style.name if style is not None else ""
    if name.startswith("Heading") or name == "Title":
        return "h", text
    marker = lists.marker(paragraph)
    if marker is not None:
        return "li", f"{marker} {text}" if marker else text
    return "p", text


def headers_and_footers(document: Any) -> Iterator[str]:
    seen: set[str] = set()
    for section in document.sections:
        for part in (section.header, section.footer):
            if part.is_linked_to_previous and seen:
                continue
            for paragraph in part.paragraphs:
                line = paragraph.text.strip()
                if line and line not in seen:
                    seen.add(line)
                    yield line


class _Lists:
    """Word's list definitions (numbering part), counted as Word displays them."""

    def __init__(self, document: Any) -> None:
        self.document = document
        # python-docx looks a paragraph's style up by scanning every style, each time,
        # and wraps each in an object; a table read once from styles.xml keeps it linear.
        self.styles: dict[str, _Style] = {}
        self.default_style: _Style | None = None
        for element in document.styles.element.findall(qn("w:style")):
            if element.get(qn("w:type")) != "paragraph":
                continue
            ppr = element.find(qn("w:pPr"))
            num_pr = ppr.find(qn("w:numPr")) if ppr is not None else None
            style = _Style(
                _val(element, "w:name") or "",
                _val(element, "w:basedOn"),
                num_pr,
            )
            self.styles[element.get(qn("w:styleId"), "")] = style
            if element.get(qn("w:default")) in ("1", "true", "on"):
                self.default_style = style
        self.counts = Numbering()
        self.abstract: dict[str, dict[int, tuple[int, str, str]]] = {}
        self.nums: dict[str, tuple[str, dict[int, int]]] = {}
        self.restarted: set[str] = set()
        try:
            root = document.part.numbering_part.element
        except (NotImplementedError, KeyError, AttributeError):
            return
        for abstract in root.findall(qn("w:abstractNum")):
            levels: dict[int, tuple[int, str, str]] = {}
            for lvl in abstract.findall(qn("w:lvl")):
                levels[int(lvl.get(qn("w:ilvl"), "0"))] = (
                    int(_val(lvl, "w:start") or "1"),
                    _val(lvl, "w:numFmt") or "decimal",
                    _val(lvl, "w:lvlText") or "",
                )
            self.abstract[abstract.get(qn("w:abstractNumId"), "")] = levels
        for num in root.findall(qn("w:num")):
            overrides: dict[int, int] = {}
            for override in num.findall(qn("w:lvlOverride")):
                start = _val(override, "w:startOverride")
                if start is not None:
                    overrides[int(override.get(qn("w:ilvl"), "0"))] = int(start)
            self.nums[num.get(qn("w:numId"), "")] = (_val(num, "w:abstractNumId") or "", overrides)

    def style_of(self, paragraph: Any) -> _Style | None:
        """The paragraph's style (its own, or the document's default paragraph style)."""
        ppr = paragraph._p.pPr
        style_id = ppr.pStyle.val if ppr is not None and ppr.pStyle is not None else None
        if style_id is not None and style_id in self.styles:
            return self.styles[style_id]
        return self.default_style

    def marker(self, paragraph: Any) -> str | None:
        """The list number or bullet shown before this paragraph; None when not a list item."""
        num_id, level = self._num_pr(paragraph)
        if num_id is None or num_id == "0" or num_id not in self.nums:
            return None
        abstract_id, overrides = self.nums[num_id]
        levels = self.abstract.get(abstract_id, {})
        if level not in levels:
            return None
        starts = [levels.get(i, (1, "", ""))[0] for i in range(level + 1)]
        if overrides and num_id not in self.restarted:  # a startOverride restarts the list
            self.restarted.add(num_id)
            self.counts.counters.pop(abstract_id, None)
            starts = [overrides.get(i, s) for i, s in enumerate(starts)]
        counts = self.counts.next(abstract_id, level, starts=starts)
        _start, fmt, pattern = levels[level]
        if fmt == "bullet":
            return bullet(pattern)
        shown = pattern
        for index in range(level, -1, -1):  # %10 is not a thing; %1..%9 only
            index_fmt = levels.get(index, (1, "decimal", ""))[1]
            shown = shown.replace(f"%{index + 1}", format_number(counts[index], index_fmt))
        return shown

    def _num_pr(self, paragraph: Any) -> tuple[str | None, int]:
        ppr = paragraph._p.pPr
        num_pr = ppr.numPr if ppr is not None else None
        if num_pr is not None:
            num_id = num_pr.numId.val if num_pr.numId is not None else None
            level = num_pr.ilvl.val if num_pr.ilvl is not None else None
            if num_id is not None:
                return str(num_id), int(level or 0)
        style = self.style_of(paragraph)
        seen: set[str] = set()
        while style is not None and style.name not in seen:  # the style, or one it is based on
            seen.add(style.name)
            if style.num_pr is not None:
                num_id_text = _val(style.num_pr, "w:numId")
                level_text = _val(style.num_pr, "w:ilvl")
                if num_id_text is not None:
                    return num_id_text, int(level_text or "0")
            style = self.styles.get(style.based_on) if style.based_on else None
        return None, 0


@dataclass(frozen=True)
class _Style:
    """What the reader needs of a paragraph style: its name, parent, list numbering."""

    name: str
    based_on: str | None
    num_pr: Any


def _val(element: Any, tag: str) -> str | None:
    found = element.find(qn(tag))
    return None if found is None else found.get(qn("w:val"))
