"""Saved web pages (page.html and a browser's page_files/): kept as received, text extracted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import bagit
import pytest
from click.testing import CliRunner

from preserve import bagging
from preserve.bag_checks import PreserveChecks
from preserve.cli import cli
from preserve.errors import InputError
from preserve.inputs import Form, module_for, read_received
from preserve.inputs.html import charset_of, extract, pronom_of, visible_lines
from preserve.settings import set_value
from preserve.verify import verify_bag as verify_rfc8493

from .webserver import page

PREMIS = "{http://www.loc.gov/premis/v3}"


def verify_bag(bag: Path):  # type: ignore[no-untyped-def]
    """RFC 8493 and our own checks (the profile version the bag claims, schema, PDF/A)."""
    return verify_rfc8493(bag, extra_checks=(PreserveChecks(),))


PARAGRAPHS = [
    "The city library opened a reading garden on Tuesday for visitors of all ages. "
    "The garden has benches, shade and a small collection of books for outdoor reading.",
    "Visitors may borrow books with their library card; the garden café serves tea.",
]


def saved_page(folder: Path, name: str = "garden") -> Path:
    html = folder / f"{name}.html"
    files = folder / f"{name}_files"
    files.mkdir(parents=True)
    (files / "style.css").write_bytes(b"body{color:#111}")
    (files / "garden.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    body = page(
        "Library opens reading garden",
        PARAGRAPHS,
        head=f"<link rel='stylesheet' href='{name}_files/style.css'>",
        extra=f"<img src='{name}_files/garden.png'>",
        charset="windows-1252",
    )
    html.write_bytes(body.encode("cp1252"))
    return html


def ingest(*paths: Path, archive: Path) -> dict[str, object]:
    args = ["ingest", *map(str, paths), "-a", str(archive), "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.output, result
    report: dict[str, object] = json.loads(result.output)
    report["exit_code"] = result.exit_code
    return report


def test_saved_page_and_its_folder_go_in_as_received(tmp_path: Path) -> None:
    html = saved_page(tmp_path / "in")
    os.symlink("/etc/hostname", tmp_path / "in/garden_files/link.css")
    os.mkfifo(tmp_path / "in/garden_files/pipe.css")
    report = ingest(tmp_path / "in", archive=tmp_path / "archive")  # the folder: one statement
    assert report["exit_code"] == 0, report
    assert report["ingested"] == 1
    bag = tmp_path / "archive" / report["results"][0]["bag"]  # type: ignore[index]
    bagit.Bag(str(bag)).validate()
    assert verify_bag(bag).valid
    assert (bag / "data/original/garden.html").read_bytes() == html.read_bytes()
    for name in ("style.css", "garden.png"):
        kept = bag / "data/original/garden_files" / name
        assert kept.read_bytes() == (tmp_path / "in/garden_files" / name).read_bytes()
    assert not (bag / "data/original/garden_files/link.css").exists()
    assert not (bag / "data/original/garden_files/pipe.css").exists()
    text = (bag / "data/extracted/garden.txt").read_text()
    assert "the garden café serves tea" in text  # windows-1252 read from the meta tag
    record = json.loads((bag / "data/metadata/statement.json").read_text())
    assert record["title"] == "Library opens reading garden"
    assert "source" not in record  # a saved file states no address: none is invented
    history = (bag / "premis.xml").read_text()
    assert "garden_files/link.css: not a regular file, not kept" in history
    assert "garden_files/pipe.css: not a regular file, not kept" in history
    premis = ET.parse(bag / "premis.xml").getroot()
    formats = {
        o.findtext(f".//{PREMIS}objectIdentifierValue"): o.findtext(f".//{PREMIS}formatRegistryKey")
        for o in premis.iter(f"{PREMIS}object")
    }
    assert formats["data/original/garden.html"] == "fmt/471"
    assert formats["data/original/garden_files/style.css"] == "x-fmt/224"
    assert formats["data/original/garden_files/garden.png"] is None  # no guess: a media type
    png = next(
        o
        for o in premis.iter(f"{PREMIS}object")
        if o.findtext(f".//{PREMIS}objectIdentifierValue")
        == "data/original/garden_files/garden.png"
    )
    assert png.findtext(f".//{PREMIS}formatName") == "image/png"
    fido = shutil.which("fido", path=str(Path(sys.executable).parent))
    if fido is None:
        pytest.skip("FIDO (opf-fido, the test extra) is not installed")
    for path in ("data/original/garden.html", "data/original/garden_files/style.css"):
        out = subprocess.run(
            [fido, "-q", "-nocontainer", "-matchprintf", "%(info.puid)s\n", str(bag / path)],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        assert formats[path] in out, (path, out)


@pytest.mark.parametrize(
    ("data", "declared", "expected", "how"),
    [
        (b"\xef\xbb\xbf<html><body>caf\xc3\xa9</body></html>", None, "utf-8", "byte order mark"),
        (b"<meta charset='windows-1252'><p>caf\xe9</p>", None, "cp1252", "meta tag"),
        (b'<meta http-equiv="Content-Type" content="text/html; charset=KOI8-R">', None,
         "koi8-r", "meta tag"),
        (b"<meta charset='utf-8'><p>x</p>", "windows-1251", "cp1251", "HTTP Content-Type"),
        (b"<meta charset='iso-8859-1'><p>x</p>", None, "cp1252", "meta tag"),
    ],
)  # fmt: skip
def test_charset_from_bom_header_or_meta(
    data: bytes, declared: str | None, expected: str, how: str
) -> None:
    assert charset_of(data, declared) == (expected, how)


def test_charset_detected_when_nothing_declares_it() -> None:
    text = (
        "<html><body><p>Городская библиотека открыла во вторник читальный сад для посетителей "
        "всех возрастов. В саду есть скамейки, тень и небольшая коллекция книг.</p></body></html>"
    )
    charset, how = charset_of(text.encode("cp1251"))
    assert how == "detected (charset-normalizer)"
    assert text.encode("cp1251").decode(charset) == text


def test_bytes_that_do_not_decode_are_one_line_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_bytes(b"<!DOCTYPE html><meta charset='utf-8'><p>caf\xe9 \xff</p>")
    report = ingest(bad, archive=tmp_path / "a")
    assert report["exit_code"] == 1
    assert "page is not valid utf-8 (meta tag) at byte" in str(report["results"])


@pytest.mark.parametrize(
    ("lists", "expected"),
    [
        ("<ol><li>one</li><li>two</li></ol>", ["1. one", "2. two"]),
        ("<ol start='4'><li>four</li><li>five</li></ol>", ["4. four", "5. five"]),
        ("<ol type='a'><li>x</li><li>y</li></ol>", ["a. x", "b. y"]),
        ("<ol type='I' start='3'><li>x</li><li>y</li></ol>", ["III. x", "IV. y"]),
        ("<ol reversed><li>x</li><li>y</li><li>z</li></ol>", ["3. x", "2. y", "1. z"]),
        ("<ol><li>x</li><li value='10'>y</li><li>z</li></ol>", ["1. x", "10. y", "11. z"]),
        ("<ul><li>tea</li><li>water</li></ul>", ["- tea", "- water"]),
    ],
)
def test_list_numbers_as_the_page_displays_them(lists: str, expected: list[str]) -> None:
    html = page("Garden rules", PARAGRAPHS, extra=lists).encode()
    lines = extract(html, "rules.html").text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.endswith(expected[0].split(" ", 1)[1]))
    assert lines[at : at + len(expected)] == expected


def test_nothing_vanishes_every_visible_line_is_extracted_or_left_out() -> None:
    import lxml.html

    html = page("Library opens reading garden", [*PARAGRAPHS, "Read our Newsletter."]).encode()
    extraction = extract(html, "page.html")
    held = " ".join(extraction.text.split())
    shown = visible_lines(lxml.html.document_fromstring(html))
    for line in shown:
        assert line in held or line in extraction.left_out, line
    assert "Share this page: Facebook Telegram Print" in extraction.left_out
    assert "Views: 4321" in extraction.left_out
    assert "News" in extraction.left_out  # a menu word, though "Newsletter" is in the text
    assert not any(p in extraction.left_out for p in PARAGRAPHS)


def test_login_wall_is_refused_with_what_to_do(tmp_path: Path) -> None:
    wall = tmp_path / "wall.html"
    wall.write_text(
        "<!DOCTYPE html><html><body><h1>Members area</h1><p>Please sign in.</p>"
        "<form><input name=u><input type=PASSWORD name=p><button>Sign in</button></form>"
        "</body></html>"
    )
    with pytest.raises(InputError, match=r"login wall .* save the page while logged in"):
        extract(wall.read_bytes(), wall)
    report = ingest(wall, archive=tmp_path / "a")
    assert report["exit_code"] == 1 and report["ingested"] == 0
    assert not any((tmp_path / "a/bags").iterdir())


def test_form_is_chosen_by_content_then_extension(tmp_path: Path) -> None:
    disguised = tmp_path / "statement.txt"
    disguised.write_text(page("Library opens reading garden", PARAGRAPHS))
    assert module_for(disguised).__name__ == "preserve.inputs.html"
    assert read_received(disguised).form is Form.HTML
    plain = tmp_path / "plain.txt"
    plain.write_text("Garden opens\n\n" + PARAGRAPHS[0] + "\n")
    assert module_for(plain).__name__ == "preserve.inputs.text"


def test_pronom_by_document_type() -> None:
    assert pronom_of(b"<!DOCTYPE html>\n<html>") == "fmt/471"
    assert pronom_of(b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN">') == "fmt/100"
    assert pronom_of(b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.0//EN">') == "fmt/99"
    assert pronom_of(b"<html><body>") == "fmt/96"


# --------------------------------------------------------------------------- profile versions


def test_bags_are_checked_against_the_profile_version_they_claim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 0.1.0 bag (text only) stays valid; a page's bag needs 0.2.0 and claims it."""
    old_id = "https://preserve.invalid/schemas/bagit-profile.json"
    text = tmp_path / "in/garden.txt"
    text.parent.mkdir()
    text.write_text(
        "Library extends opening hours\n\n" + PARAGRAPHS[0] + "\n\nAnna Example\n"
        "Head of the City Library\n\n12 March 2024\n"
    )
    html = saved_page(tmp_path / "pages")
    monkeypatch.setattr(bagging, "PROFILE_IDENTIFIER", old_id)
    # 0.1.0 requires Source-Organization, which comes from the archive's settings
    (tmp_path / "old").mkdir()
    set_value(tmp_path / "old", "institution.name", "Archive of Examples")
    report = ingest(text, html, archive=tmp_path / "old")
    bags = {r["source"]: tmp_path / "old" / r["bag"] for r in report["results"]}  # type: ignore[attr-defined]
    old_text, old_page = bags[str(text)], bags[str(html)]
    assert old_id in (old_text / "bag-info.txt").read_text()
    assert verify_bag(old_text).valid
    codes = {p.code for p in verify_bag(old_page).problems}
    assert "profile.payload-file-not-allowed" in codes  # 0.1.0 has no data/extracted/
    monkeypatch.undo()
    report = ingest(html, archive=tmp_path / "new")
    new_page = tmp_path / "new" / report["results"][0]["bag"]  # type: ignore[index]
    assert "bagit-profile-0.2.0.json" in (new_page / "bag-info.txt").read_text()
    assert verify_bag(new_page).valid


