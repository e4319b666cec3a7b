"""Language names in the reading room: "Armenian (Հայերեն)" for people, ``hy`` for machines.

The names come from langcodes' CLDR data; the autonym carries its own ``lang`` and
``dir``; a code that cannot be named is shown as given; URLs, ``lang`` attributes and
OAI-PMH set specs keep the code.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the reading room needs starlette")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")
pytest.importorskip("language_data", reason="language names need language_data")

from starlette.testclient import TestClient

from preserve.serve import ServeConfig, create_app, languages
from tests.serve_support import reading_room_archive, version_identifiers

#: (code, English name, autonym, dir): what a researcher reads for each.
NAMES = [
    ("hy", "Armenian", "Հայերեն", "ltr"),
    ("az-Latn", "Azerbaijani (Latin)", "Azərbaycan (latın)", "ltr"),
    ("ar", "Arabic", "العربية", "rtl"),
    ("fa", "Persian", "فارسی", "rtl"),
    ("he", "Hebrew", "עברית", "rtl"),
    ("zh", "Chinese", "中文", "ltr"),
    ("zh-Hant", "Chinese (Traditional)", "中文（繁體）", "ltr"),
    ("ka", "Georgian", "ქართული", "ltr"),  # no capital: Georgian has no case in use
    ("ru", "Russian", "Русский", "ltr"),
    ("az-Arab", "Azerbaijani (Arabic)", "آذربایجان تۆرکجه\u200cسی (عربجه)", "rtl"),
]


@pytest.fixture(scope="module")
def archive() -> Path:
    return reading_room_archive()


@pytest.fixture(scope="module")
def client(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(create_app(ServeConfig(archive, cache_dir=tmp_path_factory.mktemp("c")))) as c:
        yield c


def _span(code: str, autonym: str, direction: str) -> str:
    return f'<span lang="{code}" dir="{direction}">{autonym}</span>'


@pytest.mark.parametrize(("code", "english", "autonym", "direction"), NAMES)
def test_names_and_autonyms(code: str, english: str, autonym: str, direction: str) -> None:
    name = languages.language_name(code)
    assert (name.english, name.autonym, name.direction) == (english, autonym, direction)
    assert str(name.html()) == f"{english} ({_span(code, autonym, direction)})"
    assert name.text() == f"{english} (\u2068{autonym}\u2069)"


def test_english_is_named_once() -> None:
    name = languages.language_name("en")
    assert (name.english, name.autonym) == ("English", "")
    assert str(name.html()) == "English" and name.text() == "English"


@pytest.mark.parametrize(
    "code", ["xx", "zz-Qaaa", "qaa", "und", "bogus!", "123", "x-private", "a" * 200, " ", "<b>&"]
)
def test_a_code_that_cannot_be_named_is_shown_as_given(code: str) -> None:
    name = languages.language_name(code)
    assert (name.english, name.autonym) == (code, "")
    assert str(name.html()) == code.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert languages.name_text(code) == code


def test_no_code_has_a_label_too() -> None:
    assert str(languages.name_html(None)) == "language unknown"
    assert str(languages.name_html("")) == "language unknown"
    assert languages.name_text(None, "") == ""


def test_each_code_is_looked_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import langcodes

    languages.language_name.cache_clear()
    calls: list[str] = []
    real = langcodes.Language.get

    def counting(tag: str, *args: object, **kwargs: object) -> langcodes.Language:
        calls.append(tag)
        return real(tag, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(langcodes.Language, "get", counting)
    languages.name_html("hy")
    first = len(calls)
    assert calls[0] == "hy"
    for _ in range(5):
        languages.language_name("hy")
        languages.name_html("hy")
    assert len(calls) == first  # later pages: no lookup at all


def test_without_the_name_data_codes_are_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """langcodes raises (and prints advice) without language_data: never reached."""
    languages.language_name.cache_clear()
    monkeypatch.setattr(languages, "_names_available", lambda: False)
    try:
        assert str(languages.name_html("hy")) == "hy"
    finally:
        languages.language_name.cache_clear()


def test_starting_the_reading_room_does_not_import_langcodes(archive: Path) -> None:
    code = (
        "import sys\n"
        "from preserve.serve import ServeConfig, create_app\n"
        f"create_app(ServeConfig(__import__('pathlib').Path({str(archive)!r})))\n"
        "print('langcodes' in sys.modules, 'language_data' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["False", "False"]


def test_browse_shows_names_and_keeps_codes_in_links(client: TestClient) -> None:
    page = client.get("/").text
    facet = page.split('id="facet-language"', 1)[1].split("</section>", 1)[0]
    for code, english, autonym, direction in NAMES:
        if code in ("az-Arab", "zh-Hant"):  # in no fixture / not among the first twelve
            continue
        link = f'<a href="/?language={code}">{english} ({_span(code, autonym, direction)})</a>'
        assert link in facet, code
    assert '<a href="/?language=en">English</a>' in facet
    assert "· <span>English</span> ·" in page  # each row names its language


def test_a_filter_is_named_in_the_heading_and_rows(client: TestClient) -> None:
    page = client.get("/", params={"language": "hy"}).text
    armenian = f"Armenian ({_span('hy', 'Հայերեն', 'ltr')})"
    assert f"statements matching language {armenian}</h2>" in page
    assert f'<strong aria-current="true">{armenian}</strong>' in page
    assert page.count(f"· <span>{armenian}</span> ·") >= 2
    assert '<h3 lang="hy" dir="ltr">' in page  # the title keeps the code for the browser
    chinese = client.get("/", params={"language": "zh"}).text
    assert f"matching language Chinese ({_span('zh', '中文', 'ltr')})</h2>" in chinese


def test_an_unknown_code_in_a_request_is_shown_as_given(client: TestClient) -> None:
    r = client.get("/", params={"language": "xx-Qq"})
    assert r.status_code == 200
    assert "0 statements matching language xx-Qq</h2>" in r.text
    assert '<strong aria-current="true">xx-Qq</strong>' in r.text
    hostile = client.get("/", params={"language": '"><b>x'})
    assert hostile.status_code == 200 and '"><b>x' not in hostile.text


def test_statement_page_names_its_language_and_its_versions(
    client: TestClient, archive: Path
) -> None:
    db = sqlite3.connect(f"file:{archive / 'ledger.sqlite'}?mode=ro", uri=True)
    armenian = db.execute("SELECT identifier FROM catalog WHERE language = 'hy'").fetchone()[0]
    db.close()
    page = client.get(f"/statements/{armenian}").text
    assert f"Armenian ({_span('hy', 'Հայերեն', 'ltr')}) <code>hy</code>" in page
    assert '<header class="statement" lang="hy" dir="ltr">' in page
    ids = version_identifiers()
    versions = client.get(f"/statements/{ids['en']}").text
    assert f"Arabic ({_span('ar', 'العربية', 'rtl')}) · 2025-03-03" in versions
    assert 'alt="First page of the Arabic version’s PDF/A copy"' in versions
    assert '<li class="version" lang="ar" dir="rtl">' in versions


def test_search_form_and_hits_name_languages(client: TestClient) -> None:
    page = client.get("/search", params={"q": "greenhouse"}).text
    # an <option> holds text only: the autonym is isolated so the count stays after it
    assert '<option value="en">English (' in page
    search_all = client.get("/search").text
    assert '<option value="ar">Arabic (\u2068العربية\u2069) (' in search_all
    assert '<option value="hy">Armenian (\u2068Հայերեն\u2069) (' in search_all
    ids = version_identifiers()
    hit = page.split(f'href="/statements/{ids["en"]}"', 1)[1].split("</li>", 1)[0]
    assert f"</span> – Arabic ({_span('ar', 'العربية', 'rtl')})</a>" in hit


def test_oai_set_names_are_names_and_set_specs_stay_codes(client: TestClient) -> None:
    xml = "".join(line.strip() for line in client.get("/oai?verb=ListSets").text.splitlines())
    assert "<setSpec>language:hy</setSpec><setName>Language: Armenian (Հայերեն)</setName>" in xml
    assert "<setSpec>language:en</setSpec><setName>Language: English</setName>" in xml


@pytest.mark.parametrize(
    ("code", "direction"),
    [("ar", "rtl"), ("fa", "rtl"), ("az-Arab", "rtl"), ("ar-Latn", "ltr"), ("az-Latn", "ltr")],
)
def test_a_script_subtag_decides_the_direction(code: str, direction: str) -> None:
    from preserve.serve.routes import text_dir

    assert text_dir(code) == direction == languages.language_name(code).direction
