"""Unit tests of preserve.statement: decoding, dates, leftovers, signature, language."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from preserve.errors import InputError, UnreadableInput
from preserve.statement import (
    MAX_STATEMENT_BYTES,
    Block,
    BlockKind,
    Note,
    NoteCode,
    Signer,
    block_lines,
    chrome_kind,
    decode_statement,
    identify_language,
    normalize_text,
    parse_date,
    parse_statement,
    parse_text,
    read_statement,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

BODY = "The Office opened a hotline for children and their parents today."
SIGNED = (
    f"Hotline opened\n\n{BODY}\n\nLeyla Həsənova\nCommissioner for Human Rights\n\n1 June 2024\n"
)


# --------------------------------------------------------------------------- decoding


def test_bom_crlf_and_nbsp_are_removed_from_derived_text_only() -> None:
    data = "\ufeffHotline\u00a0opened\r\n\r\nText.\u00a0\r\n".encode()
    assert decode_statement(data) == "Hotline\u00a0opened\r\n\r\nText.\u00a0\r\n"
    assert normalize_text(decode_statement(data)) == "Hotline opened\n\nText."
    s = parse_statement(data)
    assert s.original == data
    assert s.title == "Hotline opened"


def test_lone_cr_line_ends_and_other_space_characters() -> None:
    assert normalize_text("a\rb\u202fc\u200bd \t\n") == "a\nb cd"
    assert normalize_text("a\tb\x07c\fd\u2028e\u2029f") == "a bc\nd\ne\n\nf"


def test_invalid_utf8_names_byte_offset_and_line() -> None:
    data = b"Title\n\nBody \xe9t\xe9\n"
    with pytest.raises(InputError) as info:
        decode_statement(data, "s.txt")
    message = str(info.value)
    assert "s.txt" in message
    assert "byte 0xe9 at offset 12, line 3" in message
    assert "UTF-8" in message


def test_size_limit() -> None:
    at_limit = b"T\n\n" + b"a" * (MAX_STATEMENT_BYTES - 3)
    assert decode_statement(at_limit)
    with pytest.raises(InputError, match="limit"):
        decode_statement(at_limit + b"a")


def test_read_statement_refuses_an_oversized_file_without_reading_it_all(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (MAX_STATEMENT_BYTES + 10))
    with pytest.raises(InputError, match="limit"):
        read_statement(big)


@pytest.mark.parametrize(
    "data",
    [b"Title\x00\n\nBody.", b"Title\n" + bytes(range(1, 32)) * 4],
    ids=["nul", "controls"],
)
def test_binary_input_is_refused(data: bytes) -> None:
    with pytest.raises(InputError, match="binary"):
        decode_statement(data)


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b" \n\r\n\t", "\u00a0\n".encode()])
def test_empty_input_is_refused(data: bytes) -> None:
    with pytest.raises(InputError, match="empty"):
        parse_statement(data)


def test_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(UnreadableInput, match="directory"):
        read_statement(tmp_path)
    with pytest.raises(UnreadableInput, match="cannot read"):
        read_statement(tmp_path / "missing.txt")


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    "text",
    [
        "23 February 2024",
        "February 23, 2024",
        "23 February, 2024",
        "23rd February 2024",
        "Friday, 23 February 2024",
        "23.02.2024",
        "23/02/2024",
        "2024-02-23",
        "Date: 23.02.2024",
        "Baku, 23 February 2024",
        "Baku – 23.02.2024",
        "23 February 2024 | 14:30",
        "23 fevral 2024",
        "Bakı şəhəri, 23 fevral 2024-cü il",
        "23.02.2024-cü il",
        "23 февраля 2024",
        "23 февраля 2024 г.",
        "г. Баку, 23 февраля 2024 года",
        "23 лютого 2024",
        "23 փետրվարի 2024 թ.",
        "Երևան, 23 փետրվարի 2024",
        "2024 წლის 23 თებერვალი",
        "23 თებერვალი 2024",
        "23 فبراير 2024",
        "23 شباط 2024",
        "٢٣ فبراير ٢٠٢٤",
        "23 février 2024",
    ],
)
def test_dates_in_every_form_and_language(text: str) -> None:
    assert parse_date(text) == dt.date(2024, 2, 23)


def test_levantine_two_word_month() -> None:
    assert parse_date("14 كانون الثاني 2024") == dt.date(2024, 1, 14)


@pytest.mark.parametrize(
    "text",
    [
        "30 February 2024",
        "31.04.2024",
        "2024-02-30",
        "February 2024",
        "Section 2. Visits in 2023",
        "In 2024 we met 12 times",
        "On 23 February 2024 the Commissioner met pupils of a village school.",
        "12:45",
        "",
    ],
)
def test_not_dates(text: str) -> None:
    assert parse_date(text) is None


def test_unreal_date_is_noted_not_guessed() -> None:
    s = parse_text(SIGNED.replace("1 June 2024", "30 February 2024"))
    assert s.date_issued is None
    (note,) = [n for n in s.notes if n.code == "parse.date-invalid"]
    assert "'30 February 2024'" in note.message and note.field == "date_issued"
    assert "30 February 2024" not in s.paragraphs  # still not body text


def test_date_in_a_body_sentence_is_not_the_date_of_issue() -> None:
    s = parse_text(f"Title\n\n12 March 2024 was the day the Office opened a hotline.\n\n{BODY}")
    assert s.date_issued is None
    assert s.paragraphs[0].startswith("12 March 2024 was")


def test_dateline_above_the_title() -> None:
    s = parse_text(f"23.02.2024\n\nHotline opened\n\n{BODY}\n\nLeyla Həsənova\nCommissioner")
    assert s.title == "Hotline opened"
    assert s.date_issued == dt.date(2024, 2, 23)
    assert s.paragraphs == (BODY,)


def test_dates_that_differ_are_noted() -> None:
    s = parse_text(f"Hotline opened\n\nBaku, 31 May 2024\n\n{SIGNED.split(chr(10), 2)[2]}")
    assert s.date_issued == dt.date(2024, 6, 1)
    (note,) = [n for n in s.notes if n.code == "parse.several-dates"]
    assert "2024-05-31, 2024-06-01" in note.message
    assert s.paragraphs == (BODY,)


def test_dates_are_fast() -> None:
    """dateparser is slow; the project's languages must not need it."""
    parse_date("23 February 2024")
    start = time.perf_counter()
    for _ in range(200):
        assert parse_date("23 fevral 2024") == dt.date(2024, 2, 23)
    assert time.perf_counter() - start < 0.5


