"""Ledger migration 4 (the reading room's catalog, facet counts, trigram index) and
search inside scripts written without spaces."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from preserve import archive as archive_mod
from preserve import ledger
from preserve.archive import ingest
from preserve.cli import cli
from preserve.metadata import prepare_file
from preserve.search import parse_query, search, unspaced_text
from tests.test_archive import make_statements

ZH_TEXT = "图书馆开放时间\n\n国家人权委员会今天发表声明，图书馆将延长开放时间。\n\n王明\n馆长\n"
TH_TEXT = "ประกาศเวลาเปิดห้องสมุด\n\nคณะกรรมการสิทธิมนุษยชนแห่งชาติประกาศเวลาเปิดห้องสมุดใหม่\n\nสมชาย ใจดี\n"


def _counts(db: sqlite3.Connection) -> set[tuple[str, str, int]]:
    return {(r[0], r[1], r[2]) for r in db.execute("SELECT facet, value, count FROM facet_counts")}


def _grouped(db: sqlite3.Connection) -> set[tuple[str, str, int]]:
    out = set()
    for facet in ledger.CATALOG_FACETS:
        for value, count in db.execute(
            f"SELECT {facet}, count(*) FROM catalog WHERE {facet} IS NOT NULL GROUP BY {facet}"
        ):
            out.add((facet, value, count))
    return out


def _back_to_schema_3(archive: Path) -> None:
    """Make the ledger what it was before the reading room's migration: none of what it adds."""
    raw = sqlite3.connect(archive / "ledger.sqlite", isolation_level=None)
    for trigger in ("catalog_counted", "catalog_uncounted", "bags_unindexed", "fixity_counted"):
        raw.execute(f"DROP TRIGGER {trigger}")
    for index in ("bags_by_ingest", "bags_by_verified", "bags_by_result"):
        raw.execute(f"DROP INDEX {index}")
    for table in ("catalog", "facet_counts", "statements_unspaced", "audit_weeks"):
        raw.execute(f"DROP TABLE {table}")
    raw.execute(f"PRAGMA user_version = {_reading_room_migration() - 1}")
    raw.close()


def _reading_room_migration() -> int:
    """The number of the migration that adds the catalog (numbers move as branches merge)."""
    return next(
        number
        for number, steps in enumerate(ledger.MIGRATIONS, start=1)
        if ledger._reading_room in steps
    )


def test_ingest_fills_the_catalog_and_the_counts(tmp_path: Path) -> None:
    make_statements(tmp_path / "in", 4)
    archive = tmp_path / "a"
    assert ingest([tmp_path / "in"], archive).exit_code == 0
    db = ledger.connect(archive)
    assert db.execute("SELECT count(*) FROM catalog").fetchone()[0] == 4
    assert _counts(db) == _grouped(db) and ("type", "statement", 4) in _counts(db)
    row = db.execute("SELECT * FROM catalog LIMIT 1").fetchone()
    record = json.loads(
        (archive / "bags" / row["identifier"] / "data/metadata/statement.json").read_text()
    )
    assert row["language"] == record["language"] and row["title"] == record["title"]
    assert row["year"] == record["date_issued"][:4]
    _assert_fts_rowids(db)
    db.close()


def _assert_fts_rowids(db: sqlite3.Connection) -> None:
    """Every catalog row points at its own row of the full-text index."""
    pairs = db.execute("SELECT identifier, fts_rowid FROM catalog").fetchall()
    assert pairs
    for identifier, rowid in pairs:
        found = db.execute(
            "SELECT identifier FROM statements_fts WHERE rowid = ?", (rowid,)
        ).fetchone()
        assert found is not None and found[0] == identifier


def test_undoing_a_publication_uncounts_it(tmp_path: Path) -> None:
    make_statements(tmp_path / "in", 3)
    archive = tmp_path / "a"
    ingest([tmp_path / "in"], archive)
    db = ledger.connect(archive)
    gone = db.execute("SELECT identifier FROM bags LIMIT 1").fetchone()[0]
    with ledger.write(db):  # what recovery and a failed rename do
        db.execute("DELETE FROM bags WHERE identifier = ?", (gone,))
    assert db.execute("SELECT count(*) FROM catalog").fetchone()[0] == 2
    assert _counts(db) == _grouped(db) and ("type", "statement", 2) in _counts(db)
    db.close()


def test_migration_4_backfills_a_ledger_made_before_it(tmp_path: Path) -> None:
    make_statements(tmp_path / "in", 3)
    archive = tmp_path / "a"
    ingest([tmp_path / "in"], archive)
    _back_to_schema_3(archive)
    db = ledger.connect(archive)  # a writer: migrates
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(ledger.MIGRATIONS)
    rows = db.execute("SELECT * FROM catalog ORDER BY identifier").fetchall()
    assert len(rows) == 3
    for row in rows:
        record = json.loads(
            (archive / "bags" / row["identifier"] / "data/metadata/statement.json").read_text()
        )
        assert tuple(row)[:8] == ledger.catalog_values(record)
    assert _counts(db) == _grouped(db)
    _assert_fts_rowids(db)
    db.close()


