"""DOCX and ODT: kept as received; text, headings and lists (numbered as displayed) extracted.

The documents are made here with python-docx and odfpy, the way Word and
LibreOffice store them (numbering definitions, list styles, a letterhead in the
page header); the copy is then rendered from the extracted text like any statement.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import docx as python_docx
import pytest
from docx.oxml.ns import qn
from odf.opendocument import OpenDocumentText
from odf.style import Header, MasterPage, PageLayout
from odf.table import Table, TableCell, TableRow
from odf.text import H, List, ListItem, ListLevelStyleBullet, ListLevelStyleNumber, ListStyle, P

from preserve.errors import ExitCode, InputError
from preserve.inputs import Form, module_for
from preserve.inputs import docx as docx_input
from preserve.inputs import odt as odt_input
from preserve.metadata import prepare
from preserve.pdfa import PdfaLevel, check_pdfa
from preserve.render import render_statement
from preserve.statement import block_lines

FIDO = Path(sys.executable).parent / "fido"

EXPECTED_DOCX = """Statement on the new reading rooms

The reading rooms of the city library open on Monday. Visitors are welcome.

The rooms offer:

1. quiet desks for study;
2. a children's corner;
3. newspapers in four languages.
• Opening hours
• Weekdays 9 to 18

Day
Hours

Monday
9–18

Anna Smith
Library Commissioner

23 February 2024
"""


def make_docx(path: Path, table: bool = True) -> Path:
    document = python_docx.Document()
    document.sections[0].header.paragraphs[0].text = "Office of the Library Commissioner"
    document.add_heading("Statement on the new reading rooms", level=1)
    document.add_paragraph(
        "The reading rooms of the city library open on Monday. Visitors are welcome."
    )
    document.add_paragraph("The rooms offer:")
    for item in ("quiet desks for study;", "a children's corner;", "newspapers in four languages."):
        document.add_paragraph(item, style="List Number")
    document.add_paragraph("Opening hours", style="List Bullet")
    document.add_paragraph("Weekdays 9 to 18", style="List Bullet 2")
    if table:
        cells = document.add_table(rows=2, cols=2)
        for (row, col), value in {
            (0, 0): "Day",
            (0, 1): "Hours",
            (1, 0): "Monday",
            (1, 1): "9–18",
        }.items():
            cells.cell(row, col).text = value
    document.add_paragraph("Anna Smith\nLibrary Commissioner")
    document.add_paragraph("23 February 2024")
    document.save(path)
    return path


def make_odt(path: Path) -> Path:
    doc = OpenDocumentText()
    numbered = ListStyle(name="Numbered")
    numbered.addElement(ListLevelStyleNumber(level=1, numformat="1", numsuffix=".", startvalue=1))
    numbered.addElement(ListLevelStyleNumber(level=2, numformat="a", numsuffix=")", startvalue=1))
    numbered.addElement(
        ListLevelStyleNumber(level=3, numformat="i", numsuffix=".", startvalue=1, displaylevels=1)
    )
    doc.automaticstyles.addElement(numbered)
    roman = ListStyle(name="Roman")
    roman.addElement(ListLevelStyleNumber(level=1, numformat="I", numsuffix=".", startvalue=4))
    doc.automaticstyles.addElement(roman)
    bullets = ListStyle(name="Bullets")
    bullets.addElement(ListLevelStyleBullet(level=1, bulletchar="–"))
    doc.automaticstyles.addElement(bullets)
    layout = PageLayout(name="pm1")
    doc.automaticstyles.addElement(layout)
    master = MasterPage(name="Standard", pagelayoutname=layout)
    header = Header()
    header.addElement(P(text="Office of the Library Commissioner"))
    master.addElement(header)
    doc.masterstyles.addElement(master)
    doc.text.addElement(H(outlinelevel=1, text="Statement on the new reading rooms"))
    doc.text.addElement(P(text="The reading rooms of the city library open on Monday."))
    top = List(stylename=numbered)
    for text in ("quiet desks;", "a children's corner;"):
        item = ListItem()
        item.addElement(P(text=text))
        top.addElement(item)
    item = ListItem()
    item.addElement(P(text="newspapers:"))
    sub = List()
    for text in ("local", "national"):
        sub_item = ListItem()
        sub_item.addElement(P(text=text))
        sub.addElement(sub_item)
    item.addElement(sub)
    top.addElement(item)
    doc.text.addElement(top)
    later = List(stylename=roman)
    for text in ("fourth point", "fifth point"):
        item = ListItem()
        item.addElement(P(text=text))
        later.addElement(item)
    doc.text.addElement(later)
    marks = List(stylename=bullets)
    item = ListItem()
    item.addElement(P(text="open every day"))
    marks.addElement(item)
    doc.text.addElement(marks)
    table = Table(name="Hours")
    row = TableRow()
    for value in ("Monday", "9–18"):
        cell = TableCell()
        cell.addElement(P(text=value))
        row.addElement(cell)
    table.addElement(row)
    doc.text.addElement(table)
    for line in ("Anna Smith", "Library Commissioner", "23 February 2024"):
        doc.text.addElement(P(text=line))
    doc.save(str(path))
    return path


EXPECTED_ODT = """Statement on the new reading rooms