# --------------------------------------------------------------------------- leftovers


def test_leftovers_only_at_the_ends() -> None:
    text = (
        "Home » News\nHotline opened\n\nFirst paragraph.\n\nSearch in archive\n\n"
        "Last paragraph.\n\nLeyla Həsənova\nCommissioner\n\n1 June 2024\n\nSearch in archive\n"
        "Share on Facebook\nViews: 12"
    )
    s = parse_text(text)
    assert s.leftovers == ("Home » News", "Search in archive", "Share on Facebook", "Views: 12")
    assert s.paragraphs == ("First paragraph.", "Search in archive", "Last paragraph.")
    assert s.text.count("Search in archive") == 1
    assert s.title == "Hotline opened"


def test_a_title_with_a_slash_is_not_a_breadcrumb() -> None:
    s = parse_text(f"Water / sanitation: supply restored\n\n{BODY}")
    assert s.title == "Water / sanitation: supply restored"
    assert s.leftovers == ()


def test_genre_label_above_a_title_is_a_label_never_the_title() -> None:
    labelled = parse_text(f"Press release\n\nHotline opened\n\n{BODY}")
    assert labelled.title == "Hotline opened"
    assert (labelled.type_label, labelled.genre) == ("Press release", "press-release")
    assert labelled.blocks[0] == Block(BlockKind.LABEL, ("Press release",))
    assert "Press release" in labelled.text and labelled.leftovers == ()
    # With no title under it, the label is still no title: a sentence is no title either.
    alone = parse_text(f"Statement\n\n{BODY}\n\nMore text follows here.")
    assert alone.title is None
    assert alone.genre == "statement"
    assert alone.paragraphs[0] == BODY
    assert [n.code for n in alone.notes if n.field == "title"] == ["parse.title-unsure"]
    # A line above the label is the page's banner: neither title nor body.
    banner = parse_text(f"Office of the Commissioner\n\nPress release\n\nHotline opened\n\n{BODY}")
    assert banner.title == "Hotline opened"
    assert banner.blocks[0] == Block(BlockKind.LINES, ("Office of the Commissioner",))
    assert banner.paragraphs == (BODY,)


# --------------------------------------------------------------------------- structure


def test_signature_glued_to_the_last_paragraph() -> None:
    s = parse_text(
        f"Hotline opened\n\n{BODY}\nLeyla Həsənova\nCommissioner for Human Rights\n1 June 2024"
    )
    assert (s.signer_name, s.signer_role) == ("Leyla Həsənova", "Commissioner for Human Rights")
    assert s.date_issued == dt.date(2024, 6, 1)
    assert s.paragraphs == (BODY,)


def test_one_paragraph_per_line_without_blank_lines() -> None:
    s = parse_text(
        f"Hotline opened\n{BODY}\nCalls are free of charge.\nLeyla Həsənova\nCommissioner\n"
        "1 June 2024"
    )
    assert s.title == "Hotline opened"
    assert s.paragraphs == (BODY, "Calls are free of charge.")
    assert s.signer_name == "Leyla Həsənova"


def test_hard_wrapped_paragraph_and_title_are_joined() -> None:
    s = parse_text(
        "Hotline for children opened\nin the Office of the Commissioner\n\n"
        "The Office opened a hotline. It is free\nof charge and open every day.\n"
    )
    assert s.title == "Hotline for children opened in the Office of the Commissioner"
    assert s.paragraphs == (
        "The Office opened a hotline. It is free of charge and open every day.",
    )


def test_long_first_sentence_is_not_a_title() -> None:
    first = "The Office " + "opened a hotline and " * 20 + "more."
    s = parse_text(f"{first}\n\n{BODY}")
    assert s.title is None
    assert s.paragraphs == (first, BODY)
    assert "parse.no-title" in [n.code for n in s.notes]


