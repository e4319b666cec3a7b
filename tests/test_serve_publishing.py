"""A statement mid-publication is in no count, list, set or search of the reading room.

The archive records a bag in the ledger ('publishing': its row, text index and catalogue
row, whose triggers count its facets) before renaming it into ``bags/``, and marks it
'published' after. Here a real ingest is held at that rename, in a thread, while the
reading room is asked: every number must be what the bags on disk give (the pages of
the statement being published answer 404), and, once the rename goes on, the new
statement must be counted everywhere (so the checks are not vacuous).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the reading room needs starlette")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")

from lxml import etree  # type: ignore[import-untyped]
from starlette.testclient import TestClient

from preserve import ledger
from preserve import search as fulltext
from preserve.archive import IngestOptions, ingest
from preserve.serve import ServeConfig, catalog, create_app, oai
from tests.serve_support import copy_archive, identifiers
from tests.test_serve_facets import (
    FACETS,
    _matching,
    check_shown,
    expected,
    facets_on_disk,
    options,
    sidebar,
)

ORGANIZATION = "Harbour Lighthouse Trust"
IDENTIFIER = "harbour-lighthouse-2025-06-02-reopening"
TEXT = (
    "Harbour lighthouse reopens after restoration\n\n"
    "The harbour lighthouse reopened to visitors on Monday after two years of restoration "
    "work on its lantern room, its stairs and the keeper's cottage.\n\n"
    "Guided climbs to the gallery take place every afternoon, and the cottage now holds a "
    "small exhibition on the history of the light.\n\n"
    "Mara Example\nDirector of the Harbour Lighthouse Trust\n\n2 June 2025\n"
)
NS = {"o": oai.OAI}


def _hits(page: str) -> int:
    return int(page.split('id="hits-title">')[1].split(" ")[0])


def _browse_total(page: str) -> int:
    return int(re.search(r'<h2 id="results-title">(\d+) statement', page).group(1))  # type: ignore[union-attr]


def _sets(client: TestClient) -> set[str]:
    root = etree.fromstring(client.get("/oai", params={"verb": "ListSets"}).content)
    return {e.text for e in root.iterfind(".//o:setSpec", NS)}


def _listed(client: TestClient) -> int:
    """How many records ListIdentifiers gives, page after page."""
    params = {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"}
    seen = 0
    while True:
        root = etree.fromstring(client.get("/oai", params=params).content)
        seen += len(root.findall(".//o:header", NS))
        token = root.find(".//o:resumptionToken", NS)
        if token is None or not token.text:
            return seen
        params = {"verb": "ListIdentifiers", "resumptionToken": token.text}


def _dashboard_bags(client: TestClient) -> int:
    return int(re.search(r"<strong>(\d+)</strong> bags", client.get("/audit").text).group(1))  # type: ignore[union-attr]


@pytest.fixture()
def held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, Callable[[], None]]]:
    """A copy of the reading room's archive with one more statement held mid-publication
    (an ingest in a thread, stopped at the rename into bags/); the callable lets it go on."""
    archive = copy_archive(tmp_path / "archive")
    source = tmp_path / "in" / "lighthouse.txt"
    source.parent.mkdir()
    source.write_text(TEXT, encoding="utf-8")
    source.with_suffix(".json").write_text(
        json.dumps(
            {
                "identifier": IDENTIFIER,
                "language": "en",
                "type": "statement",
                "creator": {"name": "Mara Example", "organization": ORGANIZATION},
            }
        ),
        encoding="utf-8",
    )
    at_rename, go_on = threading.Event(), threading.Event()
    real_rename = os.rename
    bags = str(archive / "bags")

    def rename(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if os.fspath(dst).startswith(bags + os.sep):
            at_rename.set()
            go_on.wait(300)
        real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", rename)
    outcome: list[Any] = []
    worker = threading.Thread(
        target=lambda: outcome.append(ingest([source], archive, IngestOptions(workers=1)))
    )
    worker.start()

    def release() -> None:
        go_on.set()
        worker.join(300)
        assert outcome and outcome[0].exit_code == 0, outcome

    try:
        assert at_rename.wait(300), "the ingest never reached the rename"
        yield archive, release
    finally:
        release()


def test_a_statement_mid_publication_is_in_no_count(
    held: tuple[Path, Callable[[], None]], tmp_path: Path
) -> None:
    archive, release = held
    db = ledger.connect(archive, readonly=True)
    try:  # the ledger as the archive writes it, half-way
        state = db.execute("SELECT state FROM bags WHERE identifier = ?", (IDENTIFIER,)).fetchone()
        counted = db.execute(
            "SELECT count FROM facet_counts WHERE facet = 'organization' AND value = ?",
            (ORGANIZATION,),
        ).fetchone()
    finally:
        db.close()
    assert state[0] == "publishing" and counted[0] == 1
    assert not (archive / "bags" / IDENTIFIER).exists()
    records = facets_on_disk(archive)
    assert IDENTIFIER not in records
    app = create_app(ServeConfig(archive, cache_dir=tmp_path / "cache"))
    with TestClient(app) as client:
        assert client.get(f"/statements/{IDENTIFIER}").status_code == 404
        # browse: the total and every facet's counts, with no filter and under filters
        for filters in (
            {},
            {"language": "en"},
            {"organization": ORGANIZATION},
            {"language": "en", "type": "statement"},
            {"language": "en", "type": "statement", "year": "2025"},
        ):
            page = client.get("/", params=filters).text
            total = sum(1 for r in records.values() if all(r[f] == v for f, v in filters.items()))
            assert _browse_total(page) == total, (filters, total)
            check_shown(sidebar(page, filters), records, filters, FACETS)
        # search: its total, and the counts of its choices, under filters too
        assert _hits(client.get("/search", params={"q": "lighthouse"}).text) == 0
        choices = options(client.get("/search", params={"q": "lighthouse"}).text)
        assert all(not values for values in choices.values()), choices
        for q, filters in (("the", {}), ("the", {"language": "en"}), ("visitors", {})):
            page = client.get("/search", params={"q": q, **filters}).text
            among = _matching(archive, q)
            assert IDENTIFIER not in among and among
            shown = sum(1 for i in among if all(records[i][f] == v for f, v in filters.items()))
            assert _hits(page) == shown, (q, filters)
            check_shown(options(page), records, filters, ("language", "type", "year"), among)
        page = client.get("/search", params={"type": "statement"}).text  # no query
        check_shown(options(page), records, {"type": "statement"}, ("language", "type", "year"))
        # counted the other way (the statements that do not match, taken from the
        # archive's counts, as where most of the archive matches): the same numbers
        expression = fulltext.fts_query("the")
        db = ledger.connect(archive, readonly=True)
        try:
            for filters in ({}, {"language": "en"}, {"language": "en", "type": "statement"}):
                direct = catalog.search_facets(db, expression, filters, limit=None)
                with pytest.MonkeyPatch.context() as patch:
                    patch.setattr(catalog, "COMPLEMENT_SHARE", 0.0)
                    other = catalog.search_facets(db, expression, filters, limit=None)
                assert other == direct, filters
                among = _matching(archive, "the")
                for facet in FACETS:
                    got = {v.value: v.count for v in direct[facet] if v.count}
                    assert got == dict(expected(records, filters, facet, among)), facet
        finally:
            db.close()
        # OAI-PMH: no set that only the statement being published has, no record of it
        sets = _sets(client)
        assert not any(s.startswith("organization:harbour") for s in sets), sets
        assert _listed(client) == len(records)
        # the dashboard counts bags in the archive
        withdrawn = 1
        assert _dashboard_bags(client) == len(records) - withdrawn
    release()
    records = facets_on_disk(archive)
    assert IDENTIFIER in records
    with TestClient(create_app(ServeConfig(archive, cache_dir=tmp_path / "cache2"))) as client:
        page = client.get("/", params={"organization": ORGANIZATION}).text
        assert _browse_total(page) == 1
        check_shown(
            sidebar(page, {"organization": ORGANIZATION}),
            records,
            {"organization": ORGANIZATION},
            FACETS,
        )
        page = client.get("/search", params={"q": "lighthouse"}).text
        assert _hits(page) == 1
        assert any(s.startswith("organization:harbour") for s in _sets(client))
        assert _listed(client) == len(records)
        assert _dashboard_bags(client) == len(records) - withdrawn
        check_shown(sidebar(client.get("/").text, {}), records, {}, FACETS)


def test_search_leaves_out_a_statement_being_published(
    held: tuple[Path, Callable[[], None]],
) -> None:
    """``preserve search`` (the library under the command) finds it only once published."""
    archive, release = held
    assert fulltext.search(archive, "lighthouse") == []
    assert IDENTIFIER not in {h.identifier for h in fulltext.search(archive, "the", limit=50)}
    db = ledger.connect(archive, readonly=True)
    try:
        expression = fulltext.fts_query("lighthouse restoration")
        assert fulltext.count_upto(db, expression, 100) == 0
        assert fulltext.search_counted(db, expression) == ([], 0)
        pending = fulltext.unpublished(db)
        assert pending.identifiers == (IDENTIFIER,) and pending.located
        plan = " | ".join(
            r[3]
            for r in db.execute(
                "EXPLAIN QUERY PLAN SELECT identifier FROM bags WHERE state = 'publishing'"
            )
        )
        assert "bags_publishing" in plan, plan  # a lookup, not a scan of every bag
    finally:
        db.close()
    release()
    assert [h.identifier for h in fulltext.search(archive, "lighthouse")] == [IDENTIFIER]


def test_counts_agree_when_the_catalogue_row_lost_its_index_row(
    held: tuple[Path, Callable[[], None]], tmp_path: Path
) -> None:
    """A statement being published whose catalogue row has no text-index row known (the
    catalogue's fts_rowid is NULL): search leaves it out by its identifier instead."""
    archive, _release = held
    raw = ledger.connect(archive)
    try:
        with ledger.write(raw):
            raw.execute("UPDATE catalog SET fts_rowid = NULL WHERE identifier = ?", (IDENTIFIER,))
    finally:
        raw.close()
    db = ledger.connect(archive, readonly=True)
    try:
        assert not fulltext.unpublished(db).located
        assert fulltext.search_counted(db, fulltext.fts_query("lighthouse")) == ([], 0)
    finally:
        db.close()
    records = facets_on_disk(archive)
    with TestClient(create_app(ServeConfig(archive, cache_dir=tmp_path / "c"))) as client:
        page = client.get("/search", params={"q": "the", "language": "en"}).text
        among = _matching(archive, "the")
        check_shown(options(page), records, {"language": "en"}, ("language", "type", "year"), among)
        assert Counter(r["organization"] for r in records.values())[ORGANIZATION] == 0


def _harvest(archive: Path, **params: str) -> dict[str, str | None]:
    """An incremental OAI-PMH harvest, every page: identifier -> header status (None:
    a record, "deleted": withdrawn)."""
    out: dict[str, str | None] = {}
    args = {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", **params}
    with TestClient(create_app(ServeConfig(archive))) as client:
        while True:
            doc = etree.fromstring(client.get("/oai", params=args).content)
            for header in doc.iterfind(".//o:header", NS):
                oai_id = header.findtext("o:identifier", namespaces=NS)
                out[oai_id.rsplit(":", 1)[-1]] = header.get("status")
            token = doc.findtext(".//o:resumptionToken", namespaces=NS)
            if not token:
                return out
            args = {"verb": "ListIdentifiers", "resumptionToken": token}


def test_a_harvest_after_a_bag_started_publishing_still_gets_it(
    held: tuple[Path, Callable[[], None]],
) -> None:
    """A harvester that harvested while a bag was being published, and asks next for
    what changed since, gets the bag: its datestamp is its publication, not the time
    its row was written (before, it was older than the harvest and never harvested)."""
    import time

    archive, release = held
    time.sleep(1.1)  # datestamps are to the second: the harvest is after the row was written
    harvested_at = ledger.now()
    assert IDENTIFIER not in _harvest(archive, **{"from": harvested_at})
    release()
    assert _harvest(archive, **{"from": harvested_at}).get(IDENTIFIER, "absent") is None


def test_a_withdrawal_reaches_an_incremental_harvest(tmp_path: Path) -> None:
    import time

    from preserve.replicas.withdrawal import withdraw

    archive = copy_archive(tmp_path / "archive")
    identifier = sorted(facets_on_disk(archive))[0]
    time.sleep(1.1)
    harvested_at = ledger.now()
    assert identifier not in _harvest(archive, **{"from": harvested_at})
    withdraw(archive, identifier, "published by mistake")
    assert _harvest(archive, **{"from": harvested_at}).get(identifier) == "deleted"


def _back_to_ledger_10(archive: Path) -> None:
    """The ledger as preserve left it before migration 11 (no changed_at column)."""
    import sqlite3

    db = sqlite3.connect(ledger.ledger_path(archive))
    try:
        db.execute("DROP INDEX bags_by_change")
        db.execute("ALTER TABLE bags DROP COLUMN changed_at")
        db.execute("PRAGMA user_version = 10")
        db.commit()
    finally:
        db.close()


def test_migration_11_dates_each_bag_by_the_chain(tmp_path: Path) -> None:
    """Backfilled from the chain: a withdrawn bag's last withdrawal, a published bag's
    ingestion event. A ledger not yet migrated (the reading room opens it read-only)
    is harvested by ingested_at as before."""
    archive = copy_archive(tmp_path / "archive")
    _back_to_ledger_10(archive)
    on_disk = set(facets_on_disk(archive))
    assert on_disk and on_disk <= set(_harvest(archive))  # read-only, by ingested_at
    db = ledger.connect(archive)  # a writer migrates
    try:
        rows = {r[0]: r[1] for r in db.execute("SELECT identifier, changed_at FROM bags")}
        latest: dict[tuple[str, str], str] = {}
        for identifier, kind, at in db.execute(
            "SELECT identifier, type, at FROM events WHERE identifier IS NOT NULL"
            " AND outcome = 'success' AND type IN ('ingestion', 'deaccession')"
        ):
            latest[identifier, kind] = max(at, latest.get((identifier, kind), at))
    finally:
        db.close()
    assert rows and all(rows.values())
    for identifier, changed in rows.items():
        expected = latest.get((identifier, "deaccession")) or latest[identifier, "ingestion"]
        assert changed == expected, identifier
    # the reading room's archive has a withdrawn statement, dated by its withdrawal
    withdrawn = identifiers()[2]
    assert withdrawn in rows and rows[withdrawn] == latest[withdrawn, "deaccession"]
