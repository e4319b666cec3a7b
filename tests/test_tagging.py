"""Tagged PDF (PDF/A-2a, PDF/A-3a, PDF/UA-1): PDFs drawn here with ReportLab and
StructureBuilder, finished by finish_pdfa, read back with pikepdf and poppler, and each
broken variant (edited with pikepdf) caught by check_pdfa by its code."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import unicodedata
import zlib
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from preserve.errors import ExitCode
from preserve.pdfa import (
    Attachment,
    NoStructureError,
    PdfaLevel,
    PdfaProblem,
    PdfInfo,
    _declare_pdfua,
    _hoist_namespaces,
    check_pdfa,
    finish_pdfa,
)
from preserve.render.fonts import FAMILIES, ensure_registered
from preserve.render.tagging import MarkedContent, StructNode, StructureBuilder
from tests.pdf_tools import run_preflight

CREATED = dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.UTC)
INFO = PdfInfo(
    title="Notes on the community garden",
    author="Garden Committee",
    language="en",
    identifier="garden-committee-2024-03-01-notes",
)
FILES = (Attachment("notes.txt", b"Notes on the community garden\n", "text/plain", "Source"),)

# What each structure element says, in reading order (the page order of the drawing).
TITLE = "Notes on the community garden"
FIRST = "The committee met on a sunny morning."
ITEMS = (("1.", "Water the seedlings."), ("2.", "Greet the visitors: "))
RUSSIAN = "Добро пожаловать"
SPLIT = ("This paragraph begins on the first page", "and ends on the second page.")
LAST = "The next meeting is in April."


def font() -> str:
    """The renderer's own registration of Noto Serif (a second TTFont from the same file
    would register the typeface "NotoSerif" and shadow the renderer's)."""
    return ensure_registered(FAMILIES[0], False)


def drawn() -> tuple[bytes, StructNode]:
    """Two pages: header and footer artifacts, a title, paragraphs, a two-item list whose
    second body holds a Russian span, and a paragraph that runs over the page break."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=1, pageCompression=1, initialFontName=font())
    tree = StructureBuilder("en")

    def text(node: StructNode, x: float, y: float, words: str, size: float = 11) -> None:
        with tree.marked(canvas, node):
            canvas.setFont(font(), size)
            canvas.drawString(x, y, words)

    def furniture(page: int) -> None:
        with tree.artifact(canvas):
            canvas.setFont(font(), 8)
            canvas.drawString(72, 800, "Garden Committee")
            canvas.line(72, 795, 523, 795)
        with tree.artifact(canvas, "Pagination"):
            canvas.setFont(font(), 8)
            canvas.drawString(72, 40, f"page {page} of 2")

    furniture(1)
    text(tree.add("H1"), 72, 740, TITLE, 16)
    text(tree.add("P"), 72, 700, FIRST)
    items = tree.add("L")
    y = 670.0
    for label, body in ITEMS:
        item = tree.add("LI", items)
        text(tree.add("Lbl", item), 72, y, label)
        lbody = tree.add("LBody", item)
        text(lbody, 90, y, body)
        if label == "2.":
            text(tree.add("Span", lbody, lang="ru"), 200, y, RUSSIAN)
        y -= 20
    split = tree.add("P")
    text(split, 72, 600, SPLIT[0])
    canvas.showPage()
    tree.next_page()
    furniture(2)
    text(split, 72, 760, SPLIT[1])
    text(tree.add("P"), 72, 730, LAST)
    canvas.showPage()
    canvas.save()
    return out.getvalue(), tree.root


def finished(level: PdfaLevel = PdfaLevel.A2A) -> bytes:
    raw, root = drawn()
    files = FILES if level.attachments else ()
    return finish_pdfa(raw, level, INFO, CREATED, files, structure=root)


def edited(
    pdf_bytes: bytes, change: Callable[[pikepdf.Pdf], None], *, as_written: bool = False
) -> bytes:
    """``change`` applied with pikepdf; ``as_written`` keeps every stream's filters as they
    are (qpdf would otherwise decode ASCIIHex and re-encode it as Flate)."""
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        change(pdf)
        out = io.BytesIO()
        if as_written:
            pdf.save(
                out, stream_decode_level=pikepdf.StreamDecodeLevel.none, compress_streams=False
            )
        else:
            pdf.save(out)
        return out.getvalue()


def codes(problems: list[PdfaProblem]) -> set[str]:
    return {p.code for p in problems}


def elements(pdf: pikepdf.Pdf) -> list[pikepdf.Dictionary]:
    """Structure elements depth-first, in the tree's order."""
    found: list[pikepdf.Dictionary] = []

    def walk(node: pikepdf.Object) -> None:
        if isinstance(node, Dictionary) and "/S" in node:
            found.append(node)
            for kid in node.get("/K", Array()):
                walk(kid)

    for kid in pdf.Root.StructTreeRoot.K:
        walk(kid)
    return found