@pytest.mark.parametrize(
    ("signature", "name", "role"),
    [
        ("Leyla Həsənova\nCommissioner", "Leyla Həsənova", "Commissioner"),
        (
            "Commissioner for Human Rights\nLeyla Həsənova",
            "Leyla Həsənova",
            "Commissioner for Human Rights",
        ),
        ("Leyla Həsənova, Commissioner", "Leyla Həsənova", "Commissioner"),
        ("Leyla Həsənova – Commissioner", "Leyla Həsənova", "Commissioner"),
        ("Sincerely,\nLeyla Həsənova\nCommissioner", "Leyla Həsənova", "Commissioner"),
        ("Hörmətlə,\n\nLeyla Həsənova\nMüvəkkil", "Leyla Həsənova", "Müvəkkil"),
        ("С уважением,\nУполномоченный\nНаргиз Керимова", "Наргиз Керимова", "Уполномоченный"),
        ("Leyla Həsən qızı Məmmədova\nMüvəkkil", "Leyla Həsən qızı Məmmədova", "Müvəkkil"),
        ("Leyla Həsənova", "Leyla Həsənova", None),
        ("ნინო ბერიძე\nსახალხო დამცველი", "ნინო ბერიძე", "სახალხო დამცველი"),
        ("Press Service of the Commissioner", None, None),
        # The comma that joins a name to the office under it is no part of the name.
        ("Maria Jones,\nParks Commissioner", "Maria Jones", "Parks Commissioner"),
        ("Maria Jones\nParks Commissioner,", "Maria Jones", "Parks Commissioner"),
    ],
)
def test_signature_shapes(signature: str, name: str | None, role: str | None) -> None:
    s = parse_text(f"Hotline opened\n\n{BODY}\n\n{signature}\n\n1 June 2024")
    assert (s.signer_name, s.signer_role) == (name, role)
    assert s.paragraphs[0] == BODY
    if name is not None:
        assert s.paragraphs == (BODY,)


def test_joint_statement_keeps_first_signer_and_notes_the_others() -> None:
    s = parse_text(
        f"Joint statement\n\n{BODY}\n\nLeyla Həsənova\nCommissioner\n\nAnar Məmmədov\n"
        "Chair of the Council\n\n1 June 2024"
    )
    assert (s.signer_name, s.signer_role) == ("Leyla Həsənova", "Commissioner")
    assert s.paragraphs == (BODY,)
    assert any(
        n.code == "parse.several-signers" and "'Anar Məmmədov'" in n.message for n in s.notes
    )
    assert [(x.name, x.role) for x in s.signers] == [
        ("Leyla Həsənova", "Commissioner"),
        ("Anar Məmmədov", "Chair of the Council"),
    ]


def test_a_short_last_sentence_is_body_not_a_signature() -> None:
    for last in ("Thank you.", "Շնորհակալություն։", '"Every child counts."', "Why does it matter?"):
        s = parse_text(f"Hotline opened\n\n{BODY}\n\n{last}")
        assert s.paragraphs == (BODY, last)
        assert s.signer_name is None


def test_title_only() -> None:
    s = parse_text("Statement on the opening of the children's reading room")
    assert s.title == "Statement on the opening of the children's reading room"
    assert s.paragraphs == ()
    assert s.signer_name is None and s.date_issued is None


def test_paragraph_wording_is_kept() -> None:
    """Parsing derives metadata; it never rewrites what the statement says."""
    body = "Sabina Aliyeva  met  pupils — and said: «Search in archive»!"
    s = parse_text(f"Title\n\n{body}\n\nEnd of text.")
    assert s.paragraphs[0] == body


# --------------------------------------------------------------------------- language


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("The Office of the Commissioner opened a hotline for children today.", "en"),
        ("Müvəkkilin Aparatında uşaqlar üçün qaynar xətt fəaliyyətə başladı.", "az-Latn"),
        ("Уполномоченный по правам человека посетила школу-интернат.", "ru"),
        ("Պաշտպանը ողջունում է հանրային գրադարանների որոշումը։", "hy"),
        ("სახალხო დამცველი მიესალმება წყალმომარაგების აღდგენას.", "ka"),
        ("يدعو ديوان المظالم جميع المواطنين إلى التبرع بالدم (WHO, 2024).", "ar"),
    ],
)
def test_language_per_script(text: str, tag: str) -> None:
    assert identify_language(text) == tag


def test_no_letters_no_language() -> None:
    assert identify_language("2024 — 12:00 / 3.5 %") is None


# --------------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
@example("\n\n\n")
@example("30 February 2024")
@example("Name, Role\n1 1 2024")
@example("a\n\nB C\n\n1.1.1900\n\n» » »")
def test_parse_text_never_crashes(text: str) -> None:
    s = parse_text(text)
    assert s.original == text.encode()
    assert all(p.strip() for p in s.paragraphs)
    assert s.title is None or s.title.strip()


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=500),
        st.builds(
            lambda bom, text, crlf: bom + (text.replace("\n", "\r\n") if crlf else text).encode(),
            st.sampled_from([b"", b"\xef\xbb\xbf"]),
            st.text(max_size=2000),
            st.booleans(),
        ),
    )
)
def test_parse_statement_keeps_any_decodable_bytes(data: bytes) -> None:
    try:
        s = parse_statement(data)
    except InputError:
        return  # refused with a message, which is fine; crashing is not
    assert s.original == data
    assert "\r" not in s.text and "\ufeff" not in s.text


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(["\u00a0", "\r\n", "\n", " ", "\ufeff", "Leyla", "1 June 2024", "."]),
        max_size=60,
    )
)
def test_parse_text_never_crashes_on_web_debris(parts: list[str]) -> None:
    text = "".join(parts)
    if text.strip():
        assert parse_text(text).original == text.encode()


