"""A statement as an OpenDocument Text file (ODT): kept as received, its text read with odfpy.

As for DOCX (:mod:`preserve.inputs.docx`): the body in order (headings, paragraphs,
lists with their numbers as LibreOffice displays them, table cells row by row),
page headers and footers listed in ``Received.left_out``, the copy rendered from
the text by :mod:`preserve.render`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from odf import teletype
from odf.namespaces import STYLENS, TABLENS, TEXTNS
from odf.opendocument import load

from preserve.errors import InputError
from preserve.inputs import Form, Received, sniff
from preserve.inputs.formats import odt_pronom
from preserve.inputs.pdf import (
    original_file,
    read_file,
)
from preserve.inputs.sniff import MIME_ODT
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
accepts = sniff.odt

MAX_ODT_BYTES = 64 * 1024 * 1024


def read(path: Path) -> Received:
    """The ODT as received and the statement in its body."""
    data = read_file(path, MAX_ODT_BYTES, "ODT")
    check_package(data, path, "ODT", "content.xml")
    try:
        document = load(io.BytesIO(data))
    except Exception as exc:  # odfpy raises xml.sax, KeyError, zipfile errors…
        raise InputError(
            f"damaged ODT ({type(exc).__name__}); open it in a word processor and save it again",
            path,
        ) from None
    blocks, letterhead = split_furniture(list(_Body(document).blocks(document.text)))
    text = join_blocks(blocks)
    if not text.strip():
        raise InputError("the ODT has no text in its body; nothing to take in", path)
    pronom = odt_pronom(data)
    original = original_file(path, data, MIME_ODT, pronom)
    left_out = (*letterhead, *_headers_and_footers(document))
    return received_from_body(Form.ODT, "odfpy", path, original, text, left_out)


def _q(namespace: str, name: str) -> tuple[str, str]:
    return (namespace, name)


class _Body:
    """Walks an ODT body, numbering lists by their list styles."""

    def __init__(self, document: Any) -> None:
        self.styles: dict[str, Any] = {}
        for container in (document.automaticstyles, document.styles):
            for style in container.childNodes:
                name = style.attributes.get(_q(STYLENS, "name"))
                if style.qname == _q(TEXTNS, "list-style") and name:
                    self.styles.setdefault(name, style)
        self.counts = Numbering()
        self.lists = 0
        #: Whether any text came before (a table opening the body may be the letterhead).
        self.started = False

    def blocks(self, element: Any) -> Iterator[tuple[str, str]]:
        children = list(element.childNodes)
        for index, child in enumerate(children):
            qname = getattr(child, "qname", None)
            if qname in (_q(TEXTNS, "h"), _q(TEXTNS, "p")):
                text = teletype.extractText(child)
                self.started = self.started or bool(text.strip())
                yield ("h" if qname == _q(TEXTNS, "h") else "p"), text
            elif qname == _q(TEXTNS, "list"):
                self.lists += 1
                yield from self._list(child, f"list{self.lists}", None, 0)
            elif qname == _q(TABLENS, "table"):
                yield from self._table(child, _lines_after(children[index + 1 :]))
            elif qname in (_q(TEXTNS, "section"), _q(TEXTNS, "soft-page-break")):
                yield from self.blocks(child)

    def _list(self, element: Any, key: str, style: Any, level: int) -> Iterator[tuple[str, str]]:
        name = element.attributes.get(_q(TEXTNS, "style-name"))
        if name in self.styles:
            style = self.styles[name]
        for item in element.childNodes:
            if getattr(item, "qname", None) not in (
                _q(TEXTNS, "list-item"),
                _q(TEXTNS, "list-header"),
            ):
                continue
            numbered = item.qname == _q(TEXTNS, "list-item")
            first = True
            for child in item.childNodes:
                qname = getattr(child, "qname", None)
                if qname == _q(TEXTNS, "list"):
                    yield from self._list(child, key, style, level + 1)
                elif qname in (_q(TEXTNS, "p"), _q(TEXTNS, "h")):
                    text = teletype.extractText(child)
                    if first and numbered:
                        marker = self._marker(style, key, level)
                        text = f"{marker} {text}" if marker else text
                    first = False
                    yield "li", text

    def _marker(self, style: Any, key: str, level: int) -> str:
        levels = _levels(style)
        kind, fmt, prefix, suffix, _start, display = levels.get(
            level + 1, ("bullet", "•", "", "", 1, 1)
        )
        if kind == "bullet":
            return bullet(fmt)
        starts = [levels.get(i + 1, ("number", "1", "", "", 1, 1))[4] for i in range(level + 1)]
        counts = self.counts.next(key, level, starts=starts)
        shown = []
        for index in range(max(0, level + 1 - display), level + 1):
            shown.append(format_number(counts[index], levels.get(index + 1, levels[level + 1])[1]))
        number = ".".join(shown)
        return f"{prefix}{number}{suffix}" if number else ""

    def _table(self, table: Any, lines_after: int) -> Iterator[tuple[str, str]]:
        rows = [
            [_cell_text(cell) for cell in row.childNodes]
            for row in table.getElementsByType(_row_type())
        ]
        if is_letterhead(rows, not self.started):
            yield FURNITURE, "\n".join(cell for row in rows for cell in row if cell)
        else:
            yield from table_blocks(rows, lines_after)
        self.started = True


def _cell_text(cell: Any) -> str:
    """A table cell's text, a line for each paragraph (odfpy's extractText runs them together)."""
    lines = [
        teletype.extractText(child).strip()
        for child in cell.childNodes
        if getattr(child, "qname", None) in (_q(TEXTNS, "p"), _q(TEXTNS, "h"))
    ]
    return "\n".join(line for line in lines if line) or teletype.extractText(cell).strip()


def _lines_after(children: list[Any]) -> int:
    """How many non-blank lines (a table or list counts as many) follow."""
    count = 0
    for child in children:
        qname = getattr(child, "qname", None)
        if qname in (_q(TEXTNS, "p"), _q(TEXTNS, "h")):
            text = teletype.extractText(child)
            count += sum(1 for line in text.split("\n") if line.strip())
        elif qname in (_q(TABLENS, "table"), _q(TEXTNS, "list"), _q(TEXTNS, "section")):
            count += 10
    return count


def _row_type() -> Any:
    from odf.table import TableRow

    return TableRow


def _levels(style: Any) -> dict[int, tuple[str, str, str, str, int, int]]:
    """Level (1-based) → (kind, format or bullet char, prefix, suffix, start, levels shown)."""
    levels: dict[int, tuple[str, str, str, str, int, int]] = {}
    if style is None:
        return levels
    for child in style.childNodes:
        attrs = child.attributes
        level = int(attrs.get(_q(TEXTNS, "level"), "1"))
        if child.qname == _q(TEXTNS, "list-level-style-number"):
            levels[level] = (
                "number",
                attrs.get(_q(STYLENS, "num-format"), "1"),
                attrs.get(_q(STYLENS, "num-prefix"), ""),
                attrs.get(_q(STYLENS, "num-suffix"), ""),
                int(attrs.get(_q(TEXTNS, "start-value"), "1")),
                int(attrs.get(_q(TEXTNS, "display-levels"), "1")),
            )
        elif child.qname == _q(TEXTNS, "list-level-style-bullet"):
            levels[level] = ("bullet", attrs.get(_q(TEXTNS, "bullet-char"), "•"), "", "", 1, 1)
    return levels


def _headers_and_footers(document: Any) -> Iterator[str]:
    seen: set[str] = set()
    for page in document.masterstyles.childNodes:
        for part in page.childNodes:
            if getattr(part, "qname", None) in (_q(STYLENS, "header"), _q(STYLENS, "footer")):
                line = teletype.extractText(part).strip()
                if line and line not in seen:
                    seen.add(line)
                    yield line
