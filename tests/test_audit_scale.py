"""The audit at scale: a streaming report (failing bags in full, counts for the rest,
every bag as JSON Lines on request) and a queue read in index order."""

from __future__ import annotations

import gc
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from preserve import audit as audit_module
from preserve import chain, ledger, ledger_check
from preserve.archive import ingest
from preserve.audit import QUEUE_QUERY, AuditReport, BagAudit, audit
from preserve.cli import cli
from preserve.ledger_check import verify_ledger
from preserve.metadata import load_schema

from .test_archive import make_statements, statement_text


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive of four bags, made once; tests work on copies."""
    root = tmp_path_factory.mktemp("pristine")
    make_statements(root / "in", 4)
    report = ingest([root / "in"], root / "archive")
    assert report.exit_code == 0, report.as_dict()
    return root / "archive"


def bag_dirs(archive: Path) -> list[Path]:
    return sorted((archive / "bags").iterdir())


def break_bag(bag: Path) -> None:
    payload = next((bag / "data" / "original").iterdir())
    payload.write_bytes(payload.read_bytes() + b" tampered")


def test_streaming_report_keeps_failing_bags_and_counts_the_rest(archive: Path) -> None:
    bags = bag_dirs(archive)
    break_bag(bags[1])
    shutil.rmtree(bags[2])
    seen: list[BagAudit] = []
    report = audit(archive, workers=1, keep_valid=False, progress=seen.append)
    assert sorted(b.identifier for b in report.bags) == [bags[1].name, bags[2].name]
    assert report.checked_count == 4 and report.invalid_count == 2 and not report.ok
    # Every bag, valid or not, went to the stream exactly once.
    assert sorted(b.identifier for b in seen) == [b.name for b in bags]
    document = report.as_dict()
    assert (document["checked"], document["valid"], document["invalid"]) == (4, 2, 2)
    assert document["bytes_checked"] == sum(b.bytes_checked for b in seen) > 0
    jsonschema.validate(document, load_schema("audit-report.schema.json"))


def test_limit_still_reports_missing_bags_past_it(archive: Path) -> None:
    bags = bag_dirs(archive)
    db = ledger.connect(archive)
    # The missing bag is the most recently verified: last in the queue.
    db.execute("UPDATE bags SET last_verified_at = '2020-01-01T00:00:00Z'")
    db.execute(
        "UPDATE bags SET last_verified_at = '2030-01-01T00:00:00Z' WHERE identifier = ?",
        (bags[0].name,),
    )
    db.close()
    shutil.rmtree(bags[0])
    report = audit(archive, limit=1, workers=1, keep_valid=False)
    missing = [(b.identifier, p.code) for b in report.bags for p in b.problems]
    assert missing == [(bags[0].name, "ledger.bag-missing")]
    # One verified, one missing; the other two not reached.
    assert report.checked_count == 2 and report.skipped == 2


def test_rolling_audits_take_the_least_recently_verified_first(archive: Path) -> None:
    order: list[str] = []
    for _ in range(4):
        report = audit(archive, limit=1, workers=1)
        assert report.ok and report.skipped == 3
        order += [b.identifier for b in report.bags]
    assert sorted(order) == [b.name for b in bag_dirs(archive)]  # each bag once


def test_the_queue_is_read_in_index_order_not_sorted_in_memory(archive: Path) -> None:
    db = sqlite3.connect(archive / ledger.LEDGER_NAME)
    plan = " ".join(row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + QUEUE_QUERY))
    db.close()
    assert "bags_by_last_verified" in plan and "TEMP B-TREE" not in plan, plan


def test_cli_audit_streams_every_bag_to_jsonl_and_lists_failing_only(
    archive: Path, tmp_path: Path
) -> None:
    bags = bag_dirs(archive)
    break_bag(bags[3])
    lines_file = tmp_path / "bags.jsonl"
    result = CliRunner().invoke(cli, ["audit", str(archive), "--json", "--jsonl", str(lines_file)])
    assert result.exit_code == 1, result.output
    document = json.loads(result.output)
    assert [b["identifier"] for b in document["bags"]] == [bags[3].name]
    schema = load_schema("audit-report.schema.json")
    jsonschema.validate(document, schema)
    item = {**schema["properties"]["bags"]["items"], "$defs": schema["$defs"]}
    rows = [json.loads(line) for line in lines_file.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        jsonschema.validate(row, item)
    assert sorted((r["identifier"], r["valid"]) for r in rows) == [
        (b.name, b != bags[3]) for b in bags
    ]
    everything = CliRunner().invoke(cli, ["audit", str(archive), "--all", "--no-record"])
    assert everything.exit_code == 1
    assert sum(line.endswith(": valid") for line in everything.output.splitlines()) == 3


def test_cli_audit_jsonl_unwritable_is_one_line_exit_2(archive: Path, tmp_path: Path) -> None:
    target = tmp_path / "no-such-dir" / "bags.jsonl"
    result = CliRunner().invoke(cli, ["audit", str(archive), "--jsonl", str(target)])
    assert result.exit_code == 2
    assert "bags.jsonl" in result.output and "Traceback" not in result.output


def test_ledger_verify_json_matches_its_schema_intact_broken_and_disagreeing(
    archive: Path,
) -> None:
    schema = load_schema("ledger-verify-report.schema.json")
    runner = CliRunner()

    def run(*args: str) -> tuple[int, dict[str, object]]:
        result = runner.invoke(cli, ["ledger", "verify", "--json", *args, str(archive)])
        document = json.loads(result.output)
        jsonschema.validate(document, schema)
        return result.exit_code, document

    code, intact = run()
    assert code == 0 and intact["ok"] and intact["first_broken_link"] is None
    code, anchored = run("--head", str(intact["head"]))
    assert code == 0 and anchored["published_head_found"] is True
    bags = bag_dirs(archive)
    db = sqlite3.connect(archive / ledger.LEDGER_NAME)
    db.execute("DELETE FROM bags WHERE identifier = ?", (bags[0].name,))
    db.commit()
    code, disagreeing = run()
    assert code == 1 and disagreeing["ok"]  # the chain holds; a table does not
    assert [t["code"] for t in disagreeing["tables"]] == ["ledger.row-missing"]  # type: ignore[attr-defined, index]
    db.execute("UPDATE events SET outcome = 'failure' WHERE id = 2")
    db.commit()
    db.close()
    code, broken = run()
    assert code == 1 and not broken["ok"]
    assert broken["first_broken_link"]["code"].startswith("chain.")  # type: ignore[index]


# --------------------------------------------------------------------------- checkpoints


@pytest.fixture
def checkpointing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints for a four-bag archive, and a sweep of two events an audit."""
    monkeypatch.setattr(ledger_check, "CHECKPOINT_MIN_EVENTS", 0)
    monkeypatch.setattr(ledger_check, "SWEEP_EVENTS", 2)