# --------------------------------------------------------------------------- the tree


@pytest.mark.parametrize("level", [PdfaLevel.A2A, PdfaLevel.A3A])
def test_tagged_levels_pass_the_self_check(level: PdfaLevel) -> None:
    assert check_pdfa(finished(level)) == []


def test_pikepdf_sees_the_tree_as_recorded() -> None:
    with pikepdf.open(io.BytesIO(finished())) as pdf:
        root = pdf.Root
        assert root.MarkInfo.Marked is True
        assert str(root.Lang) == "en"
        assert root.ViewerPreferences.DisplayDocTitle is True
        tree = root.StructTreeRoot
        assert tree.Type == Name.StructTreeRoot and tree.ParentTreeNextKey == 2
        roles = [str(e.S)[1:] for e in elements(pdf)]
        assert roles == [
            "Document", "H1", "P", "L", "LI", "Lbl", "LBody", "LI", "Lbl", "LBody", "Span",
            "P", "P",
        ]  # fmt: skip
        found = elements(pdf)
        document, span, split = found[0], found[10], found[11]
        assert "/Lang" not in document  # the catalog's /Lang already says "en"
        assert str(span.Lang) == "ru"
        assert all("/Lang" not in e for e in found if e is not span)
        assert all(e.P.objgen == found[0].objgen for e in found if e.S == Name.H1)
        page1, page2 = (p.obj for p in pdf.pages)
        # An element on one page holds MCIDs as integers; the one that runs over the
        # page break holds the second page's part as a marked-content reference.
        assert split.Pg.objgen == page1.objgen
        first, second = split.K
        assert isinstance(first, int)
        assert second.Type == Name.MCR and second.Pg.objgen == page2.objgen
        assert second.MCID == 0
        assert [int(p.StructParents) for p in (page1, page2)] == [0, 1]
        assert all(p.Tabs == Name.S for p in (page1, page2))
        nums = tree.ParentTree.Nums
        assert [nums[0], nums[2]] == [0, 1]
        # ParentTree: for each page, the element owning each MCID, indexed by MCID.
        owners1 = [e.objgen for e in nums[1]]
        assert len(owners1) == 8 and owners1[first] == split.objgen
        assert [e.objgen for e in nums[3]] == [split.objgen, found[12].objgen]
    with pikepdf.open(io.BytesIO(finished(PdfaLevel.A1B))) as pdf:
        assert all("/Tabs" not in p.obj for p in pdf.pages)  # /Tabs is PDF 1.5


def test_the_recorded_tree_is_what_the_drawing_said() -> None:
    _raw, root = drawn()
    assert [n.role for n in root.walk()][:4] == ["Document", "H1", "P", "L"]
    split = [n for n in root.walk() if n.role == "P"][1]
    assert split.children == [MarkedContent(0, 7), MarkedContent(1, 0)]


def pdfinfo_struct(pdf: bytes, tmp_path: Path) -> str:
    if shutil.which("pdfinfo") is None:
        pytest.skip("pdfinfo (apt: poppler-utils) is not installed")
    path = tmp_path / "tagged.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdfinfo", "-struct-text", str(path)], capture_output=True, text=True, check=True
    )
    return done.stdout