def test_long_fixture_parses_fast() -> None:
    data = (FIXTURES / "en-annual-report-long.txt").read_bytes()
    parse_statement(data)  # warm up the language model
    start = time.perf_counter()
    parse_statement(data)
    assert time.perf_counter() - start < 0.5


def test_site_text_alone_is_refused_not_an_empty_statement() -> None:
    with pytest.raises(InputError, match="no text besides web-page leftovers"):
        parse_statement(b"Share\nSearch in archive\n", "only-site-text.txt")


@pytest.mark.parametrize(
    ("last_line", "is_leftover"),
    [
        ("Copyright law protects the authors of school textbooks.", False),
        ("© 2024 Office of the Commissioner", True),
        ("Copyright 2024 Office of the Commissioner", True),
        ("All rights reserved.", True),
    ],
)
def test_copyright_small_print_but_not_a_sentence_about_copyright(
    last_line: str, is_leftover: bool
) -> None:
    text = f"Title\n\nThe library opens on Sundays.\n\n{last_line}\n"
    statement = parse_text(text)
    assert (last_line in statement.leftovers) is is_leftover
    assert (last_line in statement.text) is not is_leftover


def test_lines_outside_body_and_signature_are_kept_as_written() -> None:
    """Datelines, closings and signature dates leave the body but stay in the Statement."""
    statement = parse_text(
        "Playground reopened\n\nTbilisi, 5 March 2025\n\nThe playground is open again.\n\n"
        "Sincerely,\n\nMaria Example\nPublic Defender\n\n6 March 2025\n\nShare\n"
    )
    assert statement.paragraphs == ("The playground is open again.",)
    assert statement.datelines == ("Tbilisi, 5 March 2025",)
    assert statement.sign_off == "Sincerely,"
    assert statement.signature_dates == ("6 March 2025",)
    assert statement.date_issued == dt.date(2025, 3, 6)
    assert statement.leftovers == ("Share",)


# --- blocks: the page's lines, every one, in order -------------------------------


_LINE = st.sampled_from(
    [
        "",
        "Annual meeting of the library council",
        "Baku, 23 February 2024",
        "1. The reading rooms open at nine.",
        "• four had broken fences;",
        "Sincerely,",
        "Anna Example",
        "Commissioner for Human Rights",
        "The council met on Monday and agreed on the plan for the new season of readings.",
        "12 Library Street",
        "Share",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE, max_size=14))
def test_blocks_hold_every_line_once_in_order(lines: list[str]) -> None:
    text = "\n".join(lines)
    if not text.strip():
        return
    statement = parse_text(text)
    assert [line for b in statement.blocks for line in b.lines] == block_lines(statement.text)


def test_list_items_and_short_lines_are_blocks_of_their_own() -> None:
    statement = parse_text(
        "Inspection of village water points\n\n"
        "The inspectors found that of twelve water points:\n"
        "1. six worked well;\n"
        "2. four had broken fences;\n"
        "3. two were dry.\n\n"
        "To the head of the district\n12 Library Street\nSample Town\n\n"
        "The council thanks the inspectors and asks for repairs before the summer.\n\n"
        "Anna Example\nCommissioner for Human Rights\n"
    )
    kinds = [(b.kind, b.lines) for b in statement.blocks]
    assert kinds[0] == (BlockKind.TITLE, ("Inspection of village water points",))
    assert kinds[1] == (BlockKind.PARAGRAPH, ("The inspectors found that of twelve water points:",))
    assert kinds[2] == (
        BlockKind.LIST,
        ("1. six worked well;", "2. four had broken fences;", "3. two were dry."),
    )
    assert kinds[3] == (
        BlockKind.LINES,
        ("To the head of the district", "12 Library Street", "Sample Town"),
    )
    assert kinds[-1][0] is BlockKind.SIGNATURE


# --- right metadata or an honest blank (issue 11) --------------------------------


def _codes(statement: object) -> list[str]:
    return [n.code for n in statement.notes]  # type: ignore[attr-defined]


def test_note_codes_are_the_documented_ones() -> None:
    """The fixtures and the README use these exact strings."""
    assert {c.value for c in NoteCode} >= {
        "parse.no-title",
        "parse.title-unsure",
        "parse.no-signature",
        "parse.signer-unsure",
        "parse.several-signers",
        "parse.role-unsure",
        "parse.no-date",
        "parse.date-ambiguous",
        "parse.date-invalid",
        "parse.several-dates",
        "parse.encoding-detected",
    }
    readme = (FIXTURES.parent / "README.md").read_text(encoding="utf-8")
    for code in NoteCode:
        assert f"`{code.value}`" in readme, code
    note = Note("parse.no-date", "no line with a date", "date_issued")
    assert "parse.no-date" in note and "a date" in note and "parse.no-title" not in note
    assert note.as_dict() == {
        "code": "parse.no-date",
        "message": "no line with a date",
        "field": "date_issued",
    }


