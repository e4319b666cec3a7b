"""Scanned letters: OCR with OCRmyPDF and Tesseract into a searchable PDF/A, confidence recorded.

The scans are made here: a fixture rendered by preserve's renderer, rasterised by
pdftoppm at 300 dpi, turned slightly and sprinkled with noise (Pillow, fixed seed),
saved as TIFF, PNG, JPEG and an image-only PDF.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pikepdf
import pytest
from PIL import Image, ImageDraw

from preserve.errors import ExitCode, InputError
from preserve.inputs import Form, module_for
from preserve.inputs import ocr as ocr_module
from preserve.inputs import pdf as pdf_input
from preserve.inputs import scan as scan_input
from preserve.metadata import prepare_file
from preserve.pdfa import PdfaLevel, check_pdfa
from preserve.render import render_statement

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "fixtures" / "en-letter-sincerely.txt"
FIDO = Path(sys.executable).parent / "fido"

pytestmark = [
    pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed"),
    pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed"),
]


def rendered_page(fixture: Path) -> Image.Image:
    """The first page of preserve's copy of ``fixture``, as a 300 dpi greyscale scan would be."""
    prepared = prepare_file(fixture)
    assert prepared.statement is not None
    rendering = render_statement(
        prepared.statement,
        prepared.metadata(),
        PdfaLevel.A2U,
        created=dt.datetime(2024, 10, 1, tzinfo=dt.UTC),
    )
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "copy.pdf"
        source.write_bytes(rendering.pdf)
        root = Path(work) / "page"
        subprocess.run(
            ["pdftoppm", "-r", "300", "-gray", "-png", "-singlefile", "-f", "1", "-l", "1",
             str(source), str(root)],
            check=True,
        )  # fmt: skip
        with Image.open(root.with_suffix(".png")) as image:
            page = image.convert("L")
    # A letter on paper has no archive band: white out the copy's header and footer lines.
    width, height = page.size
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, width, int(height * 0.11)), fill=255)
    draw.rectangle((0, int(height * 0.91), width, height), fill=255)
    return page


