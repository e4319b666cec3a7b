"""The preservation copy shows the statement as received: every word, in order, nothing
added. Checked with poppler (``pdftotext``), an extractor the render's own self-check
(PDFium) does not use, on every fixture and on statements written here in the shapes
real ones come in (lists, datelines above titles, joint statements, sign-offs, contact
lines, addressee blocks, two-line titles, right-to-left text). All text is invented."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from preserve.errors import RenderError
from preserve.metadata import Metadata, prepare_file
from preserve.render import CopyDiffers, Rendering, render_statement
from preserve.render.layout import PAGE_HEIGHT, PAGE_WIDTH, body_box
from preserve.statement import Statement, list_marker

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
CREATED = dt.datetime(2024, 2, 23, 12, 0, tzinfo=dt.UTC)

#: Values given only in the sidecar: they may appear in the band, never in the body.
SIDECAR_ONLY = {
    "name": "Quirinus Vantablack",
    "role": "Keeper of the Seventh Ledger",
    "organization": "Bureau of Hypothetical Affairs",
}

# key: (statement text, language for the sidecar)
STATEMENTS: dict[str, tuple[str, str]] = {
    "numbered-list": (
        "Recommendations on public libraries\n\n"
        "The Office visited twelve public libraries in the spring and makes the following "
        "recommendations to the municipal authorities:\n\n"
        "1. Keep every branch library open at least five days a week, including one evening "
        "when working people can come after their shifts end.\n"
        "2. Provide ramps and accessible toilets in all buildings.\n"
        "3. Publish the opening hours on the library door and on the website.\n\n"
        "The Office will review progress in one year.\n\n"
        "Anna Lindqvist\nOmbudsman\n\n3 May 2024",
        "en",
    ),
    "bullets": (
        "Winter heating in schools\n\n"
        "During inspections in January the Office found that:\n\n"
        "• classrooms in four schools were below 16 degrees;\n"
        "• two schools had no working thermometers;\n"
        "• parents were not told when heating failed.\n\n"
        "The Office asks the education department to act before next winter.\n\n"
        "Anna Lindqvist\nOmbudsman\n\n12 February 2024",
        "en",
    ),
    "dateline-above-title": (
        "Tallinn, 4 March 2024\n\n"
        "Statement on the new bus timetable\n\n"
        "The new timetable leaves three villages without a morning bus. Pupils and workers "
        "there depend on it, and the Office asks the transport board to restore the service.\n\n"
        "Anna Lindqvist\nOmbudsman",
        "en",
    ),
    "joint-three-signers": (
        "Joint statement on clean rivers\n\n"
        "The three offices call on the regional water authority to publish river quality "
        "data every month and to consult residents before granting new discharge permits.\n\n"
        "Anna Lindqvist\nOmbudsman of the North Region\n\n"
        "Boris Tamm\nOmbudsman of the South Region\n\n"
        "Clara Ilves\nCommissioner for the Coast\n\n"
        "20 April 2024",
        "en",
    ),
    "role-before-name": (
        "Statement on library fines\n\n"
        "The Office welcomes the decision of the city council to abolish fines for late "
        "returns of children's books.\n\n"
        "Ombudsman\nAnna Lindqvist\n\n6 June 2024",
        "en",
    ),
    "unknown-role": (
        "Communiqué sur les horaires des bibliothèques\n\n"
        "La Défenseure des droits demande que les bibliothèques municipales restent "
        "ouvertes le samedi afin que chacun puisse y accéder.\n\n"
        "Claire Dubois\nDéfenseure des droits\n\n12 mars 2024",
        "fr",
    ),
    "sign-off": (
        "Letter to the transport board\n\n"
        "Dear members of the board,\n\n"
        "The Office has received many letters about the closing of the night tram line and "
        "asks you to reconsider the decision after hearing the residents.\n\n"
        "Sincerely,\n\nAnna Lindqvist\nOmbudsman\n\n2024-10-01",
        "en",
    ),
    "contact-after-date": (
        "Open day at the Office\n\n"
        "On Saturday the Office opens its doors to everyone who wishes to learn how to "
        "submit an application. Staff will answer questions from ten to four.\n\n"
        "Anna Lindqvist\nOmbudsman\n\n5 September 2024\n\n"
        "Press contact: Mark Rebane\nPhone: +372 600 1234\nEmail: press@example.org",
        "en",
    ),
    "addressee-block": (
        "Letter on playground safety\n\n"
        "To: Department of Parks\nCity Hall, Room 12\nMain Square 1\n\n"
        "The Office asks the department to inspect all playground equipment before the summer "
        "holidays and to publish the inspection reports on its website.\n\n"
        "Anna Lindqvist\nOmbudsman\n\n14 May 2024",
        "en",
    ),
    "two-line-title": (
        "Statement on access to public buildings\n"
        "for people who use wheelchairs\n\n"
        "Many public buildings in the city still have no step-free entrance. The Office "
        "asks every public body to publish a plan for step-free access within six months.\n\n"
        "Anna Lindqvist\nOmbudsman\n\n1 July 2024",
        "en",
    ),
    # lines that end with a hyphen: PDFium marks such a hyphen and joins the next line on
    "hyphen-line-ends": (
        "Blood donation day\n\n"
        "The city hospital asks residents to give blood on Saturday.\n\n"
        "Groups most needed:\nA-\nB-\nO-\nAB+\n\n"
        "Anna Lindqvist\nOmbudsman\n\n8 June 2024",
        "en",
    ),
    "arabic": (
        "بيان حول مواعيد المكتبات العامة\n\n"
        "يدعو ديوان المظالم البلديات إلى إبقاء المكتبات العامة مفتوحة يوم السبت، "
        "حتى يتمكن الطلاب والعاملون من زيارتها. وقد زار الديوان 12 مكتبة في الربيع.\n\n"
        "1. فتح المكتبات خمسة أيام في الأسبوع على الأقل.\n"
        "2. نشر مواعيد العمل على الموقع www.example.org (بالعربية والإنجليزية).\n\n"
        "سلمى الحسيني\nرئيسة ديوان المظالم\n\n3 مايو 2024",
        "ar",
    ),
    "hebrew": (
        "הודעה על שעות הפתיחה של הספריות\n\n"
        "הנציבות קוראת לעירייה להשאיר את הספריות פתוחות גם ביום שישי, כדי שכל התושבים "
        "יוכלו להגיע אליהן. הנציבות ביקרה ב-12 ספריות באביב.\n\n"
        "דנה כהן\nנציבת תלונות הציבור\n\n3 במאי 2024",
        "he",
    ),
    # numbers, Latin words and brackets next to each other inside right-to-left text,
    # and a Latin ligature ("office") on a right-to-left page
    "hebrew-mixed": (
        "הודעה על המים\n\n"
        "הנציבות קוראת (1948) UNICEF 3.5% ה-15 www.example.org office לכל הצדדים "
        "לפעול עד ה-15 במרץ [הערה] UNICEF 2024.\n\n"
        "דנה כהן\nנציבת תלונות הציבור",
        "he",
    ),
    "arabic-mixed": (
        "بيان حول المياه\n\n"
        "يدعو الديوان (2024) UNICEF و65 عاماً www.example.org office إلى التبرع "
        "12 و65 report [ملاحظة] في المدينة.\n\n"
        "سلمى الحسيني\nرئيسة ديوان المظالم",
        "ar",
    ),
    "azerbaijani": (
        "Kitabxanaların iş saatları haqqında bəyanat\n\n"
        "Ombudsman bələdiyyələri kitabxanaları şənbə günləri də açıq saxlamağa çağırır. "
        "Hər bir şəxsin ədəbiyyata çıxışı təmin edilməlidir.\n\n"
        "Səbinə Əliyeva\nMüvəkkil\n\n3 may 2024",
        "az-Latn",
    ),
}


def long_statement() -> str:
    """A statement of several pages: headings, paragraphs and a list in the middle."""
    parts = ["Annual summary of the Office's work"]
    for n in range(1, 19):
        parts.append(f"Section {n}. Work with municipalities")
        parts.append(
            f"In the period under review the Office examined {n * 37} applications about "
            "municipal services, visited offices in every district and met residents who "
            "had written to it. Most applications concerned housing, water supply and "
            "public transport, and in most cases the authority concerned acted on the "
            "recommendation within three months of receiving it."
        )
        if n % 6 == 0:
            parts.append(
                "1. Answer every application in writing.\n2. Publish the answers.\n"
                "3. Report once a year."
            )
    parts.append("Anna Lindqvist\nOmbudsman\n\n30 March 2024")
    return "\n\n".join(parts)


STATEMENTS["long"] = (long_statement(), "en")


# --------------------------------------------------------------------------- helpers


def prepared(key: str, tmp_path: Path, text: str | None = None) -> tuple[Statement, Metadata]:
    """Parse the statement from a file, with a sidecar that adds values the text lacks."""
    body, language = STATEMENTS[key] if text is None else (text, "en")
    source = tmp_path / f"{key}.txt"
    source.write_text(body, encoding="utf-8")
    sidecar = {
        "identifier": f"faithful-{key}",
        "title": "Sidecar title that the text does not contain",
        "date_issued": "2024-05-03",
        "language": language,
        "type": "statement",
        "creator": dict(SIDECAR_ONLY),
    }
    (tmp_path / f"{key}.json").write_text(json.dumps(sidecar), encoding="utf-8")
    prep = prepare_file(source)
    assert prep.valid and prep.statement is not None, prep.problems
    return prep.statement, prep.metadata()


def pdftotext_pages(pdf: bytes, pages: int, tmp_path: Path, *mode: str) -> list[str]:
    """Each page's body box only (the band with metadata is outside it)."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (apt: poppler-utils) is not installed")
    path = tmp_path / "copy.pdf"
    path.write_bytes(pdf)
    out = []
    for n in range(1, pages + 1):
        _left, bottom, _right, top = body_box(n)  # what the self-check reads, from below
        crop = ["-x", "0", "-y", str(int(PAGE_HEIGHT - top)), "-W", str(int(PAGE_WIDTH) + 1)]
        crop += ["-H", str(int(top - bottom))]
        done = subprocess.run(
            [
                "pdftotext",
                *mode,
                "-r",
                "72",
                *crop,
                "-f",
                str(n),
                "-l",
                str(n),
                "-enc",
                "UTF-8",
                str(path),
                "-",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        out.append(done.stdout)
    return out


def norm(text: str) -> list[str]:
    """Words for comparison: NFC, layout controls and poppler's bidi marks removed."""
    text = unicodedata.normalize("NFC", text)
    text = re.sub("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]", "", text)
    return text.split()


def is_rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)


def unspaced(text: str) -> bool:
    """Written without spaces between words (Han, kana, Hangul syllables, Thai, Lao,
    Khmer, Myanmar): a line break inside a run of it is no word boundary."""
    return any(
        0x2E80 <= ord(ch) <= 0x9FFF
        or 0xAC00 <= ord(ch) <= 0xD7AF
        or 0x0E00 <= ord(ch) <= 0x0EFF
        or 0x1000 <= ord(ch) <= 0x109F
        or 0x1780 <= ord(ch) <= 0x17FF
        for ch in text
    )


def derived_lines(statement: Statement) -> list[str]:
    return [line for block in statement.blocks for line in block.lines]


def render(statement: Statement, metadata: Metadata) -> Rendering:
    return render_statement(statement, metadata, created=CREATED)


def assert_same_words(statement: Statement, rendering: Rendering, tmp_path: Path) -> str:
    """pdftotext -raw gives back the derived text's words in order, nothing added;
    returns the body text. -raw follows the content stream, where every line's glyphs
    are written in logical order, right-to-left lines included (poppler's default
    mode reads a hanging list marker of a right-to-left list as a column of its own)."""
    pages = pdftotext_pages(rendering.pdf, rendering.page_count, tmp_path, "-raw")
    body = "\n".join(pages)
    expected = norm(" ".join(derived_lines(statement)))
    found = norm(body)
    if is_rtl(statement.text) or unspaced(statement.text):
        # -raw puts a space between right-to-left glyphs drawn leftwards, and a line
        # break where a run of Chinese or Thai wraps: compare every character, in
        # order, without the spaces
        assert "".join(found) == "".join(expected)
    else:
        assert found == expected, first_difference(expected, found)
    return body


def first_difference(expected: list[str], found: list[str]) -> str:
    for n, (a, b) in enumerate(zip(expected, found, strict=False)):
        if a != b:
            return f"word {n + 1}: expected {a!r}, found {b!r}"
    return f"lengths differ: {len(expected)} expected, {len(found)} found"


# --------------------------------------------------------------------------- every fixture


def fixture_paths() -> list[Path]:
    """Every statement under fixtures/ (sub-folders too), except the refused ones in bad/."""
    return sorted(p for p in FIXTURES.rglob("*.txt") if "bad" not in p.relative_to(FIXTURES).parts)


#: What an archivist's sidecar would add where a statement leaves a required field
#: blank (no signer, no date): values that are nowhere in any fixture's text, so the
#: test below also shows that a sidecar's values never reach the body.
SIDECAR_FILL = {
    "title": "Sidecar Title Nowhere In The Text",
    "creator": {"name": "Sidecar Signer Nowhere", "role": "Sidecar Role Nowhere"},
    "date_issued": "2001-02-03",
    "language": "und",
}


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda p: p.stem)
def test_every_fixture_reads_back_word_for_word(path: Path, tmp_path: Path) -> None:
    prep = prepare_file(path)
    if not prep.valid:
        # a statement without signer or date is completed as an archivist would, by a
        # sidecar; the copy must still be the statement's own text, nothing else
        missing = {problem.field.split(".")[0] for problem in prep.problems}
        sidecar = tmp_path / "sidecar.json"
        fill = {key: SIDECAR_FILL[key] for key in missing if key in SIDECAR_FILL}
        sidecar.write_text(json.dumps(fill), encoding="utf-8")
        prep = prepare_file(path, sidecar)
    assert prep.valid and prep.statement is not None, [p.one_line() for p in prep.problems]
    statement, metadata = prep.statement, prep.metadata()
    try:
        rendering = render(statement, metadata)
    except RenderError as error:
        if "needs a font that cannot be used" in error.message:
            pytest.skip(f"a system font is not installed: {error.message}")
        raise
    body = assert_same_words(statement, rendering, tmp_path)
    assert rendering.selfcheck.words == len(norm(" ".join(derived_lines(statement))))
    # what only the metadata says is not in the body
    text = " ".join(norm(statement.text))
    for value in (metadata.creator_name, metadata.creator_role, metadata.organization):
        if value and value not in text:
            assert value not in body, value
    if metadata.title not in text:
        assert metadata.title not in body


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("key", sorted(STATEMENTS))
def test_statement_reads_back_word_for_word(key: str, tmp_path: Path) -> None:
    statement, metadata = prepared(key, tmp_path)
    rendering = render(statement, metadata)
    body = assert_same_words(statement, rendering, tmp_path)
    flat = " ".join(norm(body))
    for value in (*SIDECAR_ONLY.values(), "Sidecar title"):
        assert value not in flat, f"sidecar-only {value!r} printed in the body"


