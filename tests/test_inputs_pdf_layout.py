"""A PDF's text as a reader sees it: tagged PDFs through the structure tree, letterheads apart.

Real PDFs made here: preserve's own tagged copies (PDF/A-2a, header band marked
``/Artifact``), and untagged letters with a letterhead and a footer repeated on
every page (ReportLab, an embedded TrueType font), in the shapes institutions send.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from preserve.inputs import pdf as pdf_input
from preserve.inputs.pdf_text import FURNITURE, read_text
from preserve.metadata import prepare_file
from preserve.pdfa import PdfaLevel
from preserve.render import render_statement
from preserve.statement._record import NoteCode

REPO = Path(__file__).resolve().parent.parent
SERIF = REPO / "preserve" / "fonts" / "NotoSerif-Regular.ttf"


def our_copy(fixture: str) -> bytes:
    """preserve's own tagged PDF/A-2a copy of a text fixture."""
    prepared = prepare_file(REPO / "fixtures" / fixture)
    assert prepared.statement is not None
    return render_statement(
        prepared.statement,
        prepared.metadata(),
        PdfaLevel.A2A,
        created=dt.datetime(2024, 10, 1, tzinfo=dt.UTC),
    ).pdf


def letterhead_letter(pages: list[list[str]], letterhead: bool = True) -> bytes:
    """An untagged letter: the office's name and address on top and at the foot of each page."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(TTFont("LetterSerif", str(SERIF)))
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=(595, 842), invariant=True)
    for number, lines in enumerate(pages, start=1):
        if letterhead:
            page.setFont("LetterSerif", 15)
            page.drawString(72, 800, "Office of the Parks Commissioner")
            page.setFont("LetterSerif", 8)
            page.drawString(72, 786, "12 Linden Avenue, Riverton 1001 · +1 555 0100")
            page.drawString(72, 40, "parks-office.example · info@parks-office.example")
            page.drawString(480, 40, f"Page {number} of {len(pages)}")
        page.setFont("LetterSerif", 11)
        y = 720
        for line in lines:
            if line:
                page.drawString(72, y, line)
            y -= 16
        page.showPage()
    page.save()
    return buffer.getvalue()


FIRST = [
    "Statement on the reopening of the city parks",
    "",
    "The city parks reopen on Saturday, 6 April, after the winter works.",
    "The new paths are wide enough for wheelchairs and prams.",
    "",
    "The playgrounds have new benches and shade sails for the summer.",
]
SECOND = [
    "The park wardens will be at the gates on the first weekend to answer",
    "questions about the new opening hours.",
    "",
    "Maria Jones",
    "Parks Commissioner",
    "2 April 2024",
]


def test_tagged_pdf_is_read_through_its_structure_tree_and_its_header_band_is_left_out(
    tmp_path: Path,
) -> None:
    data = our_copy("en-letter-sincerely.txt")
    found = read_text(data)
    assert found.how == "structure tree"
    assert found.title == "Open letter on the opening hours of school libraries"
    assert found.text.startswith("Open letter on the opening hours of school libraries\n\n")
    assert "page 1 of 1" not in found.text and "Issued 2024-10-01" not in found.text
    assert any(line.startswith("Issued 2024-10-01") for line in found.left_out)
    assert any(line.endswith("page 1 of 1") for line in found.left_out)

    source = tmp_path / "copy.pdf"
    source.write_bytes(data)
    received = pdf_input.read(source)  # already PDF/A: kept, nothing to convert
    statement = received.statement
    assert statement.title == "Open letter on the opening hours of school libraries"
    assert statement.signer_name == "Leyla Həsənova"
    assert statement.date_issued == dt.date(2024, 10, 1)
    # The band is not dropped silently: the record's left_out and a coded note hold it.
    assert received.left_out == found.left_out
    assert set(found.left_out) <= set(statement.leftovers)
    assert any(note.code == FURNITURE for note in statement.notes)
    assert any(FURNITURE in event.detail for event in received.events)
    assert received.copy is not None and received.copy.pdf == data


def test_tagged_pdf_of_several_pages_keeps_its_two_line_title_and_every_paragraph() -> None:
    data = our_copy("en-annual-report-long.txt")
    found = read_text(data)
    assert found.how == "structure tree"
    assert found.title == (
        "Annual Report 2023: summary of the activities of the Commissioner for Human Rights"
    )
    # Every word of the statement, in order, and none of the band's page numbers.
    prepared = prepare_file(REPO / "fixtures" / "en-annual-report-long.txt")
    assert prepared.statement is not None
    assert found.text.split() == prepared.statement.text.split()
    assert sum("page " in line and " of 7" in line for line in found.left_out) == 7


def test_letterhead_and_footer_on_every_page_are_page_furniture_not_title_or_text() -> None:
    data = letterhead_letter([FIRST, SECOND])
    found = read_text(data)
    assert found.how == "layout"
    assert found.left_out == (
        "Office of the Parks Commissioner",
        "12 Linden Avenue, Riverton 1001 · +1 555 0100",
        # one baseline is one line: the footer and the page number
        "parks-office.example · info@parks-office.example Page 1 of 2",
        "parks-office.example · info@parks-office.example Page 2 of 2",
    )
    assert "Parks Commissioner\n" not in found.text.split("Maria Jones")[0]
    assert found.text.startswith("Statement on the reopening of the city parks\n\n")
    assert found.text.split() == [w for line in FIRST + SECOND for w in line.split()]
    statement = pdf_input.with_layout(
        pdf_input.statement_from(found.text, data, Path("parks.pdf")), found
    )
    assert statement.title == "Statement on the reopening of the city parks"
    assert statement.signer_name == "Maria Jones"
    assert statement.date_issued == dt.date(2024, 4, 2)
    assert "parks-office.example · info@parks-office.example Page 2 of 2" in statement.leftovers
    assert any(note.code == FURNITURE for note in statement.notes)


def test_without_letterhead_nothing_is_taken_out() -> None:
    found = read_text(letterhead_letter([FIRST, SECOND], letterhead=False))
    assert found.left_out == ()
    assert found.text.split() == [w for line in FIRST + SECOND for w in line.split()]


def test_a_single_page_letterhead_is_never_the_title_but_stays_in_the_text() -> None:
    data = letterhead_letter([["", "", *FIRST, "", *SECOND]])
    found = read_text(data)
    assert found.left_out == ()  # one page: nothing to compare with, nothing taken out
    assert found.text.startswith("Office of the Parks Commissioner")
    statement = pdf_input.with_layout(
        pdf_input.statement_from(found.text, data, Path("parks.pdf")), found
    )
    assert statement.title != "Office of the Parks Commissioner"
    assert statement.title in (None, "Statement on the reopening of the city parks")
    if statement.title is None:
        assert any(n.code == NoteCode.TITLE_UNSURE and n.field == "title" for n in statement.notes)
    assert statement.signer_name == "Maria Jones"


@pytest.mark.parametrize("fixture", ["ru-school-visit.txt", "az-letter-hormetle.txt"])
def test_tagged_copies_in_other_scripts_give_their_heading_as_title(fixture: str) -> None:
    prepared = prepare_file(REPO / "fixtures" / fixture)
    assert prepared.statement is not None
    found = read_text(our_copy(fixture))
    assert found.how == "structure tree"
    assert found.title == prepared.statement.title
    assert found.text.split() == prepared.statement.text.split()


def continued_letter() -> bytes:
    """Three pages: the letterhead on the first, a running header on the others, "- n -"."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(TTFont("LetterSerif", str(SERIF)))
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=(595, 842), invariant=True)
    topics = ["the river path", "the old bridge", "the market square"]
    for number, topic in enumerate(topics, start=1):
        page.setFont("LetterSerif", 9)
        if number == 1:
            page.setFont("LetterSerif", 15)
            page.drawString(72, 805, "Office of the Town Ombudsman")
        else:
            page.drawString(72, 810, "Statement on footpath repairs, 20 March 2024")
        page.setFont("LetterSerif", 9)
        page.drawString(290, 30, f"- {number} -")
        page.setFont("LetterSerif", 11)
        y = 700
        if number == 1:
            page.drawString(72, y, "Statement on footpath repairs")
            y -= 32
        for line in range(4):
            page.drawString(72, y, f"Work on {topic} goes on in week {line + 1} of the repairs.")
            y -= 16
        if number == 3:
            page.drawString(72, y - 24, "Olga Brandt")
            page.drawString(72, y - 40, "Town Ombudsman")
        page.showPage()
    page.save()
    return buffer.getvalue()


