"""The chain is the audit's ground truth: tables edited behind preserve's back are found.

Each test plays an attacker (or an accident) with a plain SQLite client and the
file system on a real, signed archive, then runs the real audit, ``ledger verify``
and ingest, through the API and the command line.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import bagit
import pytest
from click.testing import CliRunner

from preserve import ledger
from preserve.archive import IngestOptions, ingest
from preserve.audit import AuditReport, audit
from preserve.cli import cli
from preserve.keys import generate_key, trust_key
from preserve.ledger_check import verify_ledger
from preserve.signing import sign_bag

from .test_archive import make_statements


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three bags, signed at ingest by a key the archive trusts (through preserve)."""
    root = tmp_path_factory.mktemp("truth")
    make_statements(root / "in", 3)
    (root / "keys").mkdir()
    key, _ = generate_key(root / "keys" / "archivist.key")
    trust_key(root / "archive", key.public)
    report = ingest([root / "in"], root / "archive", IngestOptions(signing_key=key, workers=1))
    assert report.exit_code == 0, report.as_dict()
    assert audit(root / "archive", workers=1).ok
    return root / "archive"


@pytest.fixture
def statements(pristine: Path) -> Path:
    return pristine.parent / "in"


def raw(archive: Path) -> sqlite3.Connection:
    """What an attacker has: the SQLite file, no foreign keys, no preserve."""
    return sqlite3.connect(archive / "ledger.sqlite", isolation_level=None)


def found(report: AuditReport) -> set[tuple[str, str]]:
    return {(b.identifier, p.code) for b in report.bags for p in b.problems} | {
        ("", p.code) for p in report.problems
    }


def first(archive: Path) -> Path:
    return sorted((archive / "bags").iterdir())[0]


def rewrite_consistently(bag_dir: Path) -> dict[str, str]:
    """Edit the statement as received and recompute every manifest; returns the new
    tag-manifest digests (what a forger would write into the ledger)."""
    import hashlib

    original = next((bag_dir / "data/original").iterdir())
    original.write_bytes(original.read_bytes().replace(b"Sundays", b"Mondays"))
    shutil.rmtree(bag_dir / "signatures", ignore_errors=True)
    bagit.Bag(str(bag_dir)).save(manifests=True)
    bagit.Bag(str(bag_dir)).validate()  # the bag alone looks fine
    return {
        name: hashlib.sha256((bag_dir / name).read_bytes()).hexdigest()
        for name in ("tagmanifest-sha256.txt", "tagmanifest-sha512.txt")
    }


def forge_digests(archive: Path, identifier: str, digests: dict[str, str]) -> None:
    db = raw(archive)
    for name, digest in digests.items():
        db.execute(
            "UPDATE bag_digests SET sha256 = ? WHERE identifier = ? AND file = ?",
            (digest, identifier, name),
        )
    db.close()


def ledger_verify(archive: Path) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(cli, ["ledger", "verify", "--json", str(archive)])
    return result.exit_code, json.loads(result.stdout)


def test_pristine_archive_agrees_with_its_chain(archive: Path) -> None:
    check = verify_ledger(archive)
    assert check.bound and check.ok and check.chain.ok, check
    assert len(check.trusted_pems) == 1
    code, doc = ledger_verify(archive)
    assert code == 0 and doc["tables"] == []


def test_d12_consistent_rewrite_with_the_digest_table_edited(archive: Path) -> None:
    bag_dir = first(archive)
    forge_digests(archive, bag_dir.name, rewrite_consistently(bag_dir))
    report = audit(archive, workers=1)
    assert not report.ok
    assert {
        (bag_dir.name, "ledger.tagmanifest-changed"),
        (bag_dir.name, "ledger.digests-changed"),
    } <= found(report)
    code, doc = ledger_verify(archive)
    assert code == 1
    assert [t["code"] for t in doc["tables"]] == ["ledger.digests-changed"]  # type: ignore[index]
    result = CliRunner().invoke(cli, ["audit", str(archive)])
    assert result.exit_code == 1 and "ledger.digests-changed" in result.output


