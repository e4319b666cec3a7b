"""Facet counts under filters and a query: the number of statements each link lists.

Every count the pages show is checked against a count made here from the bags on
disk (each bag's ``statement.json``), not from the ledger's tables: for a facet with
no filter of its own, the statements the filters (and the query) select that have
the value; for a filtered facet, those of the other filters with that value.
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("starlette", reason="the reading room needs starlette")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")

from starlette.testclient import TestClient

from preserve import ledger
from preserve import search as fulltext
from preserve.serve import ServeConfig, catalog, create_app
from tests.serve_support import reading_room_archive

FACETS = ("year", "organization", "signer", "language", "type")


@pytest.fixture(scope="module")
def archive() -> Path:
    return reading_room_archive()


@pytest.fixture(scope="module")
def client(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(create_app(ServeConfig(archive, cache_dir=tmp_path_factory.mktemp("c")))) as c:
        yield c


def facets_on_disk(archive: Path) -> dict[str, dict[str, str | None]]:
    """Each published bag's facets, from its metadata record on disk (not the ledger)."""
    out = {}
    for bag in sorted((archive / "bags").iterdir()):
        record: dict[str, Any] = json.loads(
            (bag / "data" / "metadata" / "statement.json").read_text(encoding="utf-8")
        )
        creator = record.get("creator") or {}
        date = record.get("date_issued")
        out[record["identifier"]] = {
            "year": date[:4] if date else None,
            "organization": creator.get("organization") or record.get("publisher"),
            "signer": creator.get("name"),
            "language": record.get("language"),
            "type": record.get("type"),
        }
    return out


@pytest.fixture(scope="module")
def records(archive: Path) -> dict[str, dict[str, str | None]]:
    """Each bag's facets, read from its metadata record on disk."""
    out = facets_on_disk(archive)
    assert len(out) > 50
    return out


def expected(
    records: Mapping[str, Mapping[str, str | None]],
    filters: Mapping[str, str],
    facet: str,
    among: set[str] | None = None,
) -> Counter[str]:
    """How many statements (of ``among``) each value of ``facet`` would list."""
    others = {f: v for f, v in filters.items() if f != facet}
    counts: Counter[str] = Counter()
    for identifier, record in records.items():
        if among is not None and identifier not in among:
            continue
        if all(record[f] == v for f, v in others.items()) and record[facet] is not None:
            counts[str(record[facet])] += 1
    return counts


def sidebar(page: str, filters: Mapping[str, str]) -> dict[str, list[tuple[str, int]]]:
    """(value, count) of each facet in the browse page's sidebar, in order."""
    out = {}
    for facet, body in re.findall(
        r'<section aria-labelledby="facet-(\w+)">(.*?)</section>', page, re.S
    ):
        values = []
        for item in re.findall(r"<li>(.*?)</li>", body, re.S):
            count = int(re.search(r'<span class="count">(\d+)</span>', item).group(1))  # type: ignore[union-attr]
            if 'aria-current="true"' in item:
                values.append((filters[facet], count))
                continue
            href = html.unescape(re.search(r'href="([^"]+)"', item).group(1))  # type: ignore[union-attr]
            values.append((parse_qs(urlsplit(href).query)[facet][0], count))
        out[facet] = values
    return out


def options(page: str) -> dict[str, list[tuple[str, int]]]:
    """(value, count) of each choice of the search form's selects."""
    out = {}
    for facet, body in re.findall(r'<select id="f-(\w+)"[^>]*>(.*?)</select>', page, re.S):
        out[facet] = [
            (html.unescape(value), int(count))
            for value, count in re.findall(
                r'<option value="([^"]+)"[^>]*>[^<]*\((\d+)\)</option>', body
            )
        ]
    return out


