"""Tagged PDF while drawing: marked content in the page streams, the structure it builds.

The drawing code says what each piece of content *is* (a heading, a paragraph, a
list item's label, a page header that is only an artifact); this module writes the
matching ``BDC``/``EMC`` operators with a fresh MCID per page and records the
structure elements. :mod:`preserve.pdfa` turns the recorded tree into the PDF's
``StructTreeRoot`` and ``ParentTree`` (PDF/A-2a, PDF/UA-1).

Usage while drawing a page::

    tree = StructureBuilder(lang="en")
    heading = tree.add("H1")
    with tree.marked(canvas, heading):
        ...draw the title's glyphs...
    with tree.artifact(canvas):
        ...draw the page header, footer and rules...
    canvas.showPage(); tree.next_page()

A structure element whose content runs over two pages gets one marked-content
sequence on each (``marked`` may be called for the same node on several pages).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

#: Standard structure types (ISO 32000-1, 14.8.4) the copy uses.
ROLES = frozenset(
    {"Document", "Sect", "Div", "H1", "H2", "P", "L", "LI", "Lbl", "LBody", "Span", "Caption"}
)


@dataclass(frozen=True)
class MarkedContent:
    """One marked-content sequence: its page (0-based) and its MCID on that page."""

    page: int
    mcid: int


@dataclass
class StructNode:
    """A structure element: its type, language if it differs, and children in order."""

    role: str
    lang: str | None = None
    #: Replacement text where the drawn glyphs differ from the text (rarely needed).
    actual_text: str | None = None
    children: list[StructNode | MarkedContent] = field(default_factory=list)

    def walk(self) -> Iterator[StructNode]:
        """This node and every node below it, in document (reading) order."""
        yield self
        for child in self.children:
            if isinstance(child, StructNode):
                yield from child.walk()


#: Artifact types (ISO 32000-1, 14.8.2.2.2): page furniture, layout, page edges, background.
ARTIFACT_KINDS = frozenset({"Pagination", "Layout", "Page", "Background"})


class _Canvas(Protocol):
    _code: list[str]


class StructureBuilder:
    """Hands out MCIDs per page, writes marked-content operators, records the tree."""

    def __init__(self, lang: str | None) -> None:
        self.root = StructNode("Document", lang)
        self.page = 0
        self._next_mcid = 0
        self._open = False

    def add(
        self,
        role: str,
        parent: StructNode | None = None,
        *,
        lang: str | None = None,
        actual_text: str | None = None,
    ) -> StructNode:
        """A new element, appended to ``parent`` (the document by default)."""
        if role not in ROLES:
            raise ValueError(f"not a structure type the copy uses: {role}")
        node = StructNode(role, lang, actual_text)
        (parent or self.root).children.append(node)
        return node

    @contextmanager
    def marked(self, canvas: _Canvas, node: StructNode) -> Iterator[None]:
        """Mark what is drawn inside as content of ``node`` (one new MCID on this page)."""
        if self._open:
            raise RuntimeError("marked content cannot be nested in the copy")
        mcid = self._next_mcid
        self._next_mcid += 1
        node.children.append(MarkedContent(self.page, mcid))
        canvas._code.append(f"/{node.role} <</MCID {mcid}>> BDC")
        self._open = True
        try:
            yield
        finally:
            canvas._code.append("EMC")
            self._open = False

    @contextmanager
    def artifact(self, canvas: _Canvas, kind: str = "Pagination") -> Iterator[None]:
        """Mark what is drawn inside as an artifact (header, footer, rules): not content."""
        if kind not in ARTIFACT_KINDS:
            raise ValueError(f"not an artifact type: {kind}")
        if self._open:
            raise RuntimeError("an artifact cannot be nested in marked content")
        canvas._code.append(f"/Artifact <</Type /{kind}>> BDC")
        self._open = True
        try:
            yield
        finally:
            canvas._code.append("EMC")
            self._open = False

    def next_page(self) -> None:
        """Call after each ``showPage``: MCIDs start again from 0 on every page."""
        self.page += 1
        self._next_mcid = 0