def test_sign_refuses_a_rewritten_bag_whose_table_digests_were_edited(
    archive: Path, pristine: Path
) -> None:
    bag_dir = first(archive)
    forge_digests(archive, bag_dir.name, rewrite_consistently(bag_dir))
    key = pristine.parent / "keys" / "archivist.key"
    result = CliRunner().invoke(cli, ["sign", "--key", str(key), str(bag_dir)])
    assert result.exit_code == 1, result.output
    assert "differs from the ledger's record at ingest" in result.stderr
    assert not (bag_dir / "signatures").exists()


def test_a_symlink_in_trusted_keys_is_not_followed(archive: Path, tmp_path: Path) -> None:
    _, public = generate_key(tmp_path / "elsewhere.key")
    (archive / "trusted-keys" / "linked.pem").symlink_to(public)
    report = audit(archive, workers=1)
    assert [(p.code, p.path) for p in report.problems] == [
        ("ledger.key-unreadable", "trusted-keys/linked.pem")
    ]


def test_d12_resigned_with_a_key_dropped_into_trusted_keys(archive: Path, tmp_path: Path) -> None:
    """Re-signed by a forger whose key was put in trusted-keys/ by hand (no chained
    trust), and the digest table edited: the audit still fails, naming each part."""
    bag_dir = first(archive)
    forged = rewrite_consistently(bag_dir)
    forger, forger_pub = generate_key(tmp_path / "forger.key")
    sign_bag(bag_dir, forger)
    shutil.copy(forger_pub, archive / "trusted-keys" / "forger.pem")
    forge_digests(archive, bag_dir.name, forged)
    report = audit(archive, workers=1)
    assert not report.ok
    codes = found(report)
    assert ("", "ledger.key-unrecorded") in codes
    assert (bag_dir.name, "signature.untrusted-signer") in codes
    assert (bag_dir.name, "ledger.tagmanifest-changed") in codes
    assert (bag_dir.name, "ledger.digests-changed") in codes


def test_keys_trust_is_a_chained_event_and_the_audit_accepts_it(
    archive: Path, tmp_path: Path
) -> None:
    _, public = generate_key(tmp_path / "second.key")
    result = CliRunner().invoke(cli, ["keys", "trust", str(archive), str(public)])
    assert result.exit_code == 0, result.output
    db = raw(archive)
    events = db.execute("SELECT detail FROM events WHERE type = 'key trust'").fetchall()
    assert len(events) == 2  # the archivist's, then this one
    assert audit(archive, workers=1).ok
    assert verify_ledger(archive).ok
    # A trusted key's file deleted behind preserve's back is reported as trust lost.
    (archive / "trusted-keys" / json.loads(events[1][0])["file"].split("/")[1]).unlink()
    assert ("", "ledger.key-missing") in found(audit(archive, workers=1))


def test_a_rolling_audit_reaches_disagreeing_rows_first(archive: Path) -> None:
    last = sorted((archive / "bags").iterdir())[-1]
    assert audit(archive, workers=1).ok  # every bag verified once: the order is by time
    forge_digests(archive, last.name, {"tagmanifest-sha256.txt": "0" * 64})
    report = audit(archive, workers=1, limit=1)
    assert [b.identifier for b in report.bags] == [last.name]
    assert (last.name, "ledger.digests-changed") in found(report)


def test_d13_bag_and_row_deleted(archive: Path) -> None:
    bag_dir = first(archive)
    shutil.rmtree(bag_dir)
    db = raw(archive)
    db.execute("DELETE FROM bags WHERE identifier = ?", (bag_dir.name,))
    db.close()
    report = audit(archive, workers=1)
    assert not report.ok
    assert {
        (bag_dir.name, "ledger.row-missing"),
        (bag_dir.name, "ledger.bag-missing"),
    } <= found(report)
    assert ledger_verify(archive)[0] == 1


