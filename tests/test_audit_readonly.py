"""Rolling slices of a read-only archive: they record no checkpoint and no result, so
their place comes from a state file the user names, or from the clock, and over a
cycle of them every bag is verified and every row and old event swept
(preserve.rotation)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from preserve import audit as audit_module
from preserve import ledger, ledger_check, rotation
from preserve.archive import ingest
from preserve.audit import AuditReport, audit
from preserve.cli import cli

from .test_archive import make_statements, tree_digest

BAGS = 4


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive of four bags, made once; tests work on copies."""
    root = tmp_path_factory.mktemp("pristine")
    make_statements(root / "in", BAGS)
    report = ingest([root / "in"], root / "archive")
    assert report.exit_code == 0, report.as_dict()
    return root / "archive"


@pytest.fixture
def rolling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints for a four-bag archive, and a sweep of one row and two events a
    slice (a cycle: four slices of one bag)."""
    monkeypatch.setattr(ledger_check, "CHECKPOINT_MIN_EVENTS", 0)
    monkeypatch.setattr(ledger_check, "SWEEP_MIN_BAGS", 1)
    monkeypatch.setattr(ledger_check, "SWEEP_MIN_EVENTS", 2)


def bag_names(archive: Path) -> list[str]:
    return sorted(p.name for p in (archive / "bags").iterdir())


def _chmod_tree(root: Path, writable: bool) -> None:
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        os.chmod(path, mode | stat.S_IWUSR if writable else mode & ~0o222)


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """Make archives read-only (every write bit off). Root writes regardless of modes
    (so ``os.access`` says writable), as a read-only mount would stop it: there the
    audit is made to find it read-only as it would on such a mount (the ledger
    opened ``mode=ro``); test_a_read_only_bind_mount runs the real thing."""
    made: list[Path] = []
    real_open = audit_module._open

    def opened(archive: Path) -> tuple[sqlite3.Connection, str | None]:
        if archive in made and os.access(archive, os.W_OK):
            reason = "archive is read-only: results were not recorded in the ledger"
            return ledger.connect(archive, readonly=True), reason
        return real_open(archive)

    monkeypatch.setattr(audit_module, "_open", opened)
    yield made
    for archive in made:
        _chmod_tree(archive, writable=True)


def freeze(archive: Path, made: list[Path]) -> Path:
    archive = archive.absolute()
    _chmod_tree(archive, writable=False)
    made.append(archive)
    return archive


def edit(archive: Path, sql: str, *params: object) -> None:
    db = sqlite3.connect(archive / ledger.LEDGER_NAME)
    db.execute(sql, params)
    db.commit()
    db.close()


def checkpoint_through(archive: Path) -> int:
    db = sqlite3.connect(archive / ledger.LEDGER_NAME)
    row = db.execute(
        "SELECT detail FROM events WHERE type = ? ORDER BY id DESC LIMIT 1",
        (ledger_check.CHECKPOINT_EVENT,),
    ).fetchone()
    db.close()
    return int(json.loads(row[0])["through_id"])


def unlogged(files: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in files.items() if not k.startswith("ledger.sqlite-")}


def problems(report: AuditReport) -> set[tuple[str, str]]:
    found = {(b.identifier, p.code) for b in report.bags for p in b.problems}
    return found | {("", p.code) for p in report.problems}


def test_read_only_slices_with_a_state_file_verify_every_bag_once_a_cycle(
    archive: Path, tmp_path: Path, read_only: list[Path]
) -> None:
    """Regression: a read-only slice wrote no result, so the next took the same least
    recently verified bags, and so on for ever."""
    archive = freeze(archive, read_only)
    before = tree_digest(archive)
    state = tmp_path / "state.json"
    verified: list[str] = []
    for _ in range(BAGS):
        report = audit(archive, limit=1, workers=1, state=state)
        assert report.ok and not report.recorded and report.checked_count == 1
        assert any("no checkpoint recorded" in n and str(state) in n for n in report.notes)
        verified += [b.identifier for b in report.bags]
    assert verified == bag_names(archive)  # each once, in identifier order
    again = audit(archive, limit=1, workers=1, state=state)
    assert [b.identifier for b in again.bags] == verified[:1]  # and round again
    # Nothing written in the archive (root's SQLite may add the log's empty -wal and
    # -shm, which a read-only mount would not let it: the bind-mount test checks all).
    assert unlogged(tree_digest(archive)) == unlogged(before)
    doc = json.loads(state.read_text(encoding="utf-8"))
    assert doc["format"] == rotation.STATE_FORMAT and doc["runs"] == BAGS + 1


def test_an_old_event_edited_outside_read_only_slices_is_found_within_one_cycle(
    archive: Path, tmp_path: Path, rolling: None, read_only: list[Path]
) -> None:
    """Regression: a read-only slice swept the stretch of events its checkpoint named,
    every time: an event edited in place elsewhere was never found."""
    assert audit(archive, workers=1).ok  # with write access: a checkpoint
    edited = checkpoint_through(archive) - 1  # the last stretch of the sweep
    edit(archive, "UPDATE events SET detail = '{}' WHERE id = ?", edited)
    archive = freeze(archive, read_only)
    state = tmp_path / "state.json"
    slices = 0
    while slices < BAGS:  # one cycle: a bag a slice
        slices += 1
        report = audit(archive, limit=1, workers=1, state=state)
        if report.problems:
            break
    assert ("", "ledger.chain-broken") in problems(report), "not found within one cycle"
    assert f"breaks at event {edited} (chain.event-changed" in report.problems[0].message
    assert slices > 1  # found when the sweep reached it, not at once


@pytest.mark.parametrize("tamper", ["row edited", "bag deleted", "bag planted"])
def test_tampering_outside_read_only_slices_is_found_within_one_cycle(
    archive: Path, tmp_path: Path, rolling: None, read_only: list[Path], tamper: str
) -> None:
    """The sweep's window of rows moves with the state file: a row edited, a bag
    deleted or planted where no slice of the cycle has reached yet is found."""
    names = bag_names(archive)
    assert audit(archive, workers=1).ok
    target = names[-1] if tamper != "bag planted" else "zzz-planted"
    if tamper == "row edited":
        edit(archive, "UPDATE bag_digests SET sha256 = ? WHERE identifier = ?", "0" * 64, target)
        expected = "ledger.digests-changed"
    elif tamper == "bag deleted":
        shutil.rmtree(archive / "bags" / target)
        expected = "ledger.bag-missing"
    else:
        shutil.copytree(archive / "bags" / names[0], archive / "bags" / target)
        expected = "ledger.bag-unknown"
    archive = freeze(archive, read_only)
    state = tmp_path / "state.json"
    found_in = None
    for slices in range(1, BAGS + 1):
        report = audit(archive, limit=1, workers=1, state=state, keep_valid=False)
        if (target, expected) in problems(report):
            found_in = slices
            break
        assert report.ok, report.as_dict()
    assert found_in is not None, f"{tamper}: not found within one cycle of read-only slices"


def test_read_only_slices_without_a_state_file_take_their_window_from_the_clock(
    archive: Path, rolling: None, read_only: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No state file: the window of the hour (one of eleven, a prime): runs at any
    whole-hour interval (here every two hours) go round every window and every bag."""
    names = bag_names(archive)
    assert audit(archive, workers=1).ok
    edited = checkpoint_through(archive) - 1
    edit(archive, "UPDATE events SET detail = '{}' WHERE id = ?", edited)
    archive = freeze(archive, read_only)
    verified: set[str] = set()
    broken_at: list[int] = []
    windows: set[str] = set()
    for run in range(rotation.MIN_WINDOWS):
        monkeypatch.setattr(rotation, "clock_hour", lambda run=run: 1000 + 2 * run)
        report = audit(archive, limit=1, workers=1)
        assert not report.recorded
        (note,) = [n for n in report.notes if "no checkpoint recorded" in n]
        assert "the clock: window" in note and "of 11" in note
        windows.add(note)
        verified |= {b.identifier for b in report.bags}
        if report.problems:
            broken_at.append(run)
    assert verified == set(names)  # every bag within one cycle of the clock's windows
    assert len(windows) == rotation.MIN_WINDOWS  # a new window every run
    assert broken_at and len(broken_at) < rotation.MIN_WINDOWS  # found by its window only


