"""The institution's own PDF: kept as issued, text read, PDF/A copy; check_pdfa on other producers.

The PDFs are made here by other producers than preserve's renderer: fpdf2 (TrueType
fonts embedded as composite Type0 fonts, as WeasyPrint and XeLaTeX write them) and
ReportLab with a standard font (not embedded, as many office PDFs are).
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest

from preserve.errors import ExitCode, InputError
from preserve.inputs import Form, module_for, read_head
from preserve.inputs import pdf as pdf_input
from preserve.pdfa import PdfaLevel, PdfInfo, check_pdfa, finish_pdfa

REPO = Path(__file__).resolve().parent.parent
FIDO = Path(sys.executable).parent / "fido"
SERIF = REPO / "preserve" / "fonts" / "NotoSerif-Regular.ttf"
LINES = (
    "Statement on the new reading rooms",
    "",
    "The reading rooms of the city library open on Monday, 4 March.",
    "Visitors may borrow up to five books at a time.",
    "",
    "Anna Smith",
    "Library Commissioner",
    "23 February 2024",
)
needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="tesseract-ocr is not installed (see .ci/run)"
)


def fpdf2_pdf(lines: tuple[str, ...] = LINES) -> bytes:
    """A letter with a letterhead band, TrueType text (Type0 font) and a signature image."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    signature = Image.new("RGB", (300, 80), "white")
    ImageDraw.Draw(signature).line([(10, 60), (80, 20), (150, 65), (290, 15)], "navy", 4)
    doc = FPDF(format="A4")
    doc.set_creation_date(dt.datetime(2024, 2, 23, 12, tzinfo=dt.UTC))
    doc.add_page()
    doc.add_font("Serif", "", str(SERIF))
    doc.set_fill_color(20, 50, 120)
    doc.rect(0, 0, 210, 25, style="F")
    doc.set_text_color(255, 255, 255)
    doc.set_font("Serif", size=16)
    doc.text(15, 15, "Office of the Library Commissioner")
    doc.set_text_color(0, 0, 0)
    doc.set_font("Serif", size=11)
    y = 45.0
    for line in lines:
        if line:
            doc.text(20, y, line)
        y += 7
    buffer = io.BytesIO()
    signature.save(buffer, format="PNG")
    doc.image(buffer, x=20, y=y, w=40)
    return bytes(doc.output())


def reportlab_pdf() -> bytes:
    """A letter set in Helvetica, which ReportLab does not embed."""
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=(595, 842), invariant=True)
    page.setFont("Helvetica", 11)
    y = 760
    for line in LINES:
        page.drawString(72, y, line)
        y -= 16
    page.save()
    return buffer.getvalue()


def as_pdfa(data: bytes, level: PdfaLevel = PdfaLevel.A2U) -> bytes:
    info = PdfInfo("Reading rooms", "Anna Smith", "en", "reading-rooms")
    return finish_pdfa(data, level, info, dt.datetime(2024, 2, 23, 12, tzinfo=dt.UTC))


def font_subtypes(data: bytes) -> set[str]:
    with pikepdf.open(io.BytesIO(data)) as doc:
        return {
            str(o.get("/Subtype"))
            for o in doc.objects
            if isinstance(o, pikepdf.Dictionary) and o.get("/Type") == pikepdf.Name.Font
        }


def page_text(data: bytes) -> str:
    return pdf_input.extract_text(data, Path("copy.pdf"))


# --------------------------------------------------------------------------- check_pdfa


def test_type0_font_with_tounicode_on_the_composite_font_is_not_a_false_alarm() -> None:
    data = as_pdfa(fpdf2_pdf())
    assert {"/Type0", "/CIDFontType2"} <= font_subtypes(data)
    assert check_pdfa(data) == []


