"""The preservation copy: real PDFs, opened with pikepdf, read back with poppler, validated
with PDFBox Preflight (PDF/A-1b) and qpdf."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pikepdf
import pytest

from preserve.errors import InputError, PreserveError, RenderError
from preserve.metadata import Metadata
from preserve.pdfa import PdfaLevel, check_pdfa
from preserve.render import Rendering, render_statement, write_pdf
from preserve.statement import MAX_STATEMENT_BYTES, Statement
from tests.pdf_tools import qpdf_check, run_preflight
from tests.samples import sample_statement

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
CREATED = dt.datetime(2024, 2, 23, 12, 0, tzinfo=dt.UTC)

# Small inputs in every script the issue names, including mixed right-to-left text.
SAMPLES: dict[str, tuple[str, str, list[str], str, str]] = {
    # key: (language, title, paragraphs, signer name, role)
    "en": (
        "en",
        "Statement on the right to water",
        [
            "The Commissioner calls on all municipalities to restore the water supply "
            "within 48 hours.",
            "Access to safe drinking water is a human right recognised by the United Nations "
            "in 2010.",
        ],
        "Jane Doe",
        "Commissioner for Human Rights",
    ),
    "az": (
        "az-Latn",
        "Ombudsmanın bəyanatı: İnsan hüquqları",
        [
            "Azərbaycan Respublikasının İnsan Hüquqları üzrə Müvəkkili bəyan edir ki, "
            "hər bir şəxsin "
            "ləyaqəti qorunmalıdır. Ağır şəraitdə yaşayan ığdırlı şəxslərə kömək göstərilməlidir.",
            "Şikayətlər İİ saylı qaynar xətt vasitəsilə qəbul edilir.",
        ],
        "Səbinə Əliyeva",
        "Müvəkkil",
    ),
    "ru": (
        "ru",
        "Заявление Уполномоченного по правам человека",
        [
            "Уполномоченный призывает обеспечить доступ к чистой питьевой воде в течение 48 часов.",
            "Ёлки, щётки и «кавычки» — тоже текст.",
        ],
        "Иван Петров",
        "Уполномоченный",
    ),
    "el": (
        "el",
        "Δήλωση του Συνηγόρου του Πολίτη",
        [
            "Ο Συνήγορος του Πολίτη καλεί όλους τους δήμους να αποκαταστήσουν την υδροδότηση.",
            "Η πρόσβαση στο νερό είναι ανθρώπινο δικαίωμα (ψήφισμα 64/292).",
        ],
        "Μαρία Παπαδοπούλου",
        "Συνήγορος του Πολίτη",
    ),
    "hy": (
        "hy",
        "Մարդու իրավունքների պաշտպանի հայտարարությունը",
        [
            "Մարդու իրավունքների պաշտպանը կոչ է անում բոլոր կողմերին հարգել "
            "միջազգային մարդասիրական իրավունքը։",
            "Դիմումները ընդունվում են 2024 թվականի մարտի 1-ից։",
        ],
        "Անի Սարգսյան",
        "Պաշտպան",
    ),
    "ka": (
        "ka",
        "სახალხო დამცველის განცხადება",
        [
            "სახალხო დამცველი მოუწოდებს ყველა მუნიციპალიტეტს, აღადგინონ წყალმომარაგება 48 საათში.",
            "წყალზე ხელმისაწვდომობა ადამიანის უფლებაა.",
        ],
        "ნინო ბერიძე",
        "სახალხო დამცველი",
    ),
    "he": (
        "he",
        "הצהרת נציב זכויות האדם",
        [
            "הנציב קורא לכל הצדדים לכבד את זכויות האדם, כפי שנקבע בהכרזה משנת 1948.",
            "הפניות יתקבלו עד ה-15 במרץ.",
        ],
        "דנה כהן",
        "נציבת זכויות האדם",
    ),
    "ar": (
        "ar",
        "بيان المفوض السامي لحقوق الإنسان",
        [
            "يدين المفوض بشدة الهجوم الذي وقع في 12 مارس 2024 على مكتب UNICEF "
            "في المدينة، ويدعو إلى تحقيق مستقل.",
            "للاستفسار يمكن الاتصال بالرقم 1234 أو زيارة الموقع www.example.org في أي وقت.",
            "لا إله إلا الحق، والسلام على من اتبع القانون.",
        ],
        "سلمى الحسيني",
        "رئيسة ديوان المظالم",
    ),
}


# --------------------------------------------------------------------------- helpers


def make(
    key: str = "en",
    *,
    title: str | None = None,
    paragraphs: list[str] | None = None,
    record: dict[str, object] | None = None,
    original: bytes | None = None,
) -> tuple[Statement, Metadata]:
    lang, sample_title, sample_paras, name, role = SAMPLES[key]
    return sample_statement(
        key,
        lang,
        sample_title if title is None else title,
        sample_paras if paragraphs is None else paragraphs,
        name,
        role,
        original=original,
        record={"description": f"A test statement ({key})", **(record or {})},
    )


def squash(text: str) -> str:
    """Text for comparison: NFC, no bidi marks poppler adds, white space removed."""
    text = unicodedata.normalize("NFC", text)
    text = re.sub("[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]", "", text)
    return re.sub(r"\s+", "", text)


def letters(text: str) -> str:
    """Only letters, marks and digits: poppler's visual-to-logical guess places neutral
    punctuation at the edge of a left-to-right run inside right-to-left text on the
    wrong side, but it must keep every word and letter in logical order."""
    return "".join(ch for ch in squash(text) if unicodedata.category(ch)[0] in "LMN")


def is_rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)


def without_footers(text: str, metadata: Metadata, pages: int) -> str:
    """Extracted text with the running footers removed, so paragraphs read across pages."""
    text = squash(text)
    for n in range(1, pages + 1):
        text = text.replace(squash(f"{metadata.identifier} page {n} of {pages}"), "")
    return text


def assert_extracted(part: str, default: str, raw: str) -> None:
    """``part`` is in the extracted text: exactly in content-stream order (``-raw``,
    glyphs are written in logical order), and in poppler's reading-order text."""
    assert squash(part) in squash(raw), f"{part!r} not in stream-order text"
    if is_rtl(part):
        assert letters(part) in letters(default), f"{part!r} not in extracted text"
    else:
        assert squash(part) in squash(default), f"{part!r} not in extracted text"


