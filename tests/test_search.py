"""Search: a query's size is bounded (words and bytes), refused in one line before FTS5."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from preserve import ledger
from preserve import search as search_module
from preserve.archive import ingest
from preserve.cli import cli
from preserve.errors import InputError
from preserve.search import (
    MAX_QUERY_BYTES,
    MAX_QUERY_WORDS,
    WEIGHTS,
    count_upto,
    fts_query,
    search,
    search_counted,
)

from .test_archive import make_statements


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("search")
    make_statements(root / "in", 2)
    assert ingest([root / "in"], root / "archive").exit_code == 0
    return root / "archive"


def test_a_query_at_the_word_limit_still_searches(archive: Path) -> None:
    words = ["library"] * MAX_QUERY_WORDS
    assert len(search(archive, " ".join(words))) == 2


def test_too_many_words_are_refused_before_searching(archive: Path) -> None:
    """D17: a 3,200-word query took 50 s; now it is refused at once, in one line."""
    query = " ".join(["library"] * 3200)
    with pytest.raises(InputError, match="at most"):
        fts_query(query)
    result = CliRunner().invoke(cli, ["search", str(archive), *query.split()])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "MAX_QUERY_BYTES" in result.stderr
    short_words = " ".join(["lib"] * (MAX_QUERY_WORDS + 1))  # under the byte limit
    with pytest.raises(InputError, match=f"{MAX_QUERY_WORDS + 1} words; at most"):
        fts_query(short_words)


def test_too_many_bytes_are_refused(archive: Path) -> None:
    query = "библиотека" * (MAX_QUERY_BYTES // 20 + 1)  # one long word, over the byte limit
    with pytest.raises(InputError, match="bytes; at most"):
        search(archive, query)
    assert fts_query("библиотека" * (MAX_QUERY_BYTES // 20 - 1))


# --------------------------------------------------------------------------- ranking


def _synthetic_ledger(archive: Path, count: int) -> sqlite3.Connection:
    """A ledger holding ``count`` statements as the rows publishing writes (the bench's
    shape: Zipf-drawn words, so some words are in most statements, most in few), every
    tenth one a copy of an earlier text so that bm25 ties occur."""
    archive.mkdir()
    db = ledger.connect(archive)
    rng = random.Random(9)
    vocabulary = [
        a + b for a in ("ka", "lo", "mi", "nu", "pe", "ro") for b in ("sat", "ben", "dor")
    ]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    bodies: list[str] = []
    with ledger.write(db):
        for i in range(count):
            ident = f"synthetic-{i:04d}"
            body = (
                bodies[i // 2] if i % 10 == 9 else " ".join(rng.choices(vocabulary, weights, k=12))
            )
            bodies.append(body)
            title = " ".join(rng.choices(vocabulary, k=2))
            db.execute(
                "INSERT INTO bags (identifier, path, state, ingested_at, payload_oxum,"
                " statement_sha256, metadata_sha256, software, date_issued, title)"
                " VALUES (?, ?, 'published', '2026-01-01T00:00:00Z', '1.1', '', '', 't', ?, ?)",
                (ident, f"bags/{ident}", "2020-01-01", title),
            )
            db.execute(
                "INSERT INTO statements_fts (identifier, date_issued, title, body, signer,"
                " subjects) VALUES (?, '2020-01-01', ?, ?, 'Someone', '')",
                (ident, title, body),
            )
            record = {
                "identifier": ident,
                "title": title,
                "date_issued": "2020-01-01",
                "language": ("en", "fr", "ar")[i % 3],
                "type": ("statement", "report")[i % 2],
            }
            db.execute(ledger.CATALOG_INSERT, ledger.catalog_values(record))
    return db


def _reference(
    db: sqlite3.Connection, expression: str, filters: dict[str, str], limit: int, offset: int
) -> tuple[list[tuple[str, str, float]], int]:
    """Every match with its snippet and bm25, filtered and ordered in Python: what a
    page of hits must be, however the search gets there."""
    weights = ", ".join(str(w) for w in WEIGHTS.values())
    rows = db.execute(
        "SELECT rowid, identifier, snippet(statements_fts, 3, '[', ']', '…', 12),"
        f" bm25(statements_fts, 0, 0, {weights}) FROM statements_fts WHERE statements_fts MATCH ?",
        (expression,),
    ).fetchall()
    clauses = " AND ".join(f"{f} = ?" for f in filters) or "1"
    allowed = {
        r[0]
        for r in db.execute(f"SELECT fts_rowid FROM catalog WHERE {clauses}", [*filters.values()])
    }
    rows = [r for r in rows if r[0] in allowed]
    if len(rows) <= search_module.RANK_LIMIT:
        rows.sort(key=lambda r: (r[3], r[0]))
    else:
        rows.sort(key=lambda r: -r[0])
    return [(r[1], r[2], r[3]) for r in rows[offset : offset + limit]], len(rows)


@pytest.mark.parametrize("rank_limit", [2000, 40])
def test_pages_of_hits_are_ranked_filtered_and_counted_as_over_every_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rank_limit: int
) -> None:
    """Only a page is ranked and snippeted: its hits, their order (bm25, ties oldest
    first), their snippets and the count must be those of ranking every match."""
    from preserve.serve.catalog import within

    monkeypatch.setattr(search_module, "RANK_LIMIT", rank_limit)
    db = _synthetic_ledger(tmp_path / "archive", 400)
    ties = 0
    for query in ("kasat", "kasat loben", "rodor", "mi", "nuben kaben"):
        expression = fts_query(query)
        for filters in ({}, {"language": "fr"}, {"language": "ar", "type": "report"}):
            expected_all, expected_count = _reference(db, expression, filters, 1000, 0)
            ranks = [rank for _, _, rank in expected_all]
            ties += len(ranks) - len(set(ranks))
            for offset in (0, 20, 40, expected_count - 5):
                expected, _ = _reference(db, expression, filters, 20, max(offset, 0))
                # the filter as a list of rows, and as a lookup per match (migration 9)
                bound = count_upto(db, expression, 10**6)  # the unfiltered matches
                for condition, at_most in (
                    (within(filters), None),
                    (within(filters, db, 0), None),
                    (within(filters, db, 0), bound),  # scored and counted in one pass
                ):
                    hits, count = search_counted(
                        db,
                        expression,
                        limit=20,
                        offset=max(offset, 0),
                        within=condition,
                        at_most=at_most,
                    )
                    assert count == expected_count, (query, filters, condition)
                    assert [(h.identifier, h.snippet, h.rank) for h in hits] == expected, (
                        query,
                        filters,
                        offset,
                    )
                unscored, _ = search_counted(
                    db, expression, offset=max(offset, 0), within=within(filters), scores=False
                )
                assert [h.identifier for h in unscored] == [i for i, _, _ in expected]
    assert ties > 0  # the tie-break was exercised
    db.close()


def test_migration_9_runs_again_harmlessly_and_the_filter_uses_its_index(tmp_path: Path) -> None:
    from preserve.serve.catalog import within

    db = _synthetic_ledger(tmp_path / "archive", 30)
    index = "SELECT count(*) FROM sqlite_master WHERE name = 'catalog_by_fts_rowid'"
    assert db.execute(index).fetchone()[0] == 1
    for step in ledger.MIGRATIONS[8]:
        assert isinstance(step, str)
        db.execute(step)  # idempotent: a re-run changes nothing
    assert db.execute(index).fetchone()[0] == 1
    condition = within({"language": "fr"}, db, 10)
    assert condition is not None and "catalog_by_fts_rowid" in condition[0]
    plan = " ".join(
        str(tuple(r))
        for r in db.execute(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM statements_fts WHERE statements_fts MATCH ?"
            f" AND ({condition[0]})",
            ("kasat", *condition[1]),
        )
    )
    assert "catalog_by_fts_rowid" in plan
    db.execute("DROP INDEX catalog_by_fts_rowid")  # a ledger from before migration 9
    assert "catalog_by_fts_rowid" not in within({"language": "fr"}, db, 10)[0]  # type: ignore[index]
    db.close()