POPPLER_STRUCTURE = f"""Document
  H1 (block)
    "{TITLE}"
  P (block)
    "{FIRST}"
  L (block)
    LI (block)
      Lbl (block)
        "1."
      LBody (block)
        "{ITEMS[0][1]}"
    LI (block)
      Lbl (block)
        "2."
      LBody (block)
        "{ITEMS[1][1]}"
        Span (inline)
          "{RUSSIAN}"
  P (block)
    "{SPLIT[0]}"
    "{SPLIT[1]}"
  P (block)
    "{LAST}"
"""


def test_poppler_reads_the_structure_in_reading_order(tmp_path: Path) -> None:
    """Every text under its element, in reading order; the artifacts are not there."""
    assert pdfinfo_struct(finished(), tmp_path) == POPPLER_STRUCTURE
    assert pdfinfo_struct(finished(PdfaLevel.A3A), tmp_path) == POPPLER_STRUCTURE


def test_same_input_same_bytes() -> None:
    assert finished() == finished()
    assert finished(PdfaLevel.A3A) == finished(PdfaLevel.A3A)


def qpdf_check(pdf: bytes, tmp_path: Path) -> None:
    if shutil.which("qpdf") is None:
        pytest.skip("qpdf (apt: qpdf) is not installed")
    path = tmp_path / "q.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("level", [PdfaLevel.A2A, PdfaLevel.A3A, PdfaLevel.A1B])
def test_qpdf_check_passes(level: PdfaLevel, tmp_path: Path) -> None:
    qpdf_check(finished(level), tmp_path)


def test_xmp_claims_level_a_and_pdfua_with_its_schema() -> None:
    with pikepdf.open(io.BytesIO(finished())) as pdf:
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "2" and meta["pdfaid:conformance"] == "A"
        assert meta["pdfuaid:part"] == "1"
        assert meta["dc:title"] == INFO.title
        xmp = pdf.Root.Metadata.read_bytes()
    assert b"<pdfaSchema:namespaceURI>http://www.aiim.org/pdfua/ns/id/<" in xmp
    assert b"<pdfaProperty:name>part</pdfaProperty:name>" in xmp


def test_untagged_levels_make_no_pdfua_claim() -> None:
    raw, root = drawn()
    tagged_2u = finish_pdfa(raw, PdfaLevel.A2U, INFO, CREATED, structure=root)
    with pikepdf.open(io.BytesIO(tagged_2u)) as pdf:
        assert "pdfuaid:part" not in pdf.open_metadata()
        assert "/StructTreeRoot" in pdf.Root
    assert check_pdfa(tagged_2u) == []


def test_pikepdf_validator_accepts_the_structure_tree() -> None:
    """pikepdf's allow-list validator (veraPDF's rules, conformance B only) finds nothing
    in the tagged 1b file, and in 2a/3a files only what its allow-list lacks: extension
    schemas, pdfuaid and conformance A, which PDF/A-2 and -3 allow (clause 6.6.2.3)."""
    try:
        import pikepdf.pdfa as validator
    except ImportError as exc:
        pytest.skip(f"pikepdf.pdfa is not available: {exc}")
    with pikepdf.open(io.BytesIO(finished(PdfaLevel.A1B))) as pdf:
        assert validator.check(pdf, "1b").findings == []
    allow_list_gaps = ("pdfaExtension", "pdfaSchema", "pdfaProperty", "pdfuaid", "is 'A'")
    for level in (PdfaLevel.A2A, PdfaLevel.A3A):
        with pikepdf.open(io.BytesIO(finished(level))) as pdf:
            report = validator.check(pdf, f"{level.part}b")
        findings = [f for f in report.findings if not any(g in f.message for g in allow_list_gaps)]
        assert findings == [], findings
        assert len(report.findings) == 6  # the gaps above, and nothing about the structure


# --------------------------------------------------------------------------- finishing refuses


def test_level_a_without_structure_is_refused() -> None:
    raw, _root = drawn()
    with pytest.raises(NoStructureError, match="structure tree") as raised:
        finish_pdfa(raw, PdfaLevel.A2A, INFO, CREATED)
    assert raised.value.exit_code == ExitCode.cannot_run