def pdftotext(pdf: bytes, tmp_path: Path, *args: str) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (apt: poppler-utils) is not installed")
    path = tmp_path / "x.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", *args, "-enc", "UTF-8", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def fonts_of(pdf: pikepdf.Pdf) -> list[pikepdf.Dictionary]:
    fonts = {}
    for page in pdf.pages:
        for _name, font in page.obj.Resources.get("/Font", {}).items():
            fonts[font.objgen] = font
    return list(fonts.values())


def render(key: str = "en", level: PdfaLevel = PdfaLevel.A2U, **kw: object) -> Rendering:
    statement, metadata = make(key, **kw)  # type: ignore[arg-type]
    return render_statement(statement, metadata, level, created=CREATED)


# --------------------------------------------------------------------------- fixtures/*.txt


def fixture_inputs() -> list[Path]:
    return sorted(FIXTURES.glob("*.txt"))


def prepared(path: Path) -> tuple[Statement, Metadata]:
    from preserve.metadata import prepare_file

    prep = prepare_file(path)
    assert prep.valid, f"{path.name}: {prep.problems[0].one_line()}"
    assert prep.statement is not None
    return prep.statement, prep.metadata()


@pytest.mark.parametrize("path", fixture_inputs(), ids=lambda p: p.stem)
def test_every_fixture_is_valid_pdfa_1b_and_keeps_its_text(
    path: Path, preflight: list[str], tmp_path: Path
) -> None:
    statement, metadata = prepared(path)
    rendering = render_statement(statement, metadata, PdfaLevel.A1B, created=CREATED)
    code, report = run_preflight(preflight, rendering.pdf, tmp_path, path.stem)
    assert code == 0 and "is a valid PDF/A-1b file" in report, report
    assert check_pdfa(rendering.pdf) == []
    qpdf_check(rendering.pdf, tmp_path)
    default = without_footers(pdftotext(rendering.pdf, tmp_path), metadata, rendering.page_count)
    raw = without_footers(
        pdftotext(rendering.pdf, tmp_path, "-raw"), metadata, rendering.page_count
    )
    # Every line of the statement that is not site text is on the page, as written
    # (tests/test_faithful.py checks the order word by word and that nothing is added).
    for block in statement.blocks:
        for line in block.lines:
            assert_extracted(line, default, raw)