The reading rooms of the city library open on Monday.

1. quiet desks;
2. a children's corner;
3. newspapers:
a) local
b) national
IV. fourth point
V. fifth point
– open every day

Monday
9–18

Anna Smith

Library Commissioner

23 February 2024
"""


def test_docx_text_headings_lists_as_displayed_and_tables(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "statement.docx")
    received = module_for(path).read(path)
    assert received.form is Form.DOCX
    assert received.original.content == path.read_bytes()
    assert received.original.path == "data/original/statement.docx"
    assert received.original.pronom == "fmt/412"
    assert received.copy is None  # rendered from the text, like plain text
    statement = received.statement
    assert statement.original == path.read_bytes()
    assert statement.text == EXPECTED_DOCX.strip("\n")
    assert statement.title == "Statement on the new reading rooms"
    assert (statement.signer_name, statement.signer_role) == ("Anna Smith", "Library Commissioner")
    assert statement.date_issued == dt.date(2024, 2, 23)
    assert received.left_out == ("Office of the Library Commissioner",)
    extracted = received.files[1]
    assert extracted.path == "data/extracted/statement.txt"
    assert extracted.content.decode("utf-8") == EXPECTED_DOCX


def test_docx_list_restarts_and_multilevel_numbers(tmp_path: Path) -> None:
    """A second numbered list that restarts (startOverride) and a level-2 "1.1" item."""
    document = python_docx.Document()
    for text in ("first", "second"):
        document.add_paragraph(text, style="List Number")
    numbering = document.part.numbering_part.element
    nums = numbering.findall(qn("w:num"))
    number_style_num = document.styles["List Number"].element.pPr.numPr.numId.val
    abstract = next(n for n in nums if n.numId == number_style_num).abstractNumId.val
    restart = numbering.add_num(abstract)
    override = restart.add_lvlOverride(ilvl=0)
    override.add_startOverride(1)
    level_1 = numbering.xpath(f"./w:abstractNum[@w:abstractNumId='{abstract}']/w:lvl")[0]
    level_2 = copy.deepcopy(level_1)  # the template's list has one level: add a second
    level_2.set(qn("w:ilvl"), "1")
    level_1.addnext(level_2)
    level_2.find(qn("w:lvlText")).set(qn("w:val"), "%1.%2")
    level_2.find(qn("w:numFmt")).set(qn("w:val"), "decimal")
    item = document.add_paragraph("again", style="List Number")
    item._p.get_or_add_pPr().get_or_add_numPr().get_or_add_numId().val = restart.numId
    deeper = document.add_paragraph("deeper", style="List Number")
    num_pr = deeper._p.get_or_add_pPr().get_or_add_numPr()
    num_pr.get_or_add_numId().val = restart.numId
    num_pr.get_or_add_ilvl().val = 1
    path = tmp_path / "lists.docx"
    document.save(path)
    text = docx_input.read(path).statement.text
    assert text.splitlines() == ["1. first", "2. second", "1. again", "1.1 deeper"]


def test_odt_text_headings_lists_as_displayed_and_tables(tmp_path: Path) -> None:
    path = make_odt(tmp_path / "statement.odt")
    received = module_for(path).read(path)
    assert received.form is Form.ODT
    assert received.original.content == path.read_bytes()
    assert received.original.pronom == "fmt/291"  # office:version 1.2
    statement = received.statement
    assert statement.text == EXPECTED_ODT.strip("\n")
    assert statement.title == "Statement on the new reading rooms"
    assert statement.signer_name == "Anna Smith"
    assert statement.date_issued == dt.date(2024, 2, 23)
    assert received.left_out == ("Office of the Library Commissioner",)


@pytest.mark.parametrize("maker", [make_docx, make_odt])
def test_copy_is_rendered_from_every_extracted_line(tmp_path: Path, maker: object) -> None:
    # Without the DOCX table: before the parser merge of 2026-11-29 the parse took its
    # short cells ("Day", "Hours") for signature blocks and render left them off the page.
    if maker is make_docx:
        path = make_docx(tmp_path / "s.docx", table=False)
    else:
        path = make_odt(tmp_path / "s.odt")
    received = module_for(path).read(path)
    prepared = prepare(received.statement, {})
    rendering = render_statement(received.statement, prepared.metadata(), PdfaLevel.A2U)
    assert check_pdfa(rendering.pdf) == []
    from preserve.inputs.pdf import extract_text

    shown = " ".join(extract_text(rendering.pdf, path).split())
    for line in block_lines(received.statement.text):
        assert " ".join(line.split()) in shown


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("letter.docx", b"This is plain text, not a Word file.\n", "not a ZIP package"),
        ("letter.docx", b"", "empty file"),
        ("letter.odt", b"\x00\x01\x02 not a zip", "not a ZIP package"),
    ],
)
def test_not_a_package_is_one_clear_line(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        module_for(path).read(path)
    line = caught.value.one_line()
    assert line.startswith(f"{path}: ")
    assert expected in line
    assert "\n" not in line
    assert caught.value.exit_code is ExitCode.bad


def test_zip_that_is_not_a_docx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "letter.docx"
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("readme.txt", "hello")
    with pytest.raises(InputError, match=r"no word/document\.xml"):
        docx_input.read(path)


def test_docx_damaged_inside_is_one_clear_line(tmp_path: Path) -> None:
    good = make_docx(tmp_path / "good.docx").read_bytes()
    path = tmp_path / "damaged.docx"
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/document.xml":
                data = data[: len(data) // 2]
            target.writestr(info, data)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(InputError) as caught:
        docx_input.read(path)
    assert caught.value.one_line().startswith(f"{path}: damaged DOCX")


def test_zip_bomb_is_refused_before_unpacking(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("word/document.xml", "<w:document/>")
        package.writestr("word/media/huge.bin", b"\x00" * (300 * 1024 * 1024))
    with pytest.raises(InputError, match="unpacks to"):
        docx_input.read(path)


def test_word_files_found_by_content_whatever_their_name(tmp_path: Path) -> None:
    docx_file = make_docx(tmp_path / "a.docx")
    odt_file = make_odt(tmp_path / "b.odt")
    renamed_docx = tmp_path / "a.bin"
    renamed_docx.write_bytes(docx_file.read_bytes())
    renamed_odt = tmp_path / "b.bin"
    renamed_odt.write_bytes(odt_file.read_bytes())
    assert module_for(renamed_docx) is docx_input
    assert module_for(renamed_odt) is odt_input


@pytest.mark.skipif(not FIDO.exists(), reason="opf-fido is not installed (test extra)")
def test_pronom_ids_agree_with_fido(tmp_path: Path) -> None:
    docx_file = make_docx(tmp_path / "a.docx")
    odt_file = make_odt(tmp_path / "b.odt")
    done = subprocess.run(
        [str(FIDO), "-q", "-matchprintf", "%(info.filename)s\t%(info.puid)s\n",
         str(docx_file), str(odt_file)],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    theirs = dict(line.split("\t") for line in done.stdout.splitlines())
    assert theirs[str(docx_file)] == docx_input.read(docx_file).original.pronom == "fmt/412"
    # FIDO names every ODT fmt/290 (its container signature does not read office:version);
    # ours follows the version the file declares (1.2: fmt/291), as DROID does.
    assert theirs[str(odt_file)] in {"fmt/290", "fmt/291", "fmt/1756"}
    assert odt_input.read(odt_file).original.pronom == "fmt/291"


def _table(rows: list[list[str]]) -> Table:
    table = Table(name=f"T{len(rows)}")
    for values in rows:
        row = TableRow()
        for value in values:
            cell = TableCell()
            for line in value.split("\n"):
                cell.addElement(P(text=line))
            row.addElement(cell)
        table.addElement(row)
    return table


def test_odt_letterhead_table_is_left_out_and_signature_table_read_by_column(
    tmp_path: Path,
) -> None:
    """An ODT letter: the letterhead a table at the top, the signatures a table at the foot."""
    doc = OpenDocumentText()
    doc.text.addElement(
        _table([["OFFICE OF THE WATER OMBUDSMAN\nRiver Street 12", "info@water.example"]])
    )
    for line in (
        "Statement on the summer water supply",
        "The water supply will not be interrupted this summer. The reservoir is full.",
        "3 July 2024",
    ):
        doc.text.addElement(P(text=line))
    doc.text.addElement(
        _table([["Nora Field", "Ivan Petrov"], ["Water Ombudsman", "Mayor of Millbrook"]])
    )
    path = tmp_path / "water.odt"
    doc.save(str(path))
    received = odt_input.read(path)
    statement = received.statement
    assert received.left_out == (
        "OFFICE OF THE WATER OMBUDSMAN",
        "River Street 12",
        "info@water.example",
    )
    assert "OFFICE OF THE WATER OMBUDSMAN" not in statement.text
    assert set(received.left_out) <= set(statement.leftovers)
    assert any(note.code == "wordproc.letterhead" for note in statement.notes)
    assert statement.title == "Statement on the summer water supply"
    assert [(s.name, s.role) for s in statement.signers] == [
        ("Nora Field", "Water Ombudsman"),
        ("Ivan Petrov", "Mayor of Millbrook"),
    ]