@pytest.mark.parametrize(
    "line",
    [
        "Home › News › Statements",
        "Главная / Новости",
        "Accueil > Actualités > Communiqués",
        "Teilen",
        "Paylaş",
        "Поделиться",
        "分享",
        "Imprimer",
        "Diminuer la taille du texte",
        "A A A",
        "A- A A+",
        "VIEW IN TELEGRAM",
        "@ombudsman_channel",
        "👁 1.2K",
        "1 234 views",
        "Просмотров: 120",
        "12:45",
        "Privacy Policy",
        "Gizlilik Siyasəti",
        "This website uses cookies. Accept",
        "© 2024 Office of the Commissioner",
        "Все права защищены",
        "Working hours: Mon–Fri 09:00–18:00",
        "Hotline: 916",
        "Dernière modification : 05/12/2017",
        "Son güncelleme: 12.03.2024",
        "Photo: Press Service",
        "Фото: пресс-служба",
        "Foto: Pressestelle",
        "图片来源：新华社",
        "Media Releases",
    ],
)
def test_site_text_is_recognised(line: str) -> None:
    assert chrome_kind(line) is not None


@pytest.mark.parametrize(
    "line",
    [
        "Library opening hours extended",
        "Updated guidance on school meals",
        "The privacy of pupils' records",
        "Çocukların gizlilik hakkı üzerine açıklama",
        "For media enquiries: press@office.example",
        "Контакты для СМИ: +7 000 000 00 00",
        "P.S. The exhibition stays open until Friday.",
        "Annex: list of the schools visited",
        "Anna Example",
        "Commissioner for Human Rights",
        "Water / sanitation: supply restored",
        "Share of pupils with access to a library rose to 80%",
    ],
)
def test_statement_text_is_not_site_text(line: str) -> None:
    assert chrome_kind(line) is None


def test_chrome_before_the_title_and_after_the_signature_anywhere_in_the_header() -> None:
    s = parse_text(
        "VIEW IN TELEGRAM\nDefensoría Provincial\n@defensoria_prov\n\nComunicado\n\n"
        "La Defensoría acompaña la campaña de vacunación escolar\n\n"
        "La Defensoría del Pueblo acompaña la campaña de vacunación escolar que comienza "
        "el lunes en todas las escuelas públicas.\n\n"
        "Invitamos a las familias a consultar el calendario publicado.\n\n"
        "Atentamente,\n\nMaría Elena López García\nDefensora del Pueblo\n"
        "Defensoría del Pueblo de la Provincia\n\n👁 1.2K\n12:45\n"
    )
    # The channel's name above its handle is the messenger's header too.
    assert s.leftovers == (
        "VIEW IN TELEGRAM",
        "Defensoría Provincial",
        "@defensoria_prov",
        "👁 1.2K",
        "12:45",
    )
    assert s.title == "La Defensoría acompaña la campaña de vacunación escolar"
    assert (s.type_label, s.genre) == ("Comunicado", "press-release")
    assert s.signers == (
        Signer(
            "María Elena López García",
            "Defensora del Pueblo",
            "Defensoría del Pueblo de la Provincia",
        ),
    )
    kinds = [b.kind for b in s.blocks]
    assert kinds[:2] == [BlockKind.LABEL, BlockKind.TITLE]
    assert kinds[-2:] == [BlockKind.CLOSING, BlockKind.SIGNATURE]


def test_contact_line_after_the_signature_stays_and_site_footer_goes() -> None:
    s = parse_text(
        "Joint statement on safe school routes\n\n"
        "The undersigned call on municipalities to mark safe routes to school.\n\n"
        "Anna Example\nCommissioner for Human Rights\n\n"
        "Boris Sample\nChair of the Board of the Children's Fund\n\n"
        "Carla Muster\nDirector of the Road Safety Institute\n\n1 September 2024\n\n"
        "For media enquiries: press@office.example, +1 555 0100\n"
        "Privacy Policy\nMedia Releases\n© 2024 Office of the Commissioner\n"
    )
    assert s.leftovers == ("Privacy Policy", "Media Releases", "© 2024 Office of the Commissioner")
    assert [(x.name, x.role) for x in s.signers] == [
        ("Anna Example", "Commissioner for Human Rights"),
        ("Boris Sample", "Chair of the Board of the Children's Fund"),
        ("Carla Muster", "Director of the Road Safety Institute"),
    ]
    assert "parse.several-signers" in _codes(s)
    assert s.blocks[-1] == Block(
        BlockKind.PARAGRAPH, ("For media enquiries: press@office.example, +1 555 0100",)
    )
    assert [b.kind for b in s.blocks[-5:-1]] == [BlockKind.SIGNATURE] * 4
    assert s.date_issued == dt.date(2024, 9, 1)


def test_a_body_line_that_reads_like_a_button_stays_in_the_middle() -> None:
    s = parse_text(f"Title\n\n{BODY}\n\nShare\n\n{BODY}\n\nAnna Example\nCommissioner\n")
    assert s.leftovers == ()
    assert "Share" in s.paragraphs


@pytest.mark.parametrize(
    ("signature", "name", "role"),
    [
        (
            "Уполномоченный по правам человека в Самарской области И. Петров",
            "И. Петров",
            "Уполномоченный по правам человека в Самарской области",
        ),
        ("Anne Exemple\nDéfenseure des droits", "Anne Exemple", "Défenseure des droits"),
        (
            "Олена Приклад\nУповноважений Верховної Ради України з прав людини",
            "Олена Приклад",
            "Уповноважений Верховної Ради України з прав людини",
        ),
        ("Ayşe Örnek\nKamu Başdenetçisi", "Ayşe Örnek", "Kamu Başdenetçisi"),
        (
            "Mit freundlichen Grüßen\n\nJulia Beispiel\nBürgerbeauftragte",
            "Julia Beispiel",
            "Bürgerbeauftragte",
        ),
        ("国家人权委员会主任 王伟", "王伟", "国家人权委员会主任"),
        ("Петров И.И.\nДиректор библиотеки", "Петров И.И.", "Директор библиотеки"),
        (
            "A. B. Petrov\nHead of the Regional Office",
            "A. B. Petrov",
            "Head of the Regional Office",
        ),
        ("دانا مثال\nرئيسة الهيئة", "دانا مثال", "رئيسة الهيئة"),
        ("נועה דוגמה\nנציבת תלונות הציבור", "נועה דוגמה", "נציבת תלונות הציבור"),
    ],
)
def test_signature_shapes_in_every_language(signature: str, name: str, role: str) -> None:
    s = parse_text(f"Hotline opened\n\n{BODY}\n\n{signature}\n\n1 June 2024")
    assert (s.signer_name, s.signer_role) == (name, role)
    assert s.paragraphs == (BODY,)
    assert "parse.several-signers" not in _codes(s)


