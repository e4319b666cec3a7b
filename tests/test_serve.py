"""The reading room over HTTP (Starlette's TestClient): every route, every error."""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
import re
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the reading room needs starlette")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")

from starlette.testclient import TestClient

from preserve.errors import ArchiveError
from preserve.serve import ServeConfig, create_app
from preserve.serve.app import ServeRefused
from tests.serve_support import (
    WITHDRAWAL_REASON,
    copy_archive,
    identifiers,
    reading_room_archive,
    version_identifiers,
)

AZ = AR = WITHDRAWN = ""  # filled from the built archive before the module's tests run


@pytest.fixture(scope="module", autouse=True)
def _statement_identifiers() -> None:
    global AZ, AR, WITHDRAWN
    AZ, AR, WITHDRAWN = identifiers()


@pytest.fixture(scope="module")
def archive() -> Path:
    return reading_room_archive()


@pytest.fixture(scope="module")
def client(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    cache = tmp_path_factory.mktemp("cache")
    with TestClient(create_app(ServeConfig(archive, cache_dir=cache))) as c:
        yield c


def test_browse_lists_statements_newest_first_with_facets_and_badges(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    page = r.text
    assert "statements" in page and 'href="/statements/' in page
    dates = [d for d in _between(page, '<p class="meta">\n      <span>', "</span>")]
    assert dates == sorted(dates, reverse=True), dates
    assert "Language" in page and "az-Latn" in page
    assert "verified 20" in page  # the audit's badge
    assert "withdrawn" in page or "page=2" in page


def test_facet_filter_and_counts_agree(client: TestClient, archive: Path) -> None:
    import sqlite3

    db = sqlite3.connect(archive / "ledger.sqlite")
    expected = db.execute("SELECT count(*) FROM catalog WHERE language = 'az-Latn'").fetchone()[0]
    counted = db.execute(
        "SELECT count FROM facet_counts WHERE facet = 'language' AND value = 'az-Latn'"
    ).fetchone()[0]
    db.close()
    assert expected == counted > 1
    r = client.get("/", params={"language": "az-Latn"})
    assert r.status_code == 200
    assert f"{expected} statements matching language" in r.text
    assert r.text.count('<li>\n    <h3 lang="az-Latn"') == min(expected, 20)


def test_pages_are_paginated_and_out_of_range_is_400(client: TestClient) -> None:
    first = client.get("/")
    assert 'rel="next"' in first.text
    second = client.get("/?page=2")
    assert second.status_code == 200 and 'rel="prev"' in second.text
    for bad in ("0", "-1", "x", "99", "1e3"):
        r = client.get(f"/?page={bad}")
        assert r.status_code == 400, bad
        assert "page" in r.text


def test_search_highlights_in_any_script_and_filters(client: TestClient) -> None:
    r = client.get("/search", params={"q": "donor"})
    assert r.status_code == 200
    assert "<mark>" in r.text
    ar = client.get("/search", params={"q": "بالدم"})
    assert AR in ar.text
    only_ar = client.get("/search", params={"q": "donor", "language": "ar"})
    assert AZ not in only_ar.text
    # the query is data: FTS syntax characters do not break it
    for q in ['"', "a OR b", "NEAR(x y)", "*", "title:x", "(", "-x"]:
        assert client.get("/search", params={"q": q}).status_code in (200, 400), q


def test_a_search_that_finds_nothing_says_what_to_try(client: TestClient) -> None:
    page = client.get("/search", params={"q": "qwzxvy", "language": "en"}).text
    assert "0 results for" in page
    assert "No statement holds every word of the query with these filters." in page
    assert "another spelling, or no filter" in page
    found = client.get("/search", params={"q": "greenhouse"}).text
    assert "No statement holds" not in found


def test_search_errors_are_400_with_a_clear_message(client: TestClient) -> None:
    r = client.get("/search", params={"q": "!!!"})
    assert r.status_code == 400 and "no words" in r.text
    r = client.get("/search", params={"q": "x" * 301})
    assert r.status_code == 400 and "longer than 300" in r.text
    r = client.get("/search?q=a&q=b")
    assert r.status_code == 400 and "once" in r.text
    r = client.get("/?" + "&".join(f"p{i}=x" for i in range(600)))
    assert r.status_code == 400 and "query string" in r.text
    r = client.get("/search", params={"q": "a\x00b"})
    assert r.status_code == 400


def test_statement_page_shows_record_copy_original_files_history_audits(
    client: TestClient, archive: Path
) -> None:
    r = client.get(f"/statements/{AZ}")
    assert r.status_code == 200
    page = r.text
    assert 'lang="az-Latn"' in page and 'dir="ltr"' in page
    assert f"/statements/{AZ}/pages/1.png" in page
    manifest = (archive / "bags" / AZ / "manifest-sha256.txt").read_text()
    for line in manifest.splitlines():
        digest, name = line.split("  ", 1)
        assert digest in page and name in page
    assert "ingestion" in page and "normalization" in page  # PREMIS timeline
    assert "signed by 2 trusted keys" in page  # signed, then countersigned
    # signed without a timestamp authority: one line says so, not one "none" per manifest
    assert "<dt>Timestamps</dt><dd>none (no timestamp authority was asked)</dd>" in page
    assert "Timestamp of" not in page
    assert "Fixity checks of this bag" in page
    original = next((archive / "bags" / AZ / "data" / "original").iterdir()).read_text()
    first_line = original.strip().splitlines()[0].strip()
    assert first_line in html.unescape(page)


def test_arabic_statement_is_right_to_left(client: TestClient) -> None:
    page = client.get(f"/statements/{AR}").text
    assert '<header class="statement" lang="ar" dir="rtl">' in page
    assert "نداء" in page


def test_page_image_is_a_png_of_the_copy_and_is_cached(
    client: TestClient, archive: Path, tmp_path: Path
) -> None:
    r = client.get(f"/statements/{AZ}/pages/1.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    image = Image.open(io.BytesIO(r.content))
    assert image.width > 800 and image.height > image.width  # an A4 page, portrait
    low, high = image.convert("L").getextrema()
    assert low < 64 and high > 240  # dark text on a white page, not a blank one
    app = client.app
    cache_dir = app.state.room.images.cache_dir  # type: ignore[attr-defined]
    assert any(cache_dir.rglob("*-1.png"))
    assert not any((archive / "bags").rglob("*.png"))  # nothing written inside a bag
    assert client.get(f"/statements/{AZ}/pages/99.png").status_code == 404


def test_downloads_are_the_bag_files_byte_for_byte(client: TestClient, archive: Path) -> None:
    bag = archive / "bags" / AZ
    pdf = client.get(f"/statements/{AZ}/copy.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content == (bag / "data" / "pdfa" / f"{AZ}.pdf").read_bytes()
    original = client.get(f"/statements/{AZ}/original.txt")
    assert original.content == next((bag / "data" / "original").iterdir()).read_bytes()
    meta = client.get(f"/statements/{AZ}/metadata.json")
    assert json.loads(meta.content)["identifier"] == AZ


def test_bag_downloads_are_the_export_formats(client: TestClient, archive: Path) -> None:
    from preserve.export import export_bag

    tar_bytes = client.get(f"/statements/{AZ}/bag.tar").content
    zip_bytes = client.get(f"/statements/{AZ}/bag.zip").content
    out = archive.parent / "exports"
    out.mkdir(exist_ok=True)
    export_bag(archive / "bags" / AZ, out / "x.tar")
    export_bag(archive / "bags" / AZ, out / "x.zip")
    assert tar_bytes == (out / "x.tar").read_bytes()  # the same deterministic bytes
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        assert f"{AZ}/bagit.txt" in tar.getnames()
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == sorted(zipfile.ZipFile(out / "x.zip").namelist())
        assert (
            zf.read(f"{AZ}/data/pdfa/{AZ}.pdf")
            == (archive / "bags" / AZ / "data" / "pdfa" / f"{AZ}.pdf").read_bytes()
        )
    assert client.get(f"/statements/{AZ}/bag.rar").status_code == 404


def test_unknown_identifier_and_traversal_are_404(client: TestClient) -> None:
    for path in (
        "/statements/no-such-statement",
        "/statements/..%2F..%2Fetc%2Fpasswd",
        "/statements/%2e%2e/copy.pdf",
        "/statements/UPPER",
        f"/statements/{AZ}/..%2F..%2Fledger.sqlite",
        f"/statements/{AZ}/data%2Foriginal",
        "/statements/" + "a" * 200,
        "/static/../ledger.sqlite",
        "/static/..%2F..%2F..%2Fledger.sqlite",
    ):
        r = client.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert b"SQLite format" not in r.content and b"root:" not in r.content


def test_withdrawn_statement_answers_410_with_a_tombstone(client: TestClient) -> None:
    r = client.get(f"/statements/{WITHDRAWN}")
    assert r.status_code == 410
    assert "was withdrawn" in r.text and WITHDRAWAL_REASON in html.unescape(r.text)
    assert client.get(f"/statements/{WITHDRAWN}/copy.pdf").status_code == 410
    assert client.get(f"/statements/{WITHDRAWN}/bag.zip").status_code == 410


def test_audit_dashboard_counts_and_draws_an_svg_chart(client: TestClient, archive: Path) -> None:
    import sqlite3

    db = sqlite3.connect(archive / "ledger.sqlite")
    total = db.execute("SELECT count(*) FROM bags").fetchone()[0] - 1  # one is withdrawn
    db.close()
    r = client.get("/audit")
    assert r.status_code == 200
    assert "<strong>1</strong> withdrawn" in r.text
    assert f"<strong>{total}</strong> bags" in r.text
    assert f"<strong>{total}</strong> verified in the last 30 days" in r.text
    assert "<svg" in r.text and "passed</title>" in r.text
    assert "<script" not in r.text


def test_every_page_has_strict_csp_and_no_script(client: TestClient) -> None:
    for path in ("/", "/search?q=su", f"/statements/{AZ}", "/audit", "/nowhere", "/?page=0"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "<script" not in r.text
        assert "http://" not in r.text.split("</head>")[0]  # nothing from another host


def test_oai_xml_can_be_read_in_a_browser_and_still_runs_no_script(client: TestClient) -> None:
    """Regression: under the pages' policy (style-src 'self') Chromium showed an OAI answer
    as one run-on paragraph; its XML tree needs inline styles, and nothing else."""
    r = client.get("/oai", params={"verb": "Identify"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    policy = dict(
        (part.split()[0], part.split()[1:])
        for part in r.headers["content-security-policy"].split(";")
        if part.strip()
    )
    assert policy["default-src"] == ["'none'"] and "script-src" not in policy
    assert policy["style-src"] == ["'unsafe-inline'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert len(r.headers.get_list("content-security-policy")) == 1


def test_static_css_is_served(client: TestClient) -> None:
    r = client.get("/static/style.css")
    assert r.status_code == 200 and "text/css" in r.headers["content-type"]


def test_the_ledger_is_opened_read_only_and_never_changed(tmp_path: Path) -> None:
    archive = copy_archive(tmp_path / "a")
    before = hashlib.sha256((archive / "ledger.sqlite").read_bytes()).hexdigest()
    with TestClient(create_app(ServeConfig(archive))) as c:
        for path in ("/", f"/statements/{AZ}", "/search?q=su", "/audit", "/oai?verb=Identify"):
            assert c.get(path).status_code == 200
        db = c.app.state.room.ledger.db()  # type: ignore[attr-defined]
        import sqlite3

        with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only|query_only"):
            db.execute("DELETE FROM bags")
    after = hashlib.sha256((archive / "ledger.sqlite").read_bytes()).hexdigest()
    assert before == after


def test_a_symlink_in_a_bag_is_never_followed(tmp_path: Path) -> None:
    archive = copy_archive(tmp_path / "a")
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET OUTSIDE THE ARCHIVE")
    original = next((archive / "bags" / AZ / "data" / "original").iterdir())
    original.unlink()
    os.symlink(secret, original)
    with TestClient(create_app(ServeConfig(archive))) as c:
        assert c.get(f"/statements/{AZ}/original.txt").status_code == 404
        page = c.get(f"/statements/{AZ}")
        assert "SECRET" not in page.text and "cannot be read" in page.text
        r = c.get(f"/statements/{AZ}/bag.tar")
        assert r.status_code == 409 and "symlink" in r.text


def test_a_bag_folder_that_is_a_symlink_is_not_served(tmp_path: Path) -> None:
    archive = copy_archive(tmp_path / "a")
    bag = archive / "bags" / AZ
    moved = tmp_path / "elsewhere"
    bag.rename(moved)
    os.symlink(moved, bag)
    with TestClient(create_app(ServeConfig(archive))) as c:
        assert c.get(f"/statements/{AZ}").status_code == 404
        assert c.get(f"/statements/{AZ}/copy.pdf").status_code == 404


def test_auth_token_and_basic(archive: Path) -> None:
    with TestClient(create_app(ServeConfig(archive, token="s3cret"))) as c:
        assert c.get("/").status_code == 401
        assert c.get("/", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/", headers={"authorization": "Bearer s3cret"}).status_code == 200
    with TestClient(create_app(ServeConfig(archive, basic="ann:pw"))) as c:
        r = c.get("/")
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
        assert c.get("/", auth=("ann", "pw")).status_code == 200
        assert c.get("/", auth=("ann", "no")).status_code == 401


def test_a_public_bind_needs_a_credential(archive: Path) -> None:
    with pytest.raises(ServeRefused, match="--token or --basic"):
        create_app(ServeConfig(archive, host="0.0.0.0"))
    create_app(ServeConfig(archive, host="0.0.0.0", token="t"))
    create_app(ServeConfig(archive, host="::1"))


def test_not_an_archive_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="not a preserve archive"):
        create_app(ServeConfig(tmp_path))


def test_serve_command_refuses_a_public_bind_without_credential(archive: Path) -> None:
    from click.testing import CliRunner

    from preserve.cli import cli

    result = CliRunner().invoke(cli, ["serve", str(archive), "--host", "0.0.0.0"])
    assert result.exit_code == 2, result.output
    assert "--token or --basic" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["serve", str(archive.parent / "nothing")])
    assert result.exit_code == 2 and "ledger.sqlite missing" in result.output


def _between(text: str, start: str, end: str) -> list[str]:
    out = []
    for part in text.split(start)[1:]:
        out.append(part.split(end, 1)[0])
    return out


def test_worker_processes_get_the_same_configuration(
    archive: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import json as json_mod

    from preserve.serve import app as app_mod

    config = ServeConfig(archive, host="::1", port=9, token="t", cache_dir=tmp_path)
    fields = {k: str(v) if isinstance(v, Path) else v for k, v in config.__dict__.items()}
    monkeypatch.setenv(app_mod.CONFIG_ENV, json_mod.dumps(fields))
    built = app_mod.app_from_environment()
    assert built.state.room.config == ServeConfig(  # type: ignore[attr-defined]
        archive.absolute(), host="::1", port=9, token="t", cache_dir=tmp_path
    )


def test_search_beyond_the_rank_limit_lists_newest_first_and_says_so(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from preserve import search as search_mod

    ranked = client.get("/search", params={"q": "su"})
    assert "not by relevance" not in ranked.text
    monkeypatch.setattr(search_mod, "RANK_LIMIT", 1)
    r = client.get("/search", params={"q": "su"})
    assert r.status_code == 200 and "not by relevance" in r.text
    assert r.text.count('class="snippet"') == ranked.text.count('class="snippet"') > 1


def test_search_filters_are_applied_before_counting(client: TestClient) -> None:
    everything = client.get("/search", params={"q": "ombudsman"}).text
    only_az = client.get("/search", params={"q": "ombudsman", "language": "az-Latn"}).text
    assert 'lang="az-Latn"' in only_az
    assert '<h3 lang="en"' not in only_az and '<h3 lang="en"' in everything
    n_all = int(everything.split('id="hits-title">')[1].split(" ")[0])
    n_az = int(only_az.split('id="hits-title">')[1].split(" ")[0])
    assert 0 < n_az < n_all


def test_every_connection_has_nagle_off(archive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: with --workers, uvicorn's shared socket left Nagle on and each page
    waited ~40 ms for a delayed ACK. The protocol class run() uses turns it off."""

    import uvicorn

    from preserve.serve import app as app_mod
    from preserve.serve.protocol import FASTEST, NoDelayH11Protocol

    captured: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: captured.update(k))
    app_mod.run(ServeConfig(archive), workers=2)
    assert captured["http"] is FASTEST and captured["workers"] == 2
    for protocol in {NoDelayH11Protocol, FASTEST}:
        _check_nagle_off(archive, protocol)


def _check_nagle_off(archive: Path, protocol: type) -> None:
    import socket

    import uvicorn
    from uvicorn.server import ServerState

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    try:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0

        class Transport:
            def get_extra_info(self, name: str) -> object:
                return {
                    "socket": accepted,
                    "sockname": accepted.getsockname(),
                    "peername": accepted.getpeername(),
                }.get(name)

            def is_closing(self) -> bool:
                return False

        config = uvicorn.Config(create_app(ServeConfig(archive)))
        config.load()
        protocol(config=config, server_state=ServerState(), app_state={}).connection_made(
            Transport()
        )
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        for s in (client, accepted, listener):
            s.close()


def _version_columns(page: str) -> list[tuple[str, str, str, str]]:
    """(class, lang, dir, text) of each column of a statement page's language versions."""
    return re.findall(
        r'<li class="(version[^"]*)" lang="([^"]+)" dir="([^"]+)">(.*?)</li>', page, re.S
    )


def test_language_versions_side_by_side_each_with_its_lang_dir_and_first_page(
    client: TestClient,
) -> None:
    ids = version_identifiers()
    page = client.get(f"/statements/{ids['ar']}").text
    columns = _version_columns(page)
    # this version first, then the others by language; each column in its own language
    assert [(c[0], c[1], c[2]) for c in columns] == [
        ("version current", "ar", "rtl"),
        ("version", "az-Latn", "ltr"),
        ("version", "en", "ltr"),
    ]
    assert "الحديقة النباتية تفتتح دفيئة جديدة" in columns[0][3]
    assert f'href="/statements/{ids["ar"]}"' not in columns[0][3]  # no link to itself
    for (_, _, _, body), lang in zip(columns, ["ar", "az", "en"], strict=True):
        assert f'src="/statements/{ids[lang]}/pages/1.png"' in body
        assert "2025-03-03" in body
    assert f'<a href="/statements/{ids["en"]}" hreflang="en">Botanical garden opens' in page
    # every version's page shows the same group, itself first
    en_columns = _version_columns(client.get(f"/statements/{ids['en']}").text)
    assert [c[1] for c in en_columns] == ["en", "ar", "az-Latn"]
    # and each first page image is there to be shown
    for ident in ids.values():
        r = client.get(f"/statements/{ident}/pages/1.png")
        assert r.status_code == 200 and r.content.startswith(b"\x89PNG")


def test_a_statement_without_versions_shows_no_version_section(client: TestClient) -> None:
    page = client.get(f"/statements/{AZ}").text
    assert "Language versions" not in page and 'class="version' not in page


def test_search_and_browse_show_each_hits_language_group(client: TestClient) -> None:
    ids = version_identifiers()
    page = client.get("/search", params={"q": "greenhouse"}).text
    hit = page.split(f'href="/statements/{ids["en"]}"', 1)[1].split("</li>", 1)[0]
    assert "Other language versions:" in hit
    assert f'href="/statements/{ids["ar"]}" hreflang="ar"><span lang="ar" dir="rtl">' in hit
    az_link = f'href="/statements/{ids["az"]}" hreflang="az-Latn">'
    assert az_link + '<span lang="az-Latn" dir="ltr">' in hit
    browse = client.get("/", params={"organization": "Botanical Garden"}).text
    assert browse.count("Other language versions:") == 3, browse


def test_dashboard_and_facets_follow_an_audit_and_an_ingest_while_open(tmp_path: Path) -> None:
    """Cached per ledger change: a write by another process shows on the next view."""
    from preserve.archive import ingest
    from preserve.audit import audit

    archive = copy_archive(tmp_path / "a")
    with TestClient(create_app(ServeConfig(archive, cache_dir=tmp_path / "c"))) as c:
        before = c.get("/audit").text
        assert "<strong>0</strong> failing" in before
        assert c.get("/audit").text == before  # served from the cache: nothing changed
        original = next((archive / "bags" / AZ / "data" / "original").iterdir())
        original.chmod(0o644)
        original.write_bytes(original.read_bytes() + b"tampered\n")
        audit(archive)
        assert "<strong>1</strong> failing" in c.get("/audit").text
        assert AZ in c.get("/audit").text
        facets = c.get("/").text
        assert "Botanical Garden" in facets and "Library of Examples" not in facets
        statement = tmp_path / "in" / "reading-room.txt"
        statement.parent.mkdir()
        statement.write_text(
            "Library of Examples opens on Sundays\n\n"
            "From next month the library opens on Sundays from ten until four, so that "
            "readers who work during the week can borrow and return books.\n\n"
            "Mira Example\nLibrarian\n\n2 February 2025\n",
            encoding="utf-8",
        )
        statement.with_suffix(".json").write_text(
            json.dumps({"creator": {"organization": "Library of Examples"}}), encoding="utf-8"
        )
        report = ingest([statement], archive)
        assert report.results[0].bag, report.as_dict()
        assert "Library of Examples" in c.get("/").text


def test_the_per_change_cache_is_bounded(archive: Path) -> None:
    """Names come from requests (a sidebar per filter set): the oldest go first."""
    from preserve.serve.app import MEMO_ENTRIES, Ledger

    room_ledger = Ledger(archive)
    for i in range(MEMO_ENTRIES + 50):
        assert room_ledger.cached(f"sidebar?organization={i}", lambda db, i=i: i) == i
    memo = room_ledger._memo
    assert len(memo) == MEMO_ENTRIES and "sidebar?organization=0" not in memo
    calls = []
    room_ledger.cached("x", lambda db: calls.append(1))
    room_ledger.cached("x", lambda db: calls.append(1))
    assert calls == [1]  # the ledger did not change: computed once


def test_the_per_change_cache_is_shared_by_threads_and_follows_commits(tmp_path: Path) -> None:
    """A value computed by one thread of the pool is served to the others (facet counts
    under a filter cost up to 40 ms at 100,000 statements), until another connection
    commits."""
    import threading

    from preserve import ledger
    from preserve.serve.app import Ledger

    archive = copy_archive(tmp_path / "a")
    room_ledger = Ledger(archive)
    calls: list[str] = []

    def compute(db: object) -> int:
        calls.append(threading.current_thread().name)
        return len(calls)

    assert room_ledger.cached("x", compute) == 1
    seen: list[int] = []
    threads = [
        threading.Thread(target=lambda: seen.append(room_ledger.cached("x", compute)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [1, 1, 1, 1] and len(calls) == 1
    writer = ledger.connect(archive)
    try:
        with ledger.write(writer):
            writer.execute(
                "UPDATE bags SET last_verified_at = last_verified_at"
                " WHERE identifier = (SELECT min(identifier) FROM bags)"
            )
    finally:
        writer.close()
    thread = threading.Thread(target=lambda: seen.append(room_ledger.cached("x", compute)))
    thread.start()
    thread.join()
    assert seen[-1] == 2 and len(calls) == 2  # recomputed once after the commit
    assert room_ledger.cached("x", compute) == 2
