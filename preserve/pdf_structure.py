"""Tagged PDF: write a recorded structure tree into a PDF, and check a PDF's tagging.

:func:`write_structure` turns the tree :mod:`preserve.render.tagging` recorded while
drawing into the catalog's ``/StructTreeRoot`` with its ``/ParentTree`` (the map from
each page's marked content back to its structure element), ``/MarkInfo`` and the
per-page ``/StructParents`` and ``/Tabs``. :func:`check_structure` is the matching
self-check for PDF/A level A and PDF/UA-1: every piece of page content is tagged or an
artifact, every MCID is referenced exactly once, and the tree's order is the content
order. It reports problems as ``(code, message)`` pairs; :mod:`preserve.pdfa` wraps
them. Kept apart from :mod:`preserve.pdfa` because it is one job: logical structure.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pikepdf
from pikepdf import Array, Dictionary, Name, String

if TYPE_CHECKING:
    from preserve.render.tagging import StructNode

#: Standard structure types of ISO 32000-1, 14.8.4 (PDF 1.7), which need no role map.
STANDARD_TYPES = frozenset(
    {
        "Document", "Part", "Art", "Sect", "Div", "BlockQuote", "Caption", "TOC", "TOCI",
        "Index", "NonStruct", "Private", "P", "H", "H1", "H2", "H3", "H4", "H5", "H6",
        "L", "LI", "Lbl", "LBody", "Table", "TR", "TH", "TD", "THead", "TBody", "TFoot",
        "Span", "Quote", "Note", "Reference", "BibEntry", "Code", "Link", "Annot", "Ruby",
        "RB", "RT", "RP", "Warichu", "WT", "WP", "Figure", "Formula", "Form",
    }
)  # fmt: skip

#: Operators that put marks on the page: text showing, path painting, shadings,
#: XObjects and inline images. Each must sit inside tagged or artifact content.
PAINTING = frozenset(
    {"Tj", "TJ", "'", '"', "S", "s", "f", "F", "f*", "B", "B*", "b", "b*", "sh", "Do",
     "INLINE IMAGE", "BI"}
)  # fmt: skip

#: Bounds for hostile files: structure elements walked, nesting depth of marked content,
#: decoded content of one page.
MAX_ELEMENTS = 200_000
MAX_MARKED_DEPTH = 64
MAX_CONTENT_BYTES = 64 << 20

Report = Callable[[str, str], None]


# --------------------------------------------------------------------------- writing


def write_structure(
    pdf: pikepdf.Pdf, root: StructNode, document_lang: str, *, tabs: bool = True
) -> None:
    """Build ``/StructTreeRoot`` and ``/ParentTree`` from ``root`` (role "Document").

    ``tabs`` sets ``/Tabs /S`` (tab order = structure order, PDF/UA) on every page; it
    is PDF 1.5, so PDF/A-1 files (PDF 1.4) go without.

    Objects are created in depth-first order, so the same tree gives the same bytes.
    An MCID used twice on one page, a page that does not exist, or MCIDs on a page
    that are not 0..n-1 are errors of the drawing code: ValueError.
    """
    from preserve.render.tagging import MarkedContent

    pages = [page.obj for page in pdf.pages]
    tree_root = pdf.make_indirect(Dictionary(Type=Name.StructTreeRoot))
    owners: dict[int, dict[int, pikepdf.Object]] = {}

    def build(node: StructNode, parent: pikepdf.Object, lang: str) -> pikepdf.Object:
        elem = pdf.make_indirect(
            Dictionary(Type=Name.StructElem, S=Name("/" + node.role), P=parent)
        )
        if node.lang and node.lang != lang:
            elem.Lang = String(node.lang)
        if node.actual_text is not None:
            elem.ActualText = String(node.actual_text)
        own = [c for c in node.children if isinstance(c, MarkedContent)]
        own_page = own[0].page if own else None
        if own_page is not None:
            elem.Pg = pages[_page_index(own_page, len(pages))]
        kids: list[object] = []
        for child in node.children:
            if isinstance(child, MarkedContent):
                page = _page_index(child.page, len(pages))
                on_page = owners.setdefault(page, {})
                if child.mcid in on_page:
                    raise ValueError(f"MCID {child.mcid} is used twice on page {page + 1}")
                on_page[child.mcid] = elem
                if page == own_page:
                    kids.append(child.mcid)
                else:
                    kids.append(Dictionary(Type=Name.MCR, Pg=pages[page], MCID=child.mcid))
            else:
                kids.append(build(child, elem, node.lang or lang))
        if kids:
            elem.K = Array(kids)
        return elem

    document = build(root, tree_root, document_lang)
    nums: list[object] = []
    for page in sorted(owners):
        mcids = owners[page]
        if sorted(mcids) != list(range(len(mcids))):
            raise ValueError(f"the MCIDs on page {page + 1} are not 0..{len(mcids) - 1}")
        nums.extend([page, Array([mcids[m] for m in range(len(mcids))])])
        pages[page].StructParents = page
    tree_root.K = Array([document])
    tree_root.ParentTree = pdf.make_indirect(Dictionary(Nums=Array(nums)))
    tree_root.ParentTreeNextKey = len(pages)
    for page_obj in pages:
        if tabs:
            page_obj.Tabs = Name.S
    pdf.Root.StructTreeRoot = tree_root
    pdf.Root.MarkInfo = Dictionary(Marked=True)


def _page_index(page: int, count: int) -> int:
    if not 0 <= page < count:
        raise ValueError(f"marked content on page {page + 1}, but the PDF has {count} pages")
    return page


# --------------------------------------------------------------------------- checking


@dataclass
class _Content:
    """What one page's content stream holds: MCIDs in order, and untagged painting."""

    mcids: list[int] = field(default_factory=list)
    untagged: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)
    #: Why the content was not parsed (too large, or a filter not decoded), if it was not.
    unchecked: str = ""


