"""Killed at random points, and run side by side: the archive stays whole.

- At least 50 ingests into one archive are SIGKILLed after a random delay (seeded,
  so a failure can be replayed); after each kill an audit must find only complete,
  valid bags and no bag the ledger does not know; the next ingest recovers.
- Two ingests and audits run at the same time on one archive, five rounds: every
  audit taken while bags are being published reports nothing broken.

The killed ingests are forked from this (already warmed-up) process, so a kill
lands inside ingest itself, not in interpreter start-up, and 50 kills take seconds.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from preserve import ledger
from preserve.archive import IngestOptions, ingest
from preserve.audit import AuditReport, audit
from preserve.verify import verify_bag

from .test_archive import statement_text

KILLS = 50
SEED = 20240301


def _write_round(folder: Path, first: int, count: int) -> None:
    folder.mkdir(parents=True)
    for i in range(first, first + count):
        (folder / f"s{i:04d}.txt").write_text(statement_text(i), encoding="utf-8")


def _ingest_in_child(folder: Path, archive: Path) -> int:
    """Fork a child that ingests ``folder``; returns its pid (it never returns to pytest)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            report = ingest([folder], archive, IngestOptions(workers=1))
            code = int(report.exit_code)
        finally:
            os._exit(code)
    return pid


def _assert_whole(archive: Path, report: AuditReport) -> None:
    """What an audit may find after a kill: nothing wrong, only notes about interrupted
    publications; and every folder in bags/, audited or not, is a complete bag."""
    problems = [(b.identifier, p.code) for b in report.bags for p in b.problems]
    assert report.ok and not problems, problems
    assert all("being published (or interrupted)" in n for n in report.notes), report.notes
    for bag in (archive / "bags").iterdir():
        result = verify_bag(bag)
        assert result.valid, (bag.name, [p.one_line() for p in result.problems])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork() to kill ingests cheaply")
def test_fifty_random_kills_each_followed_by_an_audit(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    archive = tmp_path / "archive"
    # Warm up (fonts, schemas, imports) here, so forked children start at ingest proper,
    # and measure how long one statement takes, to spread the kills over that time.
    _write_round(tmp_path / "warm", 10_000, 1)
    ingest([tmp_path / "warm"], tmp_path / "scratch", IngestOptions(workers=1))
    _write_round(tmp_path / "measure", 10_001, 1)
    started = time.monotonic()
    _, status = os.waitpid(_ingest_in_child(tmp_path / "measure", tmp_path / "scratch"), 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    per_statement = time.monotonic() - started
    rounds: list[Path] = []
    kills = 0
    made = 0
    landed = {"staging": 0, "publishing": 0, "mid-batch": 0}  # where kills left things
    for round_number in range(KILLS * 2):
        if kills >= KILLS:
            break
        folder = tmp_path / "in" / f"round-{round_number:03d}"
        count = rng.randint(1, 3)
        _write_round(folder, made, count)
        made += count
        rounds.append(folder)
        bags_before = len(list((archive / "bags").iterdir())) if archive.exists() else 0
        pid = _ingest_in_child(folder, archive)
        # Kills land before, during and after staging, the ledger rows, the rename
        # and the final mark (and sometimes after the child has finished). The window
        # adapts: one ingest's time varies with the machine's load and caches, so a
        # child that finished first narrows it, a kill widens it a little again.
        time.sleep(rng.uniform(0.0, 1.1 * per_statement * count))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            kills += 1
            per_statement *= 1.05
        else:
            assert os.WEXITSTATUS(status) == 0
            per_statement *= 0.8
        if not (archive / ledger.LEDGER_NAME).exists():
            continue  # killed before the archive existed: nothing to audit yet
        report = audit(archive, workers=1)
        _assert_whole(archive, report)
        if os.WIFSIGNALED(status):
            landed["staging"] += bool(list((archive / "staging").iterdir()))
            landed["publishing"] += bool(report.notes)
            published = len(list((archive / "bags").iterdir())) - bags_before
            landed["mid-batch"] += 0 < published < count
    assert kills >= KILLS, f"only {kills} kills in {len(rounds)} rounds"
    print(f"{kills} kills in {len(rounds)} rounds; left behind: {landed}")
    # The kills reached the interesting places, not only start-up: a half-written bag
    # in staging, a batch cut between two bags. (Between a bag's 'publishing' row and
    # its final mark is a window of a rename; test_archive kills there on purpose.)
    assert landed["staging"] >= 5 and landed["mid-batch"] >= 3, landed
    # The next ingest recovers whatever was interrupted and completes every statement.
    report = ingest(rounds, archive, IngestOptions(workers=1))
    assert report.exit_code == 0, report.as_dict()
    assert len(list((archive / "bags").iterdir())) == made
    assert not list((archive / "staging").iterdir())
    db = ledger.connect(archive, readonly=True)
    try:
        states = {b.state for b in ledger.all_bags(db)}
    finally:
        db.close()
    assert states == {"published"}
    final = audit(archive, workers=1)
    assert final.ok and len(final.bags) == made and not final.notes


def _cli_ingest(folder: Path, archive: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "preserve", "-q", "ingest", str(folder)]
    return subprocess.Popen(
        [*command, "--archive", str(archive), "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_two_ingests_and_audits_at_once(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    made = 0
    audits = 0
    for round_number in range(5):
        folders = []
        for side in ("left", "right"):
            folder = tmp_path / f"{side}-{round_number}"
            _write_round(folder, made, 3)
            made += 3
            folders.append(folder)
        if round_number == 0:
            # Both ingests may create the archive at once too, but audit needs a ledger.
            ingest([folders.pop()], archive, IngestOptions(workers=1))
        procs = [_cli_ingest(folder, archive) for folder in folders]
        while any(p.poll() is None for p in procs):
            report = audit(archive, workers=1)
            audits += 1
            problems = [(b.identifier, p.code, p.message) for b in report.bags for p in b.problems]
            assert report.ok and not problems, problems
        for p in procs:
            assert p.wait() == 0, p.stderr.read() if p.stderr else ""
        final = audit(archive, workers=2)
        assert final.ok and len(final.bags) == made and not final.notes
    assert audits >= 5  # audits really overlapped the ingests
    assert not list((archive / "staging").iterdir())


def test_bag_published_between_listing_and_ledger_read_is_not_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: audit lists bags/ and then reads the ledger; a bag renamed and marked
    published in between was reported as ``ledger.bag-missing``."""
    import preserve.audit as audit_mod

    archive = tmp_path / "archive"
    _write_round(tmp_path / "first", 0, 1)
    _write_round(tmp_path / "second", 1, 1)
    ingest([tmp_path / "first"], archive, IngestOptions(workers=1))
    real_check = audit_mod.ledger_check.check

    def check_after_a_publication(db: object, where: Path, **options: Any) -> object:
        # A concurrent ingest publishes (rename and final mark) right now, after the
        # listing and before the ledger snapshot's first read.
        assert ingest([tmp_path / "second"], archive, IngestOptions(workers=1)).exit_code == 0
        monkeypatch.setattr(audit_mod.ledger_check, "check", real_check)
        return real_check(db, where, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(audit_mod.ledger_check, "check", check_after_a_publication)
    report = audit(archive, workers=1)
    problems = [(b.identifier, p.code) for b in report.bags for p in b.problems]
    assert report.ok and not problems, problems
    assert len(report.bags) == 2