def test_structure_with_an_mcid_used_twice_is_refused() -> None:
    raw, root = drawn()
    root.children[0].children.append(MarkedContent(0, 1))
    with pytest.raises(ValueError, match="MCID 1 is used twice on page 1"):
        finish_pdfa(raw, PdfaLevel.A2A, INFO, CREATED, structure=root)


def test_structure_on_a_missing_page_is_refused() -> None:
    raw, root = drawn()
    root.children.append(StructNode("P", children=[MarkedContent(5, 0)]))
    with pytest.raises(ValueError, match="page 6"):
        finish_pdfa(raw, PdfaLevel.A2A, INFO, CREATED, structure=root)


# --------------------------------------------------------------------------- broken variants


def font_name(pdf: pikepdf.Pdf) -> str:
    return str(next(iter(pdf.pages[0].Resources.Font.keys())))


def untagged_text(pdf: pikepdf.Pdf) -> None:
    page = pdf.pages[1]
    page.contents_add(
        pdf.make_stream(f"BT {font_name(pdf)} 11 Tf 72 100 Td (x) Tj ET".encode()), prepend=False
    )


def untagged_rule(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].contents_add(pdf.make_stream(b"72 90 m 300 90 l S"), prepend=False)


def mcid_twice_in_tree(pdf: pikepdf.Pdf) -> None:
    found = elements(pdf)
    heading, paragraph = found[1], found[2]
    paragraph.K.append(heading.K[0])


def mcid_twice_in_content(pdf: pikepdf.Pdf) -> None:
    pdf.pages[1].contents_add(
        pdf.make_stream(f"/P <</MCID 1>> BDC BT {font_name(pdf)} 9 Tf (y) Tj ET EMC".encode()),
        prepend=False,
    )


def mcid_unreferenced(pdf: pikepdf.Pdf) -> None:
    last = elements(pdf)[-1]
    del last.K  # the tree no longer points at page 2's MCID 1 (the ParentTree still does)


def mcid_not_in_parent_tree(pdf: pikepdf.Pdf) -> None:
    nums = pdf.Root.StructTreeRoot.ParentTree.Nums
    nums[3] = Array([nums[3][0]])


def order_swapped(pdf: pikepdf.Pdf) -> None:
    document = elements(pdf)[0]
    kids = list(document.K)
    kids[0], kids[1] = kids[1], kids[0]
    document.K = Array(kids)


def no_lang(pdf: pikepdf.Pdf) -> None:
    del pdf.Root.Lang


def no_mark_info(pdf: pikepdf.Pdf) -> None:
    del pdf.Root.MarkInfo


def no_struct_tree(pdf: pikepdf.Pdf) -> None:
    del pdf.Root.StructTreeRoot


def no_display_title(pdf: pikepdf.Pdf) -> None:
    pdf.Root.ViewerPreferences.DisplayDocTitle = False


def nonstandard_role(pdf: pikepdf.Pdf) -> None:
    elements(pdf)[2].S = Name("/Paragraph")


def role_mapped(pdf: pikepdf.Pdf) -> None:
    nonstandard_role(pdf)
    pdf.Root.StructTreeRoot.RoleMap = Dictionary(Paragraph=Name.P)


def no_extension_schema(pdf: pikepdf.Pdf) -> None:
    xmp = pdf.Root.Metadata.read_bytes()
    start = xmp.index(b"<pdfaExtension:schemas")
    end = xmp.index(b"</pdfaExtension:schemas>") + len(b"</pdfaExtension:schemas>")
    pdf.Root.Metadata.write(xmp[:start] + xmp[end:])


def unclosed_sequence(pdf: pikepdf.Pdf) -> None:
    pdf.pages[1].contents_add(pdf.make_stream(b"/Artifact BMC"), prepend=False)