def check_structure(doc: pikepdf.Pdf, title: str | None, report: Report) -> None:
    """Report what breaks Tagged PDF as PDF/A level A and PDF/UA-1 require it.

    ``title`` is the XMP dc:title (None when absent), needed because the viewer is
    told to show it instead of the file name.
    """
    root = doc.Root
    mark_info = root.get("/MarkInfo")
    if not isinstance(mark_info, Dictionary) or not _true(mark_info.get("/Marked")):
        report("pdfa.not-marked", "the catalog has no /MarkInfo << /Marked true >>")
    elif _true(mark_info.get("/Suspects")):
        report("pdfa.not-marked", "/MarkInfo says /Suspects true: the tagging is not trusted")
    lang = root.get("/Lang")
    if not isinstance(lang, String) or not str(lang).strip():
        report("pdfa.no-lang", "the catalog has no /Lang: the document's language is not given")
    prefs = root.get("/ViewerPreferences")
    if not isinstance(prefs, Dictionary) or not _true(prefs.get("/DisplayDocTitle")):
        report(
            "pdfa.no-display-title",
            "/ViewerPreferences has no /DisplayDocTitle true (PDF/UA: show the title)",
        )
    if not title:
        report("pdfa.no-title", "the XMP metadata has no dc:title (PDF/UA needs one)")

    page_index = {page.obj.objgen: i for i, page in enumerate(doc.pages)}
    contents = [_scan_page(doc, page) for page in doc.pages]
    for i, content in enumerate(contents):
        if content.unchecked:
            report(
                "pdfa.content-unchecked",
                f"page {i + 1}: {content.unchecked}, so its tagging was not checked",
            )
        for what in content.untagged[:1]:
            more = len(content.untagged) - 1
            extra = f" (and {more} more)" if more else ""
            report(
                "pdfa.untagged-content",
                f"page {i + 1}: {what} is outside tagged or artifact content{extra}",
            )
        for what in content.malformed[:1]:
            report("pdfa.bad-marked-content", f"page {i + 1}: {what}")
        seen: set[int] = set()
        for mcid in content.mcids:
            if mcid in seen:
                report("pdfa.mcid-twice", f"page {i + 1}: MCID {mcid} marks two sequences")
            seen.add(mcid)

    tree = root.get("/StructTreeRoot")
    if not isinstance(tree, Dictionary):
        report("pdfa.no-structure", "the catalog has no /StructTreeRoot (the PDF is not tagged)")
        return
    refs = _walk_tree(tree, page_index, report)
    _check_references(doc, tree, refs, contents, report)