def test_row_deleted_but_bag_kept_is_still_audited(archive: Path) -> None:
    bag_dir = first(archive)
    db = raw(archive)
    db.execute("DELETE FROM bags WHERE identifier = ?", (bag_dir.name,))
    db.close()
    report = audit(archive, workers=1)
    assert found(report) == {(bag_dir.name, "ledger.row-missing")}
    assert len(report.bags) == 3  # the bag itself was verified, not called 'unknown'


def test_row_inserted_outside_preserve(archive: Path) -> None:
    bag_dir = first(archive)
    planted = archive / "bags" / "planted-notice"
    shutil.copytree(bag_dir, planted)
    db = raw(archive)
    db.execute(
        "INSERT INTO bags (identifier, path, state, ingested_at, payload_oxum, statement_sha256,"
        " metadata_sha256, software) SELECT 'planted-notice', 'bags/planted-notice', state,"
        " ingested_at, payload_oxum, statement_sha256, metadata_sha256, software FROM bags"
        " WHERE identifier = ?",
        (bag_dir.name,),
    )
    db.close()
    assert ("planted-notice", "ledger.row-unrecorded") in found(audit(archive, workers=1))


def test_row_pointed_at_another_bag(archive: Path) -> None:
    one, two = sorted((archive / "bags").iterdir())[:2]
    rewrite_consistently(one)
    db = raw(archive)
    db.execute("UPDATE bags SET path = ? WHERE identifier = ?", (f"bags/{two.name}/", one.name))
    db.close()
    codes = found(audit(archive, workers=1))
    assert (one.name, "ledger.path-changed") in codes
    assert (one.name, "ledger.tagmanifest-changed") in codes  # its own folder was audited


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_d14_damaged_bag_marked_publishing_by_a_dead_process(
    archive: Path, statements: Path
) -> None:
    bag_dir = first(archive)
    pdf = next((bag_dir / "data/pdfa").iterdir())
    pdf.write_bytes(pdf.read_bytes()[:-100])
    db = raw(archive)
    db.execute(
        "UPDATE bags SET state = 'publishing', publisher_pid = ? WHERE identifier = ?",
        (dead_pid(), bag_dir.name),
    )
    db.close()
    report = audit(archive, workers=1)
    assert not report.ok
    codes = {code for ident, code in found(report) if ident == bag_dir.name}
    assert "ledger.state-changed" in codes
    assert any(not c.startswith("ledger.") for c in codes), codes  # really verified
    # The next ingest's recovery does not bless it, and the audit keeps failing.
    again = ingest([statements], archive, IngestOptions(workers=1))
    assert any("chain records its publication" in line for line in again.recovered)
    assert not audit(archive, workers=1).ok