def test_a_running_header_on_every_page_but_the_first_is_page_furniture() -> None:
    found = read_text(continued_letter())
    assert found.left_out == (
        "- 1 -",
        "Statement on footpath repairs, 20 March 2024",
        "- 2 -",
        "- 3 -",
    )
    assert "Statement on footpath repairs, 20 March 2024" not in found.text
    assert "Work on the old bridge goes on in week 1" in found.text
    # The first page's letterhead is not repeated: it stays in the text, never the title.
    assert found.text.startswith("Office of the Town Ombudsman")
    assert "Office of the Town Ombudsman" in found.margins
    statement = pdf_input.with_layout(
        pdf_input.statement_from(found.text, b"%PDF", Path("repairs.pdf")), found
    )
    assert statement.title in (None, "Statement on footpath repairs")
    assert statement.signer_name == "Olga Brandt"


def test_a_producer_s_own_structure_types_are_read_through_its_role_map() -> None:
    """Word and InDesign tag with their own style names ("Heading1", "Body") and a RoleMap."""
    import pikepdf

    source = our_copy("en-letter-sincerely.txt")
    with pikepdf.open(io.BytesIO(source)) as pdf:
        renamed = {"/H1": pikepdf.Name("/Heading1"), "/P": pikepdf.Name("/BodyText")}
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary) and str(obj.get("/S", "")) in renamed:
                obj.S = renamed[str(obj.S)]
        pdf.Root.StructTreeRoot.RoleMap = pikepdf.Dictionary(
            {"/Heading1": pikepdf.Name.H1, "/BodyText": pikepdf.Name.P}
        )
        out = io.BytesIO()
        pdf.save(out)
    found = read_text(out.getvalue())
    assert found.how == "structure tree"
    assert found.title == "Open letter on the opening hours of school libraries"
    assert found.text == read_text(source).text