BROKEN: dict[str, tuple[Callable[[pikepdf.Pdf], None], set[str]]] = {
    "untagged Tj": (untagged_text, {"pdfa.untagged-content"}),
    "untagged stroke": (untagged_rule, {"pdfa.untagged-content"}),
    "MCID twice in the tree": (mcid_twice_in_tree, {"pdfa.mcid-twice"}),
    "MCID twice in the content": (mcid_twice_in_content, {"pdfa.mcid-twice"}),
    "MCID unreferenced": (mcid_unreferenced, {"pdfa.mcid-unreferenced"}),
    "MCID not in the ParentTree": (mcid_not_in_parent_tree, {"pdfa.mcid-unreferenced"}),
    "order swapped": (order_swapped, {"pdfa.structure-order"}),
    "no /Lang": (no_lang, {"pdfa.no-lang"}),
    "no /MarkInfo": (no_mark_info, {"pdfa.not-marked"}),
    "no StructTreeRoot": (no_struct_tree, {"pdfa.no-structure"}),
    "no DisplayDocTitle": (no_display_title, {"pdfa.no-display-title"}),
    "nonstandard type": (nonstandard_role, {"pdfa.nonstandard-type"}),
    "no extension schema": (no_extension_schema, {"pdfa.no-pdfua-schema"}),
    "unclosed sequence": (unclosed_sequence, {"pdfa.bad-marked-content"}),
}


def element_in_itself(pdf: pikepdf.Pdf) -> None:
    heading = elements(pdf)[1]
    heading.K = Array([heading])


def role_map_loop(pdf: pikepdf.Pdf) -> None:
    elements(pdf)[1].S = Name.A
    pdf.Root.StructTreeRoot.RoleMap = Dictionary(A=Name.B, B=Name.A)


def deep_nesting(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].contents_add(pdf.make_stream(b"/X BMC " * 100), prepend=False)


def stray_emc(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].contents_add(pdf.make_stream(b"EMC"), prepend=False)


def mcid_in_mcid(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].contents_add(
        pdf.make_stream(b"/P <</MCID 0>> BDC /P <</MCID 8>> BDC EMC EMC"), prepend=False
    )


def page_not_a_page(pdf: pikepdf.Pdf) -> None:
    elements(pdf)[1].Pg = 7


def parent_tree_garbage(pdf: pikepdf.Pdf) -> None:
    pdf.Root.StructTreeRoot.ParentTree.Nums = Array([pikepdf.String("a"), 1, 5, Name.Y])


def tree_not_a_dictionary(pdf: pikepdf.Pdf) -> None:
    pdf.Root.StructTreeRoot = Array([1])
    pdf.Root.MarkInfo = 1


def artifact_in_tagged(pdf: pikepdf.Pdf) -> None:
    stream = b"/P <</MCID 8>> BDC /Artifact BMC EMC EMC"
    pdf.pages[0].contents_add(pdf.make_stream(stream), prepend=False)
    elements(pdf)[-1].K.append(Dictionary(Type=Name.MCR, Pg=pdf.pages[0].obj, MCID=8))
    pdf.Root.StructTreeRoot.ParentTree.Nums[1].append(elements(pdf)[-1])


def tagged_in_artifact(pdf: pikepdf.Pdf) -> None:
    stream = b"/Artifact BMC /P <</MCID 8>> BDC EMC EMC"
    pdf.pages[0].contents_add(pdf.make_stream(stream), prepend=False)
    elements(pdf)[-1].K.append(Dictionary(Type=Name.MCR, Pg=pdf.pages[0].obj, MCID=8))
    pdf.Root.StructTreeRoot.ParentTree.Nums[1].append(elements(pdf)[-1])


def suspects(pdf: pikepdf.Pdf) -> None:
    pdf.Root.MarkInfo.Suspects = True