# --------------------------------------------------------------------------- scripts


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_text_extracts_in_logical_order_in_every_script(key: str, tmp_path: Path) -> None:
    rendering = render(key)
    statement, metadata = make(key)
    default = pdftotext(rendering.pdf, tmp_path)
    raw = pdftotext(rendering.pdf, tmp_path, "-raw")
    for part in (
        metadata.title,
        *statement.paragraphs,
        statement.signer_name,
        statement.signer_role,
    ):
        assert part is not None
        assert_extracted(part, default, raw)


def test_poppler_reads_pure_arabic_exactly(tmp_path: Path) -> None:
    # Without left-to-right runs, poppler's reading order is the exact logical text,
    # lam-alef ligatures included ("على", not "عىل").
    rendering = render("ar", paragraphs=["لا إله إلا الحق، والسلام على من اتبع القانون."])
    assert squash("لا إله إلا الحق، والسلام على من اتبع القانون.") in squash(
        pdftotext(rendering.pdf, tmp_path)
    )


def test_raw_stream_order_is_logical_for_arabic(tmp_path: Path) -> None:
    # -raw follows the content stream: glyphs are written in logical order.
    rendering = render("ar")
    raw = squash(pdftotext(rendering.pdf, tmp_path, "-raw"))
    assert squash("بيان المفوض السامي لحقوق الإنسان") in raw
    assert squash("لا إله إلا الحق") in raw


def test_pdfminer_reads_left_to_right_scripts() -> None:
    pytest.importorskip("pdfminer")
    from pdfminer.high_level import extract_text

    for key in ("az", "hy", "ka", "el", "ru"):
        statement, _ = make(key)
        text = squash(extract_text(io.BytesIO(render(key).pdf)))
        for paragraph in statement.paragraphs:
            assert squash(paragraph) in text, (key, paragraph)


@pytest.mark.parametrize("key", ["ar", "he"])
def test_right_to_left_pages_are_drawn_right_to_left(key: str, tmp_path: Path) -> None:
    """The first letter of an RTL paragraph stands at the right margin, the next to its left."""
    out = pdftotext(render(key).pdf, tmp_path, "-bbox")
    statement, _ = make(key)
    first, second = statement.paragraphs[0][:2]
    boxes = re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)"[^>]*>([^<]*)</word>', out
    )
    tops = sorted(float(y0) for _x0, y0, _x1, _w in boxes if float(y0) > 90)
    rows = [y for n, y in enumerate(tops) if n == 0 or y - tops[n - 1] > 5]
    line = rows[1]  # the first paragraph's first line, under the title
    body = [(float(x0), float(x1), w) for x0, y0, x1, w in boxes if 0 <= float(y0) - line < 5]
    rightmost = max(body, key=lambda b: b[1])
    assert rightmost[2].startswith(first), rightmost
    assert rightmost[1] > 595.28 - 72 - 1
    nxt = [b for b in body if b[2].startswith(second) and b[1] <= rightmost[0] + 1]
    assert nxt, f"{second!r} is not left of {first!r}"


def test_fallback_fonts_cover_mixed_scripts() -> None:
    rendering = render(
        "en", paragraphs=["Latin, Ελληνικά, Кириллица, Հայերեն, ქართული, עברית, العربية."]
    )
    assert {
        "NotoSerif",
        "NotoSerifArmenian",
        "NotoSerifGeorgian",
        "NotoSerifHebrew",
        "NotoSansArabic",
    } <= set(rendering.fonts)