def noisy(page: Image.Image, seed: int = 7, angle: float = 0.7) -> Image.Image:
    """A slightly turned page with 1% salt-and-pepper noise (a photocopied letter)."""
    turned = page.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    rng = random.Random(seed)
    pixels = turned.load()
    assert pixels is not None
    width, height = turned.size
    for _ in range(width * height // 100):
        pixels[rng.randrange(width), rng.randrange(height)] = rng.choice((0, 255))
    return turned


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("scans")
    page = noisy(rendered_page(FIXTURE))
    files = {
        "tiff": folder / "letter.tiff",
        "png": folder / "letter.png",
        "jpeg": folder / "letter.jpg",
        "pdf": folder / "letter-scan.pdf",
    }
    page.save(files["tiff"], dpi=(300, 300), compression="tiff_lzw")
    page.save(files["png"], dpi=(300, 300))
    page.save(files["jpeg"], dpi=(300, 300), quality=80)
    page.save(files["pdf"], resolution=300.0)
    return files


def words(text: str) -> list[str]:
    return [w.strip(".,:;").lower() for w in text.split() if w.strip(".,:;")]


@pytest.mark.parametrize("kind", ["tiff", "png", "jpeg", "pdf"])
def test_scan_is_kept_ocred_into_searchable_pdfa_with_confidence(
    scans: dict[str, Path], kind: str
) -> None:
    path = scans[kind]
    received = module_for(path).read(path)
    assert received.form is Form.SCAN
    assert received.original.content == path.read_bytes()  # the scan as received
    statement = received.statement
    # A speck read as "-" before the title makes it a list item: then no title (a
    # blank, never a wrong one), while its words are still in the text.
    title = "Open letter on the opening hours of school libraries"
    assert statement.title in (title, None)
    assert title in " ".join(statement.text.split())
    assert statement.date_issued == dt.date(2024, 10, 1)
    # A speck read as a full stop after the name can keep the signature from being
    # recognised: then the fields stay blank, never wrong ("ə" is read right with the aze pack
    # that the Latin script brings in, as "a" or "o" without it).
    assert statement.signer_role in ("Commissioner for Human Rights", None)
    assert statement.signer_name is None or re.fullmatch(
        r"Leyla H[aəo]s[aəo]nova", statement.signer_name
    )
    expected = words(FIXTURE.read_text("utf-8-sig"))
    found = set(words(statement.text))
    share = sum(1 for w in expected if w in found) / len(expected)
    assert share >= 0.9, f"only {share:.0%} of the letter's words were read"
    # The copy: PDF/A-2b, passing our check, with the recognised text on its page.
    assert received.copy is not None
    assert check_pdfa(received.copy.pdf) == []
    assert received.copy.pronom == "fmt/477"
    copy_text = pdf_input.extract_text(received.copy.pdf, path)
    assert "school libraries" in " ".join(copy_text.split())
    with pikepdf.open(io.BytesIO(received.copy.pdf)) as doc:
        assert len(doc.pages) == 1
    # The OCR's confidence, in the PREMIS event and as a note for people.
    made = [e for e in received.events if e.type == "normalization"]
    assert len(made) == 1
    assert "mean confidence" in made[0].detail
    assert "Tesseract" in made[0].detail
    note = next(n for n in received.notes if n.startswith("ocr.confidence:"))
    mean = float(note.split("mean confidence ")[1].split(",")[0])
    assert 70 <= mean <= 100


def test_image_without_text_is_refused_in_one_line(tmp_path: Path) -> None:
    blank = noisy(Image.new("L", (2480, 3508), 255), seed=3)
    path = tmp_path / "blank.png"
    blank.save(path, dpi=(300, 300))
    with pytest.raises(InputError) as caught:
        scan_input.read(path)
    line = caught.value.one_line()
    assert line.startswith(str(path) + ": OCR found no text")
    assert "\n" not in line
    assert caught.value.exit_code is ExitCode.bad


def test_damaged_image_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "torn.png"
    image = io.BytesIO()
    Image.new("L", (100, 100), 255).save(image, format="PNG")
    path.write_bytes(image.getvalue()[:60])
    assert module_for(path) is scan_input
    with pytest.raises(InputError) as caught:
        scan_input.read(path)
    assert caught.value.one_line().startswith(f"{path}: damaged image")


def test_image_without_dpi_is_read_at_300_with_a_note(tmp_path: Path) -> None:
    page = rendered_page(FIXTURE)
    path = tmp_path / "no-dpi.png"
    page.save(path)  # no pHYs chunk: no resolution stated
    received = scan_input.read(path)
    assert any(n.startswith("scan.no-dpi:") for n in received.notes)
    assert received.statement.date_issued == dt.date(2024, 10, 1)


def test_confidence_from_hocr_words() -> None:
    hocr = [
        b"<span class='ocrx_word' title='bbox 1 2 3 4; x_wconf 96'>a</span>"
        b"<span class='ocrx_word' title='bbox 1 2 3 4; x_wconf 40'>b</span>",
        b"<span class='ocrx_word' title='bbox 1 2 3 4; x_wconf 92'>c</span>"
        b"<span class='ocrx_word' title='bbox 1 2 3 4; x_wconf 12'>d</span>",
    ]
    confidence = ocr_module.confidence_of(hocr)
    assert confidence.words == 4
    assert confidence.mean == pytest.approx(60.0)
    assert confidence.low_share == pytest.approx(0.5)
    assert ocr_module.confidence_of([b"<html/>"]).words == 0


@pytest.mark.skipif(not FIDO.exists(), reason="opf-fido is not installed (test extra)")
def test_image_pronom_ids_agree_with_fido(scans: dict[str, Path], tmp_path: Path) -> None:
    from PIL import ImageCms, PngImagePlugin

    small = Image.new("L", (40, 20), 255)
    with_icc = tmp_path / "icc.png"
    small.convert("RGB").save(
        with_icc, icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    )
    with_itxt = tmp_path / "itxt.png"
    info = PngImagePlugin.PngInfo()
    info.add_itxt("Comment", "scanned letter", lang="en")
    small.save(with_itxt, pnginfo=info)
    jfif_102 = tmp_path / "jfif102.jpg"
    data = io.BytesIO()
    small.save(data, format="JPEG")
    jfif_102.write_bytes(data.getvalue()[:11] + b"\x01\x02" + data.getvalue()[13:])
    names = [scans[k] for k in ("tiff", "png", "jpeg")] + [with_icc, with_itxt, jfif_102]
    expected = [
        ("fmt/353", "image/tiff"),
        ("fmt/11", "image/png"),  # PNG 1.0
        ("fmt/43", "image/jpeg"),  # JFIF 1.01
        ("fmt/12", "image/png"),  # PNG 1.1 (iCCP)
        ("fmt/13", "image/png"),  # PNG 1.2 (iTXt)
        ("fmt/44", "image/jpeg"),  # JFIF 1.02
    ]
    assert [scan_input.image_pronom(n.read_bytes()) for n in names] == expected
    done = subprocess.run(
        [str(FIDO), "-q", "-matchprintf", "%(info.filename)s\t%(info.puid)s\n", *map(str, names)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    theirs = dict(line.split("\t") for line in done.stdout.splitlines())
    for path in names:
        ours = scan_input.image_pronom(path.read_bytes())
        assert ours is not None
        assert theirs[str(path)] == ours[0]


def test_ocr_text_drops_bars_read_from_specks_at_line_ends_only() -> None:
    text = "| Open letter\nDear colleagues, | | |\n|\nEither | or\nI|II\nLeyla Hasanova. _\nit's"
    assert scan_input.ocr_text(text) == (
        "Open letter\nDear colleagues,\n\nEither | or\nI|II\nLeyla Hasanova.\nit's"
    )


def _installed(*langs: str) -> bool:
    listed = subprocess.run(
        ["tesseract", "--list-langs"], capture_output=True, text=True, check=False
    ).stdout.split()
    return all(lang in listed for lang in langs)


@pytest.mark.skipif(not _installed("rus", "osd"), reason="tesseract-ocr-rus/osd not installed")
def test_russian_scan_languages_chosen_by_the_script_on_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRESERVE_OCR_LANGUAGES", raising=False)
    path = tmp_path / "letter.png"
    noisy(rendered_page(REPO / "fixtures" / "ru-school-visit.txt"), seed=11).save(
        path, dpi=(300, 300)
    )
    received = scan_input.read(path)
    assert received.statement.date_issued == dt.date(2024, 3, 12)
    assert received.statement.language == "ru"
    assert "школу-интернат" in received.statement.text
    detail = received.events[-1].detail
    assert "(rus+ukr)" in detail
    assert "script Cyrillic detected by Tesseract OSD" in detail


def test_configured_languages_win_and_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRESERVE_OCR_LANGUAGES", "hye+eng")
    assert ocr_module.detect_languages(Path("unused.png")) == ("hye+eng", "PRESERVE_OCR_LANGUAGES")
    assert ocr_module.language_for("ru") == "hye+eng"
    monkeypatch.setenv("PRESERVE_OCR_LANGUAGES", "eng; rm -rf /")
    assert ocr_module.configured_languages() is None
    assert ocr_module.language_for("az-Latn") == "aze"
    assert ocr_module.language_for(None) == "eng"


def test_text_from_hocr_starts_a_paragraph_where_the_page_leaves_space() -> None:
    def line(top: int, bottom: int, *words: str) -> str:
        spans = "".join(f"<span class='ocrx_word' title='x_wconf 90'>{w}</span> " for w in words)
        return f"<span class='ocr_line' title='bbox 100 {top} 900 {bottom}'>{spans}</span>"

    page = (
        "<html><body><div class='ocr_page'><p class='ocr_par'>"
        + line(100, 140, "Open", "letter")  # title
        + line(200, 240, "Dear", "colleagues,")  # a gap of 60 > 0.6 x 40: new paragraph
        + line(250, 290, "Many", "pupils")  # a gap of 10: same paragraph
        + line(300, 340, "asked.")
        + "</p></div></body></html>"
    ).encode()
    text = ocr_module.text_from_hocr([page, page])
    assert text == (
        "Open letter\n\nDear colleagues,\nMany pupils\nasked.\n\n"
        "Open letter\n\nDear colleagues,\nMany pupils\nasked."
    )
    assert ocr_module.text_from_hocr([b"<html><body></body></html>"]) == ""


def mixed_pdf(scanned: Image.Image) -> bytes:
    """A letter whose first page has a text layer and whose second is a scanned image only."""
    from fpdf import FPDF

    doc = FPDF(format="A4")
    doc.set_creation_date(dt.datetime(2024, 10, 1, 12, tzinfo=dt.UTC))
    doc.add_font("Serif", "", str(REPO / "preserve" / "fonts" / "NotoSerif-Regular.ttf"))
    doc.set_font("Serif", size=12)
    doc.add_page()
    y = 40.0
    for line in (
        "Statement on the reopening of the city parks",
        "",
        "The city parks reopen on Saturday, 6 April, after the winter works.",
        "The new paths are wide enough for wheelchairs and prams.",
    ):
        if line:
            doc.text(25, y, line)
        y += 8
    doc.add_page()
    buffer = io.BytesIO()
    scanned.save(buffer, format="PNG", dpi=(300, 300))
    doc.image(buffer, x=0, y=0, w=210, h=297)
    return bytes(doc.output())


def scanned_second_page() -> Image.Image:
    """The rest of the letter, typed and scanned: 300 dpi, turned, with specks."""
    from PIL import ImageFont

    page = Image.new("L", (2480, 3508), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(str(REPO / "preserve" / "fonts" / "NotoSerif-Regular.ttf"), 50)
    y = 420
    for line in (
        "The park wardens will be at the gates on the first weekend",
        "to answer questions about the new opening hours.",
        "",
        "Maria Jones",
        "Parks Commissioner",
        "2 April 2024",
    ):
        draw.text((300, y), line, font=font, fill=0)
        y += 90 if line else 60
    return noisy(page, seed=5, angle=0.4)


def test_mixed_pdf_ocrs_only_the_scanned_page_and_keeps_page_order(tmp_path: Path) -> None:
    source = tmp_path / "parks.pdf"
    data = mixed_pdf(scanned_second_page())
    source.write_bytes(data)
    received = pdf_input.read(source)
    assert received.form is Form.PDF
    assert received.original.content == data
    text = received.statement.text
    # Page 1 from its own text layer, word for word; page 2 from OCR, after it.
    assert text.startswith("Statement on the reopening of the city parks")
    assert "wide enough for wheelchairs and prams" in text
    assert text.index("prams") < text.index("wardens") < text.index("Maria Jones")
    statement = received.statement
    assert statement.title == "Statement on the reopening of the city parks"
    assert statement.signer_name == "Maria Jones"
    assert statement.date_issued == dt.date(2024, 4, 2)
    # The scanned page's OCR confidence is recorded, and only that page was OCRed.
    confidence = [n for n in received.notes if n.startswith("ocr.confidence: page 2 ")]
    assert len(confidence) == 1 and "mean confidence" in confidence[0]
    assert not any("page 1" in n for n in received.notes)
    extraction = next(e for e in received.events if e.type == "metadata extraction")
    assert confidence[0] in extraction.detail  # in the bag's PREMIS history, not only here
    assert received.copy is not None
    assert check_pdfa(received.copy.pdf) == []
    assert "rasterised" not in received.copy.made_by  # page 1 keeps its own text
    copy_text = pdf_input.read_pdf_text(received.copy.pdf, source).pages
    assert "wheelchairs" in copy_text[0] and "wardens" in copy_text[1]
    assert "Maria Jones" in received.files[1].content.decode("utf-8")  # data/extracted/


def test_a_scanned_letterhead_is_never_the_title(tmp_path: Path) -> None:
    """A letter scanned with its letterhead: OCR reads the office's name first; not a title."""
    from fpdf import FPDF

    doc = FPDF(format="A4")
    doc.set_creation_date(dt.datetime(2024, 5, 28, tzinfo=dt.UTC))
    doc.add_font("Serif", "", str(REPO / "preserve" / "fonts" / "NotoSerif-Regular.ttf"))
    doc.add_page()
    doc.set_font("Serif", size=16)
    doc.text(20, 16, "Office of the Harbour Commissioner")
    doc.set_font("Serif", size=12)
    y = 50.0
    for line in (
        "Ferry timetable for the summer",
        "",
        "From 1 June the ferry to the islands will run every hour from 7:00 to 21:00.",
        "Tickets can be bought on board or at the harbour office.",
        "",
        "Jan Olsen",
        "Harbour Commissioner",
        "28 May 2024",
    ):
        if line:
            doc.text(20, y, line)
        y += 8
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(bytes(doc.output()))
    subprocess.run(
        ["pdftoppm", "-r", "300", "-gray", "-png", "-singlefile", str(letter),
         str(tmp_path / "page")],
        check=True,
    )  # fmt: skip
    scan = tmp_path / "scan.png"
    with Image.open(tmp_path / "page.png") as page:
        noisy(page.convert("L"), seed=3).save(scan, dpi=(300, 300))
    received = scan_input.read(scan)
    statement = received.statement
    assert statement.text.startswith("Office of the Harbour Commissioner")  # kept, as read
    assert statement.title is None
    assert any(
        n.code == "parse.title-unsure" and "Harbour Commissioner" in n.message
        for n in statement.notes
    )
    assert statement.signer_name == "Jan Olsen"
    assert statement.date_issued == dt.date(2024, 5, 28)


def test_ocr_of_a_pdf_with_text_never_runs_ghostscript(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian 12's Ghostscript 10.0.0 is refused by OCRmyPDF for PDFs with text: none is run.

    PATH holds Tesseract only; the mixed PDF is still OCRed (pages rasterised by
    PDFium) and made PDF/A (OCRmyPDF's own pikepdf backend).
    """
    bare = tmp_path / "bin"
    bare.mkdir()
    tesseract = shutil.which("tesseract")
    assert tesseract is not None
    (bare / "tesseract").symlink_to(tesseract)
    monkeypatch.setenv("PATH", str(bare))
    assert shutil.which("gs") is None
    source = tmp_path / "parks.pdf"
    source.write_bytes(mixed_pdf(scanned_second_page()))
    received = pdf_input.read(source)
    assert received.statement.signer_name == "Maria Jones"
    assert received.copy is not None and check_pdfa(received.copy.pdf) == []