def test_role_words_match_whole_words_not_inside_a_name() -> None:
    """ "board" is an office word; "Boardman" is a surname."""
    s = parse_text(f"Hotline opened\n\n{BODY}\n\nKate Boardman\nLibrarian\n\n1 June 2024")
    assert (s.signer_name, s.signer_role) == ("Kate Boardman", "Librarian")
    assert len(s.signers) == 1


def test_signature_at_the_end_of_the_last_paragraph_line() -> None:
    s = parse_text(
        "Accès aux bibliothèques\n\nLa Défenseure des droits salue la décision de la ville "
        "d'ouvrir ses bibliothèques le dimanche. Anne Exemple, Défenseure des droits"
    )
    assert (s.signer_name, s.signer_role) == ("Anne Exemple", "Défenseure des droits")
    assert s.blocks[-1].kind is BlockKind.PARAGRAPH  # the line itself stays prose


@pytest.mark.parametrize(
    "chrome", ["Privacy Policy", "VIEW IN TELEGRAM", "Teilen", "完", "Media Releases"]
)
def test_site_text_is_never_the_signer(chrome: str) -> None:
    s = parse_text(f"Hotline opened\n\n{BODY}\n\n{chrome}\n")
    assert s.signer_name is None and s.signers == ()


def test_a_lone_word_may_be_a_site_name_so_the_signer_is_left_blank() -> None:
    s = parse_text(f"Hotline opened\n\n{BODY}\n\nNewsportal\n")
    assert s.signer_name is None
    (note,) = [n for n in s.notes if n.field == "creator.name"]
    assert note.code == "parse.signer-unsure" and "'Newsportal'" in note.message


def test_an_unknown_line_under_the_name_is_noted_not_taken_as_the_role() -> None:
    s = parse_text(f"Hotline opened\n\n{BODY}\n\nKate Example\nfor the reading-room volunteers\n")
    assert (s.signer_name, s.signer_role) == ("Kate Example", None)
    (note,) = [n for n in s.notes if n.code == "parse.role-unsure"]
    assert "'for the reading-room volunteers'" in note.message and note.field == "creator.role"


def test_two_name_shaped_lines_are_a_name_and_an_unknown_role_not_two_signers() -> None:
    s = parse_text(f"Hotline opened\n\n{BODY}\n\nAyşe Örnek\nKurul Üyesi Vekili\n\n1 June 2024")
    assert s.signer_name == "Ayşe Örnek"
    assert len(s.signers) == 1
    assert "parse.role-unsure" in _codes(s)


def test_two_line_title_block_and_dateline_under_it() -> None:
    s = parse_text(
        "Заявление\n\nОб открытии новых читальных залов\nв районных библиотеках\n\n"
        "г. Самарск, 12 марта 2024 г.\n\nУполномоченный приветствует решение открыть залы.\n\n"
        "Уполномоченный по правам человека в Самарской области И. Петров\n"
    )
    assert s.title == "Об открытии новых читальных залов в районных библиотеках"
    assert [(b.kind, b.lines) for b in s.blocks[:3]] == [
        (BlockKind.LABEL, ("Заявление",)),
        (BlockKind.TITLE, ("Об открытии новых читальных залов", "в районных библиотеках")),
        (BlockKind.DATELINE, ("г. Самарск, 12 марта 2024 г.",)),
    ]
    assert s.signer_name == "И. Петров"


def test_two_capitalised_title_lines_are_one_title() -> None:
    s = parse_text(f"Road safety near schools\nA statement on the new school year\n\n{BODY}")
    assert s.title == "Road safety near schools A statement on the new school year"


def test_a_date_line_is_never_the_title() -> None:
    s = parse_text(f"23 February 2024\n\n{BODY}\n\nAnna Example\nCommissioner")
    assert s.title is None
    assert s.blocks[0].kind is BlockKind.DATELINE


@pytest.mark.parametrize(
    ("line", "title", "label"),
    [
        ("KİTABXANALAR HAQQINDA AÇIQLAMAbackend", "KİTABXANALAR HAQQINDA AÇIQLAMA", None),
        (
            "Kitabxanalarda yay oxu proqramı başlayırÇap et",
            "Kitabxanalarda yay oxu proqramı başlayır",
            None,
        ),
        ("Press releaseNew rules for school buses", "New rules for school buses", "Press release"),
    ],
)
def test_a_site_word_or_label_run_into_the_title_is_not_part_of_it(
    line: str, title: str, label: str | None
) -> None:
    s = parse_text(f"{line}\n\n{BODY}")
    assert s.title == title
    assert s.type_label == label
    assert s.blocks[0] == Block(BlockKind.TITLE, (line,))  # the line itself is kept whole