def test_uncovered_character_is_an_error_naming_it() -> None:
    # (emoji and CJK are covered since issue 10; no font has Egyptian hieroglyphs)
    statement, metadata = make("en", paragraphs=["One.", "Two.", "Three \U00013000 here."])
    with pytest.raises(RenderError) as info:
        render_statement(statement, metadata, created=CREATED)
    message = str(info.value)
    assert (
        "U+13000 EGYPTIAN HIEROGLYPH A001 '\U00013000' (Egyptian Hieroglyphs script) "
        "in paragraph 3 has no glyph in any embedded font"
    ) in message
    assert info.value.exit_code == 1


def test_uncovered_character_in_title_is_named() -> None:
    with pytest.raises(RenderError, match=r"U\+13000 .* in the title"):
        render("en", title="Statement \U00013000")


def test_too_large_statement_is_refused() -> None:
    statement, metadata = make("en", original=b"x" * (MAX_STATEMENT_BYTES + 1))
    with pytest.raises(InputError, match="limit"):
        render_statement(statement, metadata, created=CREATED)


# --------------------------------------------------------------------------- PDF/A structure


# Every level render_statement makes, the tagged 2a and 3a included.
RENDERED_LEVELS = list(PdfaLevel)


@pytest.mark.parametrize("level", RENDERED_LEVELS)
def test_every_level_passes_the_self_check_and_qpdf(level: PdfaLevel, tmp_path: Path) -> None:
    rendering = render("ar", level)
    assert rendering.level is level
    assert check_pdfa(rendering.pdf) == []
    qpdf_check(rendering.pdf, tmp_path)
    with pikepdf.open(io.BytesIO(rendering.pdf)) as pdf:
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == str(level.part)
        assert meta["pdfaid:conformance"] == level.conformance
        assert pdf.pdf_version == level.pdf_version
        assert "/ID" in pdf.trailer


@pytest.mark.parametrize("level", [PdfaLevel.A2U, PdfaLevel.A3U])
def test_unicode_levels_have_icc_and_tounicode_on_every_font(level: PdfaLevel) -> None:
    rendering = render("ar", level)
    with pikepdf.open(io.BytesIO(rendering.pdf)) as pdf:
        intents = pdf.Root.OutputIntents
        assert len(intents) == 1 and intents[0].S == pikepdf.Name.GTS_PDFA1
        icc = intents[0].DestOutputProfile.read_bytes()
        assert icc[36:40] == b"acsp" and icc[8] in (2, 4)
        fonts = fonts_of(pdf)
        assert fonts
        for font in fonts:
            assert font.Subtype == pikepdf.Name.TrueType
            assert "/FontFile2" in font.FontDescriptor, font.BaseFont
            assert re.fullmatch(r"/[A-Z]{6}\+Noto\w+-\w+", str(font.BaseFont))
            cmap = font.ToUnicode.read_bytes().decode()
            used = font.LastChar - font.FirstChar + 1
            assert cmap.count("<", cmap.index("endcodespacerange")) // 2 >= used - 32


def test_pdfa_1b_uses_icc_version_2_and_no_object_streams() -> None:
    rendering = render("en", PdfaLevel.A1B)
    assert b"/ObjStm" not in rendering.pdf
    with pikepdf.open(io.BytesIO(rendering.pdf)) as pdf:
        assert pdf.Root.OutputIntents[0].DestOutputProfile.read_bytes()[8] == 2
        assert "/AF" not in pdf.Root and len(pdf.attachments) == 0


def test_pdfa_3u_embeds_original_and_metadata_as_associated_files() -> None:
    statement, metadata = make("az")
    rendering = render_statement(statement, metadata, PdfaLevel.A3U, created=CREATED)
    with pikepdf.open(io.BytesIO(rendering.pdf)) as pdf:
        af = pdf.Root.AF
        relations = {}
        for spec in af:
            name = str(spec.UF)
            stream = spec.EF.F
            relations[name] = (str(spec.AFRelationship), str(stream.Subtype), stream.read_bytes())
        assert relations["statement.txt"] == ("/Source", "/text/plain", statement.original)
        assert relations["statement.json"] == ("/Data", "/application/json", metadata.to_json())


