"""Replicas: copies on a local folder and a real SSH host, audited against the chain,
damaged in every place, repaired from a good copy, withdrawn with a tombstone."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from preserve import ledger, settings
from preserve.archive import ingest
from preserve.audit import audit
from preserve.cli import cli
from preserve.metadata import load_schema
from preserve.replicas import (
    DEACCESSION,
    MARKER,
    RECOVERY,
    REPLICATION,
    LocalTarget,
    audit_copies,
    local_inventory,
    replicate,
)

from .test_archive import make_statements

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real OpenSSH server on 127.0.0.1, with a host key and a client key made here."""
    if SSHD is None or shutil.which("ssh") is None or shutil.which("rsync") is None:
        pytest.skip("openssh-server, ssh or rsync is absent (apt-get install openssh-server rsync)")
    root = tmp_path_factory.mktemp("sshd")
    for name in ("host", "client"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / name)], check=True
        )
    (root / "authorized_keys").write_text((root / "client.pub").read_text())
    port = free_port()
    config = root / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {root / 'host'}\n"
        f"AuthorizedKeysFile {root / 'authorized_keys'}\nStrictModes no\nUsePAM no\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\nPidFile none\nLogLevel ERROR\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True) if os.geteuid() == 0 else None
    server = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    host_key = (root / "host.pub").read_text().split()
    known = root / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    for _ in range(100):
        if server.poll() is not None:
            err = server.stderr.read().decode() if server.stderr else ""
            pytest.skip(f"sshd did not start: {err.strip()[:200]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    user = getpass.getuser()
    try:
        yield {
            "url_base": f"ssh://{user}@127.0.0.1:{port}",
            "identity": str(root / "client"),
            "known_hosts": str(known),
            "port": str(port),
            "user": user,
        }
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pristine")
    make_statements(root / "in", 4)
    report = ingest([root / "in"], root / "archive")
    assert report.exit_code == 0, report.as_dict()
    return root / "archive"


@pytest.fixture
def archive(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "archive"
    shutil.copytree(pristine, copy)
    return copy


def register_ssh(archive: Path, sshd: dict[str, str], folder: Path, name: str = "far") -> None:
    settings.set_value(archive, f"replicas.targets.{name}.url", sshd["url_base"] + str(folder))
    settings.set_value(archive, f"replicas.targets.{name}.identity", sshd["identity"])
    settings.set_value(archive, f"replicas.targets.{name}.known_hosts", sshd["known_hosts"])


def ids(archive: Path) -> list[str]:
    return sorted(p.name for p in (archive / "bags").iterdir())


def tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def rewrite_consistently(bag: Path) -> None:
    """Edit a payload file and recompute every manifest and tag manifest to match."""
    original = next((bag / "data" / "original").iterdir())
    original.write_bytes(original.read_bytes() + b"\nan added line\n")
    for alg in ("sha256", "sha512"):
        lines = []
        for p in sorted((bag / "data").rglob("*")):
            if p.is_file():
                digest = hashlib.new(alg, p.read_bytes()).hexdigest()
                lines.append(f"{digest}  {p.relative_to(bag).as_posix()}\n")
        (bag / f"manifest-{alg}.txt").write_text("".join(lines))
    for alg in ("sha256", "sha512"):
        lines = []
        for p in sorted(bag.iterdir()):
            if p.is_file() and not p.name.startswith("tagmanifest-"):
                lines.append(f"{hashlib.new(alg, p.read_bytes()).hexdigest()}  {p.name}\n")
        (bag / f"tagmanifest-{alg}.txt").write_text("".join(lines))


def events(archive: Path, kind: str) -> list[sqlite3.Row]:
    db = ledger.connect(archive, readonly=True)
    try:
        return db.execute("SELECT * FROM events WHERE type = ? ORDER BY id", (kind,)).fetchall()
    finally:
        db.close()


# --------------------------------------------------------------------------- local folder


def test_replicate_to_a_folder_is_verified_idempotent_and_chained(
    archive: Path, tmp_path: Path
) -> None:
    target = tmp_path / "copy"
    first = replicate(archive, str(target))
    assert first.ok and len(first.copied) == 4 and not first.already
    assert (target / MARKER).is_file()
    for identifier in ids(archive):
        assert tree(target / "bags" / identifier) == tree(archive / "bags" / identifier)
    again = replicate(archive, str(target))
    assert again.ok and not again.copied and len(again.already) == 4
    chained = events(archive, REPLICATION)
    assert len(chained) == 4
    detail = json.loads(chained[0]["detail"])
    assert detail["target"] == str(target) and "tagmanifest-sha256.txt" in detail["tagmanifests"]
    assert not any((target / "staging").iterdir())
    version = ledger.connect(archive).execute("PRAGMA user_version").fetchone()[0]
    assert version == len(ledger.MIGRATIONS)


def test_only_published_bags_are_replicated(archive: Path, tmp_path: Path) -> None:
    db = sqlite3.connect(archive / "ledger.sqlite")
    first = ids(archive)[0]
    db.execute("UPDATE bags SET state = 'publishing' WHERE identifier = ?", (first,))
    db.commit()
    db.close()
    # The chain, not the table, says what was published: the edited row changes nothing.
    assert len(replicate(archive, str(tmp_path / "copy")).copied) == 4
    planted = archive / "bags" / "planted-bag"
    shutil.copytree(archive / "bags" / first, planted)
    replicate(archive, str(tmp_path / "copy2"))
    assert not (tmp_path / "copy2" / "bags" / "planted-bag").exists()


def test_a_folder_that_is_not_a_replica_is_refused_and_untouched(
    archive: Path, tmp_path: Path
) -> None:
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"not a bag")
    before = tree(other)
    result = CliRunner().invoke(cli, ["replicate", str(archive), "--to", str(other)])
    assert result.exit_code == 2, result.output
    assert "not a preserve replica" in result.output and len(result.output.splitlines()) == 1
    assert tree(other) == before and sorted(p.name for p in other.iterdir()) == ["holiday.jpg"]
    gone = CliRunner().invoke(cli, ["replicate", str(archive), "--to", str(tmp_path / "a/b/c")])
    assert gone.exit_code == 2 and "unreachable" in gone.output


def test_a_primary_damaged_is_not_replicated(archive: Path, tmp_path: Path) -> None:
    bag = archive / "bags" / ids(archive)[0]
    flip(next((bag / "data" / "original").iterdir()))
    report = replicate(archive, str(tmp_path / "copy"))
    assert not report.ok and len(report.copied) == 3
    assert "primary's copy is damaged" in report.failed[0][1]
    assert not (tmp_path / "copy" / "bags" / bag.name).exists()


def test_local_damage_everywhere_is_found_and_repaired(archive: Path, tmp_path: Path) -> None:
    settings.set_value(archive, "replicas.targets.near.url", str(tmp_path / "near"))
    settings.set_value(archive, "replicas.copies", "2")
    assert replicate(archive, "near").ok
    names = ids(archive)
    near = tmp_path / "near" / "bags"
    flip(archive / "bags" / names[0] / "data" / "metadata" / "statement.json")
    shutil.rmtree(near / names[1])
    rewrite_consistently(near / names[2])
    (near / names[3] / "bag-info.txt").unlink()
    found = audit_copies(archive)
    assert not found.ok
    bad = {
        (b.identifier, c.target): c.problems[0][0]
        for b in found.bags
        for c in b.copies
        if c.problems
    }
    assert bad == {
        (names[0], "primary"): "replica.file-changed",
        (names[1], "near"): "replica.bag-missing",
        (names[2], "near"): "replica.file-changed",
        (names[3], "near"): "replica.file-missing",
    }
    assert all(b.at_risk for b in found.bags)
    result = CliRunner().invoke(cli, ["audit", str(archive), "--repair"])
    assert result.exit_code == 0, result.output
    after = audit_copies(archive)
    assert after.ok and all(b.good_after == 2 for b in after.bags)
    for identifier in names:
        assert tree(near / identifier) == tree(archive / "bags" / identifier)
    # The damaged copies are kept aside, and every repair is a chained PREMIS event.
    assert len(list((archive / "quarantine").iterdir())) == 1
    assert len(list((tmp_path / "near" / "quarantine").iterdir())) == 2
    repairs = [json.loads(e["detail"]) for e in events(archive, RECOVERY)]
    assert len(repairs) == 4
    assert {r["source"] for r in repairs} == {"primary", "near"}
    assert all(r["was"] and r["tagmanifests"] for r in repairs)
    # Digests before and after: the consistent rewrite shows in its tag manifests.
    by_was = {r["was"][0]: r for r in repairs}
    assert by_was["replica.bag-missing"]["before"] is None
    changed = [r for r in repairs if r["before"] is not None]
    assert any(r["before"]["tagmanifests"] != r["tagmanifests"] for r in changed)
    assert all(r["before"]["inventory_sha256"] != r["inventory_sha256"] for r in changed)
    assert audit(archive, workers=1).ok


def test_a_bag_damaged_everywhere_is_lost_and_left_untouched(archive: Path, tmp_path: Path) -> None:
    settings.set_value(archive, "replicas.targets.near.url", str(tmp_path / "near"))
    assert replicate(archive, "near").ok
    name = ids(archive)[0]
    flip(next((archive / "bags" / name / "data" / "original").iterdir()))
    shutil.rmtree(tmp_path / "near" / "bags" / name)
    before = tree(archive / "bags" / name)
    result = CliRunner().invoke(cli, ["audit", str(archive), "--repair", "--json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.output)
    jsonschema.validate(doc, load_schema("replicas-report.schema.json"))
    assert doc["lost"] == [name] and doc["repaired"] == 0
    assert tree(archive / "bags" / name) == before
    assert not (tmp_path / "near" / "bags" / name).exists()
    assert not (archive / "quarantine").exists() or not any((archive / "quarantine").iterdir())


def test_withdraw_quarantines_every_copy_and_the_audit_expects_it_gone(
    archive: Path, tmp_path: Path
) -> None:
    settings.set_value(archive, "replicas.targets.near.url", str(tmp_path / "near"))
    assert replicate(archive, "near").ok
    name = ids(archive)[1]
    result = CliRunner().invoke(
        cli, ["withdraw", str(archive), name, "--reason", "duplicate of another notice"]
    )
    assert result.exit_code == 0, result.output
    assert not (archive / "bags" / name).exists()
    assert not (tmp_path / "near" / "bags" / name).exists()
    assert len(list((tmp_path / "near" / "quarantine").iterdir())) == 1
    (tomb,) = events(archive, DEACCESSION)
    assert json.loads(tomb["detail"])["reason"] == "duplicate of another notice"
    db = ledger.connect(archive, readonly=True)
    found = ledger.withdrawal(db, name)
    assert found is not None and found.reason == "duplicate of another notice"
    assert found.event_hash == tomb["hash"] and ledger.withdrawal(db, ids(archive)[0]) is None
    db.close()
    assert audit(archive, workers=1).ok
    assert audit_copies(archive).ok and len(audit_copies(archive).bags) == 3
    # Planted back after its withdrawal: the audit says so.
    shutil.copytree(
        tmp_path
        / "near"
        / "quarantine"
        / next(p.name for p in (tmp_path / "near" / "quarantine").iterdir()),
        archive / "bags" / name,
    )
    codes = {p.code for b in audit(archive, workers=1).bags for p in b.problems}
    assert "replica.withdrawn-present" in codes


def test_withdraw_of_an_unknown_bag_changes_nothing(archive: Path) -> None:
    before = tree(archive)
    result = CliRunner().invoke(cli, ["withdraw", str(archive), "no-such-bag", "--reason", "x"])
    assert result.exit_code == 1 and "no bag 'no-such-bag'" in result.output
    assert tree(archive) == before


def test_status_shows_copies_and_bags_at_risk(archive: Path, tmp_path: Path) -> None:
    settings.set_value(archive, "replicas.targets.near.url", str(tmp_path / "near"))
    settings.set_value(archive, "replicas.copies", "3")
    replicate(archive, "near")
    audit(archive, workers=1)
    result = CliRunner().invoke(cli, ["audit", str(archive), "--status", "--json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.output)
    assert doc["required_copies"] == 3 and len(doc["at_risk"]) == 4
    assert all(c["good_copies"] == 2 for c in doc["copies"])
    assert set(doc["copies"][0]["copies"]) == {"primary", "near"}
    settings.set_value(archive, "replicas.copies", "2")
    ok = CliRunner().invoke(cli, ["audit", str(archive), "--status"])
    assert ok.exit_code == 0, ok.output


# --------------------------------------------------------------------------- ssh


def test_ssh_replicate_audit_repair(archive: Path, tmp_path: Path, sshd: dict[str, str]) -> None:
    far = tmp_path / "far"
    register_ssh(archive, sshd, far)
    settings.set_value(archive, "replicas.targets.near.url", str(tmp_path / "near"))
    settings.set_value(archive, "replicas.copies", "3")
    for name in ("far", "near"):
        result = CliRunner().invoke(cli, ["replicate", str(archive), "--to", name])
        assert result.exit_code == 0, result.output
    names = ids(archive)
    for identifier in names:
        assert tree(far / "bags" / identifier) == tree(archive / "bags" / identifier)
    assert audit_copies(archive).ok
    # Damage in each place: the primary, the folder, the ssh host.
    flip(far / "bags" / names[0] / "data" / "pdfa" / f"{names[0]}.pdf")
    rewrite_consistently(far / "bags" / names[1])
    shutil.rmtree(far / "bags" / names[2])
    (far / "bags" / names[3] / "data" / "stray.txt").write_text("planted")
    shutil.rmtree(archive / "bags" / names[3])
    flip(tmp_path / "near" / "bags" / names[3] / "manifest-sha256.txt")
    found = audit_copies(archive)
    wrong = {(b.identifier, c.target) for b in found.bags for c in b.copies if c.problems}
    assert wrong == {
        (names[0], "far"),
        (names[1], "far"),
        (names[2], "far"),
        (names[3], "far"),
        (names[3], "primary"),
        (names[3], "near"),
    }
    lost_nowhere = audit_copies(archive, repair=True)
    # names[3]: no copy is good anywhere (far has a planted file; near a flipped manifest).
    assert [b.identifier for b in lost_nowhere.bags if b.lost] == [names[3]]
    for identifier in names[:3]:
        assert tree(far / "bags" / identifier) == tree(archive / "bags" / identifier)
    # The ssh copy is fixed by hand (the stray file removed): repair then mends the rest.
    (far / "bags" / names[3] / "data" / "stray.txt").unlink()
    healed = audit_copies(archive, repair=True)
    assert healed.ok, healed.as_dict()
    final = audit_copies(archive)
    assert final.ok and all(b.good_after == 3 for b in final.bags)
    for identifier in names:
        expected = tree(archive / "bags" / identifier)
        assert tree(far / "bags" / identifier) == expected
        assert tree(tmp_path / "near" / "bags" / identifier) == expected
    sources = {json.loads(e["detail"])["source"] for e in events(archive, RECOVERY)}
    assert "far" in sources  # the primary's names[3] came over ssh
    assert len(list((far / "quarantine").iterdir())) == 2  # names[2] was gone: nothing to keep


def test_ssh_target_unreachable_or_not_a_replica(
    archive: Path, tmp_path: Path, sshd: dict[str, str]
) -> None:
    register_ssh(archive, sshd, tmp_path / "far")
    settings.set_value(archive, "replicas.targets.far.url", "ssh://nobody@127.0.0.1:1/x")
    result = CliRunner().invoke(cli, ["replicate", str(archive), "--to", "far"])
    assert result.exit_code == 2 and "unreachable" in result.output, result.output
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    register_ssh(archive, sshd, other)
    result = CliRunner().invoke(cli, ["replicate", str(archive), "--to", "far"])
    assert result.exit_code == 2 and "not a preserve replica" in result.output
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def test_local_inventory_never_follows_a_link(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    (bag / "data").mkdir(parents=True)
    (bag / "data" / "a.txt").write_text("a")
    os.symlink("/etc/passwd", bag / "data" / "link")
    found = local_inventory(bag)
    assert found is not None and found["data/link"] == "!odd"
    assert LocalTarget("x", tmp_path).read("bag", "data/link") is None


def test_a_target_without_space_is_refused_before_anything_is_copied(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The free space a full disk reports (a tmpfs would need mount rights).
    monkeypatch.setattr(LocalTarget, "free_bytes", lambda self: 1024)
    result = CliRunner().invoke(cli, ["replicate", str(archive), "--to", str(tmp_path / "full")])
    assert result.exit_code == 2 and "not enough space" in result.output, result.output
    assert len(result.output.splitlines()) == 1
    assert not any((tmp_path / "full" / "bags").iterdir())
    assert not events(archive, REPLICATION)


def test_a_mistyped_target_name_is_not_made_a_folder(archive: Path, tmp_path: Path) -> None:
    settings.set_value(archive, "replicas.targets.near.url", str(tmp_path / "near"))
    result = CliRunner().invoke(cli, ["replicate", str(archive), "--to", "naer"])
    assert result.exit_code == 2 and "no target named 'naer'" in result.output
    assert "registered: near" in result.output and not Path("naer").exists()


def test_a_second_writer_is_refused_while_one_holds_the_replica_lock(
    archive: Path, tmp_path: Path
) -> None:
    """Two replicates (or a withdrawal during a repair) would stage and place the same
    bags side by side: while another process holds the lock, each refuses in one line."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(archive)!r}, os.O_RDONLY | os.O_DIRECTORY)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        before = tree(archive)
        runner = CliRunner()
        target = tmp_path / "copy"
        refused = runner.invoke(cli, ["replicate", str(archive), "--to", str(target)])
        assert refused.exit_code == 2, refused.output
        assert "another replicate, repair or withdrawal is running" in refused.output
        assert "Traceback" not in refused.output and not target.exists()
        first = ids(archive)[0]
        withdrawn = runner.invoke(cli, ["withdraw", str(archive), first, "--reason", "duplicate"])
        assert withdrawn.exit_code == 2, withdrawn.output
        assert tree(archive) == before
    finally:
        holder.kill()
        holder.wait()
    # The holder died: the kernel released its lock, and the next run goes ahead.
    assert replicate(archive, str(tmp_path / "copy")).ok