def test_heading_kind_inside_the_body() -> None:
    s = parse_text(
        f"Annual report\n\n{BODY}\n\nVisits to schools\n\n"
        "The Office visited forty schools and met their pupils and teachers.\n\n"
        "Anna Example\nCommissioner"
    )
    assert Block(BlockKind.HEADING, ("Visits to schools",)) in s.blocks
    letter = parse_text(f"Open letter\n\nDear colleagues,\n\n{BODY}\n\nAnna Example\nCommissioner")
    assert letter.blocks[1] == Block(BlockKind.PARAGRAPH, ("Dear colleagues,",))


def test_unsure_fields_are_blank_so_no_identifier_is_built_from_them() -> None:
    from preserve.metadata import draft_from_statement, prepare

    s = parse_text(f"Hotline opened\n\n{BODY}\n\nNewsportal\n\n1 June 2024")
    draft = draft_from_statement(s)
    assert "creator" not in draft
    prepared = prepare(s)
    assert not prepared.valid
    (problem,) = [p for p in prepared.problems if p.field == "creator"]
    assert "'Newsportal' may be the signer" in problem.message
    assert "newsportal" not in prepared.record["identifier"]


def test_draft_has_creators_left_out_and_the_labelled_type() -> None:
    from preserve.metadata import draft_from_statement

    s = parse_text(
        "Press release\n\nHotline opened\n\n"
        f"{BODY}\n\nAnna Example\nCommissioner\n\nBoris Sample\nChair of the Council\n\n"
        "1 June 2024\n\nShare\n"
    )
    draft = draft_from_statement(s)
    assert draft["type"] == "press-release"
    assert draft["creator"] == {"name": "Anna Example", "role": "Commissioner"}
    assert draft["creators"] == [
        {"name": "Anna Example", "role": "Commissioner"},
        {"name": "Boris Sample", "role": "Chair of the Council"},
    ]
    assert draft["left_out"] == ["Share"]


def test_confidence_is_recorded_for_filled_fields() -> None:
    s = parse_text(SIGNED)
    assert s.confidence_of("creator.name") is not None
    assert s.confidence_of("title") == 1.0
    assert s.confidence_of("nothing") is None


def test_the_page_publication_field_is_site_text_but_gives_the_date_when_nothing_else_does() -> (
    None
):
    s = parse_text(
        "Inicio / Sala de prensa / Comunicados\n\nFecha: 29.07.2023\n\n"
        "Bibliotecas rurales recibirán libros donados\n\n"
        "La Red de Bibliotecas Públicas entregará libros donados a las bibliotecas rurales "
        "durante el segundo semestre del año.\n"
    )
    assert s.leftovers == ("Inicio / Sala de prensa / Comunicados", "Fecha: 29.07.2023")
    assert s.title == "Bibliotecas rurales recibirán libros donados"
    assert s.date_issued == dt.date(2023, 7, 29)
    # A date the statement itself gives wins over the page's field.
    signed = parse_text(f"Fecha: 29.07.2023\n\n{SIGNED}")
    assert signed.date_issued == dt.date(2024, 6, 1)


@pytest.mark.parametrize(
    "first",
    [
        "An die Bürgerinnen und Bürger des Ortsteils Oberfeld",
        "Главам администраций районов",
        "بسمه تعالی",
    ],
)
def test_an_addressee_or_invocation_above_the_title_is_neither_title_nor_body(first: str) -> None:
    s = parse_text(f"{first}\n\nHotline opened\n\n{BODY}\n\nAnna Example\nCommissioner")
    assert s.title == "Hotline opened"
    assert s.paragraphs == (BODY,)
    assert s.blocks[0] == Block(BlockKind.LINES, (first,))


@pytest.mark.parametrize(
    "first", ["To mark World Water Day", "A los 20 años de la ley", "致全市人民的一封信"]
)
def test_a_title_that_starts_like_an_addressee_is_still_the_title(first: str) -> None:
    s = parse_text(f"{first}\n\nHotline opened\n\n{BODY}")
    assert s.title == first


def test_traditional_chinese_is_tagged_zh_hant() -> None:
    assert identify_language("臺北市自來水事業處關於停水的聲明。各區用戶請預先儲水。") == "zh-Hant"
    assert identify_language("市图书馆少儿阅览室改造完成重新开放。欢迎读者前来阅读。") == "zh"


def test_the_news_site_footer_end_mark_and_editor_line_are_site_text() -> None:
    s = parse_text(
        "市体育局关于社区体育场馆免费开放的声明\n\n"
        "本市各区社区体育场馆免费向市民开放。\n\n请市民文明健身，爱护公共设施。\n\n"
        "市体育局局长 王建国\n\n（完）\n\n责任编辑：李明\n【打印本页】【关闭窗口】\n"
    )
    assert s.leftovers == ("（完）", "责任编辑：李明", "【打印本页】【关闭窗口】")
    assert (s.signer_name, s.signer_role) == ("王建国", "市体育局局长")
    news = parse_text(
        f"Hotline opened\n\n{BODY}\n\nAnna Example\nCommissioner\n\nShare\nCity News 24\n"
    )
    assert news.leftovers == ("Share", "City News 24")
    assert [x.name for x in news.signers] == ["Anna Example"]