def test_xmp_and_docinfo_agree() -> None:
    rendering = render("hy")
    _statement, metadata = make("hy")
    with pikepdf.open(io.BytesIO(rendering.pdf)) as pdf:
        meta = pdf.open_metadata()
        info = pdf.docinfo
        assert meta["dc:title"] == str(info.Title) == metadata.title
        assert meta["dc:creator"] == [str(info.Author)] == [metadata.creator_name]
        assert meta["dc:description"] == str(info.Subject)
        assert list(meta["dc:language"]) == ["hy"]
        assert meta["dc:date"] == ["2024-02-23"]
        assert str(info.CreationDate) == "D:20240223120000+00'00'"
        assert meta["xmp:CreateDate"] == "2024-02-23T12:00:00+00:00"
        assert str(pdf.Root.Lang) == "hy"


def test_pages_have_header_footer_and_page_numbers(tmp_path: Path) -> None:
    long = [f"Paragraph number {i}. " + "Words fill the page with text. " * 30 for i in range(40)]
    rendering = render("en", paragraphs=long)
    assert rendering.page_count >= 5
    pages = pdftotext(rendering.pdf, tmp_path).split("\f")
    assert "Office of the Ombudsman" in pages[0] and "Issued 2024-02-23" in pages[0]
    for n, page in enumerate(pages[: rendering.page_count], 1):
        assert f"page {n} of {rendering.page_count}" in page
        assert "sample-en-2024-02-23" in page
    assert "Jane Doe" in pages[rendering.page_count - 1]
    with pikepdf.open(io.BytesIO(rendering.pdf)) as pdf:
        assert len(pdf.pages) == rendering.page_count
        box = [float(v) for v in pdf.pages[0].MediaBox]
        assert box == pytest.approx([0, 0, 595.2756, 841.8898], abs=0.01)  # A4


# --------------------------------------------------------------------------- escaping


MARKUP = '<font size="200">x</font> ]]></rdf:li> &amp; <b>bold</b>'


def test_markup_in_title_and_text_is_literal(tmp_path: Path) -> None:
    rendering = render("en", title=MARKUP, paragraphs=["Body with <i>tags</i> & ]]> too."])
    assert rendering.page_count == 1
    text = pdftotext(rendering.pdf, tmp_path)
    assert squash(MARKUP) in squash(text)
    assert squash("Body with <i>tags</i> & ]]> too.") in squash(text)
    with pikepdf.open(io.BytesIO(rendering.pdf)) as pdf:
        assert pdf.open_metadata()["dc:title"] == MARKUP
        assert str(pdf.docinfo.Title) == MARKUP
    assert check_pdfa(rendering.pdf) == []


def test_markup_title_is_valid_pdfa_1b(preflight: list[str], tmp_path: Path) -> None:
    rendering = render("en", PdfaLevel.A1B, title=MARKUP)
    code, report = run_preflight(preflight, rendering.pdf, tmp_path)
    assert code == 0, report


# --------------------------------------------------------------------------- determinism


def test_same_source_date_epoch_gives_identical_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    statement, metadata = make("ar")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1708689600")
    for level in RENDERED_LEVELS:
        first = render_statement(statement, metadata, level).pdf
        second = render_statement(statement, metadata, level).pdf
        assert first == second, level
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1708776000")
    assert render_statement(statement, metadata).pdf != first or level is not PdfaLevel.A2U


def test_render_does_not_depend_on_what_was_rendered_before() -> None:
    statement, metadata = make("he")
    before = render_statement(statement, metadata, created=CREATED).pdf
    for key in SAMPLES:  # other documents add glyphs to the shared font objects
        render(key)
    assert render_statement(statement, metadata, created=CREATED).pdf == before