@pytest.mark.parametrize("key", ["numbered-list", "bullets", "long"])
def test_list_items_extract_as_lines_with_their_markers(key: str, tmp_path: Path) -> None:
    statement, metadata = prepared(key, tmp_path)
    rendering = render(statement, metadata)
    pages = pdftotext_pages(rendering.pdf, rendering.page_count, tmp_path, "-raw")
    lines = [" ".join(norm(line)) for page in pages for line in page.splitlines()]
    items = [line for line in derived_lines(statement) if list_marker(line)]
    assert len(items) >= 3
    for item in items:
        words = norm(item)
        start = " ".join(words[:3])
        assert any(line.startswith(start) for line in lines), f"{start!r} does not start a line"


def test_metadata_appears_only_in_the_band(tmp_path: Path) -> None:
    statement, metadata = prepared("dateline-above-title", tmp_path)
    rendering = render(statement, metadata)
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (apt: poppler-utils) is not installed")
    path = tmp_path / "c.pdf"
    path.write_bytes(rendering.pdf)
    whole = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # the band shows the organization, the date of issue and the identifier...
    assert SIDECAR_ONLY["organization"] in whole
    assert "faithful-dateline-above-title" in whole and "2024-05-03" in whole
    assert "page 1 of 1" in whole
    # ...but never the sidecar's title or creator, which the statement does not contain
    for value in ("Sidecar title", SIDECAR_ONLY["name"], SIDECAR_ONLY["role"]):
        assert value not in whole


