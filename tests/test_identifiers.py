"""Tests of preserve.identifiers: readable identifiers in every script."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preserve import metadata
from preserve.identifiers import (
    WINDOWS_RESERVED,
    _slug,
    derive_identifier,
    identifier_problems,
    transliterate,
)

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "schemas" / "statement.schema.json").read_text()
)
PATTERN = re.compile(SCHEMA["properties"]["identifier"]["pattern"])


def ident(organization: str, title: str, date: str = "2024-02-23") -> str:
    return derive_identifier(
        {
            "title": title,
            "date_issued": date,
            "creator": {"name": "X", "organization": organization},
        }
    )


@pytest.mark.parametrize(
    ("organization", "title", "expected"),
    [
        # Arabic: the letters a reader sees, long vowels and the article "al-"
        # (dropped from the organization as a stop word); unidecode gave dywn-lmzlm.
        ("ديوان المظالم", "زيارة مدرسة في القرية", "diwan-mzalm-2024-02-23-zyara-mdrsa-fi-al-qria"),
        (
            "المفوضية السامية لحقوق الإنسان",
            "حقوق الإنسان",
            "mfudia-samia-lhquq-insan-2024-02-23-hquq-al-insan",
        ),
        # Persian (ی, پ, ک, ژ)
        (
            "کمیسیون حقوق بشر",
            "بازدید از مدرسه روستایی",
            "kmisiwn-hquq-bshr-2024-02-23-bazdid-az-mdrsh-rustayi",
        ),
        # Hebrew: final forms, ו/י as vowels between consonants, initial ב as b
        ("נציב תלונות הציבור", "ביקור בבית ספר", "ntsiv-tlonot-htsivor-2024-02-23-bikor-bvit-sfr"),
        # Chinese: pinyin read by word (重庆 chong-qing, not zhong-qing)
        (
            "人权委员会",
            "访问重庆的学校",
            "ren-quan-wei-yuan-hui-2024-02-23-fang-wen-chong-qing-de-xue-xiao",
        ),
        # Korean: Revised Romanization (gwon, not unidecode's gweon)
        ("국가인권위원회", "학교 방문", "guggaingwonwiwonhoe-2024-02-23-haggyo-bangmun"),
        # Latin, Cyrillic, Armenian, Georgian: as python-slugify always gave them
        (
            "Office of the Commissioner for Human Rights",
            "Annual report",
            "office-commissioner-human-rights-2024-02-23-annual-report",
        ),
        (
            "İnsan hüquqları üzrə müvəkkil",
            "Qaynar xətt açıldı",
            "insan-huquqlari-muvekkil-2024-02-23-qaynar-xett-acildi",
        ),
        (
            "Уполномоченный по правам человека",
            "Визит в школу",
            "upolnomochennyi-pravam-cheloveka-2024-02-23-vizit-v-shkolu",
        ),
        ("Մարդու իրավունքների պաշտպան", "Այց", "mardow-iravownk-neri-pashtpan-2024-02-23-ayts"),
        ("სახალხო დამცველი", "ვიზიტი", "saxalxo-damc-veli-2024-02-23-viziti"),
    ],
)
def test_identifiers_are_readable_in_every_script(
    organization: str, title: str, expected: str
) -> None:
    identifier = ident(organization, title)
    assert identifier == expected
    assert PATTERN.fullmatch(identifier)


def test_japanese_kanji_have_no_reading_so_the_title_gets_a_digest() -> None:
    """Kanji in Japanese text would be read as Chinese; kana alone would leave
    particles ("o-shimashita"). Neither is a transliteration: a digest stands in."""
    identifier = ident("Jinken", "学校を訪問しました")
    assert re.fullmatch(r"jinken-2024-02-23-[0-9a-f]{10}", identifier)
    assert ident("Jinken", "こんにちは") == "jinken-2024-02-23-konnichiha"


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        st.characters(
            whitelist_categories=("Lu", "Ll", "Lo", "Nd", "Zs", "Pd", "Po"),
            max_codepoint=0x10FF,  # Latin, Greek, Cyrillic, Armenian, Georgian and below
        ).filter(lambda ch: not 0x0590 <= ord(ch) <= 0x08FF),  # but Hebrew and Arabic
        max_size=60,
    )
)
def test_scripts_slugify_already_reads_keep_their_identifiers(text: str) -> None:
    """Identifiers already issued for Latin, Cyrillic, Greek, Armenian and Georgian
    titles do not change: those scripts go to python-slugify untouched."""
    assert transliterate(text) == text


@settings(max_examples=500, deadline=None)
@given(org=st.text(max_size=60), title=st.text(max_size=200))
def test_every_identifier_keeps_the_schema_rules(org: str, title: str) -> None:
    identifier = ident(org, title)
    assert PATTERN.fullmatch(identifier), identifier
    assert 3 <= len(identifier) <= 120
    assert identifier_problems(identifier) == []


def test_windows_device_names_are_problems() -> None:
    assert "con" in WINDOWS_RESERVED
    assert [p.field for p in identifier_problems("con.txt")] == ["identifier"]
    assert identifier_problems("concert-2024") == []


def test_metadata_still_exports_identifier_functions() -> None:
    assert metadata.derive_identifier is derive_identifier
    assert metadata._slug is _slug
    assert metadata.identifier_problems is identifier_problems


def test_transliteration_libraries_are_not_imported_at_start_up() -> None:
    """`preserve --help` must stay fast: pypinyin (0.7 s), anyascii, charset-normalizer,
    hijridate and jdatetime are imported only when a statement needs them."""
    code = (
        "import sys, preserve.cli, preserve.metadata, preserve.statement;"
        "print(sorted(m for m in ('pypinyin', 'anyascii', 'charset_normalizer', 'hijridate',"
        " 'jdatetime', 'dateparser') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[1],
    )
    assert out.stdout.strip() == "[]"