def _true(value: object) -> bool:
    return isinstance(value, bool) and value


@dataclass(frozen=True)
class _Ref:
    """A content item the structure tree points at, with the element holding it."""

    page: int
    mcid: int
    owner: tuple[int, int]


def _walk_tree(
    tree: Dictionary, page_index: dict[tuple[int, int], int], report: Report
) -> list[_Ref]:
    """Depth-first, in order: every MCID the tree reaches, and role checks on the way."""
    role_map = tree.get("/RoleMap")
    roles = role_map if isinstance(role_map, Dictionary) else Dictionary()
    refs: list[_Ref] = []
    visited: set[tuple[int, int]] = set()
    # Stack of (object, inherited page index); children pushed in reverse.
    stack: list[tuple[pikepdf.Object, int | None, tuple[int, int]]] = []
    top = tree.get("/K")
    kids = list(top) if isinstance(top, Array) else [top] if top is not None else []
    for kid in reversed(kids):
        stack.append((kid, None, (0, 0)))
    walked = 0
    while stack:
        obj, inherited, owner = stack.pop()
        if isinstance(obj, int) and not isinstance(obj, bool):
            if inherited is None:
                report("pdfa.bad-structure", f"MCID {obj} in an element without a page (/Pg)")
            else:
                refs.append(_Ref(inherited, int(obj), owner))
            continue
        if not isinstance(obj, Dictionary):
            continue
        kind = obj.get("/Type")
        if kind == Name.MCR:
            page = _page_of(obj, page_index, inherited)
            mcid = obj.get("/MCID")
            if page is None or not isinstance(mcid, int):
                report("pdfa.bad-structure", "a marked-content reference without page or MCID")
            else:
                refs.append(_Ref(page, int(mcid), owner))
            continue
        if kind == Name.OBJR:
            continue
        walked += 1
        gen = obj.objgen
        if gen in visited and gen != (0, 0):
            report("pdfa.bad-structure", "the structure tree contains a cycle or a shared element")
            continue
        visited.add(gen)
        if walked > MAX_ELEMENTS:
            report("pdfa.bad-structure", f"more than {MAX_ELEMENTS:,} structure elements")
            return refs
        _check_role(obj.get("/S"), roles, report)
        page = _page_of(obj, page_index, inherited)
        k = obj.get("/K")
        children = list(k) if isinstance(k, Array) else [k] if k is not None else []
        stack.extend((child, page, gen) for child in reversed(children))
    return refs


def _page_of(
    obj: Dictionary, page_index: dict[tuple[int, int], int], inherited: int | None
) -> int | None:
    pg = obj.get("/Pg")
    if isinstance(pg, Dictionary):
        return page_index.get(pg.objgen)
    return inherited


def _check_role(role: object, roles: Dictionary, report: Report) -> None:
    if not isinstance(role, Name):
        report("pdfa.bad-structure", "a structure element has no /S (structure type)")
        return
    name, seen = role, set()
    while str(name)[1:] not in STANDARD_TYPES:
        mapped = roles.get(str(name))
        if not isinstance(mapped, Name) or str(name) in seen:
            report(
                "pdfa.nonstandard-type",
                f"structure type {str(role)[1:]} is neither standard nor role-mapped to one",
            )
            return
        seen.add(str(name))
        name = mapped