def test_dateline_above_the_title_stays_above_it(tmp_path: Path) -> None:
    statement, metadata = prepared("dateline-above-title", tmp_path)
    pages = pdftotext_pages(render(statement, metadata).pdf, 1, tmp_path, "-raw")
    lines = [line.strip() for line in pages[0].splitlines() if line.strip()]
    assert lines[:2] == ["Tallinn, 4 March 2024", "Statement on the new bus timetable"]


@pytest.mark.parametrize(
    ("key", "kept"),
    [
        ("joint-three-signers", ["Anna Lindqvist", "Ombudsman of the North Region",
                                 "Boris Tamm", "Ombudsman of the South Region",
                                 "Clara Ilves", "Commissioner for the Coast", "20 April 2024"]),
        ("role-before-name", ["Ombudsman", "Anna Lindqvist", "6 June 2024"]),
        ("unknown-role", ["Claire Dubois", "Défenseure des droits", "12 mars 2024"]),
        ("sign-off", ["Sincerely,", "Anna Lindqvist", "Ombudsman", "2024-10-01"]),
        ("contact-after-date", ["5 September 2024", "Press contact: Mark Rebane",
                                "Phone: +372 600 1234", "Email: press@example.org"]),
        ("addressee-block", ["To: Department of Parks", "City Hall, Room 12", "Main Square 1"]),
        ("two-line-title", ["Statement on access to public buildings",
                            "for people who use wheelchairs"]),
    ],
)  # fmt: skip
def test_kept_lines_stay_lines_in_order(key: str, kept: list[str], tmp_path: Path) -> None:
    """Signature, addressee and contact blocks and two-line titles keep their lines."""
    statement, metadata = prepared(key, tmp_path)
    pages = pdftotext_pages(render(statement, metadata).pdf, 1, tmp_path, "-raw")
    lines = [line.strip() for line in pages[0].splitlines() if line.strip()]
    at = [lines.index(line) for line in kept]  # ValueError: a line was joined or lost
    assert at == sorted(at) and at[-1] - at[0] == len(kept) - 1, lines