def test_bad_source_date_epoch_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    statement, metadata = make("en")
    with pytest.raises(InputError, match="SOURCE_DATE_EPOCH"):
        render_statement(statement, metadata)


# --------------------------------------------------------------------------- writing


def test_write_pdf_writes_atomically(tmp_path: Path) -> None:
    rendering = render("en")
    target = tmp_path / "out.pdf"
    write_pdf(rendering, target)
    assert target.read_bytes() == rendering.pdf
    assert [p.name for p in tmp_path.iterdir()] == ["out.pdf"]


def test_write_pdf_leaves_nothing_behind_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    rendering = render("en")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(PreserveError, match="No space left on device") as info:
        write_pdf(rendering, tmp_path / "out.pdf")
    assert list(tmp_path.iterdir()) == []
    assert info.value.exit_code == 2


def test_write_pdf_keeps_old_file_when_it_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    target = tmp_path / "out.pdf"
    target.write_bytes(b"old")
    rendering = render("en")
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(5, "I/O error")))
    with pytest.raises(PreserveError, match="I/O error"):
        write_pdf(rendering, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.pdf"]


def test_write_pdf_into_missing_directory_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PreserveError, match="cannot write the PDF") as info:
        write_pdf(render("en"), tmp_path / "missing" / "out.pdf")
    assert info.value.exit_code == 2


def test_render_error_names_the_statement_file() -> None:
    statement, metadata = make("en", paragraphs=["A \U00013000 here."])
    statement = Statement(**{**statement.__dict__, "source_path": Path("in/s.txt")})
    with pytest.raises(RenderError) as info:
        render_statement(statement, metadata, created=CREATED)
    assert info.value.one_line().startswith("in/s.txt: U+13000 EGYPTIAN HIEROGLYPH A001")


# --------------------------------------------------------------------------- command line