HOSTILE: dict[str, tuple[Callable[[pikepdf.Pdf], None], set[str]]] = {
    "element in itself": (element_in_itself, {"pdfa.bad-structure", "pdfa.mcid-unreferenced"}),
    "role map loop": (role_map_loop, {"pdfa.nonstandard-type"}),
    "deep nesting": (deep_nesting, {"pdfa.bad-marked-content"}),
    "stray EMC": (stray_emc, {"pdfa.bad-marked-content"}),
    "MCID in MCID": (
        mcid_in_mcid,
        {"pdfa.bad-marked-content", "pdfa.mcid-twice", "pdfa.mcid-unreferenced"},
    ),
    "/Pg not a page": (page_not_a_page, {"pdfa.bad-structure", "pdfa.mcid-unreferenced"}),
    "ParentTree garbage": (parent_tree_garbage, {"pdfa.mcid-unreferenced"}),
    "artifact in tagged content": (artifact_in_tagged, {"pdfa.bad-marked-content"}),
    "tagged content in an artifact": (tagged_in_artifact, {"pdfa.bad-marked-content"}),
    "suspects": (suspects, {"pdfa.not-marked"}),
    "tree not a dictionary": (tree_not_a_dictionary, {"pdfa.no-structure", "pdfa.not-marked"}),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_malformed_structure_is_reported_never_raised(name: str) -> None:
    change, expected = HOSTILE[name]
    assert codes(check_pdfa(edited(finished(), change))) == expected


@pytest.mark.parametrize("name", list(BROKEN))
def test_each_broken_variant_is_caught_by_its_code(name: str) -> None:
    change, expected = BROKEN[name]
    assert codes(check_pdfa(edited(finished(), change))) == expected


def test_a_role_map_to_a_standard_type_is_accepted() -> None:
    assert check_pdfa(edited(finished(), role_mapped)) == []


def test_order_problem_names_the_page_and_both_orders() -> None:
    problems = check_pdfa(edited(finished(), order_swapped))
    assert problems[0].message.startswith("page 1: the structure tree's order [1, 0,")


def test_tagging_rules_apply_only_to_level_a_and_pdfua_claims() -> None:
    raw, _root = drawn()
    plain_2u = finish_pdfa(raw, PdfaLevel.A2U, INFO, CREATED)
    assert check_pdfa(plain_2u) == []  # untagged, and claims nothing that needs tags
    assert "pdfa.no-structure" in codes(check_pdfa(edited(finished(), no_struct_tree)))


def test_a_pdfua_claim_on_an_untagged_2u_file_is_checked() -> None:
    """pdfuaid:part, not the PDF/A level, is what claims PDF/UA: an untagged 2u copy that
    claims it breaks its claim."""
    raw, _root = drawn()

    def claim_ua(pdf: pikepdf.Pdf, declare: bool) -> None:
        with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
            meta["pdfuaid:part"] = "1"
        xmp = _hoist_namespaces(pdf.Root.Metadata.read_bytes())
        pdf.Root.Metadata.write(_declare_pdfua(xmp) if declare else xmp)

    plain = finish_pdfa(raw, PdfaLevel.A2U, INFO, CREATED)
    declared = codes(check_pdfa(edited(plain, lambda pdf: claim_ua(pdf, True))))
    assert declared == {"pdfa.not-marked", "pdfa.no-structure"}
    undeclared = codes(check_pdfa(edited(plain, lambda pdf: claim_ua(pdf, False))))
    assert undeclared == declared | {"pdfa.no-pdfua-schema"}


def test_content_bombs_and_unknown_filters_are_not_inflated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A page whose content inflates past the bound, or hides under a filter preserve does
    not decode, is reported unchecked instead of being inflated whole."""
    from preserve import pdf_structure

    monkeypatch.setattr(pdf_structure, "MAX_CONTENT_BYTES", 1 << 20)

    def bomb(pdf: pikepdf.Pdf) -> None:
        stream = pdf.make_stream(b"")
        stream.write(zlib.compress(b" " * (2 << 20)), filter=Name.FlateDecode)
        pdf.pages[1].contents_add(stream, prepend=False)

    def hex_filter(pdf: pikepdf.Pdf) -> None:
        stream = pdf.make_stream(b"")
        stream.write(b"20>", filter=Name.ASCIIHexDecode)
        pdf.pages[1].contents_add(stream, prepend=False)

    for change, why in ((bomb, "over 1 MiB decoded"), (hex_filter, "filter")):
        problems = check_pdfa(edited(finished(), change, as_written=True))
        assert codes(problems) == {"pdfa.content-unchecked", "pdfa.mcid-missing"}
        assert why in problems[0].message and problems[0].message.startswith("page 2:")


# --------------------------------------------------------------------------- PDFBox Preflight


def test_preflight_accepts_a_tagged_pdfa_1b(preflight: list[str], tmp_path: Path) -> None:
    code, report = run_preflight(preflight, finished(PdfaLevel.A1B), tmp_path)
    assert code == 0 and "is a valid PDF/A-1b file" in report, report


def test_preflight_accepts_the_pdfua_extension_schema(preflight: list[str], tmp_path: Path) -> None:
    """The same tagged 1b file with pdfuaid:part and its declaration added to the XMP."""

    def claim_ua(pdf: pikepdf.Pdf) -> None:
        with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
            meta["pdfuaid:part"] = "1"
        xmp = _hoist_namespaces(pdf.Root.Metadata.read_bytes())  # as finish_pdfa does
        pdf.Root.Metadata.write(_declare_pdfua(xmp))

    def undeclared(pdf: pikepdf.Pdf) -> None:
        with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
            meta["pdfuaid:part"] = "1"

    pdf = finished(PdfaLevel.A1B)
    code, report = run_preflight(preflight, edited(pdf, claim_ua), tmp_path)
    assert code == 0 and "is a valid PDF/A-1b file" in report, report
    code, report = run_preflight(preflight, edited(pdf, undeclared), tmp_path)
    assert code != 0 and "pdfua" in report, "Preflight does refuse an undeclared pdfuaid"


# --------------------------------------------------------------------------- through verify


def test_tagging_problems_flow_through_bag_verification(tmp_path: Path) -> None:
    """A bag of ours whose PDF is a 2a copy with an untagged line: verify names the code
    and the file (bag_checks runs check_pdfa on every PDF in data/pdfa/)."""
    import bagit

    from preserve.archive import ingest
    from preserve.bag_checks import check_our_bag
    from preserve.verify import verify_bag

    from .test_archive import make_statements

    make_statements(tmp_path / "in", 1)
    assert ingest([tmp_path / "in"], tmp_path / "archive").exit_code == 0
    bag = next((tmp_path / "archive" / "bags").iterdir())
    pdf = next((bag / "data" / "pdfa").iterdir())
    pdf.write_bytes(finished())
    bagit.Bag(str(bag)).save(manifests=True)
    assert list(verify_bag(bag, extra_checks=(check_our_bag,)).errors) == []
    pdf.write_bytes(edited(finished(), untagged_text))
    bagit.Bag(str(bag)).save(manifests=True)
    errors = list(verify_bag(bag, extra_checks=(check_our_bag,)).errors)
    assert [(p.code, p.path) for p in errors] == [
        ("pdfa.untagged-content", f"data/pdfa/{pdf.name}")
    ]


# --------------------------------------------------------------------------- the builder


class FakeCanvas:
    """The one thing StructureBuilder touches on a ReportLab canvas: its operator list."""

    def __init__(self) -> None:
        self._code: list[str] = []


def test_builder_writes_marked_content_and_restarts_mcids_per_page() -> None:
    canvas = FakeCanvas()
    tree = StructureBuilder("az-Latn")
    heading, body = tree.add("H1"), tree.add("P")
    with tree.marked(canvas, heading):
        canvas._code.append("BT (a) Tj ET")
    with tree.artifact(canvas, "Layout"):
        canvas._code.append("0 0 m 1 1 l S")
    with tree.marked(canvas, body):
        pass
    tree.next_page()
    with tree.marked(canvas, body):
        pass
    assert canvas._code == [
        "/H1 <</MCID 0>> BDC", "BT (a) Tj ET", "EMC",
        "/Artifact <</Type /Layout>> BDC", "0 0 m 1 1 l S", "EMC",
        "/P <</MCID 1>> BDC", "EMC",
        "/P <</MCID 0>> BDC", "EMC",
    ]  # fmt: skip
    assert tree.root == StructNode(
        "Document",
        "az-Latn",
        children=[
            StructNode("H1", children=[MarkedContent(0, 0)]),
            StructNode("P", children=[MarkedContent(0, 1), MarkedContent(1, 0)]),
        ],
    )


def test_builder_refuses_what_would_make_a_wrong_tree() -> None:
    canvas = FakeCanvas()
    tree = StructureBuilder("en")
    with pytest.raises(ValueError, match="Paragraph"):
        tree.add("Paragraph")
    with pytest.raises(ValueError, match="Header"), tree.artifact(canvas, "Header"):
        pass
    node = tree.add("P")
    with (
        tree.marked(canvas, node),
        pytest.raises(RuntimeError, match="nested"),
        tree.marked(canvas, node),
    ):
        pass
    assert canvas._code == ["/P <</MCID 0>> BDC", "EMC"]  # closed even after the error


# --------------------------------------------------------------------------- every fixture

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def letters(text: str) -> str:
    """Letters, digits and marks only (NFC): what must survive, whatever the spacing."""
    text = unicodedata.normalize("NFC", text)
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LNM")


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.txt")), ids=lambda p: p.stem)
def test_every_fixture_as_2a_is_tagged_in_reading_order(path: Path, tmp_path: Path) -> None:
    """The question for making 2a the default: each fixture's tagged copy passes the
    self-check, and poppler reads every line of every block from the structure tree,
    in the order received.

    Right-to-left text: every letter is there, but not in order, because a lam-alef
    or alef-maksura ligature's ToUnicode lists its letters in drawing order (the
    convention pdftotext needs, docs/render.md) and poppler's structure text, unlike
    pdftotext, does not reorder them: "إلى" reads "إىل"."""
    from preserve.metadata import prepare_file
    from preserve.render import render_statement
    from preserve.statement import parse_text

    prepared = prepare_file(path)
    if not prepared.valid or prepared.statement is None:
        pytest.skip(f"{path.name} is not a valid statement: {prepared.problems[0].one_line()}")
    statement = prepared.statement
    rendering = render_statement(statement, prepared.metadata(), PdfaLevel.A2A, created=CREATED)
    assert check_pdfa(rendering.pdf) == []
    out = pdfinfo_struct(rendering.pdf, tmp_path)
    texts = [line.strip()[1:-1] for line in out.splitlines() if line.strip().startswith('"')]
    blocks = statement.blocks or parse_text(statement.text).blocks
    expected = [line for block in blocks for line in block.lines]
    got, want = letters("".join(texts)), letters("".join(expected))
    if any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in want):
        assert sorted(got) == sorted(want)
    else:
        assert got == want


def test_a_block_in_another_language_carries_its_own_lang(tmp_path: Path) -> None:
    """A French paragraph in an English statement is a P with /Lang fr; the English
    ones inherit the document's; short lines (names) are never guessed."""
    import pikepdf

    from preserve.metadata import prepare_file
    from preserve.render import render_statement

    path = tmp_path / "statement.txt"
    path.write_text(
        "Joint notice on the reading rooms\n\n"
        "The reading rooms of the two city libraries will open on Saturdays from April, "
        "from ten in the morning until six in the evening, as readers asked in the survey "
        "held over the winter. The staff of both libraries agreed to the new hours.\n\n"
        "Les salles de lecture des deux bibliothèques de la ville ouvriront le samedi "
        "à partir du mois d'avril.\n\n"
        "Anna Example\nHead of the City Library\n\n12 March 2024\n",
        encoding="utf-8",
    )
    prepared = prepare_file(path)
    assert prepared.statement is not None
    rendering = render_statement(prepared.statement, prepared.metadata(), PdfaLevel.A2A)
    assert check_pdfa(rendering.pdf) == []
    with pikepdf.open(io.BytesIO(rendering.pdf)) as pdf:
        assert str(pdf.Root.Lang) == "en"
        langs = []
        stack = [pdf.Root.StructTreeRoot]
        while stack:
            node = stack.pop()
            kids = node.get("/K")
            if isinstance(kids, pikepdf.Array):
                stack.extend(k for k in kids if isinstance(k, pikepdf.Dictionary))
            elif isinstance(kids, pikepdf.Dictionary):
                stack.append(kids)
            if "/Lang" in node and "/S" in node:
                langs.append((str(node.S), str(node.Lang)))
    assert langs == [("/P", "fr")]