# --------------------------------------------------------------------------- justification


def test_justified_lines_never_gape_and_last_lines_are_ragged(tmp_path: Path) -> None:
    """Word spaces of a justified line stay within the bound; last lines are not stretched."""
    statement, metadata = prepared("long", tmp_path)
    rendering = render(statement, metadata)
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (apt: poppler-utils) is not installed")
    path = tmp_path / "l.pdf"
    path.write_bytes(rendering.pdf)
    out = subprocess.run(
        ["pdftotext", "-bbox-layout", "-f", "1", "-l", "2", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    checked = 0
    for block in re.findall(r"<block .*?</block>", out, re.S):
        rows = re.findall(r"<line [^>]*>(.*?)</line>", block, re.S)
        for row in rows[:-1]:
            words = re.findall(r'xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)"', row)
            if len(words) < 4:
                continue
            x0 = float(words[0][0])
            x1 = float(words[-1][1])
            if x0 < 71 or x1 < PAGE_WIDTH - 72 - 1:
                continue  # list items, ragged lines
            gaps = [float(b[0]) - float(a[1]) for a, b in itertools.pairwise(words)]
            # a normal space is 2.9 pt at 11 pt; the bound is twice that
            assert max(gaps) <= 2 * 2.86 + 0.3, (max(gaps), row[:200])
            checked += 1
    assert checked > 20


def test_no_hyphen_is_ever_added(tmp_path: Path) -> None:
    url = "https://example.org/" + "a-very-long-path-segment/" * 8 + "end"
    text = f"Title of a note\n\nSee {url} for details of the plan.\n\nAnna Lindqvist\nOmbudsman"
    statement, metadata = prepared("url", tmp_path, text)
    rendering = render(statement, metadata)
    assert rendering.selfcheck.words == len(text.split())
    pages = pdftotext_pages(rendering.pdf, 1, tmp_path, "-raw")
    assert pages[0].count("-") == text.count("-")


# --------------------------------------------------------------------------- self-check


def test_self_check_fails_the_render_on_a_missing_word(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A layout that drops a word is caught by reading the PDF back: one line, exit 1."""
    statement, metadata = prepared("numbered-list", tmp_path)
    _drop_a_word(monkeypatch, line=3)
    with pytest.raises(CopyDiffers) as info:
        render(statement, metadata)
    message = info.value.one_line()
    assert "\n" not in message and info.value.exit_code == 1
    assert re.search(r"word \d+: expected '.+', found '.+' \(page 1\)", message), message


def test_self_check_catches_moved_and_added_words() -> None:
    from preserve.render.selfcheck import Page, compare

    want = ["one", "two", "three"]
    assert compare(want, [Page(["one", "two", "three"])]) == (None, 0)
    assert compare(want, [Page(["one", "three", "two"])])[0] == (
        "word 2: expected 'two', found 'three' (page 1)"
    )
    assert compare(want, [Page(["one", "two"])])[0] == (
        "word 3: expected 'three', found the end of the text (page 1)"
    )
    assert compare(want, [Page(["one", "two"]), Page(["three", "four"])])[0] == (
        "word 4: expected the end of the text, found 'four' (page 2)"
    )
    # a word cut at a line end comes back in pieces and is joined, across pages too
    url = ["https://example.org/a/b"]
    assert compare(url, [Page(["https://exa", "mple.org/a/b"])]) == (None, 0)
    assert compare(url, [Page(["https://exa"]), Page(["mple.org/a/b"])]) == (None, 0)
    assert compare(["ab", "c"], [Page(["a", "bc"])])[0] is not None


def test_self_check_compares_right_to_left_lines() -> None:
    """A page read visually: each line holds the next characters of the text; in order
    where the inverse reordering is exact, else by its characters (counted)."""
    from preserve.render.selfcheck import Page, compare

    want = ["אחת", "שתיים", "UNICEF", "15", "שלוש"]
    rows = [["אחת", "שתיים"], ["UNICEF", "15", "שלוש"]]
    assert compare(want, [Page([w for r in rows for w in r], rows)]) == (None, 0)
    swapped = [["אחת", "שתיים"], ["15", "UNICEF", "שלוש"]]
    assert compare(want, [Page([w for r in swapped for w in r], swapped)]) == (None, 1)
    moved = [["אחת", "UNICEF"], ["שתיים", "15", "שלוש"]]
    assert compare(want, [Page([w for r in moved for w in r], moved)])[0] == (
        "word 1: expected 'אחת שתיים', found 'אחת UNICEF' (page 1)"
    )
    lost = [["אחת", "שתיים"], ["UNICEF", "שלוש"]]
    message = compare(want, [Page([w for r in lost for w in r], lost)])[0]
    assert message is not None and message.startswith("word 3: expected 'UNICEF 15'")
    # brackets are compared without their direction (PDFium mirrors them)
    assert compare(["(15)"], [Page(["(15("], [["(15("]])]) == (None, 0)


def test_rendering_records_the_self_check(tmp_path: Path) -> None:
    statement, metadata = prepared("arabic", tmp_path)
    rendering = render(statement, metadata)
    assert rendering.selfcheck.words == len(norm(statement.text))
    assert rendering.selfcheck.extractor.startswith("PDFium ")
    assert "identical to the statement's derived text" in rendering.selfcheck.detail()


def test_uncovered_character_in_any_block_is_named(tmp_path: Path) -> None:
    text = (
        "Title\n\nOne paragraph.\n\n1. First item\n2. Second \U00013000 item\n\nJane Doe\nOmbudsman"
    )
    statement, metadata = prepared("emoji", tmp_path, text)
    named = r"U\+13000 EGYPTIAN HIEROGLYPH A001 .* in list 1 \(line 2\)"
    with pytest.raises(RenderError, match=named):
        render(statement, metadata)


def test_no_paragraph_leaves_a_single_line_on_a_page() -> None:
    """Orphans and widows: a paragraph split across pages keeps two lines on each."""
    from preserve.render import layout
    from preserve.statement import parse_text

    sentence = "The Office examined the applications it received and answered each one. "
    paragraphs = [sentence * (3 + (n * 7) % 9) for n in range(30)]
    statement = parse_text("\n\n".join(["A long report", *paragraphs, "Anna Lindqvist\nOmbudsman"]))
    metadata = Metadata(
        record={
            "identifier": "widows",
            "title": "A long report",
            "creator": {"name": "Anna Lindqvist"},
            "date_issued": "2024-05-03",
            "language": "en",
            "type": "report",
        }
    )
    pages = layout.paginate(layout.document_of(statement, metadata))
    assert len(pages) >= 4
    split = 0
    for before, after in itertools.pairwise(pages):
        last, first = before[-1].tag.block, after[0].tag.block
        if last == first:
            split += 1
            assert sum(p.tag.block == last for p in before) >= 2
            assert sum(p.tag.block == first for p in after) >= 2
    assert split >= 2  # the test saw paragraphs split across pages
    signature = [n for n, page in enumerate(pages) if any(p.tag.role == "Div" for p in page)]
    assert len(signature) == 1


def _drop_a_word(monkeypatch: pytest.MonkeyPatch, line: int = 1) -> None:
    """Make the layout lose the first word of a line of page 1 (by default the first
    body line): a layout bug."""
    from preserve.render import layout

    real = layout.paginate

    def lossy(doc: layout.Document) -> list[list[layout.Placed]]:
        pages = real(doc)
        first = pages[0][line]
        pages[0][line] = layout.Placed(
            layout.Line(first.line.words[1:], first.line.base, False),
            first.y, first.style, first.tag, first.x, first.width,
        )  # fmt: skip
        return pages

    monkeypatch.setattr("preserve.render.paginate", lossy)


def test_cli_render_of_a_copy_that_does_not_read_back_exits_1_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from preserve.cli import cli

    prepared("sign-off", tmp_path)  # writes sign-off.txt and its sidecar
    out = tmp_path / "copy.pdf"
    ok = CliRunner().invoke(cli, ["render", str(tmp_path / "sign-off.txt"), "-o", str(out)])
    assert ok.exit_code == 0, ok.output
    assert re.search(r"read back: \d+ words, identical to the text", ok.output)
    out.unlink()
    _drop_a_word(monkeypatch)
    result = CliRunner().invoke(cli, ["render", str(tmp_path / "sign-off.txt"), "-o", str(out)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert "sign-off.txt" in lines[0] and "word 6: expected 'Dear', found 'members'" in lines[0]
    assert not out.exists()


def test_ingest_of_a_copy_that_does_not_read_back_makes_no_bag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from preserve.archive import IngestOptions, ingest

    prepared("sign-off", tmp_path)
    _drop_a_word(monkeypatch)
    archive = tmp_path / "archive"
    report = ingest([tmp_path / "sign-off.txt"], archive, IngestOptions(workers=1))
    assert report.exit_code == 1
    assert "does not read back" in report.results[0].message
    assert list((archive / "bags").iterdir()) == []
    staging = archive / "staging"
    assert not staging.exists() or not any(staging.iterdir())


@pytest.mark.parametrize("key", ["long", "numbered-list", "arabic", "joint-three-signers"])
def test_only_prose_is_justified_and_within_the_bound(key: str, tmp_path: Path) -> None:
    """Justified lines: prose only, four words or more, never a block's last line, word
    spaces between 80 % and 200 % of their width; kept lines are never stretched."""
    from preserve.render import layout
    from preserve.render.draw import MAX_SHRINK, MAX_STRETCH, SPACE_UNITS

    statement, metadata = prepared(key, tmp_path)
    pages = layout.paginate(layout.document_of(statement, metadata))
    placed = [p for page in pages for p in page]
    justified = 0
    for n, p in enumerate(placed):
        if not p.line.justified:
            continue
        justified += 1
        assert p.tag.role in ("P", "L") and p.tag.part in (None, "LBody")
        assert statement.blocks[p.tag.block].kind.value in ("paragraph", "list")
        assert len(p.line.words) >= 4
        following = placed[n + 1] if n + 1 < len(placed) else None
        assert following is not None and following.tag == p.tag, "a last line is justified"
        gaps = len(p.line.words) - 1
        width = p.width * 1000 / p.style.size
        extra = (width - p.line.units) / gaps / SPACE_UNITS
        assert -MAX_SHRINK - 1e-9 <= extra <= MAX_STRETCH + 1e-9
    if key == "long":
        assert justified >= 40  # the test saw justified lines


def test_a_wide_list_marker_does_not_run_into_its_item(tmp_path: Path) -> None:
    text = (
        "Rules of the reading room\n\n"
        "1.10.2. Readers bring no food or drink into the hall.\n"
        "1.10.3. Bags stay in the lockers by the entrance.\n"
        "(viii) Phones are kept silent.\n\n"
        "Anna Lindqvist\nOmbudsman"
    )
    statement, metadata = prepared("markers", tmp_path, text)
    rendering = render(statement, metadata)
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (apt: poppler-utils) is not installed")
    path = tmp_path / "m.pdf"
    path.write_bytes(rendering.pdf)
    out = subprocess.run(
        ["pdftotext", "-bbox", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    boxes = re.findall(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)"[^>]*>([^<]*)<', out)
    for marker, first in (("1.10.2.", "Readers"), ("1.10.3.", "Bags"), ("(viii)", "Phones")):
        mark = next(b for b in boxes if b[3] == marker)
        word = next(b for b in boxes if b[3] == first)
        assert abs(float(mark[1]) - float(word[1])) < 1  # same line
        assert float(mark[2]) + 3 < float(word[0]), (marker, mark, word)
    # every item's text starts at the same indent
    starts = {round(float(b[0]), 1) for b in boxes if b[3] in ("Readers", "Bags", "Phones")}
    assert len(starts) == 1


@pytest.mark.parametrize(
    "body",
    [
        "The ﬁrst oﬃce ﬂoor is open; ½ of the rooms, x² and ™ too.",
        "نص ﻻ إله ﷺ هنا ﷲ في المكتب.",
    ],
    ids=["latin-ligatures", "arabic-presentation-forms"],
)
def test_compatibility_forms_read_back(body: str, tmp_path: Path) -> None:
    """A character in a compatibility form ("ﬁ", "ﻻ", "ﷺ") may come back from PDFium
    as the characters it stands for: NFKC on both sides, a word stays one word."""
    text = f"A note\n\n{body}\n\nAnna Lindqvist\nOmbudsman"
    statement, metadata = prepared("compat", tmp_path, text)
    rendering = render(statement, metadata)
    assert rendering.selfcheck.words == len(text.split())


def test_every_block_kind_is_drawn_in_order(tmp_path: Path) -> None:
    """Blocks as the new parser gives them (a label, headings): each kind has its look,
    every line is on the page in order, and the copy reads back."""
    from preserve.render import layout
    from preserve.statement import Block, BlockKind

    blocks = (
        Block(BlockKind.LABEL, ("Press release",)),
        Block(BlockKind.TITLE, ("Opening hours of the archive", "in the summer")),
        Block(BlockKind.DATELINE, ("Tallinn, 4 March 2024",)),
        Block(BlockKind.HEADING, ("1. What changes",)),
        Block(BlockKind.PARAGRAPH, ("The archive opens at nine and closes at six on", "weekdays.")),
        Block(BlockKind.LIST, ("• Saturdays: ten to two;", "• Sundays: closed.")),
        Block(BlockKind.LINES, ("Reading room", "Main Square 1")),
        Block(BlockKind.CLOSING, ("With regards,",)),
        Block(BlockKind.SIGNATURE, ("Anna Lindqvist", "Ombudsman", "4 March 2024")),
    )
    text = "\n\n".join("\n".join(b.lines) for b in blocks)
    statement = Statement(
        original=text.encode(), text=text, title=None, paragraphs=(), blocks=blocks
    )
    metadata = Metadata(
        record={
            "identifier": "kinds",
            "title": "Opening hours",
            "creator": {"name": "Anna Lindqvist"},
            "date_issued": "2024-03-04",
            "language": "en",
            "type": "statement",
        }
    )
    pages = layout.paginate(layout.document_of(statement, metadata))
    kinds = [statement.blocks[p.tag.block].kind for p in pages[0]]
    assert kinds == sorted(kinds, key=[b.kind for b in blocks].index)  # in block order
    styles = {statement.blocks[p.tag.block].kind: p.style for p in pages[0]}
    assert styles[BlockKind.TITLE].bold and styles[BlockKind.HEADING].bold
    assert styles[BlockKind.LABEL].size < styles[BlockKind.PARAGRAPH].size
    assert not styles[BlockKind.SIGNATURE].bold  # the parse did not say which line is a name
    rendering = render(statement, metadata)
    assert rendering.selfcheck.words == len(text.split())
    body = assert_same_words(statement, rendering, tmp_path)
    assert "Opening hours of the archive\nin the summer" in body  # two title lines stay two


# Words in the scripts and shapes that trouble extractors: numbers, Latin words and
# brackets inside right-to-left text, ligatures, marks, hyphens at line ends, URLs.
_POOLS = {
    "en": "the office (2024) “quoted” don't e-mail 12.5% — … A- B+ [note] office "
    "https://example.org/a-long/path/segment/for-the-line/index.html naïve I\u0307nsan",
    "ru": "Уполномоченный права «школа» вода 2024 г. (см.) №5 — …",
    "hy": "Մարդու իրավունքների պաշտպան։ (2024) «դպրոց»",
    "he": 'הנציב קורא לכל (1948) ה-15 "ציטוט" www.example.org UNICEF 3.5% [הערה] office',
    "ar": "يدعو ديوان المظالم (2024) «اقتباس» www.example.org UNICEF 12 و65 عاماً، ؟ "
    "[ملاحظة] إلى على بِسْمِ ﻻ",
}


@pytest.mark.parametrize("language", sorted(_POOLS))
def test_the_self_check_never_refuses_a_faithful_copy(language: str) -> None:
    """Random statements (seeded) in five scripts all pass the read-back: a false
    failure would refuse a statement the copy shows correctly."""
    import random

    from preserve.statement import parse_text

    words = _POOLS[language].split()
    rnd = random.Random(language)

    def sentence(n: int) -> str:
        return " ".join(rnd.choice(words) for _ in range(n))

    for _ in range(6):
        parts = [sentence(4)]
        parts += [sentence(rnd.randint(5, 90)) + "." for _ in range(rnd.randint(1, 4))]
        parts.append("\n".join(f"{i}. {sentence(rnd.randint(2, 25))}" for i in (1, 2, 3)))
        parts.append("\n".join(sentence(rnd.randint(1, 4)) for _ in range(3)))
        statement = parse_text("\n\n".join(parts))
        metadata = Metadata(
            record={
                "identifier": "random",
                "title": "t",
                "creator": {"name": "n"},
                "date_issued": "2024-01-01",
                "language": language,
                "type": "statement",
            }
        )
        rendering = render(statement, metadata)
        assert rendering.selfcheck.words == len(norm(statement.text))


def test_every_signer_name_is_bold_a_comma_after_it_too(tmp_path: Path) -> None:
    """A joint statement's names are set apart alike: "Olena Kovalenko," (the comma
    joins the name to her office) is as bold as "Petro Shevchenko", and the comma stays."""
    from preserve.render import layout

    text = (
        "Reading rooms reopen\n\nThe city libraries and the regional archive reopen their "
        "reading rooms on Monday.\n\nOlena Kovalenko,\nDirector of the City Library\n\n"
        "Petro Shevchenko\nHead of the Regional Archive\n"
    )
    statement, metadata = prepared("comma-after-name", tmp_path, text)
    assert [s.name for s in statement.signers] == ["Olena Kovalenko", "Petro Shevchenko"]
    pages = layout.paginate(layout.document_of(statement, metadata))
    bold = {
        "".join("".join(r.text for r in w.runs) + w.space for w in p.line.words).strip()
        for p in pages[0]
        if p.style.bold
    }
    assert {"Olena Kovalenko,", "Petro Shevchenko"} <= bold
    assert not {"Director of the City Library", "Head of the Regional Archive"} & bold
    assert_same_words(statement, render(statement, metadata), tmp_path)