def cli_render(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    from click.testing import CliRunner

    from preserve.cli import cli

    result = CliRunner().invoke(cli, ["render", *args], env=env)
    return result.exit_code, result.output


def test_cli_renders_a_fixture_reproducibly(tmp_path: Path) -> None:
    source = FIXTURES / "az-hotline.txt"
    if not source.is_file():
        pytest.skip("fixtures/az-hotline.txt is absent")
    env = {"SOURCE_DATE_EPOCH": "1717200000"}
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    code, out = cli_render(str(source), "-o", str(first), "--pdfa", "3u", env=env)
    assert code == 0, out
    assert "PDF/A-3u, 1 page(s)" in out
    assert cli_render(str(source), "-o", str(second), "--pdfa", "3u", env=env)[0] == 0
    assert first.read_bytes() == second.read_bytes()
    assert check_pdfa(first) == []


def test_cli_uncovered_character_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "s.txt"
    source.write_text(
        "Title\n\nFirst paragraph.\n\nHello \U00013000 world.\n\nJane Doe\nCommissioner\n"
        "23 February 2024\n",
        encoding="utf-8",
    )
    meta = tmp_path / "s.json"
    meta.write_text('{"language": "en", "type": "statement"}', encoding="utf-8")
    code, out = cli_render(str(source), "-o", str(tmp_path / "out.pdf"), "--metadata", str(meta))
    assert code == 1, out
    assert "U+13000 EGYPTIAN HIEROGLYPH A001" in out and "paragraph 2" in out
    assert len(out.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json", "s.txt"]


def test_cli_invalid_metadata_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "s.txt"
    source.write_text("Only a title\n\nAnd a paragraph without any signature.\n", encoding="utf-8")
    code, out = cli_render(str(source), "-o", str(tmp_path / "out.pdf"))
    assert code == 1, out
    assert "error:" in out
    assert not (tmp_path / "out.pdf").exists()


def test_arabic_with_vowel_marks_keeps_every_letter_and_mark_once(tmp_path: Path) -> None:
    text = "بِسْمِ اللَّهِ الرَّحْمَٰنِ الرَّحِيمِ وَالسَّلَامُ عَلَيْكُمْ"
    rendering = render("ar", paragraphs=[text])
    assert check_pdfa(rendering.pdf) == []
    raw = squash(pdftotext(rendering.pdf, tmp_path, "-raw"))

    def base(s: str) -> str:
        return "".join(ch for ch in s if unicodedata.category(ch)[0] in "LN")

    def marks(s: str) -> list[str]:
        return sorted(ch for ch in s if unicodedata.category(ch).startswith("M"))

    assert base(squash(text)) in base(raw)
    assert marks(raw) == marks(text)  # the title and signature have no marks


def test_decomposed_latin_renders_with_marks() -> None:
    # "İ" as I + COMBINING DOT ABOVE: the mark is positioned by HarfBuzz, not dropped.
    rendering = render("az", title="I\u0307nsan hu\u0308quqları")
    assert check_pdfa(rendering.pdf) == []
    with pikepdf.open(io.BytesIO(rendering.pdf)) as pdf:
        maps = "".join(f.ToUnicode.read_bytes().decode() for f in fonts_of(pdf))
    assert "0307" in maps and "0308" in maps


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_every_script_is_valid_pdfa_1b(key: str, preflight: list[str], tmp_path: Path) -> None:
    code, report = run_preflight(preflight, render(key, PdfaLevel.A1B).pdf, tmp_path, key)
    assert code == 0 and "is a valid PDF/A-1b file" in report, report


@pytest.mark.parametrize("level", [level for level in RENDERED_LEVELS if not level.tagged])
def test_pikepdf_pdfa_validator_finds_no_violation(level: PdfaLevel) -> None:
    """pikepdf's allow-list validator (veraPDF's rules) covers parts 2 and 3, which
    Preflight cannot; it knows only conformance B, so the claim of U is the one
    finding it may make. Its allow-list has no XMP extension schemas, so 2a and 3a
    (which declare pdfuaid in one) are checked in test_tagging.py with those gaps named."""
    try:
        import pikepdf.pdfa as validator
    except ImportError as exc:
        pytest.skip(f"pikepdf.pdfa is not available: {exc}")
    with pikepdf.open(io.BytesIO(render("ar", level).pdf)) as pdf:
        report = validator.check(pdf, f"{level.part}b")
    findings = [f for f in report.findings if "pdfaid:conformance is 'U'" not in f.message]
    assert findings == [], findings


def test_preflight_rejects_a_pdf_that_is_not_pdfa(preflight: list[str], tmp_path: Path) -> None:
    """The Preflight fixture can fail: a plain ReportLab PDF is refused."""
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    canvas = Canvas(out)
    canvas.drawString(72, 720, "not PDF/A")
    canvas.save()
    code, report = run_preflight(preflight, out.getvalue(), tmp_path)
    assert code != 0 and "not a valid PDF/A-1b file" in report, report


def test_a_word_longer_than_a_line_is_cut_to_fit_the_page(tmp_path: Path) -> None:
    url = "https://example.org/" + "very-long-path-segment/" * 12 + "statement.html"
    rendering = render("en", paragraphs=[f"See {url} for the full text."])
    out = pdftotext(rendering.pdf, tmp_path, "-bbox")
    right = max(float(x) for x in re.findall(r'xMax="([\d.]+)"', out))
    assert right <= 595.28 - 72 + 0.5, right
    assert squash(f"See {url} for the full text.") in squash(pdftotext(rendering.pdf, tmp_path))


def test_a_fresh_process_renders_the_same_bytes(tmp_path: Path) -> None:
    """Determinism across processes: nothing in the output depends on process state."""
    import sys

    for key in SAMPLES:  # warm this process's caches with everything first
        render(key)
    out = tmp_path / "fresh.pdf"
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from test_render import render, PdfaLevel;"
        "open(sys.argv[2], 'wb').write(render('ar', PdfaLevel.A3U).pdf)"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(Path(__file__).parent), str(out)],
        check=True,
        cwd=REPO,
    )
    assert out.read_bytes() == render("ar", PdfaLevel.A3U).pdf