def test_backfill_never_follows_a_symlinked_record(tmp_path: Path) -> None:
    make_statements(tmp_path / "in", 1)
    archive = tmp_path / "a"
    ingest([tmp_path / "in"], archive)
    bag = next((archive / "bags").iterdir())
    record = bag / "data/metadata/statement.json"
    fake = tmp_path / "fake.json"
    fake.write_text(json.dumps({"identifier": bag.name, "title": "FOLLOWED", "language": "xx"}))
    record.unlink()
    os.symlink(fake, record)
    _back_to_schema_3(archive)
    db = ledger.connect(archive)
    row = db.execute("SELECT title, language FROM catalog").fetchone()
    assert row["title"] != "FOLLOWED" and row["language"] is None  # from the ledger only
    db.close()


def _add_unrendered(
    archive: Path, folder: Path, name: str, text: str, sidecar: dict[str, object]
) -> str:
    """Record a statement the way publishing does (bags row, text index, catalog), without
    rendering it: the vendored fonts have no Han or Thai glyphs yet."""
    (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    (folder / f"{name}.json").write_text(json.dumps(sidecar, ensure_ascii=False))
    prepared = prepare_file(folder / f"{name}.txt")
    metadata = prepared.metadata()
    db = ledger.connect(archive)
    with ledger.write(db):
        db.execute(
            "INSERT INTO bags (identifier, path, state, ingested_at, payload_oxum,"
            " statement_sha256, metadata_sha256, software, date_issued, title)"
            " VALUES (?, ?, 'published', ?, '0.0', '', '', 'test', ?, ?)",
            (
                metadata.identifier,
                f"bags/{metadata.identifier}",
                ledger.now(),
                metadata.record["date_issued"],
                metadata.title,
            ),
        )
        archive_mod._index(db, prepared.statement, metadata)
        db.execute(ledger.CATALOG_INSERT, ledger.catalog_values(metadata.record))
    db.close()
    return metadata.identifier


def test_a_word_inside_chinese_or_thai_text_is_found(tmp_path: Path) -> None:
    make_statements(tmp_path / "in", 1)
    archive = tmp_path / "a"
    ingest([tmp_path / "in"], archive)
    zh = _add_unrendered(
        archive,
        tmp_path,
        "zh",
        ZH_TEXT,
        {
            "identifier": "zh-library-hours",
            "date_issued": "2024-05-01",
            "language": "zh",
            "creator": {"name": "王明"},
        },
    )
    th = _add_unrendered(
        archive,
        tmp_path,
        "th",
        TH_TEXT,
        {
            "identifier": "th-library-hours",
            "date_issued": "2024-05-02",
            "language": "th",
            "creator": {"name": "สมชาย ใจดี"},
        },
    )
    # unicode61 alone sees the whole run as one word: the reason for the trigram index
    db = ledger.connect(archive, readonly=True)
    assert (
        db.execute(
            "SELECT count(*) FROM statements_fts WHERE statements_fts MATCH '\"人权\"*'"
        ).fetchone()[0]
        == 0
    )
    db.close()
    assert [h.identifier for h in search(archive, "人权")] == [zh]  # two characters: a scan
    assert [h.identifier for h in search(archive, "人权委员会")] == [zh]  # trigram MATCH
    assert [h.identifier for h in search(archive, "สิทธิมนุษยชน")] == [th]
    assert search(archive, "人权 委员")[0].identifier == zh  # every word must match
    assert search(archive, "人权 สิทธิ") == []
    hit = search(archive, "人权")[0]
    assert "[人权]" in hit.snippet
    result = CliRunner().invoke(cli, ["search", str(archive), "人权"])
    assert result.exit_code == 0 and zh in result.output


def test_query_split_is_data_never_syntax() -> None:
    q = parse_query('委员会 "OR" NEAR(')
    assert q.runs == ("委员会",)
    assert q.expression == '"OR" "NEAR"*'  # quoted: words, not operators
    assert unspaced_text("abc", None, "кириллица 中文 text ไทย") == "中文\nไทย"


def test_audit_weeks_follow_fixity_checks(tmp_path: Path) -> None:
    from preserve.audit import audit

    make_statements(tmp_path / "in", 3)
    archive = tmp_path / "a"
    ingest([tmp_path / "in"], archive)
    audit(archive)
    audit(archive)
    db = ledger.connect(archive)
    kept = db.execute("SELECT week, passed, failed FROM audit_weeks").fetchall()
    counted = db.execute(
        "SELECT strftime('%Y-%W', at), sum(outcome = 'success'), sum(outcome != 'success')"
        " FROM events WHERE type = 'fixity check' GROUP BY 1"
    ).fetchall()
    assert [tuple(r) for r in kept] == [tuple(r) for r in counted]
    assert sum(r[1] for r in kept) == 6
    db.close()
    _back_to_schema_3(archive)  # and the migration's backfill agrees
    db = ledger.connect(archive)
    assert [tuple(r) for r in db.execute("SELECT * FROM audit_weeks")] == [
        tuple(r) for r in counted
    ]
    db.close()
