"""The audit: every bag verified and compared with the ledger; only the ledger written."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import bagit
import jsonschema
import pytest
from click.testing import CliRunner

from preserve import ledger
from preserve.archive import ingest
from preserve.audit import audit, parse_duration, status
from preserve.cli import cli
from preserve.metadata import load_schema

from .test_archive import make_statements, tree_digest


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive of three bags, made once; tests work on copies."""
    root = tmp_path_factory.mktemp("pristine")
    make_statements(root / "in", 3)
    report = ingest([root / "in"], root / "archive")
    assert report.exit_code == 0, report.as_dict()
    return root / "archive"


def codes(report_bags: object) -> set[tuple[str, str, str]]:
    return {
        (bag.identifier, p.code, p.path)  # type: ignore[attr-defined]
        for bag in report_bags  # type: ignore[attr-defined]
        for p in bag.problems
    }


def first_bag(archive: Path) -> Path:
    return sorted((archive / "bags").iterdir())[0]


def test_clean_archive_audits_clean_and_records_results(archive: Path) -> None:
    report = audit(archive)
    assert report.ok and len(report.bags) == 3 and report.recorded
    db = ledger.connect(archive, readonly=True)
    bags = ledger.all_bags(db)
    events = db.execute("SELECT type, outcome FROM events WHERE type = 'fixity check'").fetchall()
    db.close()
    assert {b.last_result for b in bags} == {"success"}
    assert len(events) == 3


def test_audit_writes_nothing_but_the_ledger(archive: Path) -> None:
    before = tree_digest(archive / "bags")
    audit(archive)
    assert tree_digest(archive / "bags") == before


def test_corrupt_payload_is_named(archive: Path) -> None:
    bag = first_bag(archive)
    pdf = next((bag / "data/pdfa").iterdir())
    data = bytearray(pdf.read_bytes())
    data[len(data) // 2] ^= 0x01
    pdf.write_bytes(bytes(data))
    report = audit(archive)
    assert not report.ok
    found = codes(report.bags)
    rel = f"data/pdfa/{pdf.name}"
    assert any(ident == bag.name and path == rel for ident, _code, path in found), found


def test_consistent_rewrite_is_caught_through_the_ledger(archive: Path) -> None:
    """Edit a payload file and recompute every manifest: only the ledger can tell."""
    bag_dir = first_bag(archive)
    original = next((bag_dir / "data/original").iterdir())
    original.write_bytes(original.read_bytes().replace(b"Sundays", b"Mondays"))
    bag = bagit.Bag(str(bag_dir))
    bag.save(manifests=True)  # recomputes payload and tag manifests consistently
    bagit.Bag(str(bag_dir)).validate()  # the bag alone looks fine
    report = audit(archive)
    assert not report.ok
    assert (bag_dir.name, "ledger.tagmanifest-changed", "tagmanifest-sha256.txt") in codes(
        report.bags
    )


def test_missing_and_planted_bags(archive: Path, tmp_path: Path) -> None:
    gone = first_bag(archive)
    shutil.rmtree(gone)
    planted = archive / "bags" / "planted-bag"
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "f.txt").write_text("x")
    bagit.make_bag(str(tmp_path / "p"))
    shutil.copytree(tmp_path / "p", planted)
    found = codes(audit(archive).bags)
    assert (gone.name, "ledger.bag-missing", "") in found
    assert ("planted-bag", "ledger.bag-unknown", "") in found