def test_type0_font_without_any_tounicode_is_still_reported() -> None:
    with pikepdf.open(io.BytesIO(as_pdfa(fpdf2_pdf()))) as doc:
        for obj in doc.objects:
            if isinstance(obj, pikepdf.Dictionary) and "/ToUnicode" in obj:
                del obj["/ToUnicode"]
        out = io.BytesIO()
        doc.save(out)
    codes = [p.code for p in check_pdfa(out.getvalue())]
    assert codes == ["pdfa.no-tounicode"]


@pytest.mark.parametrize(
    "docinfo_date",
    [
        "D:20240223120000Z'",
        "D:20240223120000Z00'00'",
        "D:20240223120000Z",
        "D:20240223160000+04'00'",
    ],
)
def test_docinfo_dates_as_other_producers_write_them_match_xmp(docinfo_date: str) -> None:
    # LibreOffice writes a UTC DocInfo date as D:…Z' (an apostrophe after the Z).
    with pikepdf.open(io.BytesIO(as_pdfa(fpdf2_pdf()))) as doc:
        doc.trailer.Info.CreationDate = pikepdf.String(docinfo_date)
        with doc.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
            meta["xmp:CreateDate"] = "2024-02-23T12:00:00Z"
        out = io.BytesIO()
        doc.save(out)
    assert check_pdfa(out.getvalue()) == []


def test_a_different_docinfo_date_is_still_a_mismatch() -> None:
    with pikepdf.open(io.BytesIO(as_pdfa(fpdf2_pdf()))) as doc:
        doc.trailer.Info.CreationDate = pikepdf.String("D:20240223130000Z'")
        with doc.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
            meta["xmp:CreateDate"] = "2024-02-23T12:00:00Z"
        out = io.BytesIO()
        doc.save(out)
    assert [p.code for p in check_pdfa(out.getvalue())] == ["pdfa.xmp-docinfo-mismatch"]


# --------------------------------------------------------------------------- reading a PDF


@needs_tesseract
def test_institution_pdf_is_kept_its_text_parsed_and_converted_with_its_own_page(
    tmp_path: Path,
) -> None:
    source = tmp_path / "statement.pdf"
    data = fpdf2_pdf()
    source.write_bytes(data)
    received = module_for(source).read(source)
    assert received.form is Form.PDF
    assert received.original.content == data  # as issued, byte for byte
    assert received.original.path == "data/original/statement.pdf"
    assert received.original.pronom == "fmt/17"  # fpdf2 writes %PDF-1.3
    statement = received.statement
    assert statement.original == data
    assert statement.signer_name == "Anna Smith"
    assert statement.date_issued == dt.date(2024, 2, 23)
    assert "borrow up to five books" in statement.text
    extracted = received.files[1]
    assert extracted.path == "data/extracted/statement.txt"
    assert extracted.content.decode("utf-8").splitlines()[0] == "Office of the Library Commissioner"
    assert received.copy is not None
    copy = received.copy.pdf
    assert check_pdfa(copy) == []
    with pikepdf.open(io.BytesIO(copy)) as doc:
        meta = doc.open_metadata()
        assert (meta["pdfaid:part"], meta["pdfaid:conformance"]) == ("2", "B")
        assert len(doc.pages) == 1
        images = list(doc.pages[0].get_images())
    assert received.copy.pronom == "fmt/477"
    assert images, "the signature image is on the copy's page"
    assert "/Type0" in font_subtypes(copy)  # the institution's own font, not OCR's
    assert "borrow up to five books" in page_text(copy)
    assert "rasterised" not in received.copy.made_by
    assert not received.notes


def test_pdf_that_already_is_pdfa_is_kept_not_converted(tmp_path: Path) -> None:
    source = tmp_path / "already.pdf"
    data = as_pdfa(fpdf2_pdf())
    source.write_bytes(data)
    received = pdf_input.read(source)
    assert received.copy is not None
    assert received.copy.pdf == data
    assert received.copy.made_by.startswith("kept as received")
    assert received.original.pronom == "fmt/478"
    assert [e.type for e in received.events] == [
        "format identification",
        "metadata extraction",
        "normalization",
    ]