def checkpoints(archive: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(archive / ledger.LEDGER_NAME)
    try:
        query = "SELECT detail FROM events WHERE type = ? ORDER BY id"
        return [json.loads(d) for (d,) in db.execute(query, (ledger_check.CHECKPOINT_EVENT,))]
    finally:
        db.close()


def chain_codes(report: AuditReport) -> list[str]:
    return [p.code for p in report.problems if p.code == "ledger.chain-broken"]


def test_audit_replays_the_chain_from_its_checkpoint(
    archive: Path, checkpointing: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert audit(archive, workers=1).ok
    (first,) = checkpoints(archive)
    assert verify_ledger(archive).ok  # the checkpoint is a chained event like any other
    replays: list[int] = []
    whole = ledger_check.verify_chain
    monkeypatch.setattr(
        ledger_check, "verify_chain", lambda db, **kw: replays.append(1) or whole(db, **kw)
    )
    assert audit(archive, workers=1).ok
    assert replays == []  # from the checkpoint on, not from the first event
    second = checkpoints(archive)[-1]
    db = sqlite3.connect(archive / ledger.LEDGER_NAME)
    events = db.execute("SELECT count(*) FROM events WHERE id <= ?", (second["through_id"],))
    head = db.execute("SELECT hash FROM events WHERE id = ?", (second["through_id"],))
    assert second["events"] == events.fetchone()[0] and second["head"] == head.fetchone()[0]
    db.close()
    assert second["through_id"] > first["through_id"] and second["swept_to"] == 3


def test_an_event_edited_after_the_checkpoint_is_found_at_once(
    archive: Path, checkpointing: None
) -> None:
    audit(archive, workers=1)
    (mark,) = checkpoints(archive)
    db = sqlite3.connect(archive / ledger.LEDGER_NAME)
    db.execute("UPDATE events SET outcome = 'failure' WHERE id = ?", (mark["through_id"] + 1,))
    db.commit()
    db.close()
    report = audit(archive, workers=1)
    assert chain_codes(report) == ["ledger.chain-broken"]
    assert (
        f"breaks at event {mark['through_id'] + 1} (chain.event-changed"
        in report.problems[0].message
    )
    assert len(checkpoints(archive)) == 1  # a broken chain gets no checkpoint


def test_an_old_event_edited_in_place_is_found_by_the_sweep(
    archive: Path, checkpointing: None
) -> None:
    audit(archive, workers=1)
    (mark,) = checkpoints(archive)
    edited = mark["through_id"] - 1  # before the checkpoint: the replay starts after it
    db = sqlite3.connect(archive / ledger.LEDGER_NAME)
    db.execute("UPDATE events SET detail = '{}' WHERE id = ?", (edited,))
    db.commit()
    db.close()
    assert not verify_ledger(archive).chain.ok  # the full replay sees it at once
    audits = 0
    while True:
        audits += 1
        report = audit(archive, workers=1)
        if report.problems:
            break
        assert audits < edited  # two events an audit: the sweep reaches it in time
    assert chain_codes(report) == ["ledger.chain-broken"]
    assert f"breaks at event {edited} (chain.event-changed" in report.problems[0].message
    assert audits == (edited + 1) // 2  # found when the sweep reached it, not before
    again = audit(archive, workers=1)  # and every audit after that
    assert chain_codes(again) == ["ledger.chain-broken"]


def test_a_chain_rewritten_under_its_checkpoint_is_found(
    archive: Path, checkpointing: None
) -> None:
    """Every hash recomputed after an edit passes a full replay (only a published head
    catches that); the checkpoint recorded the old hash of the event it vouches to."""
    audit(archive, workers=1)
    (mark,) = checkpoints(archive)
    db = sqlite3.connect(archive / ledger.LEDGER_NAME)
    db.row_factory = sqlite3.Row
    db.execute("UPDATE events SET outcome = 'failure' WHERE id = 2")
    prev = chain.GENESIS
    for row in db.execute("SELECT * FROM events ORDER BY id").fetchall():
        digest = chain.event_hash(prev, row)
        db.execute(
            "UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?", (prev, digest, row["id"])
        )
        prev = digest
    db.commit()
    db.close()
    assert verify_ledger(archive).chain.ok
    report = audit(archive, workers=1)
    assert chain_codes(report) == ["ledger.chain-broken"]
    assert "chain.checkpoint-mismatch" in report.problems[0].message
    assert str(mark["through_id"]) in report.problems[0].message


def test_a_short_chain_gets_no_checkpoint(archive: Path) -> None:
    audit(archive, workers=1)
    assert checkpoints(archive) == []  # under CHECKPOINT_MIN_EVENTS: replayed whole


def test_the_audit_holds_no_read_snapshot_while_it_verifies(archive: Path) -> None:
    """Regression: the plan's read transaction lasted the whole audit, so SQLite could
    not checkpoint its write-ahead log (3 GB by the end of a million bags). The queue
    is spooled and the snapshot ends before the first bag is verified."""
    busy: list[int] = []

    def checkpoint_now(_bag: BagAudit) -> None:
        other = sqlite3.connect(archive / ledger.LEDGER_NAME, timeout=0)
        try:
            # A write after the plan (the audit's own come in batches): a snapshot from
            # before it keeps the log's new frames from being checkpointed.
            other.execute("CREATE TABLE IF NOT EXISTS scratch (x)")
            other.execute("INSERT INTO scratch VALUES (1)")
            other.commit()
            busy.append(other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])
        finally:
            other.close()

    assert audit(archive, workers=1, progress=checkpoint_now).ok
    assert busy == [0, 0, 0, 0]


# --------------------------------------------------------------------------- rolling slices


@pytest.fixture
def rolling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints for a four-bag archive, and a rolling sweep of one row and two
    events a slice (a cycle: four slices)."""
    monkeypatch.setattr(ledger_check, "CHECKPOINT_MIN_EVENTS", 0)
    monkeypatch.setattr(ledger_check, "SWEEP_MIN_BAGS", 1)
    monkeypatch.setattr(ledger_check, "SWEEP_MIN_EVENTS", 2)


def verified_last(archive: Path, identifier: str) -> None:
    """Make ``identifier`` the most recently verified bag: the last a slice reaches."""
    db = sqlite3.connect(archive / ledger.LEDGER_NAME)
    db.execute("UPDATE bags SET last_verified_at = '2020-01-01T00:00:00Z'")
    db.execute(
        "UPDATE bags SET last_verified_at = '2030-01-01T00:00:00Z' WHERE identifier = ?",
        (identifier,),
    )
    db.commit()
    db.close()


def test_a_slice_compares_and_reads_only_its_bags_and_the_window(
    archive: Path, rolling: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (issue 14): a slice's plan compared every row with the chain and
    spooled, counted and stat-ed the whole queue (~80 s at a million bags before its
    first bag). Now its rows, one window of the rest and the events since the
    checkpoint; the queue is read by the index as far as the slice goes."""
    assert audit(archive, workers=1).ok  # the first audit: full, and a checkpoint
    scopes: list[str] = []
    whole = ledger_check.compare

    def compare(db: Any, found: Any, rows: Any, events: Any) -> None:
        scopes.append(rows[0])
        whole(db, found, rows, events)

    monkeypatch.setattr(ledger_check, "compare", compare)
    looked_at: list[str] = []
    present = audit_module._present
    monkeypatch.setattr(
        audit_module, "_present", lambda a, path: looked_at.append(path) or present(a, path)
    )
    report = audit(archive, limit=1, workers=1, keep_valid=False)
    assert report.ok and report.checked_count == 1 and report.skipped == 3
    assert "1" not in scopes and scopes  # no comparison of every row
    assert len(looked_at) == 2, looked_at  # its bag, and the window's one row


def test_an_edited_row_outside_the_slice_is_found_within_one_sweep_cycle(
    archive: Path, rolling: None
) -> None:
    bags = bag_dirs(archive)
    assert audit(archive, workers=1).ok
    target = bags[2].name
    verified_last(archive, target)  # no slice of this cycle checks it before the sweep
    db = sqlite3.connect(archive / ledger.LEDGER_NAME)
    db.execute("UPDATE bag_digests SET sha256 = ? WHERE identifier = ?", ("0" * 64, target))
    db.commit()
    db.close()
    assert not verify_ledger(archive).ok  # a full comparison sees it at once
    found_in = None
    for slice_number in range(1, len(bags) + 1):  # one cycle: a row a slice
        report = audit(archive, limit=1, workers=1, keep_valid=False)
        codes = {(b.identifier, p.code) for b in report.bags for p in b.problems}
        if (target, "ledger.digests-changed") in codes:
            found_in = slice_number
            break
        assert report.ok, report.as_dict()
    assert found_in is not None  # within the cycle, though no slice reached the bag
    assert found_in == 3  # when the window reached its row (the third), not before


def test_a_bag_deleted_outside_the_slice_is_found_within_one_sweep_cycle(
    archive: Path, rolling: None
) -> None:
    bags = bag_dirs(archive)
    assert audit(archive, workers=1).ok
    verified_last(archive, bags[1].name)
    shutil.rmtree(bags[1])
    for _ in range(len(bags)):
        report = audit(archive, limit=1, workers=1, keep_valid=False)
        missing = [b.identifier for b in report.bags if not b.valid]
        if missing:
            assert missing == [bags[1].name]
            assert [p.code for p in report.bags[0].problems] == ["ledger.bag-missing"]
            break
    else:
        pytest.fail("the missing bag was not found within one cycle of slices")


def test_an_unbounded_audit_still_compares_every_row(archive: Path, rolling: None) -> None:
    bags = bag_dirs(archive)
    assert audit(archive, limit=1, workers=1).ok  # a checkpoint; the window at the first row
    db = sqlite3.connect(archive / ledger.LEDGER_NAME)
    db.execute("UPDATE bag_digests SET sha256 = ? WHERE identifier = ?", ("0" * 64, bags[3].name))
    db.commit()
    db.close()
    report = audit(archive, workers=1, keep_valid=False)
    codes = [(b.identifier, p.code) for b in report.bags for p in b.problems]
    assert (bags[3].name, "ledger.digests-changed") in codes


@pytest.mark.parametrize("page_rows", [1, 500])
def test_rolling_slices_from_a_checkpoint_keep_the_queue_order(
    archive: Path, rolling: None, monkeypatch: pytest.MonkeyPatch, page_rows: int
) -> None:
    """The pages read by the index take the least recently verified first, each bag
    once a cycle, and a slice with a budget and no limit goes on to the last bag."""
    monkeypatch.setattr(audit_module, "PAGE_ROWS", page_rows)
    bags = [b.name for b in bag_dirs(archive)]
    assert audit(archive, workers=1).ok
    db = sqlite3.connect(archive / ledger.LEDGER_NAME)
    for minute, identifier in enumerate(reversed(bags)):  # the last bag first, and so on
        at = f"2020-01-01T00:0{minute}:00Z"
        db.execute("UPDATE bags SET last_verified_at = ? WHERE identifier = ?", (at, identifier))
    db.commit()
    db.close()
    order: list[str] = []
    for _ in range(2):
        report = audit(archive, limit=2, workers=1)
        assert report.ok and report.checked_count == 2 and report.skipped == 2
        order += [b.identifier for b in report.bags]
    assert order == list(reversed(bags))
    everything = audit(archive, budget=3600, workers=1)
    assert everything.checked_count == 4 and everything.skipped == 0
    assert sorted(b.identifier for b in everything.bags) == bags  # each once


def test_a_slice_with_a_budget_sweeps_the_share_the_last_audit_checked(
    archive: Path, rolling: None
) -> None:
    assert audit(archive, workers=1).ok  # checked four: the next window is four rows
    assert audit(archive, budget=3600, workers=1).ok
    db = sqlite3.connect(archive / ledger.LEDGER_NAME)
    details = [
        json.loads(d)
        for (d,) in db.execute(
            "SELECT detail FROM events WHERE type = ? ORDER BY id", (ledger_check.CHECKPOINT_EVENT,)
        )
    ]
    db.close()
    assert details[0]["checked"] == 4
    assert details[1]["bags_swept_to"] == "" and details[1]["checked"] == 4  # round, wrapped


# --------------------------------------------------------------------------- failing bags spooled


def test_failing_bags_are_spooled_not_held_in_memory(archive: Path) -> None:
    """Regression (issue 14): the report kept every failing bag in memory (~600 MB if a
    million fail). They go to a temporary file as they come and are read back."""
    bags = bag_dirs(archive)
    for bag in bags:
        break_bag(bag)
    report = audit(archive, workers=1, keep_valid=False)
    gc.collect()
    held = [o for o in gc.get_objects() if isinstance(o, BagAudit)]
    assert held == []  # none in memory, though all four fail
    assert report.invalid_count == 4 and len(report.bags) == 4 and not report.ok
    assert [b.identifier for b in report.bags] == [b.name for b in bags]  # read back, in order
    assert report.bags[2].identifier == bags[2].name
    assert all("manifest.digest-mismatch" in {p.code for p in b.problems} for b in report.bags)


@pytest.mark.parametrize("failing", [0, 1, 3])
def test_the_json_report_is_written_streamed_byte_for_byte(archive: Path, failing: int) -> None:
    for bag in bag_dirs(archive)[:failing]:
        break_bag(bag)
    report = audit(archive, workers=1, keep_valid=False)
    pieces: list[str] = []
    report.write_json(pieces.append)
    expected = json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n"
    assert "".join(pieces) == expected
    assert len(pieces) == (1 if failing == 0 else failing + 2)  # a bag at a time


def test_cli_text_report_reads_the_failing_bags_back(archive: Path) -> None:
    bags = bag_dirs(archive)
    break_bag(bags[0])
    shutil.rmtree(bags[3])
    result = CliRunner().invoke(cli, ["audit", str(archive), "--no-record"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("4 bags checked: 2 valid, 2 invalid")
    assert any(line.startswith(f"bags/{bags[0].name}: error manifest.") for line in lines)
    assert f"bags/{bags[3].name}: error ledger.bag-missing .: " in result.output


def test_a_bag_published_during_a_slice_is_left_for_the_next(
    archive: Path, rolling: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The slice reads its queue after the plan; a bag published in between has events
    the plan did not replay, so it is not checked against them: the next slice takes it."""
    assert audit(archive, workers=1).ok
    late = tmp_path / "late"
    late.mkdir()
    (late / "notice-late.txt").write_text(statement_text(99), encoding="utf-8")
    real_check = ledger_check.check

    def check_then_publish(db: Any, where: Path, **options: Any) -> Any:
        found = real_check(db, where, **options)
        monkeypatch.setattr(ledger_check, "check", real_check)
        assert ingest([late], archive).exit_code == 0  # after the plan's replay
        return found

    monkeypatch.setattr(ledger_check, "check", check_then_publish)
    report = audit(archive, budget=3600, workers=1)
    assert report.ok and report.checked_count == 4 and report.skipped == 0
    assert any("published after this audit began" in note for note in report.notes)
    after = audit(archive, limit=1, workers=1)
    assert after.ok and [b.identifier for b in after.bags] == [bag_dirs(archive)[-1].name]


def test_spooled_bags_read_back_in_order_across_chunks_and_interleaved() -> None:
    from preserve.audit import SpooledBags
    from preserve.bagit_format import Problem, Severity

    spool = SpooledBags()
    made = [
        BagAudit(
            f"bag-{i:04d}",
            f"bags/bag-{i:04d}",
            (Problem("x.code", "data/é.txt", "message ünïcode " * (i % 7), Severity.warning),)
            if i % 3
            else (),
            0.5,
            i,
            3,
        )
        for i in range(900)  # ~100 KiB: lines cross the 64 KiB reads
    ]
    for bag in made:
        spool.append(bag)
    assert len(spool) == 900 and spool[-1] == made[-1] and spool[1:3] == made[1:3]
    seen = []
    for index, bag in enumerate(spool):
        assert spool[899 - index] == made[899 - index]  # a read elsewhere in between
        seen.append(bag)
    assert seen == made
    with pytest.raises(IndexError):
        spool[900]
    spool.close()


@pytest.mark.parametrize("name", ["aaa-planted", "zzz-planted"])
def test_a_bag_planted_outside_the_slice_is_found_within_one_sweep_cycle(
    archive: Path, rolling: None, name: str
) -> None:
    """Before the first row's name or after the last: the windows cover every name."""
    bags = bag_dirs(archive)
    assert audit(archive, workers=1).ok
    shutil.copytree(bags[0], archive / "bags" / name)
    for _ in range(len(bags)):
        report = audit(archive, limit=1, workers=1, keep_valid=False)
        unknown = [(b.identifier, p.code) for b in report.bags for p in b.problems]
        if unknown:
            assert unknown == [(name, "ledger.bag-unknown")]
            break
    else:
        pytest.fail("the planted bag was not found within one cycle of slices")


def test_slices_sweep_the_chain_as_fast_as_they_go_round_the_bags(
    archive: Path, rolling: None
) -> None:
    """An old event edited in place (hashes left alone) is found within one cycle of
    slices: each sweeps its share of the chain (a quarter here), not a fixed stretch."""
    bags = bag_dirs(archive)
    assert audit(archive, workers=1).ok
    (mark,) = checkpoints(archive)
    db = sqlite3.connect(archive / ledger.LEDGER_NAME)
    edited = mark["through_id"] - 1
    db.execute("UPDATE events SET detail = '{}' WHERE id = ?", (edited,))
    db.commit()
    db.close()
    slices = 0
    while slices < len(bags):  # one cycle: a bag a slice
        slices += 1
        report = audit(archive, limit=1, workers=1, keep_valid=False)
        if report.problems:
            break
    assert chain_codes(report) == ["ledger.chain-broken"], "not found within one cycle"
    assert f"breaks at event {edited} (chain.event-changed" in report.problems[0].message
    assert slices > 1  # found by the sweep reaching it, not at once


def test_the_checkpoint_covers_the_audits_own_events(archive: Path, checkpointing: None) -> None:
    """Regression (issue 14): the checkpoint an audit recorded stopped where its plan
    did, so the next slice replayed the audit's own fixity events first (11 s before
    its first bag after a full audit of a million). They are replayed at the end."""
    assert audit(archive, workers=1).ok
    db = sqlite3.connect(archive / ledger.LEDGER_NAME)
    (marked,) = db.execute(
        "SELECT id FROM events WHERE type = ? ORDER BY id DESC LIMIT 1",
        (ledger_check.CHECKPOINT_EVENT,),
    ).fetchone()
    (last_fixity,) = db.execute("SELECT max(id) FROM events WHERE type = 'fixity check'").fetchone()
    db.close()
    (mark,) = checkpoints(archive)
    assert mark["through_id"] == last_fixity == marked - 1
    assert verify_ledger(archive).ok
    assert audit(archive, limit=1, workers=1).ok  # and a slice goes on from there
    assert checkpoints(archive)[-1]["through_id"] == marked + 1  # its own one event


def test_a_slice_lists_bags_only_when_its_window_reaches_the_last_row(
    archive: Path, rolling: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: every slice listed the whole of bags/ (0.6 s at a million bags,
    more than the rest of its plan) to look up the window's names. It is listed once a
    lap of the sweep, by the slice whose window reaches the last row, and every name
    looked up then: a planted bag is still found within one cycle."""
    bags = bag_dirs(archive)
    assert audit(archive, workers=1).ok  # full: lists bags/; a checkpoint
    planted = archive / "bags" / "aaa-planted"  # before every row: the first window's
    shutil.copytree(bags[0], planted)
    listed: list[int] = []
    scandir = os.scandir

    def counting(path: Any = ".") -> Any:
        if Path(path) == archive / "bags":
            listed.append(1)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", counting)
    found_at = []
    for number in range(1, len(bags) + 1):  # one cycle: a row of the window a slice
        before = len(listed)
        report = audit(archive, limit=1, workers=1, keep_valid=False)
        unknown = [b.identifier for b in report.bags if not b.valid]
        if unknown:
            assert unknown == [planted.name]
            found_at.append(number)
        assert len(listed) - before == (1 if number == len(bags) else 0), number
    assert found_at == [len(bags)]  # by the slice that listed bags/


def test_a_slice_reads_the_version_links_of_its_bags_and_its_window_only(
    archive: Path, rolling: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: every slice read the whole version_links table. A link to a version
    the archive lacks is still reported within one cycle of slices."""
    from preserve import versions

    bags = [b.name for b in bag_dirs(archive)]
    assert audit(archive, workers=1).ok
    verified_last(archive, bags[2])  # no slice of this cycle verifies it before the sweep
    db = sqlite3.connect(archive / ledger.LEDGER_NAME)
    db.execute(
        "INSERT INTO version_links VALUES (?, 'no-such-version', 'hasVersion', '2024-01-01')",
        (bags[2],),
    )
    db.commit()
    db.close()
    scopes: list[str] = []
    whole = versions.missing_links

    def scoped(db: Any, scope: Any = ("1", ())) -> Any:
        scopes.append(scope[0])
        return whole(db, scope)

    monkeypatch.setattr(versions, "missing_links", scoped)
    monkeypatch.setattr(audit_module, "PAGE_ROWS", 1)  # a page: the slice's one bag
    found_in = None
    for number in range(1, len(bags) + 1):
        report = audit(archive, limit=1, workers=1, keep_valid=False)
        if (bags[2], "ledger.version-missing") in {
            (b.identifier, p.code) for b in report.bags for p in b.problems
        }:
            found_in = number
            break
    assert found_in == 3  # when the window reached its row, not before
    assert scopes and "1" not in scopes  # never the whole table