def check_shown(
    shown: Mapping[str, list[tuple[str, int]]],
    records: Mapping[str, Mapping[str, str | None]],
    filters: Mapping[str, str],
    facets: tuple[str, ...],
    among: set[str] | None = None,
) -> None:
    """Every value shown has its true count; the most frequent are the ones shown (years
    newest first); no value without statements is shown unless it is the selected one."""
    assert set(shown) == set(facets), shown.keys()
    for facet in facets:
        truth = expected(records, filters, facet, among)
        if facet == "year":
            best = sorted(truth.items(), key=lambda kv: kv[0], reverse=True)
        else:
            best = sorted(truth.items(), key=lambda kv: (-kv[1], kv[0]))
        top = best[: catalog.FACET_VALUES_SHOWN]
        selected = filters.get(facet)
        if selected is not None and all(v != selected for v, _ in top):
            top.append((selected, truth.get(selected, 0)))
        assert shown[facet] == top, (facet, filters, shown[facet], top)


def test_browse_counts_under_one_filter(
    client: TestClient, records: dict[str, dict[str, str | None]]
) -> None:
    filters = {"language": "hy"}
    page = client.get("/", params=filters).text
    shown = sidebar(page, filters)
    check_shown(shown, records, filters, FACETS)
    # not the whole archive's: under Armenian, fewer statements per type
    whole = sidebar(client.get("/").text, {})
    assert dict(shown["type"])["statement"] < dict(whole["type"])["statement"]
    assert dict(shown["language"]) == dict(whole["language"])  # its own facet: unfiltered
    assert "Each number is how many statements its link lists" in page


def test_browse_counts_under_two_filters(
    client: TestClient, records: dict[str, dict[str, str | None]]
) -> None:
    filters = {"language": "en", "type": "statement"}
    page = client.get("/", params=filters).text
    shown = sidebar(page, filters)
    check_shown(shown, records, filters, FACETS)
    both = sum(1 for r in records.values() if r["language"] == "en" and r["type"] == "statement")
    assert f'<h2 id="results-title">{both} statements matching' in page
    assert dict(shown["language"])["en"] == sum(
        1 for r in records.values() if r["language"] == "en" and r["type"] == "statement"
    )
    # and three, one of them a year
    filters = {"language": "en", "type": "statement", "year": "2024"}
    check_shown(sidebar(client.get("/", params=filters).text, filters), records, filters, FACETS)


def test_a_selected_value_outside_the_top_values_is_still_listed(
    client: TestClient, records: dict[str, dict[str, str | None]]
) -> None:
    languages = Counter(r["language"] for r in records.values())
    rare = min(languages, key=lambda k: (languages[k], str(k)))
    assert rare is not None and len(languages) > catalog.FACET_VALUES_SHOWN
    filters = {"language": rare}
    shown = sidebar(client.get("/", params=filters).text, filters)
    assert shown["language"][-1] == (rare, languages[rare])
    check_shown(shown, records, filters, FACETS)
    # a value no statement has: listed with 0, and every other facet is empty
    filters = {"language": "xx"}
    shown = sidebar(client.get("/", params=filters).text, filters)
    assert shown["language"][-1] == ("xx", 0)
    assert shown["type"] == [] and shown["year"] == []


def _matching(archive: Path, q: str) -> set[str]:
    db = ledger.connect(archive, readonly=True)
    try:
        hits = fulltext.search_parsed(db, fulltext.parse_query(q), limit=10_000, versions=False)
    finally:
        db.close()
    return {h.identifier for h in hits}


@pytest.mark.parametrize(
    ("q", "filters"),
    [
        ("the", {}),
        ("the", {"language": "en"}),
        ("the", {"language": "en", "type": "statement"}),
        ("the", {"year": "2024"}),
        # a filter the form has no choice for (passed on hidden): counted, not shown
        ("the", {"organization": "Office of the Commissioner for Human Rights"}),
        ("the", {"organization": "Office of the Commissioner for Human Rights", "year": "2024"}),
        ("2024", {}),
        ("2024", {"language": "az-Latn"}),
        ("2024", {"language": "az-Latn", "type": "statement"}),
    ],
)
def test_search_choices_count_the_matches(
    client: TestClient,
    archive: Path,
    records: dict[str, dict[str, str | None]],
    q: str,
    filters: dict[str, str],
) -> None:
    among = _matching(archive, q)
    assert 5 < len(among) < len(records)
    if q == "2024":  # a query that finds statements in several languages
        assert len({records[i]["language"] for i in among}) > 3
    page = client.get("/search", params={"q": q, **filters}).text
    check_shown(options(page), records, filters, ("language", "type", "year"), among)
    total = int(page.split('id="hits-title">')[1].split(" ")[0])
    assert total == sum(1 for i in among if all(records[i][f] == v for f, v in filters.items()))
    assert "how many results it gives for these words" in page