def test_a_title_element_wins_over_the_first_heading() -> None:
    """A producer that tags the letterhead H1 and the statement's name Title: Title wins."""
    import pikepdf

    source = our_copy("en-letter-sincerely.txt")
    with pikepdf.open(io.BytesIO(source)) as pdf:
        kinds = [o for o in pdf.objects if isinstance(o, pikepdf.Dictionary) and "/S" in o]
        heading = next(o for o in kinds if o.S == pikepdf.Name.H1)
        closing = [o for o in kinds if o.S == pikepdf.Name.P][-1]  # the date line
        heading.S, closing.S = pikepdf.Name.H1, pikepdf.Name.Title
        out = io.BytesIO()
        pdf.save(out)
    found = read_text(out.getvalue())
    assert found.title == "2024-10-01"


def test_text_outside_the_structure_tree_makes_the_layout_read_instead() -> None:
    """A tagged PDF edited afterwards (a stamp added untagged): the tree no longer holds all."""
    import pikepdf

    source = our_copy("en-letter-sincerely.txt")
    with pikepdf.open(io.BytesIO(source)) as pdf:
        page = pdf.pages[0]
        font = pdf.make_indirect(
            pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                               BaseFont=pikepdf.Name.Helvetica)
        )  # fmt: skip
        page.Resources.Font.Stamp = font
        page.contents_add(
            pikepdf.Stream(pdf, b"BT /Stamp 10 Tf 400 400 Td (Received 2 October) Tj ET"),
            prepend=False,
        )
        out = io.BytesIO()
        pdf.save(out)
    found = read_text(out.getvalue())
    assert found.how == "layout"
    assert "Received 2 October" in found.text  # nothing dropped
    assert "Open letter on the opening hours of school libraries" in found.text