@needs_tesseract
def test_pdf_whose_fonts_cannot_be_made_pdfa_is_rasterised_with_a_note(tmp_path: Path) -> None:
    source = tmp_path / "helvetica.pdf"
    source.write_bytes(reportlab_pdf())
    received = pdf_input.read(source)
    assert received.copy is not None
    assert check_pdfa(received.copy.pdf) == []
    assert any(n.startswith("pdf.rasterized:") for n in received.notes)
    assert "five books" in page_text(received.copy.pdf)  # OCR text layer
    assert received.statement.signer_name == "Anna Smith"  # fields from the exact text


def _encrypted(tmp_path: Path, user: str) -> Path:
    path = tmp_path / "locked.pdf"
    with pikepdf.open(io.BytesIO(fpdf2_pdf())) as doc:
        doc.save(path, encryption=pikepdf.Encryption(owner="owner", user=user, R=6))
    return path


@pytest.mark.parametrize("user", ["secret", ""])
def test_encrypted_pdf_is_one_clear_line(tmp_path: Path, user: str) -> None:
    path = _encrypted(tmp_path, user)
    with pytest.raises(InputError) as caught:
        pdf_input.read(path)
    line = caught.value.one_line()
    assert line.startswith(str(path) + ": ")
    assert "encrypted" in line or "password" in line
    assert "ask the institution" in line
    assert "\n" not in line
    assert caught.value.exit_code is ExitCode.bad


@pytest.mark.parametrize(
    "content",
    [
        b"%PDF-1.7\n" + bytes(range(256)) * 8,
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n",
        b"<html><body>Statement</body></html>",  # named .pdf, is not one
    ],
)
def test_damaged_pdf_is_one_clear_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "damaged.pdf"
    path.write_bytes(content)
    assert module_for(path) is pdf_input
    with pytest.raises(InputError) as caught:
        pdf_input.read(path)
    line = caught.value.one_line()
    assert line.startswith(str(path) + ": ")
    assert "\n" not in line
    assert caught.value.exit_code is ExitCode.bad


def test_pdf_is_recognised_by_content_not_by_name(tmp_path: Path) -> None:
    path = tmp_path / "statement.bin"
    path.write_bytes(fpdf2_pdf())
    assert pdf_input.accepts(path, read_head(path))
    assert module_for(path) is pdf_input


@pytest.mark.skipif(not FIDO.exists(), reason="opf-fido is not installed (test extra)")
def test_pronom_ids_agree_with_fido(tmp_path: Path) -> None:
    files = {
        "plain.pdf": fpdf2_pdf(),
        "pdfa2u.pdf": as_pdfa(fpdf2_pdf()),
        "pdfa2b.pdf": as_pdfa(fpdf2_pdf(), PdfaLevel.A2B),
        "pdfa1b.pdf": as_pdfa(fpdf2_pdf(), PdfaLevel.A1B),
    }
    ours = {}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        with pikepdf.open(io.BytesIO(data)) as doc:
            ours[name] = pdf_input.pdf_pronom(data, pdf_input.pdfa_claim(doc))
    assert fido(tmp_path, list(files)) == ours


def fido(folder: Path, names: list[str]) -> dict[str, str]:
    """FIDO's PRONOM id for each named file in ``folder``."""
    done = subprocess.run(
        [str(FIDO), "-q", "-matchprintf", "%(info.filename)s\t%(info.puid)s\n",
         *[str(folder / n) for n in names]],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    found = {}
    for line in done.stdout.splitlines():
        path, _, puid = line.partition("\t")
        found[Path(path).name] = puid
    return found


def test_text_has_a_blank_line_where_the_page_leaves_space() -> None:
    text = pdf_input.extract_text(fpdf2_pdf(), Path("statement.pdf"))
    assert text == (
        "Office of the Library Commissioner\n\n"
        "Statement on the new reading rooms\n\n"
        "The reading rooms of the city library open on Monday, 4 March.\n"
        "Visitors may borrow up to five books at a time.\n\n"
        "Anna Smith\nLibrary Commissioner\n23 February 2024"
    )