def test_search_choices_in_an_unspaced_script(
    client: TestClient, archive: Path, records: dict[str, dict[str, str | None]]
) -> None:
    among = _matching(archive, "市")
    assert len({records[i]["language"] for i in among}) >= 2, among  # zh and zh-Hant
    for filters in ({}, {"language": "zh"}):
        page = client.get("/search", params={"q": "市", **filters}).text
        check_shown(options(page), records, filters, ("language", "type", "year"), among)


def test_search_choices_without_a_query_count_the_archive_under_the_filters(
    client: TestClient, records: dict[str, dict[str, str | None]]
) -> None:
    filters = {"type": "press-release"}
    page = client.get("/search", params=filters).text
    check_shown(options(page), records, filters, ("language", "type", "year"))


@pytest.mark.parametrize("filters", [{}, {"language": "en"}, {"organization": "Botanical Garden"}])
def test_counting_the_non_matches_gives_the_same_counts(
    archive: Path,
    records: dict[str, dict[str, str | None]],
    filters: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where most of the archive matches, the statements that do not match are counted
    and taken from the archive's counts: the same numbers as counting the matches."""
    expression = fulltext.parse_query("the").expression
    assert expression is not None
    db = ledger.connect(archive, readonly=True)
    try:
        direct = catalog.search_facets(db, expression, filters, limit=None)
        monkeypatch.setattr(catalog, "COMPLEMENT_SHARE", 0.0)
        complement = catalog.search_facets(db, expression, filters, limit=None)
    finally:
        db.close()
    assert complement == direct
    among = _matching(archive, "the")
    for facet in FACETS:
        counts = {v.value: v.count for v in direct[facet] if v.count}
        assert counts == dict(expected(records, filters, facet, among)), facet


def test_facet_queries_use_the_indexes(archive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plans read the catalogue through its indexes: no scan of the table."""
    db = sqlite3.connect(f"file:{archive / 'ledger.sqlite'}?mode=ro", uri=True)

    def plan(sql: str, params: list[str]) -> str:
        return " | ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql, params))

    try:
        few = plan(*catalog.facet_query(db, {"signer": "Helen Ward"}))  # 1 of 72
        # a filter that selects much of the archive: one pass over the covering index
        many = plan(*catalog.facet_query(db, {"language": "en", "type": "statement"}))
        monkeypatch.setattr(catalog, "SCAN_SHARE", 1.0)
        two = plan(*catalog.facet_query(db, {"language": "en", "type": "statement"}))
        expression = fulltext.parse_query("the").expression
        assert expression is not None
        sql, params, complement = catalog.search_facet_query(db, expression, {}, FACETS)
        matches = plan(sql, params)
        monkeypatch.setattr(catalog, "COMPLEMENT_SHARE", 0.0)
        sql, params, complement = catalog.search_facet_query(db, expression, {}, FACETS)
        others = plan(sql, params)
    finally:
        db.close()
    assert "SEARCH catalog USING INDEX catalog_by_signer (signer=?)" in few, few
    assert "SCAN catalog USING COVERING INDEX catalog_by_fts_rowid" in many, many
    assert "INDEX" in two, two  # the planner's choice: each filter's index, or the covering one
    assert "SEARCH c USING COVERING INDEX catalog_by_fts_rowid (fts_rowid=?)" in matches, matches
    assert complement and "SCAN c USING COVERING INDEX catalog_by_fts_rowid" in others, others
    for seen in (few, many, two, matches, others):
        assert not re.search(r"SCAN (catalog|c)\b(?! USING)", seen), seen
