"""Web capture to WARC 1.1 and ingest, against a real HTTP server on 127.0.0.1.

The pages are invented, on neutral topics, with the chrome real ones have
(navigation, share buttons, footers), non-UTF-8 charsets, redirects, slow
answers, 404s and a huge page. The WARCs are checked with ``warcio check`` and
``warcio index``, the formats with FIDO, the bags with the bagit library.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import bagit
import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from preserve.cli import cli
from preserve.errors import InputError
from preserve.inputs import capture as capture_mod
from preserve.inputs.capture import (
    CaptureOptions,
    CaptureRefused,
    CaptureUnreachable,
    capture,
    fetch,
)

from .webserver import Route, Site, closed_port, page, serve

BIN = Path(sys.executable).parent
PREMIS = "{http://www.loc.gov/premis/v3}"

PARAGRAPHS = [
    "The city library opened a reading garden on Tuesday for visitors of all ages. "
    "The garden has benches, shade and a small collection of books for outdoor reading.",
    "Visitors may borrow books with their library card, and the garden is open from nine "
    "in the morning until sunset on every day of the week.",
]
RULES = (
    "<ol><li>Bring your library card.</li><li>Return books before you leave.</li>"
    "<li>Keep the garden tidy.</li></ol>"
)
REQUISITES = (
    "<link rel='stylesheet' href='/style.css'><link rel='icon' href='/favicon.png'>"
    "<link rel='alternate' href='/feed.xml'>"
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
#: Header lines with the spacing and case a real server may use: kept byte for byte.
ODD_HEADERS = (
    "Content-Type: text/html; charset=utf-8",
    "X-Odd-Header:   two  spaces",
    "server: lowercase-server/1.0",
)


def garden_site() -> Site:
    body = page(
        "Library opens reading garden",
        PARAGRAPHS,
        extra=RULES + "<img src='/img/garden.png' alt='The garden'>",
        head=REQUISITES,
    ).encode()
    return Site(
        {
            "/news/garden": Route(headers=ODD_HEADERS, body=body),
            "/style.css": Route(headers=("Content-Type: text/css",), body=b"body{color:#111}"),
            "/favicon.png": Route(headers=("Content-Type: image/png",), body=PNG),
            "/img/garden.png": Route(headers=("Content-Type: image/png",), body=PNG),
            "/old": Route(301, ("Location: /mid",)),
            "/mid": Route(302, ("Location: /news/garden",)),
            "/report.pdf": Route(headers=("Content-Type: application/pdf",), body=b"%PDF-1.7\n"),
            "/slow": Route(delay=3.0, body=body),
            "/huge": Route(body=b"<!DOCTYPE html><html><body>" + b"<p>word</p>" * 200_000),
            "/login": Route(
                body=b"<!DOCTYPE html><html><body><h1>Sign in</h1><form>"
                b"<input name='user'><input type='password' name='pw'>"
                b"<button>Log in</button></form></body></html>"
            ),
            "/ru": Route(
                headers=("Content-Type: text/html; charset=windows-1251",),
                body=page(
                    "Библиотека открыла читальный сад",
                    [
                        "Городская библиотека открыла во вторник читальный сад для "
                        "посетителей всех возрастов. В саду есть скамейки и книги.",
                        "Книги можно брать по читательскому билету; сад открыт с девяти "
                        "утра до заката каждый день недели.",
                    ],
                    signer="Анна Примерова",
                    role="Директор городской библиотеки",
                    date="12 марта 2024",
                    charset=None,
                ).encode("cp1251"),
            ),
        }
    )


@pytest.fixture
def site() -> Iterator[Site]:
    with serve(garden_site()) as running:
        yield running


FAST = CaptureOptions(rate_limit=0, timeout=2.0)


def records(warc: Path) -> list[tuple[str, str, bytes]]:
    """(type, target URI, raw HTTP head or payload) of each record."""
    found = []
    with warc.open("rb") as stream:
        for record in ArchiveIterator(stream):
            uri = record.rec_headers.get_header("WARC-Target-URI") or ""
            found.append((record.rec_type, uri, record.raw_stream.read()))
    return found


# --------------------------------------------------------------------------- the WARC


def test_warc_passes_warcio_check_and_index_and_keeps_headers_as_received(
    site: Site, tmp_path: Path
) -> None:
    warc = capture(site.url("/news/garden"), tmp_path, FAST)
    assert warc.suffix == ".warc" and warc.read_bytes().startswith(b"WARC/1.1\r\n")
    check = subprocess.run(
        [BIN / "warcio", "check", "-v", warc], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("digest pass") == 10  # warcinfo, 4 pairs, metadata
    index = subprocess.run(
        [BIN / "warcio", "index", "-f", "warc-type,warc-target-uri", warc],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [json.loads(line) for line in index.stdout.splitlines()]
    assert [line["warc-type"] for line in lines] == [
        "warcinfo",
        *["response", "request"] * 4,
        "metadata",
    ]
    raw = warc.read_bytes()
    # The response head exactly as the server wrote it: spacing and case kept.
    assert b"\r\nX-Odd-Header:   two  spaces\r\nserver: lowercase-server/1.0\r\n" in raw
    # Requisites: stylesheet, icon and image, not the feed the page merely links to.
    uris = {uri for kind, uri, _ in records(warc) if kind == "response"}
    assert uris == {site.url(p) for p in ("/news/garden", "/style.css", "/favicon.png",
                                           "/img/garden.png")}  # fmt: skip
    # The request as sent names the tool.
    assert raw.count(b"\r\nUser-Agent: preserve/") == 4
    assert site.requests[0][2]["User-Agent"].startswith("preserve/")


def test_redirects_are_followed_and_recorded(site: Site, tmp_path: Path) -> None:
    warc = capture(site.url("/old"), tmp_path, FAST)
    found = records(warc)
    responses = [uri for kind, uri, _ in found if kind == "response"]
    assert responses[:3] == [site.url("/old"), site.url("/mid"), site.url("/news/garden")]
    metadata = next(body for kind, _, body in found if kind == "metadata").decode()
    assert f"redirect: {site.url('/old')} -> 301 /mid" in metadata
    assert f"redirect: {site.url('/mid')} -> 302 /news/garden" in metadata
    received = capture_mod.read(warc)
    assert received.record["source"]["url"] == site.url("/news/garden")
    assert "after redirects" in received.events[0].detail


def test_rate_limit_pauses_between_requests_to_one_host(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(capture_mod.time, "sleep", pauses.append)
    fetch(site.url("/news/garden"), CaptureOptions(rate_limit=5.0))
    assert len(pauses) == 3  # four requests to one host: three waits
    assert all(4.0 < p <= 5.0 for p in pauses)
    pauses.clear()
    fetch(site.url("/news/garden"), CaptureOptions(rate_limit=0))
    assert pauses == []


def test_requisites_are_bounded_and_the_rest_named(site: Site, tmp_path: Path) -> None:
    images = "".join(f"<img src='/img/{i}.png'>" for i in range(12))
    site.routes["/many"] = Route(body=page("Many pictures", PARAGRAPHS, extra=images).encode())
    for i in range(12):
        site.routes[f"/img/{i}.png"] = Route(headers=("Content-Type: image/png",), body=PNG)
    fetched = fetch(site.url("/many"), CaptureOptions(rate_limit=0, max_requisites=5))
    assert len(fetched.requisites) == 5
    assert any("7 requisite(s) not fetched" in note for note in fetched.notes)
    few = fetch(site.url("/many"), CaptureOptions(rate_limit=0, max_requisite_bytes=200))
    assert len(few.requisites) == 2  # 72 bytes each
    assert any("over the requisites' byte limit" in n for n in few.notes)


FONT = b"wOF2" + bytes(range(40))


def styled_site(site: Site) -> None:
    """A page whose look comes from CSS: imports, fonts, background images, inline styles."""
    head = (
        "<link rel='stylesheet' href='/css/main.css'>"
        "<style>@import url('/css/print.css'); .hero { background: url(/img/hero.png) }"
        " .logo { background-image: url(data:image/png;base64,AAAA) }</style>"
    )
    extra = "<div style=\"background-image: url('/img/inline.png')\">Garden map</div>"
    site.routes["/styled"] = Route(
        body=page("Garden rules", PARAGRAPHS, extra=extra, head=head).encode()
    )
    css = ("Content-Type: text/css; charset=utf-8",)
    site.routes["/css/main.css"] = Route(
        headers=css,
        body=(
            b'@import "theme.css";\n'
            b"@font-face { font-family: Garden; src: url(../fonts/garden.woff2) format('woff2'),"
            b' local("Garden"); }\n'
            b"/* url(/img/commented.png) is no reference */\n"
            b"body { background: #fff url('/img/leaf.png') no-repeat; }\n"
            b"@media print { .hero { background: url(/img/hero-print.png) } }\n"
        ),
    )
    site.routes["/css/theme.css"] = Route(
        headers=css, body=b"@import url(main.css); h1 { background: url(/img/leaf.png) }"
    )
    site.routes["/css/print.css"] = Route(headers=css, body=b"footer { color: #333 }")
    site.routes["/fonts/garden.woff2"] = Route(headers=("Content-Type: font/woff2",), body=FONT)
    for name in ("hero", "leaf", "inline", "hero-print"):
        site.routes[f"/img/{name}.png"] = Route(headers=("Content-Type: image/png",), body=PNG)


def test_requisites_named_by_css_are_fetched_and_written_to_the_warc(
    site: Site, tmp_path: Path
) -> None:
    styled_site(site)
    fetched = fetch(site.url("/styled"), FAST)
    got = [e.url.removeprefix(site.url("")) for e in fetched.requisites]
    # The page's own first (link, <style>, style attribute), then what its sheets name.
    assert got == [
        "/css/main.css", "/css/print.css", "/img/hero.png", "/img/inline.png",
        "/css/theme.css", "/fonts/garden.woff2", "/img/leaf.png", "/img/hero-print.png",
    ]  # fmt: skip
    assert not any("commented" in url or url.startswith("data:") for url in got)
    assert not fetched.notes
    warc = tmp_path / "styled.warc"
    with warc.open("wb") as out:
        capture_mod.write_warc(fetched, out, FAST)
    responses = {uri: raw for kind, uri, raw in records(warc) if kind == "response"}
    for path in got:
        assert site.url(path) in responses, path
    assert responses[site.url("/fonts/garden.woff2")].endswith(FONT)  # the font, as served
    done = subprocess.run([BIN / "warcio", "check", str(warc)], capture_output=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_requisites_named_by_css_stay_within_the_bounds(site: Site) -> None:
    styled_site(site)
    fetched = fetch(site.url("/styled"), CaptureOptions(rate_limit=0, max_requisites=5))
    assert len(fetched.requisites) == 5
    # The sheets fetched within the bound named 3 more (theme, font, leaf, hero-print: 4 known).
    assert any("requisite(s) not fetched: over the limit of 5" in n for n in fetched.notes)
    small = fetch(site.url("/styled"), CaptureOptions(rate_limit=0, max_requisite_bytes=400))
    assert sum(len(e.body) for e in small.requisites) <= 400
    assert any("over the requisites' byte limit" in n for n in small.notes)


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("path", "error", "words"),
    [
        ("/missing", CaptureRefused, "answered 404"),
        ("/report.pdf", CaptureRefused, "application/pdf, not an HTML page"),
        ("/huge", CaptureRefused, "over the limit of 1,000,000 bytes"),
        ("/slow", CaptureUnreachable, "no answer within 0.5 s"),
    ],
)
def test_refused_answers(
    site: Site, tmp_path: Path, path: str, error: type[Exception], words: str
) -> None:
    options = CaptureOptions(rate_limit=0, timeout=0.5, max_page_bytes=1_000_000)
    with pytest.raises(error, match=words):
        capture(site.url(path), tmp_path, options)
    assert list(tmp_path.iterdir()) == []  # no WARC written


@pytest.mark.parametrize(
    ("path", "code", "words"),
    [
        ("/missing", 1, "the server answered 404"),
        ("/report.pdf", 1, "not an HTML page"),
        ("/huge", 1, "over the limit"),
        ("/login", 1, "login wall"),
        ("/slow", 2, "no answer within 0.5 s"),
    ],
)
def test_capture_command_refusals_leave_no_archive(
    site: Site, tmp_path: Path, path: str, code: int, words: str
) -> None:
    archive = tmp_path / "archive"
    args = ["capture", site.url(path), "-a", str(archive), "--rate-limit", "0"]
    args += ["--timeout", "0.5", "--max-page-bytes", "1000000"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0] and site.url(path) in lines[0], result.output
    assert "Traceback" not in result.output
    assert not archive.exists()


def test_unreachable_host_exit_2(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/statement"
    result = CliRunner().invoke(cli, ["capture", url, "-a", str(tmp_path / "a")])
    assert result.exit_code == 2, result.output
    assert "cannot reach the server" in result.output and url in result.output
    assert not (tmp_path / "a").exists()


# --------------------------------------------------------------------------- ingest


def test_capture_command_ingests_a_bag_that_verifies(site: Site, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    args = ["capture", site.url("/old"), "-a", str(archive), "--rate-limit", "0", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ingested"] == 1 and report["results"][0]["source"] == site.url("/old")
    bag = archive / report["results"][0]["bag"]
    bagit.Bag(str(bag)).validate()
    verify = CliRunner().invoke(cli, ["verify", str(bag)])
    assert verify.exit_code == 0, verify.output
    files = sorted(p.relative_to(bag).as_posix() for p in (bag / "data").rglob("*") if p.is_file())
    warc_name = next(f for f in files if f.startswith("data/capture/"))
    assert warc_name.endswith(".warc")
    assert "data/original/page.html" in files and "data/extracted/page.txt" in files
    # The page as served, byte for byte, and the WARC that holds it.
    served = site.routes["/news/garden"].body
    assert (bag / "data/original/page.html").read_bytes() == served
    assert served in (bag / warc_name).read_bytes()
    record = json.loads((bag / "data/metadata/statement.json").read_text())
    assert record["source"]["url"] == site.url("/news/garden")
    assert record["source"]["retrieved"].endswith("Z")
    assert record["title"] == "Library opens reading garden"
    assert record["creator"]["name"] == "Anna Example"
    # List numbering as the page displays it, not the extractor's "- ".
    text = (bag / "data/extracted/page.txt").read_text()
    assert "1. Bring your library card.\n2. Return books before you leave.\n" in text
    # PREMIS: the capture event with the HTTP status and the WARC's digest; formats.
    premis = ET.parse(bag / "premis.xml").getroot()
    events = {
        e.findtext(f"{PREMIS}eventType"): e.findtext(f".//{PREMIS}eventDetail")
        for e in premis.iter(f"{PREMIS}event")
    }
    import hashlib

    digest = hashlib.sha256((bag / warc_name).read_bytes()).hexdigest()
    assert "answered 200 OK" in events["capture"] and f"sha256:{digest}" in events["capture"]
    assert "preserve" in events["capture"] and "warcio" in events["capture"]
    # Nothing vanished silently: the chrome the extraction left out is listed.
    for line in ("Home", "Share this page: Facebook Telegram Print", "Views: 4321"):
        assert line in events["metadata extraction"]
    formats = {
        o.findtext(f".//{PREMIS}objectIdentifierValue"): o.findtext(f".//{PREMIS}formatRegistryKey")
        for o in premis.iter(f"{PREMIS}object")
    }
    assert formats[warc_name] == "fmt/1281"
    assert formats["data/original/page.html"] == "fmt/471"
    assert formats["data/extracted/page.txt"] == "x-fmt/111"
    assert_fido_agrees(bag, formats)


def assert_fido_agrees(bag: Path, formats: dict[str, str | None]) -> None:
    """Every original's PRONOM id is what FIDO, an independent identifier, says."""
    fido = shutil.which("fido", path=str(BIN))
    if fido is None:
        pytest.skip("FIDO (opf-fido, the test extra) is not installed")
    originals = [p for p in formats if p.startswith(("data/original/", "data/capture/"))]
    result = subprocess.run(
        [fido, "-q", "-nocontainer", "-matchprintf", "%(info.filename)s\t%(info.puid)s\n",
         *[str(bag / p) for p in originals]],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found: dict[str, set[str]] = {}
    for line in result.stdout.splitlines():
        name, _, puid = line.partition("\t")
        found.setdefault(Path(name).relative_to(bag).as_posix(), set()).add(puid)
    for path in originals:
        assert formats[path] in found.get(path, set()), (path, formats[path], found.get(path))


def test_page_in_windows_1251_named_only_by_the_http_header(site: Site, tmp_path: Path) -> None:
    warc = capture(site.url("/ru"), tmp_path, FAST)
    received = capture_mod.read(warc)
    assert received.statement.title == "Библиотека открыла читальный сад"
    assert received.statement.signer_name == "Анна Примерова"
    assert received.statement.language == "ru"
    assert "windows-1251" in received.files[1].mime or "cp1251" in received.files[1].mime


def test_a_compressed_warc_is_refused_with_what_to_do(site: Site, tmp_path: Path) -> None:
    import gzip

    warc = capture(site.url("/news/garden"), tmp_path, FAST)
    packed = tmp_path / "page.warc.gz"
    packed.write_bytes(gzip.compress(warc.read_bytes()))
    result = CliRunner().invoke(cli, ["ingest", str(packed), "-a", str(tmp_path / "a")])
    assert result.exit_code == 1, result.output
    assert "decompress it" in result.output


def test_a_page_without_a_signer_asks_for_metadata_and_takes_it(site: Site, tmp_path: Path) -> None:
    site.routes["/unsigned"] = Route(
        body=b"<!DOCTYPE html><html><body><article><h1>Garden opens</h1><p>"
        + PARAGRAPHS[0].encode()
        + b"</p><p>12 March 2024</p></article></body></html>"
    )
    archive = tmp_path / "archive"
    args = ["capture", site.url("/unsigned"), "-a", str(archive), "--rate-limit", "0"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "creator" in result.output and "--metadata FILE" in result.output
    assert not archive.exists()
    sidecar = tmp_path / "record.json"
    sidecar.write_text(json.dumps({"creator": {"name": "City Library"}}))
    result = CliRunner().invoke(cli, [*args, "--metadata", str(sidecar)])
    assert result.exit_code == 0, result.output


def test_a_chunked_answer_is_kept_as_transferred_and_read_decoded(
    site: Site, tmp_path: Path
) -> None:
    html = page("Library opens reading garden", PARAGRAPHS).encode()
    half = len(html) // 2
    chunked = (
        b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (html[:half], html[half:]))
        + b"0\r\n\r\n"
    )
    site.routes["/chunked"] = Route(
        headers=("Content-Type: text/html; charset=utf-8", "Transfer-Encoding: chunked"),
        body=chunked,
        raw=True,
    )
    warc = capture(site.url("/chunked"), tmp_path, FAST)
    assert chunked in warc.read_bytes()  # the response record holds the wire bytes
    check = subprocess.run([BIN / "warcio", "check", warc], capture_output=True, check=False)
    assert check.returncode == 0, check.stdout
    received = capture_mod.read(warc)
    assert received.files[1].content == html  # the page: transfer coding undone
    assert received.statement.title == "Library opens reading garden"


def test_a_compressed_answer_is_kept_as_sent_and_its_requisites_found(
    site: Site, tmp_path: Path
) -> None:
    import gzip

    html = page("Library opens reading garden", PARAGRAPHS, head=REQUISITES).encode()
    packed = gzip.compress(html)
    site.routes["/gz"] = Route(
        headers=("Content-Type: text/html; charset=utf-8", "Content-Encoding: gzip"),
        body=packed,
    )
    warc = capture(site.url("/gz"), tmp_path, FAST)
    assert packed in warc.read_bytes()  # as the server sent it
    uris = {uri for kind, uri, _ in records(warc) if kind == "response"}
    assert site.url("/style.css") in uris and site.url("/favicon.png") in uris
    received = capture_mod.read(warc)
    assert received.files[1].content == html
    assert received.statement.title == "Library opens reading garden"


def test_a_page_that_inflates_past_the_limit_is_refused_when_read(
    site: Site, tmp_path: Path
) -> None:
    import gzip

    bomb = gzip.compress(b"<!DOCTYPE html><html><body>" + b"<p>a</p>" * 1_400_000)
    assert len(bomb) < 100_000
    site.routes["/bomb"] = Route(
        headers=("Content-Type: text/html", "Content-Encoding: gzip"), body=bomb
    )
    warc = capture(site.url("/bomb"), tmp_path, FAST)
    with pytest.raises(InputError, match="over 10,485,760 bytes"):
        capture_mod.read(warc)