def test_a_list_introduced_by_a_colon_stays_in_its_paragraph() -> None:
    long_intro = "Water will be cut off on the following streets while the pipes are repaired " * 2
    s = parse_text(f"Water cut\n\n{long_intro.strip()}:\n1. Main Street;\n2. Mill Lane.\n\nSorry.")
    assert len(s.paragraphs) == 2
    assert [b.kind for b in s.blocks[1:3]] == [BlockKind.PARAGRAPH, BlockKind.LIST]


def test_only_an_institution_signs() -> None:
    s = parse_text(f"Hotline opened\n\n{BODY}\n\nOffice of the Commissioner for Human Rights\n")
    assert (s.signer_name, s.signer_role) == ("Office of the Commissioner for Human Rights", None)


def test_a_wire_style_dateline_opening_the_first_paragraph_gives_the_date() -> None:
    s = parse_text(
        "Press release\n\nSafe water for rural schools\n\n"
        "GENEVA (5 March 2024) – Independent experts called on governments to connect "
        "every rural school to safe drinking water.\n\nThe experts recommended a register."
    )
    assert s.date_issued == dt.date(2024, 3, 5)
    assert s.paragraphs[0].startswith("GENEVA (5 March 2024) –")  # the line stays prose
    # A date in a later sentence is no dateline.
    later = parse_text(f"Title\n\n{BODY} It opens on 5 March 2024.\n\nMore text.")
    assert later.date_issued is None


def test_a_han_institution_alone_is_the_signer_and_traditional_chrome_goes() -> None:
    s = parse_text(
        "关于调整营养午餐供应时间的通知\n\n各学校要安排专人负责餐品验收。\n\n特此通知。\n\n市教育局\n\n列印\n"
    )
    assert (s.signer_name, s.signer_role) == ("市教育局", None)
    assert s.leftovers == ("列印",)
    han = parse_text("檔案館延長開放時間\n\n檔案館自下月起延長開放時間。\n\n檔案館館長 陳怡君\n")
    assert (han.signer_name, han.signer_role) == ("陳怡君", "檔案館館長")


def test_the_site_headers_today_is_site_text_but_a_dateline_with_a_place_is_not() -> None:
    s = parse_text(
        f"Monday, 15 April 2024\n\nHotline opened\n\n{BODY}\n\nAnna Example\nCommissioner"
    )
    assert s.leftovers == ("Monday, 15 April 2024",)
    assert s.title == "Hotline opened"
    assert s.date_issued is None  # the page's today is no date of issue
    kiel = parse_text(f"Hotline opened\n\nKiel, Dienstag, 4. Juni 2024\n\n{BODY}")
    assert kiel.leftovers == ()


# --- the dates and decoding interfaces (dates.read_date_line, decoding.decode_bytes) ---


def test_an_ambiguous_date_is_left_blank_with_its_code() -> None:
    s = parse_text(f"Hotline opened\n\n{BODY}\n\nAnna Example\nCommissioner\n\n05/12/2017")
    assert s.date_issued is None
    assert [n.code for n in s.notes if n.field == "date_issued"] == ["parse.date-ambiguous"]
    assert s.blocks[-1] == Block(BlockKind.SIGNATURE, ("05/12/2017",))


def test_a_modification_or_caption_date_is_no_date_of_issue() -> None:
    s = parse_text(
        f"Spielplatz eröffnet\n\nMainz, den 4. Juni 2024\n\n{BODY}\n\n"
        "Aufgenommen am 2. Mai 2024\n\nStand: 3. Mai 2024\n"
    )
    assert s.date_issued == dt.date(2024, 6, 4)
    assert "parse.several-dates" not in _codes(s)
    alone = parse_text(f"Spielplatz eröffnet\n\n{BODY}\n\nAufgenommen am 2. Mai 2024\n")
    assert alone.date_issued is None and "parse.no-date" in _codes(alone)


def test_a_legacy_encoding_is_noted(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from preserve.statement import parsing

    text = (
        "Sıcak hat açıldı\n\nKurum bugün çocuklar için bir sıcak hat açtı.\n\n"
        "Ayşe Örnek\nKamu Başdenetçisi\n"
    )
    data = text.encode("cp1254")

    def decode_bytes(raw: bytes, path: object = None, encoding: object = None) -> SimpleNamespace:
        try:
            return SimpleNamespace(text=raw.decode("utf-8"), encoding="utf-8", confidence=1.0)
        except UnicodeDecodeError:
            return SimpleNamespace(text=raw.decode("cp1254"), encoding="cp1254", confidence=0.97)

    monkeypatch.setattr(parsing._decoding, "decode_bytes", decode_bytes, raising=False)
    s = parse_statement(data, "s.txt")
    assert (s.encoding, s.encoding_confidence) == ("cp1254", 0.97)
    assert s.original == data
    (note,) = [n for n in s.notes if n.code == "parse.encoding-detected"]
    assert "cp1254" in note.message
    assert "parse.encoding-detected" not in _codes(parse_statement(SIGNED.encode()))


@pytest.mark.parametrize("counter", ["@ombudsman_example", "12.5K subscribers"])
def test_a_channels_name_above_its_handle_is_the_messengers_header(counter: str) -> None:
    s = parse_text(f"Ombudsman of Example\n{counter}\n\nHotline opened\n\n{BODY}")
    assert s.leftovers == ("Ombudsman of Example", counter)
    assert s.title == "Hotline opened"