def test_a_state_file_that_is_not_one_is_refused_and_left_alone(
    archive: Path, tmp_path: Path, read_only: list[Path]
) -> None:
    archive = freeze(archive, read_only)
    state = tmp_path / "notes.txt"
    state.write_text("my own notes\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["audit", str(archive), "--limit", "1", "--state", str(state)])
    assert result.exit_code == 2, result.output
    assert "notes.txt" in result.output and "not an audit state file" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert state.read_text(encoding="utf-8") == "my own notes\n"
    link = tmp_path / "link.json"
    link.symlink_to(state)
    linked = runner.invoke(cli, ["audit", str(archive), "--limit", "1", "--state", str(link)])
    assert linked.exit_code == 2 and "symbolic link" in linked.output, linked.output
    assert link.is_symlink() and state.read_text(encoding="utf-8") == "my own notes\n"


def test_a_state_file_that_cannot_be_kept_is_refused_before_the_slice(
    archive: Path, tmp_path: Path, read_only: list[Path]
) -> None:
    archive = freeze(archive, read_only)
    state = tmp_path / "no-such-folder" / "state.json"
    result = CliRunner().invoke(cli, ["audit", str(archive), "--limit", "1", "--state", str(state)])
    assert result.exit_code == 2, result.output
    assert "state.json" in result.output and "not writable" in result.output
    assert "bags checked" not in result.output  # refused before the slice, not after
    assert not state.parent.exists()


def test_a_state_file_of_another_archive_starts_afresh(
    archive: Path, pristine: Path, tmp_path: Path, read_only: list[Path]
) -> None:
    state = tmp_path / "state.json"
    other = tmp_path / "other"
    make_statements(tmp_path / "in", 2)
    assert ingest([tmp_path / "in"], other).exit_code == 0
    other = freeze(other, read_only)
    archive = freeze(archive, read_only)
    audit(other, limit=1, workers=1, state=state)
    report = audit(archive, limit=1, workers=1, state=state)
    assert [b.identifier for b in report.bags] == bag_names(archive)[:1]
    assert any("a state file of another archive" in n for n in report.notes)


def test_a_writable_slice_keeps_its_place_in_the_chain_not_the_state_file(
    archive: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    report = audit(archive, limit=1, workers=1, state=state)
    assert report.recorded and not state.exists()
    assert not any("no checkpoint recorded" in n for n in report.notes)


def test_cli_read_only_slice_says_which_window_it_swept(
    archive: Path, tmp_path: Path, rolling: None, read_only: list[Path]
) -> None:
    assert audit(archive, workers=1).ok
    archive = freeze(archive, read_only)
    state = tmp_path / "state.json"
    result = CliRunner().invoke(
        cli, ["audit", str(archive), "--limit", "1", "--workers", "1", "--state", str(state)]
    )
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.output.splitlines() if "no checkpoint recorded" in x]
    assert "swept the rows after" in line and "events" in line and str(state) in line
    assert "read-only" in result.output


def test_a_read_only_bind_mount(archive: Path, tmp_path: Path) -> None:
    """The real thing: slices as commands on a read-only bind mount (which stops root
    too), each bag verified once in a cycle, the archive unchanged."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("mount"):
        pytest.skip("needs root with unshare and mount for a read-only bind mount")
    before = tree_digest(archive)
    state = tmp_path / "state" / "replica.json"
    state.parent.mkdir()
    command = f"{sys.executable} -m preserve audit {archive} --json --limit 1 --state {state}"
    verified: list[str] = []
    for _ in range(BAGS):
        run = subprocess.run(
            [
                "unshare",
                "--mount",
                "sh",
                "-c",
                f"mount --bind -o ro {archive} {archive} && {command}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if "mount" in run.stderr and run.returncode != 0 and not run.stdout:
            pytest.skip(f"read-only bind mount not permitted here: {run.stderr.strip()}")
        assert run.returncode == 0, run.stderr
        report = json.loads(run.stdout)
        assert report["ok"] and report["recorded"] is False and report["checked"] == 1
        assert any("no checkpoint recorded" in n for n in report["notes"])
        verified.append(json.loads(state.read_text(encoding="utf-8"))["queue_after"])
    assert verified == bag_names(archive)
    assert tree_digest(archive) == before


def test_no_record_with_a_state_file_goes_round_on_a_writable_archive(
    archive: Path, tmp_path: Path
) -> None:
    """``--no-record --state FILE``: nothing written to the ledger, and the slices go
    round as read-only ones do (without the file they take the least recently
    verified, the same each time, as before)."""
    state = tmp_path / "state.json"
    ledger_before = (archive / ledger.LEDGER_NAME).read_bytes()
    seen = [
        b.identifier
        for _ in range(BAGS)
        for b in audit(archive, limit=1, workers=1, record=False, state=state).bags
    ]
    assert seen == bag_names(archive)
    assert (archive / ledger.LEDGER_NAME).read_bytes() == ledger_before


def test_a_read_only_slice_with_a_budget_goes_on_from_where_the_last_stopped(
    archive: Path, tmp_path: Path, read_only: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A budget with no limit: each slice checks what its time allows (two bags here,
    the budget running out after the second), the next goes on after them."""
    archive = freeze(archive, read_only)
    state = tmp_path / "state.json"
    ticks = iter(range(1000))
    monkeypatch.setattr(audit_module.time, "monotonic", lambda: float(next(ticks)))
    first = audit(archive, budget=3, workers=1, state=state)
    ticks = iter(range(1000))
    second = audit(archive, budget=3, workers=1, state=state)
    taken = [b.identifier for b in first.bags] + [b.identifier for b in second.bags]
    assert len(first.bags) == len(second.bags) == 2 and first.skipped == 2
    assert taken == bag_names(archive)  # no bag twice, none passed over
    assert json.loads(state.read_text(encoding="utf-8"))["checked"] == len(second.bags)
