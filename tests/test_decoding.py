"""Tests of preserve.statement.decoding: UTF-8 at once, legacy encodings when sure.

Every byte string is made here from invented text, encoded in the test.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import pytest

from preserve.errors import InputError
from preserve.statement import parse_statement
from preserve.statement.decoding import (
    MIN_CONFIDENCE,
    Decoded,
    decode_bytes,
    decode_statement,
)

#: A paragraph in each language (and a few scripts more), with the legacy encoding
#: statements in it came in before UTF-8, and the codec the detector must name.
PARAGRAPHS = {
    "ru-cp1251": (
        "Уполномоченный по правам человека посетил школу в селе и встретился с учениками "
        "и учителями. Обсуждались вопросы доступа к библиотекам.",
        "cp1251",
        "cp1251",
    ),
    "ru-koi8r": (
        "Уполномоченный по правам человека посетил школу в селе и встретился с учениками.",
        "koi8_r",
        "koi8_r",
    ),
    "uk-cp1251": (
        "Уповноважений з прав людини відвідав сільську школу і зустрівся з учнями.",
        "cp1251",
        "cp1251",
    ),
    "fr-cp1252": (
        "Le Défenseur des droits a rencontré les élèves d'une école du village. "
        "Dernière modification : 05/12/2017",
        "cp1252",
        "cp1252",
    ),
    "de-latin1": (
        "Der Beauftragte besuchte eine Schule in Mainz und sprach mit Schülern über "
        "Bücher und Öffnungszeiten.",
        "latin_1",
        "cp1252",  # the same text: the more common name is reported
    ),
    "en-cp1252-quotes": (
        "The Office \u201cwelcomes\u201d the decision \u2013 libraries stay open until 20:00 "
        "for the children\u2019s reading hour. Caf\u00e9 included, \u20ac0.",
        "cp1252",
        "cp1252",  # not Latin-1, which reads 0x93 and 0x96 as C1 controls
    ),
    "es-cp1252": (
        "La Defensoría del Pueblo visitó una escuela rural y habló con los niños sobre "
        "la biblioteca.",
        "cp1252",
        "cp1252",
    ),
    "tr-cp1254": (
        "Kamu Denetçiliği Kurumu, köy okulundaki öğrencilerle görüştü. Kütüphanelere "
        "erişim konuşuldu.",
        "cp1254",
        "cp1254",
    ),
    "tr-iso8859-9": (
        "Kamu Denetçiliği Kurumu, köy okulundaki öğrencilerle görüştü. Kütüphanelere "
        "erişim konuşuldu.",
        "iso8859_9",
        "cp1254",
    ),
    "ar-cp1256": (
        "زار ديوان المظالم مدرسة في القرية والتقى بالطلاب والمعلمين. وتمت مناقشة الوصول "
        "إلى المكتبات.",
        "cp1256",
        "cp1256",
    ),
    "he-cp1255": (
        "נציב תלונות הציבור ביקר בבית ספר בכפר ונפגש עם תלמידים ומורים.",
        "cp1255",
        "cp1255",
    ),
    "el-cp1253": (
        "Ο Συνήγορος του Πολίτη επισκέφθηκε ένα σχολείο στο χωριό.",
        "cp1253",
        "cp1253",
    ),
    "pl-cp1250": (
        "Rzecznik Praw Obywatelskich odwiedził szkołę w małej wsi i rozmawiał z uczniami.",
        "cp1250",
        "cp1250",
    ),
    "zh-gb18030": (
        "人权委员会访问了村里的学校，与学生和老师见面。讨论了图书馆的开放时间问题。",
        "gb18030",
        "gb18030",
    ),
    "zh-big5": (
        "人權委員會訪問了村裡的學校，與學生和老師見面。討論了圖書館的開放時間問題。",
        "big5",
        "big5",
    ),
    "ja-shift-jis": (
        "人権委員会は村の学校を訪問し、生徒と先生に会いました。図書館の開館時間について"
        "話し合いました。",
        "shift_jis",
        "cp932",
    ),
    "ko-euc-kr": (
        "국가인권위원회는 마을 학교를 방문하여 학생들과 교사들을 만났습니다. 도서관 개방 "
        "시간에 대해 논의했습니다.",
        "euc_kr",
        "cp949",
    ),
    "en-ar-mixed": ("Ombudsman statement: ديوان المظالم يزور المدارس", "cp1256", "cp1256"),
}


@pytest.mark.parametrize("case", sorted(PARAGRAPHS))
def test_legacy_encodings_round_trip(case: str) -> None:
    text, codec, reported = PARAGRAPHS[case]
    data = text.encode(codec)
    decoded = decode_bytes(data, "s.txt")
    assert decoded.text == text
    assert codecs.lookup(decoded.encoding).name == codecs.lookup(reported).name
    assert MIN_CONFIDENCE <= decoded.confidence <= 1.0


def test_a_windows_1251_russian_statement_parses_and_keeps_its_bytes() -> None:
    text = (
        "Уполномоченный посетил сельскую школу\n\n"
        "Уполномоченный по правам человека посетил школу в селе и встретился с учениками "
        "и учителями. Обсуждались часы работы библиотеки.\n\n"
        "Анна Петрова\nУполномоченный по правам человека\n\n23 февраля 2024 г.\n"
    )
    data = text.encode("cp1251")
    statement = parse_statement(data, "s.txt")
    assert statement.original == data  # the bytes as received, untouched
    assert statement.title == "Уполномоченный посетил сельскую школу"
    assert statement.date_issued is not None and statement.date_issued.isoformat() == "2024-02-23"


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("Привет", "cp1251"),
        ("Часы работы\n\nОткрыто.", "cp1251"),
        ("Café", "cp1252"),
        ("The Office wörks.", "latin_1"),
        ("Müller", "cp1252"),
        ("Şubat", "cp1254"),
        ("שלום", "cp1255"),
    ],
)
def test_a_few_words_in_a_legacy_encoding_are_refused_with_candidates(
    text: str, codec: str
) -> None:
    data = text.encode(codec)
    with pytest.raises(InputError) as info:
        decode_bytes(data, "s.txt")
    message = str(info.value)
    assert "s.txt" in message and "--encoding" in message
    assert "likely" in message and "\n" not in message


def test_english_and_russian_in_one_short_paragraph_is_refused() -> None:
    """Measured: the right reading and a wrong one score within 0.02 of each other."""
    data = "Library hours. Часы работы библиотеки продлены.".encode("cp1251")
    with pytest.raises(InputError, match="not clear: likely cp1251"):
        decode_bytes(data)


@pytest.mark.parametrize(
    ("bom_codec", "name"),
    [("utf-16", "utf-16"), ("utf-16-be", "utf-16"), ("utf-32", "utf-32"), ("utf-8-sig", "utf-8")],
)
def test_utf16_and_utf32_with_a_bom(bom_codec: str, name: str) -> None:
    text = "Բարև, Մարդու իրավունքներ\n\nText.\n"
    data = text.encode(bom_codec)
    if bom_codec == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    decoded = decode_bytes(data)
    assert decoded == Decoded(text, name, 1.0)


def test_utf16_without_a_bom_is_refused_and_names_the_option() -> None:
    with pytest.raises(InputError, match="UTF-16 or UTF-32 without a BOM"):
        decode_bytes("Library hours".encode("utf-16-le"))


def test_utf8_is_taken_without_the_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    from preserve.statement import decoding

    def fail(data: bytes) -> list[tuple[float, str, str]]:
        raise AssertionError("the detector was asked about UTF-8")

    monkeypatch.setattr(decoding, "_candidates", fail)
    assert decode_bytes("Şubat".encode()) == Decoded("Şubat", "utf-8", 1.0)
    assert decode_bytes(b"\xef\xbb\xbfabc") == Decoded("abc", "utf-8", 1.0)


def test_an_explicit_encoding_decodes_strictly() -> None:
    assert decode_bytes("Привет".encode("cp1251"), encoding="windows-1251") == Decoded(
        "Привет", "cp1251", 1.0
    )
    assert decode_statement("Привет".encode("koi8-r"), encoding="KOI8-R") == "Привет"
    with pytest.raises(InputError) as info:
        decode_bytes(b"Title\n\nBody \xff\n", "s.txt", encoding="utf-8")
    assert "not valid UTF-8: byte 0xff at offset 12 (line 3)" in str(info.value)
    with pytest.raises(InputError, match="not valid shift_jis: byte 0x81"):
        decode_bytes(b"Title\n\n\x81\n", encoding="shift_jis")
    with pytest.raises(InputError, match="unknown encoding 'klingon'"):
        decode_bytes(b"abc", encoding="klingon")
    with pytest.raises(InputError, match="not a text encoding"):
        decode_bytes(b"abc", encoding="base64")


def test_c1_controls_are_refused_with_their_position() -> None:
    """cp1252 quotes read as Latin-1 become C1 controls; they must not pass through."""
    data = "Title\n\nThe \u201cnew\u201d hours.\n".encode("cp1252")
    with pytest.raises(InputError) as info:
        decode_bytes(data, "s.txt", encoding="latin-1")
    assert "C1 control character U+0093 at line 3, column 5" in str(info.value)
    assert decode_bytes(data, encoding="cp1252").text.startswith("Title\n\nThe \u201cnew")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"Title\n\nA\x07b.", "U+0007"),
        (b"Title\x0b\n\nAb.", "U+000B"),
        (b"T\x1b[0m\n\nAb.", "U+001B"),
    ],
)
def test_other_c0_controls_are_refused(data: bytes, code: str) -> None:
    with pytest.raises(InputError, match=re.escape(f"control character {code}")):
        decode_bytes(data)


def test_tab_lf_cr_ff_are_text() -> None:
    assert decode_bytes(b"Title\r\n\r\n\tBody.\fMore.").text == "Title\r\n\r\n\tBody.\fMore."


# --- combining marks: one letter with a million marks (D18) -------------------------


def test_the_non_starter_table_is_the_running_pythons() -> None:
    import unicodedata

    from preserve.statement import decoding

    listed: set[int] = set()
    for part in "".join(decoding._NON_STARTERS).split():
        first, _, last = part.partition("-")
        listed.update(range(int(first, 16), int(last or first, 16) + 1))
    actual = {code for code in range(0x110000) if unicodedata.combining(chr(code))}
    assert listed == actual


@pytest.mark.parametrize(
    "marks",
    [
        "\u0301" * 1_000_000,  # one Latin letter, a million acute accents (HarfBuzz: MemoryError)
        "\u05b0\u05b1" * 20,  # Hebrew points
        "\u0e48" * 40,  # a Thai tone mark
    ],
)
def test_a_run_of_more_marks_than_a_character_carries_is_refused(marks: str) -> None:
    data = f"Title\n\nA{marks} body text.\n".encode()
    with pytest.raises(InputError, match=r"combining marks in a row at line 3, column 2"):
        parse_statement(data)


def test_marks_real_scripts_stack_are_text() -> None:
    text = (
        "Tiêu đề\n\nTiếng Việt có dấu: ệ ở ữ. क्षत्रिय. בְּרֵאשִׁית. "
        "a\u0301\u0302\u0303\u0304 " + "\u05d0\u05b0" * 40 + "\n"
    )
    assert parse_statement(text.encode()).text.startswith("Tiêu đề")


def test_the_command_refuses_it_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from preserve.cli import cli

    path = tmp_path / "zalgo.txt"
    path.write_bytes(("Title\n\nA" + "\u0301" * 200_000 + "\n").encode())
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1  # validate reports on stdout: one line for the file
    assert result.output.count("\n") == 1 and "combining marks in a row" in result.output


@pytest.mark.parametrize(
    ("codec", "charset"), [("cp1251", "windows-1251"), ("koi8_r", "koi8-r"), ("utf-8", "utf-8")]
)
def test_the_bag_names_the_originals_charset(tmp_path: Path, codec: str, charset: str) -> None:
    """The original is kept as received, undecoded: its media type in the bag's PREMIS
    names the charset its bytes are in (the IANA name), not the UTF-8 they were read into."""
    from .conftest import ingest_one

    text = (
        "Уполномоченный посетил сельскую школу\n\n"
        "Уполномоченный по правам человека посетил школу в селе и встретился с учениками "
        "и учителями. Обсуждались часы работы библиотеки и новые книги для детей.\n\n"
        "Анна Петрова\nУполномоченный по правам человека\n\n23 февраля 2024 г.\n"
    )
    source = tmp_path / "in" / "school.txt"
    source.parent.mkdir()
    source.write_bytes(text.encode(codec))
    bag = ingest_one(tmp_path, source)
    assert (bag / "data" / "original" / "school.txt").read_bytes() == text.encode(codec)
    premis = (bag / "premis.xml").read_text(encoding="utf-8")
    original = premis.split("data/original/school.txt", 1)[1].split("</premis:object>", 1)[0]
    assert f"<premis:formatName>text/plain; charset={charset}</premis:formatName>" in original