def test_validate_and_render_take_a_page_too(tmp_path: Path) -> None:
    from pdfminer.high_level import extract_text

    html = tmp_path / "rules.html"
    lists = "<ol start='2'><li>Bring your card.</li><li>Keep it tidy.</li></ol>"
    html.write_text(page("Garden rules", PARAGRAPHS, extra=lists))
    result = CliRunner().invoke(cli, ["validate", str(html), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["files"][0]["record"]["title"] == "Garden rules"
    pdf = tmp_path / "rules.pdf"
    result = CliRunner().invoke(cli, ["render", str(html), "-o", str(pdf)])
    assert result.exit_code == 0, result.output
    text = " ".join(extract_text(str(pdf)).split())
    assert "2. Bring your card. 3. Keep it tidy." in text
    assert "Views: 4321" not in text  # the page's chrome is not the statement


def _telegram_post(number: int) -> str:
    return (
        "<div class='tgme_widget_message_wrap'><div class='tgme_widget_message'>"
        "<div class='tgme_widget_message_author'>Parks Office</div>"
        f"<div class='tgme_widget_message_text js-message_text'>Notice {number} on the park cafe"
        f"<br><br>The cafe opens at {8 + number}:00 on weekdays from Monday.<br><br>"
        "Maria Jones<br>Parks Commissioner<br>2 May 2024</div>"
        f"<div class='tgme_widget_message_footer'><span class='tgme_widget_message_views'>"
        f"{number}.2K</span><time datetime='2024-05-02T10:00:00+00:00'>10:00</time></div>"
        "</div></div>"
    )


def _telegram_page(posts: int) -> bytes:
    feed = "".join(_telegram_post(n) for n in range(1, posts + 1))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Parks Office – Telegram</title>"
        f"</head><body><header>Parks Office 12.4K subscribers</header><main>{feed}</main>"
        "</body></html>"
    ).encode()


def test_a_telegram_post_page_gives_the_post_not_the_channel_or_the_view_count() -> None:
    extraction = extract(_telegram_page(1), "post.html")
    assert extraction.text.startswith("Notice 1 on the park cafe\n\nThe cafe opens at 9:00")
    assert "12.4K" not in extraction.text and "1.2K" not in extraction.text
    assert "Parks Office 12.4K subscribers" in extraction.left_out
    assert "Parks Office" in extraction.left_out  # the author line, named, not the title


def test_a_telegram_channel_feed_is_refused_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "feed.html"
    path.write_bytes(_telegram_page(3))
    with pytest.raises(InputError, match="shows 3 Telegram posts, not one statement"):
        read_received(path)
    result = CliRunner().invoke(cli, ["ingest", "-a", str(tmp_path / "archive"), str(path)])
    assert result.exit_code == 1, result.output
    assert not (tmp_path / "archive" / "bags").exists() or not any(
        (tmp_path / "archive" / "bags").iterdir()
    )
