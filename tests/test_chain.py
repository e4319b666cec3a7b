"""The ledger's hash chain: deleting, editing or rewriting history is found."""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st

from preserve import ledger
from preserve.archive import ingest
from preserve.audit import audit
from preserve.chain import GENESIS, SEAL_EVENT, event_hash, verify_chain
from preserve.cli import cli

from .test_archive import make_statements


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three bags ingested and audited: six chained events."""
    root = tmp_path_factory.mktemp("chain")
    make_statements(root / "in", 3)
    assert ingest([root / "in"], root / "archive").exit_code == 0
    assert audit(root / "archive").ok
    return root / "archive"


def raw(archive: Path) -> sqlite3.Connection:
    db = sqlite3.connect(archive / "ledger.sqlite", isolation_level=None)
    db.row_factory = sqlite3.Row
    return db


def report(archive: Path, head: str | None = None):  # type: ignore[no-untyped-def]
    db = ledger.connect(archive, readonly=True)
    try:
        return verify_chain(db, published_head=head)
    finally:
        db.close()


def test_intact_chain(archive: Path) -> None:
    found = report(archive)
    assert found.ok and found.events == 6 and found.broken is None
    rows = raw(archive).execute("SELECT * FROM events ORDER BY id").fetchall()
    assert rows[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(rows))
    assert found.head == rows[-1]["hash"]
    assert rows[2]["hash"] == event_hash(rows[1]["hash"], rows[2])


def test_deleted_row_is_found(archive: Path) -> None:
    raw(archive).execute("DELETE FROM events WHERE id = 3")
    found = report(archive)
    assert not found.ok
    assert found.broken is not None
    assert (found.broken.event_id, found.broken.code) == (4, "chain.link-broken")
    assert "ids jump from 2" in found.broken.message


def test_edited_row_is_found(archive: Path) -> None:
    raw(archive).execute("UPDATE events SET outcome = 'success' WHERE id = 5")
    raw(archive).execute("UPDATE events SET detail = '{\"files\": 0}' WHERE id = 5")
    found = report(archive)
    assert found.broken is not None
    assert (found.broken.event_id, found.broken.code) == (5, "chain.event-changed")


def test_deleted_last_row_is_found(archive: Path) -> None:
    raw(archive).execute("DELETE FROM events WHERE id = 6")
    found = report(archive)
    assert found.broken is not None
    assert found.broken.code == "chain.tail-deleted"


def test_rewritten_history_is_found_against_a_published_head(archive: Path) -> None:
    published = report(archive).head
    # A forger edits event 2 and recomputes every hash after it: the chain alone holds...
    db = raw(archive)
    db.execute('UPDATE events SET detail = \'{"source": "forged"}\' WHERE id = 2')
    prev = GENESIS
    for row in db.execute("SELECT * FROM events ORDER BY id").fetchall():
        digest = event_hash(prev, row)
        db.execute(
            "UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?", (prev, digest, row["id"])
        )
        prev = digest
    assert report(archive).ok
    # ... but not against the head the institution published before.
    found = report(archive, published)
    assert not found.ok and found.head_found is False


def test_later_events_keep_an_earlier_head_valid(archive: Path) -> None:
    published = report(archive).head
    assert audit(archive).ok  # three more events
    found = report(archive, published)
    assert found.ok and found.head_found is True and found.events == 9


def test_concurrent_writers_never_fork_the_chain(archive: Path) -> None:
    def writer(n: int) -> None:
        db = ledger.connect(archive)
        try:
            for i in range(20):
                with ledger.write(db):
                    ledger.record_event(
                        db,
                        identifier=None,
                        type="test",
                        outcome="success",
                        detail={"writer": n, "i": i},
                        agent="test",
                    )
        finally:
            db.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found = report(archive)
    assert found.ok and found.events == 6 + 80


def test_record_event_outside_a_transaction_is_refused(archive: Path) -> None:
    db = ledger.connect(archive)
    try:
        with pytest.raises(RuntimeError, match=r"inside ledger\.write"):
            ledger.record_event(
                db, identifier=None, type="t", outcome="success", detail="", agent="a"
            )
    finally:
        db.close()


def make_legacy(archive: Path) -> None:
    """Turn the archive's ledger into one from before version 4 whose events predate
    the chain (as a ledger made before migration 2 looks once migrated to 3)."""
    db = raw(archive)
    db.execute("UPDATE events SET prev_hash = NULL, hash = NULL")
    db.execute("DROP INDEX events_by_type")
    db.execute("PRAGMA user_version = 3")
    db.close()


def test_events_from_before_the_chain_are_sealed_once_with_a_recorded_event(
    archive: Path,
) -> None:
    make_legacy(archive)
    before = report(archive)
    assert before.ok and before.unchained == 6  # read-only: not sealed yet, and said so
    ledger.connect(archive).close()  # the upgrade to version 4 seals them
    found = report(archive)
    assert found.ok and found.unchained == 0 and found.events == 7
    db = raw(archive)
    (seal,) = db.execute("SELECT * FROM events WHERE type = ?", (SEAL_EVENT,)).fetchall()
    assert seal["id"] == 7 and json.loads(seal["detail"])["sealed_events"] == 6
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(ledger.MIGRATIONS)
    # ... and refused from then on: removing the hashes again is a broken chain.
    db.execute("UPDATE events SET prev_hash = NULL, hash = NULL")
    again = report(archive)
    assert again.broken is not None and again.broken.code == "chain.unchained"


def test_removed_hashes_are_a_broken_chain_never_sealed(archive: Path) -> None:
    """D15: an edit, then every hash removed, must not pass as 'history before the chain',
    and the next write must not seal the forged history."""
    db = raw(archive)
    db.execute('UPDATE events SET detail = \'{"source": "forged"}\' WHERE id = 2')
    db.execute("UPDATE events SET hash = NULL, prev_hash = NULL")
    db.close()
    found = report(archive)
    assert found.broken is not None
    assert (found.broken.event_id, found.broken.code) == (1, "chain.unchained")
    result = CliRunner().invoke(cli, ["ledger", "verify", str(archive)])
    assert result.exit_code == 1 and "BROKEN" in result.output, result.output
    assert "INTACT" not in result.output
    # A write (an audit records its results) seals nothing: the chain stays broken,
    # and the audit fails naming the first bad event.
    audited = audit(archive)
    assert not audited.ok
    (problem,) = [p for p in audited.problems if p.code == "ledger.chain-broken"]
    assert "event 1" in problem.message
    assert report(archive).broken is not None
    assert raw(archive).execute("SELECT count(*) FROM events WHERE hash IS NULL").fetchone()[0] == 6


def test_cli_ledger_verify_and_anchor(archive: Path) -> None:
    runner = CliRunner()
    anchored = runner.invoke(cli, ["ledger", "anchor", "--json", str(archive)])
    assert anchored.exit_code == 0, anchored.output
    head = json.loads(anchored.output)["head"]
    good = runner.invoke(cli, ["ledger", "verify", "--head", head, str(archive)])
    assert good.exit_code == 0 and "INTACT" in good.output, good.output
    raw(archive).execute("DELETE FROM events WHERE id = 2")
    bad = runner.invoke(cli, ["ledger", "verify", "--json", str(archive)])
    assert bad.exit_code == 1
    doc = json.loads(bad.output)
    assert doc["first_broken_link"]["event_id"] == 3
    assert doc["first_broken_link"]["code"] == "chain.link-broken"
    refused = runner.invoke(cli, ["ledger", "anchor", str(archive)])
    assert refused.exit_code == 1 and "broken" in refused.output
    missing = runner.invoke(cli, ["ledger", "verify", str(archive.parent / "nowhere")])
    assert missing.exit_code == 2


@given(
    prev=st.text(),
    identifier=st.none() | st.text(),
    fields=st.lists(st.text(), min_size=5, max_size=5),
)
@example(prev=GENESIS, identifier=None, fields=['q"uote\\', "\x00\x1f\u2028", "é", "{}", "\ud7ff"])
def test_canonical_event_is_exactly_the_json_of_the_spec(
    prev: str, identifier: str | None, fields: list[str]
) -> None:
    """The fast spelling of an event's canonical form is byte for byte json.dumps's."""
    from preserve.chain import _canonical_json, canonical_event

    event = dict(zip(("type", "at", "outcome", "detail", "agent"), fields, strict=True))
    event["identifier"] = identifier  # type: ignore[assignment]
    assert canonical_event(prev, event) == _canonical_json(prev, event)
    odd = {**event, "at": 20240301}  # a number stored by hand still hashes as JSON has it
    assert canonical_event(prev, odd) == _canonical_json(prev, odd)