def _check_references(
    doc: pikepdf.Pdf,
    tree: Dictionary,
    refs: list[_Ref],
    contents: list[_Content],
    report: Report,
) -> None:
    """Tree, ParentTree and content agree: each MCID once, in content order."""
    by_key: dict[tuple[int, int], _Ref] = {}
    for ref in refs:
        key = (ref.page, ref.mcid)
        if key in by_key:
            report(
                "pdfa.mcid-twice",
                f"page {ref.page + 1}: MCID {ref.mcid} is referenced twice in the structure tree",
            )
        else:  # the first reference counts; the second is the problem reported
            by_key[key] = ref
    on_page: dict[int, list[int]] = {}
    for ref in by_key.values():  # in the tree's order
        on_page.setdefault(ref.page, []).append(ref.mcid)
    parents = _parent_tree(tree, report)
    for i, (page, content) in enumerate(zip(doc.pages, contents, strict=True)):
        in_content = set(content.mcids)
        number = page.obj.get("/StructParents")
        array = parents.get(int(number)) if isinstance(number, int) else None
        owners: list[tuple[int, int] | None] = (
            [o.objgen if isinstance(o, Dictionary) else None for o in array]
            if isinstance(array, Array)
            else []
        )
        for mcid in content.mcids:
            found = by_key.get((i, mcid))
            owner = owners[mcid] if 0 <= mcid < len(owners) else None
            if found is None:
                report(
                    "pdfa.mcid-unreferenced",
                    f"page {i + 1}: MCID {mcid} is not referenced from the structure tree",
                )
            if owner is None:
                report(
                    "pdfa.mcid-unreferenced",
                    f"page {i + 1}: MCID {mcid} has no entry in the ParentTree",
                )
            elif found is not None and owner != found.owner:
                report(
                    "pdfa.parent-tree-mismatch",
                    f"page {i + 1}: the ParentTree gives MCID {mcid} another element than the "
                    "structure tree",
                )
        for mcid in on_page.get(i, []):
            if mcid not in in_content:
                report(
                    "pdfa.mcid-missing",
                    f"page {i + 1}: the structure tree references MCID {mcid}, which the "
                    "page's content does not have",
                )
        walked = [m for m in on_page.get(i, []) if m in in_content]
        drawn = [m for m in _first_each(content.mcids) if (i, m) in by_key]
        if walked != drawn:
            report(
                "pdfa.structure-order",
                f"page {i + 1}: the structure tree's order {_short(walked)} is not the content "
                f"order {_short(drawn)}",
            )


def _first_each(mcids: list[int]) -> Iterator[int]:
    seen: set[int] = set()
    for mcid in mcids:
        if mcid not in seen:
            seen.add(mcid)
            yield mcid


def _short(mcids: list[int]) -> str:
    text = ", ".join(str(m) for m in mcids[:12])
    return f"[{text}{', …' if len(mcids) > 12 else ''}]"


def _parent_tree(tree: Dictionary, report: Report) -> dict[int, pikepdf.Object]:
    node = tree.get("/ParentTree")
    if not isinstance(node, Dictionary):
        report("pdfa.mcid-unreferenced", "the structure tree has no /ParentTree")
        return {}
    try:
        return {int(k): v for k, v in pikepdf.NumberTree(node).items()}
    except (pikepdf.PdfError, TypeError, ValueError) as exc:
        report("pdfa.bad-structure", f"the ParentTree cannot be read: {exc}")
        return {}