def test_d14_interrupted_publication_is_audited_then_recorded_as_damaged(
    archive: Path, statements: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real interrupted publication (the bag renamed, never marked) whose bag is then
    damaged: audited while its ingest is dead, and published by recovery with the
    digests of the bag staged, so the audit keeps reporting it until it is repaired."""
    from preserve import archive as archive_mod
    from preserve.errors import ArchiveError

    source = statements.parent / "late"
    make_statements(source, 4)
    new = source / "notice-003.txt"
    for other in source.iterdir():
        if other != new:
            other.unlink()

    def die(*_args: object) -> None:
        raise ArchiveError("killed before marking")

    monkeypatch.setattr(archive_mod, "_mark_published", die)
    with pytest.raises(ArchiveError):
        ingest([source], archive, IngestOptions(workers=1))
    monkeypatch.undo()
    db = raw(archive)
    (identifier,) = db.execute("SELECT identifier FROM bags WHERE state = 'publishing'").fetchone()
    db.execute("UPDATE bags SET publisher_pid = ?", (dead_pid(),))
    db.close()
    rewrite_consistently(archive / "bags" / identifier)
    report = audit(archive, workers=1)
    assert (identifier, "ledger.tagmanifest-changed") in found(report)
    assert any(identifier in n and "audited" in n for n in report.notes)
    recovered = ingest([source], archive, IngestOptions(workers=1))
    assert any("differs from the bag staged" in line for line in recovered.recovered)
    after = audit(archive, workers=1)
    assert found(after) == {(identifier, "ledger.tagmanifest-changed")}
    assert verify_ledger(archive).ok  # the tables agree with the chain: the bag does not


def test_d28_reingest_after_the_bag_vanished(archive: Path, statements: Path) -> None:
    bag_dir = first(archive)
    shutil.rmtree(bag_dir)
    result = CliRunner().invoke(
        cli, ["ingest", str(statements), "--archive", str(archive), "--workers", "1"]
    )
    assert result.exit_code == 1, result.output
    assert f"bags/{bag_dir.name} is missing" in result.output
    assert "preserve audit" in result.output
    assert not bag_dir.exists()


def test_d28_ingest_with_a_bag_the_ledger_does_not_know(archive: Path, statements: Path) -> None:
    bag_dir = first(archive)
    db = raw(archive)
    db.execute("DELETE FROM bags WHERE identifier = ?", (bag_dir.name,))
    db.close()
    result = CliRunner().invoke(
        cli, ["ingest", str(statements), "--archive", str(archive), "--workers", "1"]
    )
    assert result.exit_code == 1, result.output
    assert "not in its ledger" in result.output
    assert "taken by a different statement" not in result.output


def empty_ledger(archive: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{archive / 'ledger.sqlite'}{suffix}").unlink(missing_ok=True)
    (archive / "ledger.sqlite").write_bytes(b"")


def random_ledger(archive: Path) -> None:
    empty_ledger(archive)
    (archive / "ledger.sqlite").write_bytes(bytes(range(256)) * 64)


def truncated_ledger(archive: Path) -> None:
    path = archive / "ledger.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("PRAGMA journal_mode=DELETE")
    db.close()
    data = path.read_bytes()
    assert len(data) > 8 * 4096
    path.write_bytes(data[: len(data) // 2 + 1000])  # mid-page


DAMAGE = {"empty": empty_ledger, "random": random_ledger, "truncated": truncated_ledger}
COMMANDS = {
    "audit": ["audit", "{a}"],
    "status": ["audit", "--status", "{a}"],
    "search": ["search", "{a}", "library"],
    "ledger-verify": ["ledger", "verify", "{a}"],
    "ledger-anchor": ["ledger", "anchor", "{a}"],
    "ingest": ["ingest", "{s}", "--archive", "{a}", "--workers", "1"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_d16_damaged_ledger_is_one_line_and_exit_2(
    archive: Path, statements: Path, damage: str, command: str
) -> None:
    DAMAGE[damage](archive)
    before = (archive / "ledger.sqlite").read_bytes()
    args = [a.format(a=archive, s=statements) for a in COMMANDS[command]]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "ledger" in lines[0], lines
    assert (archive / "ledger.sqlite").read_bytes() == before  # nothing written


def test_d16_missing_ledger_with_bags_is_refused_by_ingest(archive: Path, statements: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{archive / 'ledger.sqlite'}{suffix}").unlink(missing_ok=True)
    result = CliRunner().invoke(cli, ["ingest", str(statements), "--archive", str(archive)])
    assert result.exit_code == 2 and "ledger is damaged" in result.stderr, result.output
    assert not (archive / "ledger.sqlite").exists()


def test_d30_keys_init_refuses_the_archive_and_its_bags(archive: Path) -> None:
    runner = CliRunner()
    bag_dir = first(archive)
    inside_bag = runner.invoke(cli, ["keys", "init", str(bag_dir / "k.key")])
    assert inside_bag.exit_code == 2 and "inside the bag" in inside_bag.stderr
    assert not list(bag_dir.glob("k*"))
    bagit.Bag(str(bag_dir)).validate()
    inside_archive = runner.invoke(
        cli, ["keys", "init", str(archive / "archivist.key"), "--archive", str(archive)]
    )
    assert inside_archive.exit_code == 2 and "inside the archive" in inside_archive.stderr
    assert not list(archive.glob("archivist*"))
    nested = runner.invoke(cli, ["keys", "init", str(archive / "keys" / "a.key")])
    assert nested.exit_code == 2 and "inside the archive" in nested.stderr


def test_legacy_bags_and_keys_are_bound_once_at_the_upgrade(archive: Path) -> None:
    """An archive from before version 4: events unchained, ingestion events without
    digests (as recovery wrote them), a trusted key no event records."""
    db = raw(archive)
    legacy = db.execute("SELECT count(*) FROM events").fetchone()[0]
    db.execute("UPDATE events SET prev_hash = NULL, hash = NULL")
    db.execute("UPDATE events SET detail = '\"publication completed\"' WHERE type = 'ingestion'")
    db.execute("UPDATE events SET type = 'validation' WHERE type = 'key trust'")
    db.execute("DROP INDEX events_by_type")
    db.execute("PRAGMA user_version = 3")
    db.close()
    ledger.connect(archive).close()
    db = raw(archive)
    rows = db.execute("SELECT type, identifier, detail FROM events WHERE id > ?", (legacy,))
    sealed = [(kind, ident, json.loads(detail)) for kind, ident, detail in rows]
    db.close()
    assert [kind for kind, _, _ in sealed] == ["ledger sealing"] * 5
    assert sealed[0][2]["sealed_events"] == legacy
    assert all("tagmanifest-sha256.txt" in d["tagmanifests"] for _, i, d in sealed[1:4] if i)
    assert sealed[4][2]["trusted_keys"][0]["file"].startswith("trusted-keys/")
    report = audit(archive, workers=1)
    assert report.ok, found(report)
    # Sealed once: the same edits now are a broken chain, not history to adopt.
    db = raw(archive)
    db.execute("UPDATE events SET prev_hash = NULL, hash = NULL")
    db.close()
    ledger.connect(archive).close()
    assert not verify_ledger(archive).chain.ok


def test_every_ledger_code_is_documented() -> None:
    """Stable codes are a contract: each one the audit can report is in the docs."""
    import re

    from .conftest import REPO

    doc = (REPO / "docs" / "tamper-evidence.md").read_text(encoding="utf-8")
    limits = (REPO / "docs" / "limits.md").read_text(encoding="utf-8")
    source = (REPO / "preserve" / "ledger_check.py").read_text(encoding="utf-8")
    codes = set(re.findall(r'"(ledger\.[a-z-]+)"', source))
    assert len(codes) >= 10, codes
    for code in sorted(codes):
        assert f"`{code}`" in doc, code
    for name in ("MAX_QUERY_WORDS", "MAX_QUERY_BYTES", "MAX_DURATION"):
        assert name in limits, name


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE bag_digests SET sha256 = upper(sha256) WHERE identifier = :id",
        "DELETE FROM bag_digests WHERE identifier = :id AND file = 'tagmanifest-sha512.txt'",
        "INSERT INTO bag_digests VALUES (:id, 'tagmanifest-md5.txt', 'x')",
        "UPDATE bag_digests SET file = 'tagmanifest-sha1.txt'"
        " WHERE identifier = :id AND file = 'tagmanifest-sha512.txt'",
    ],
)
def test_any_edit_of_the_digest_table_is_found(archive: Path, edit: str) -> None:
    bag_dir = first(archive)
    db = raw(archive)
    db.execute(edit, {"id": bag_dir.name})
    db.close()
    check = verify_ledger(archive)
    assert [(i, p.code) for i, ps in check.bag_problems.items() for p in ps] == [
        (bag_dir.name, "ledger.digests-changed")
    ]