def test_copied_archive_audits_clean_elsewhere(archive: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(archive, moved)
    assert audit(moved).ok


def test_read_only_archive_is_audited_and_unchanged(archive: Path) -> None:
    """On read-only storage (a read-only bind mount, which stops root too)."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("mount"):
        pytest.skip("needs root with unshare and mount for a read-only bind mount")
    before = tree_digest(archive)
    script = (
        f"mount --bind -o ro {archive} {archive} && "
        f"{sys.executable} -m preserve audit {archive} --json"
    )
    run = subprocess.run(
        ["unshare", "--mount", "sh", "-c", script], capture_output=True, text=True, check=False
    )
    if "mount" in run.stderr and run.returncode != 0 and not run.stdout:
        pytest.skip(f"read-only bind mount not permitted here: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["ok"] and report["checked"] == 3 and report["recorded"] is False
    assert tree_digest(archive) == before


def test_rolling_audit_takes_least_recently_verified_first(archive: Path) -> None:
    first = audit(archive, limit=1)
    assert len(first.bags) == 1 and first.skipped == 2
    second = audit(archive, limit=2)
    assert {b.identifier for b in second.bags}.isdisjoint({first.bags[0].identifier})
    rows = status(archive, max_age=parse_duration("90d"))
    assert all(r.last_verified_at for r in rows) and not any(r.overdue for r in rows)


def test_status_marks_never_verified_as_overdue(archive: Path) -> None:
    rows = status(archive)
    assert len(rows) == 3 and all(r.overdue for r in rows)


def test_status_streams_rows_without_loading_every_bag(
    archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``audit --status`` reads the ledger row by row: loading every bag and all its
    digests (``ledger.all_bags``) would need gigabytes at a million bags."""
    audit(archive, limit=1)

    def refuse(*_: object) -> None:
        raise AssertionError("audit --status loaded every bag at once")

    monkeypatch.setattr(ledger, "all_bags", refuse)
    result = CliRunner().invoke(cli, ["audit", str(archive), "--status", "--json"])
    assert result.exit_code == 1, result.output  # two bags never verified: overdue
    document = json.loads(result.output)
    rows = document["bags"]
    # Never verified first (by identifier), then the one verified.
    assert [r["last_verified_at"] is None for r in rows] == [True, True, False]
    assert [r["identifier"] for r in rows[:2]] == sorted(r["identifier"] for r in rows[:2])
    assert [c["identifier"] for c in document["copies"]] == [r["identifier"] for r in rows]
    # A bag never verified has no copy known good: at risk until an audit says otherwise.
    assert document["at_risk"] == [r["identifier"] for r in rows[:2]]
    assert document["required_copies"] == 1
    text = CliRunner().invoke(cli, ["audit", str(archive), "--status"])
    assert text.exit_code == 1 and text.output.rstrip().endswith(
        "3 bags, 2 overdue (older than 90d)"
    )


def test_cli_audit_json_matches_schema_and_exit_codes(archive: Path) -> None:
    result = CliRunner().invoke(cli, ["audit", str(archive), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    jsonschema.validate(document, load_schema("audit-report.schema.json"))
    shutil.rmtree(first_bag(archive))
    result = CliRunner().invoke(cli, ["audit", str(archive)])
    assert result.exit_code == 1
    assert "ledger.bag-missing" in result.output
    result = CliRunner().invoke(cli, ["audit", str(archive.parent / "nowhere")])
    assert result.exit_code == 2


def test_ledger_digests_match_disk_after_ingest(archive: Path) -> None:
    with sqlite3.connect(archive / "ledger.sqlite") as db:
        rows = db.execute(
            "SELECT b.path, d.file, d.sha256 FROM bags b JOIN bag_digests d USING (identifier)"
        ).fetchall()
    assert rows
    for path, name, digest in rows:
        assert hashlib.sha256((archive / path / name).read_bytes()).hexdigest() == digest


def test_our_bag_checks_run_in_the_audit(archive: Path) -> None:
    """A consistent rewrite that breaks the metadata and the PDF/A claim is named precisely."""
    bag_dir = first_bag(archive)
    meta = bag_dir / "data/metadata/statement.json"
    record = json.loads(meta.read_bytes())
    record["date_issued"] = "2024-02-30"
    meta.write_text(json.dumps(record), encoding="utf-8")
    pdf = next((bag_dir / "data/pdfa").iterdir())
    import pikepdf

    with pikepdf.open(pdf, allow_overwriting_input=True) as doc:
        del doc.Root.OutputIntents
        doc.save(pdf)
    bagit.Bag(str(bag_dir)).save(manifests=True)
    found = {(code, path) for _ident, code, path in codes(audit(archive).bags)}
    assert ("metadata.invalid", "data/metadata/statement.json") in found
    assert ("pdfa.no-output-intent", f"data/pdfa/{pdf.name}") in found
    assert ("ledger.tagmanifest-changed", "tagmanifest-sha256.txt") in found


@pytest.mark.parametrize("option", ["--budget", "--max-age"])
@pytest.mark.parametrize("value", ["99999999999999999999h", "36526d", "1e9d"])
def test_durations_are_bounded_with_a_usage_error(archive: Path, option: str, value: str) -> None:
    """D23: a huge --budget was an OverflowError traceback."""
    args = ["audit", str(archive), option, value]
    if option == "--max-age":
        args.append("--status")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and value in result.output
    with pytest.raises(ValueError):
        parse_duration(value)
    assert parse_duration("36525d").days == 36525


def test_a_planted_folder_whose_name_is_not_utf8_is_reported_not_a_crash(archive: Path) -> None:
    """Regression: a planted folder named with bytes that are not UTF-8 made the audit
    end in a traceback (its name could be neither looked up nor written)."""
    os.mkdir(os.fsencode(archive / "bags") + b"/\xff-planted")
    result = CliRunner().invoke(cli, ["audit", str(archive), "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert [(b["identifier"], [p["code"] for p in b["problems"]]) for b in report["bags"]] == [
        ("\\xff-planted", ["ledger.bag-unknown"])
    ]