def _scan_page(doc: pikepdf.Pdf, page: pikepdf.Page) -> _Content:
    """Walk one page's content stream, tracking BDC/BMC/EMC nesting."""
    found = _Content()
    resources = page.obj.get("/Resources")
    props = resources.get("/Properties") if isinstance(resources, Dictionary) else None
    data, why = _content_bytes(page)
    if data is None:
        found.unchecked = why
        return found
    try:
        instructions = pikepdf.parse_content_stream(pikepdf.Stream(doc, data))
    except pikepdf.PdfError as exc:
        found.malformed.append(f"the content stream cannot be parsed: {exc}")
        return found
    # Each open sequence: "mcid", "artifact" or "" (neither).
    stack: list[str] = []
    for instruction in instructions:
        op = str(instruction.operator)
        if op in ("BDC", "BMC"):
            operands = instruction.operands  # only here: converting every Tj's is costly
            if len(stack) >= MAX_MARKED_DEPTH:
                found.malformed.append(f"marked content nested deeper than {MAX_MARKED_DEPTH}")
                break
            tag = operands[0] if operands else None
            kind = ""
            if tag == Name.Artifact:
                kind = "artifact"
                if "mcid" in stack:  # Matterhorn 01-003
                    found.malformed.append("an artifact inside tagged content")
            elif op == "BDC" and len(operands) >= 2:
                mcid = _mcid(operands[1], props)
                if mcid is not None:
                    if "mcid" in stack:
                        found.malformed.append(f"MCID {mcid} is nested inside another MCID")
                    if "artifact" in stack:  # Matterhorn 01-004
                        found.malformed.append(f"MCID {mcid} is inside an artifact")
                    kind = "mcid"
                    found.mcids.append(mcid)
            stack.append(kind)
        elif op == "EMC":
            if not stack:
                found.malformed.append("EMC without a matching BDC/BMC")
                continue
            stack.pop()
        elif op in PAINTING and not ("mcid" in stack or "artifact" in stack):
            found.untagged.append(_describe(op))
    if stack:
        found.malformed.append("a marked-content sequence is not closed (BDC without EMC)")
    return found


def _content_bytes(page: pikepdf.Page) -> tuple[bytes | None, str]:
    """The page's decoded content, inflating no more than MAX_CONTENT_BYTES of it.

    pikepdf would inflate a whole stream, and a few megabytes of deflate can hold
    gigabytes: here zlib inflates with ``max_length``. None (and why) for content
    over the bound or under a filter other than FlateDecode without predictor.
    """
    contents = page.obj.get("/Contents")
    streams = (
        list(contents) if isinstance(contents, Array) else [] if contents is None else [contents]
    )
    parts: list[bytes] = []
    total = 0
    for stream in streams:
        if not isinstance(stream, pikepdf.Stream):
            continue
        left = MAX_CONTENT_BYTES - total + 1
        filters = stream.get("/Filter")
        chain = (
            list(filters) if isinstance(filters, Array) else [] if filters is None else [filters]
        )
        if not chain:
            data = bytes(stream.read_raw_bytes()[:left])
        elif chain == [Name.FlateDecode] and stream.get("/DecodeParms") is None:
            try:
                data = zlib.decompressobj().decompress(stream.read_raw_bytes(), left)
            except zlib.error:
                return None, "its content stream is not valid deflate data"
        else:
            return None, "its content uses a filter preserve does not decode (only FlateDecode)"
        total += len(data)
        if total > MAX_CONTENT_BYTES:
            return None, f"its content is over {MAX_CONTENT_BYTES >> 20} MiB decoded"
        parts.append(data)
    return b"\n".join(parts), ""


def _mcid(properties: object, resources: object) -> int | None:
    if isinstance(properties, Name) and isinstance(resources, Dictionary):
        properties = resources.get(str(properties))
    if isinstance(properties, Dictionary):
        mcid = properties.get("/MCID")
        if isinstance(mcid, int) and not isinstance(mcid, bool):
            return int(mcid)
    return None


def _describe(op: str) -> str:
    if op in ("Tj", "TJ", "'", '"'):
        return f"text ({op})"
    if op in ("Do", "INLINE IMAGE", "BI"):
        return f"an image or form ({op})"
    return f"painting ({op})"
