"""Replicas tried as a new user would, with damage the first tests did not make: another
archive's replica, a planted bag, a copy that is a link, a target that fills up mid-copy,
an ssh host whose key changed, a withdrawal while a replica is unreachable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from preserve import settings
from preserve.archive import ingest
from preserve.audit import audit
from preserve.cli import cli
from preserve.metadata import load_schema
from preserve.replicas import (
    MARKER,
    MARKER_TEXT,
    QUARANTINE,
    REPLICATION,
    LocalTarget,
    SshTarget,
    audit_copies,
    replicate,
)

from .test_archive import make_statements
from .test_replicas import archive, events, ids, pristine, register_ssh, sshd, tree

__all__ = ["archive", "pristine", "sshd"]  # fixtures shared with test_replicas


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def near(archive: Path, folder: Path, copies: int = 2) -> None:
    settings.set_value(archive, "replicas.targets.near.url", str(folder))
    settings.set_value(archive, "replicas.copies", str(copies))


# --------------------------------------------------------------------------- another archive


def test_a_replica_of_another_archive_is_refused_and_untouched(
    archive: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "usb"
    assert replicate(archive, str(folder)).ok
    marker = (folder / MARKER).read_bytes()
    assert marker.startswith(MARKER_TEXT) and b"archive: " in marker
    make_statements(tmp_path / "other-in", 1)
    assert ingest([tmp_path / "other-in"], tmp_path / "other").exit_code == 0
    before = tree(folder)
    code, out = run("replicate", str(tmp_path / "other"), "--to", str(folder))
    assert code == 2 and "a replica of another archive" in out, out
    assert len(out.splitlines()) == 1
    near(tmp_path / "other", folder)
    code, out = run("audit", str(tmp_path / "other"), "--repair")
    assert code == 2 and "a replica of another archive" in out, out
    code, out = run(
        "withdraw", str(tmp_path / "other"), ids(tmp_path / "other")[0], "--reason", "x"
    )
    assert code == 1 and "not reached" in out and "another archive" in out
    assert tree(folder) == before and (folder / MARKER).read_bytes() == marker


def test_a_replica_marked_before_the_binding_is_bound_at_first_use(
    archive: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "old"
    (folder / "bags").mkdir(parents=True)
    (folder / MARKER).write_bytes(MARKER_TEXT)
    assert replicate(archive, str(folder)).ok
    assert (folder / MARKER).read_bytes().startswith(MARKER_TEXT + b"archive: ")


# --------------------------------------------------------------------------- planted bags


def test_a_planted_bag_in_a_replica_is_reported_and_put_aside_by_repair(
    archive: Path, tmp_path: Path
) -> None:
    near(archive, tmp_path / "near")
    assert replicate(archive, "near").ok
    bags = tmp_path / "near" / "bags"
    shutil.copytree(bags / ids(archive)[0], bags / "planted-notice")
    found = audit_copies(archive)
    assert not found.ok
    assert [(s.target, s.identifier, s.code) for s in found.strays] == [
        ("near", "planted-notice", "replica.bag-unknown")
    ]
    code, out = run("audit", str(archive), "--replicas", "--json")
    assert code == 1
    doc = json.loads(out)
    jsonschema.validate(doc, load_schema("replicas-report.schema.json"))
    assert doc["strays"][0]["identifier"] == "planted-notice" and not doc["strays"][0]["action"]
    # replicate reports it and leaves it (it is no copy of ours to move)
    code, out = run("replicate", str(archive), "--to", "near")
    assert code == 0 and "bags/planted-notice: not a bag of this archive" in out
    assert (bags / "planted-notice").is_dir()
    code, out = run("audit", str(archive), "--repair")
    assert code == 0, out
    assert not (bags / "planted-notice").exists()
    (aside,) = (tmp_path / "near" / "quarantine").iterdir()
    assert aside.name.startswith("planted-notice.unknown.")
    (event,) = events(archive, QUARANTINE)
    detail = json.loads(event["detail"])
    assert event["identifier"] is None and detail["folder"] == "planted-notice"
    assert detail["why"] == "replica.bag-unknown" and detail["target"] == "near"
    assert audit_copies(archive).ok
    assert audit(archive, workers=1).ok  # the chained quarantine event upsets no audit


# --------------------------------------------------------------------------- links


def test_a_copy_that_is_a_link_is_no_copy_and_repair_keeps_the_link_aside(
    archive: Path, tmp_path: Path
) -> None:
    near(archive, tmp_path / "near")
    assert replicate(archive, "near").ok
    name = ids(archive)[0]
    copy = tmp_path / "near" / "bags" / name
    shutil.rmtree(copy)
    os.symlink(archive / "bags" / name, copy)  # same bytes, but one copy counted twice
    primary_before = tree(archive / "bags" / name)
    found = audit_copies(archive)
    (bag,) = [b for b in found.bags if b.identifier == name]
    assert bag.good_after == 1 and bag.at_risk
    assert [c.problems[0][0] for c in bag.copies if c.problems] == ["replica.bag-missing"]
    assert run("audit", str(archive), "--repair")[0] == 0
    assert copy.is_dir() and not copy.is_symlink()
    assert tree(copy) == primary_before == tree(archive / "bags" / name)
    (aside,) = (tmp_path / "near" / "quarantine").iterdir()
    assert aside.is_symlink()  # the link itself was put aside, never followed


def test_a_replica_whose_bags_folder_is_a_link_is_refused(archive: Path, tmp_path: Path) -> None:
    near(archive, tmp_path / "near")
    assert replicate(archive, "near").ok
    bags = tmp_path / "near" / "bags"
    shutil.rmtree(bags)
    os.symlink(archive / "bags", bags)  # the "replica" is now the primary itself
    before = tree(archive / "bags")
    for args in (("replicate", str(archive), "--to", "near"), ("audit", str(archive), "--repair")):
        code, out = run(*args)
        assert code == 2 and "bags/ is a link" in out, out
        assert tree(archive / "bags") == before
    assert not any((tmp_path / "near" / "quarantine").iterdir())
    assert not (archive / "quarantine").exists() or not any((archive / "quarantine").iterdir())


# --------------------------------------------------------------------------- a full disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB tmpfs: room for the bytes of the four bags, not for their blocks."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()[:100]}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_target_that_fills_up_mid_copy_stops_with_one_line(
    archive: Path, small_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A mount that cannot say how much room it has (as some network shares): the copy
    # itself finds the disk full.
    monkeypatch.setattr(LocalTarget, "free_bytes", lambda self: None)
    folder = small_disk / "copy"
    code, out = run("replicate", str(archive), "--to", str(folder))
    assert code == 2 and "the target is full" in out, out
    assert len(out.splitlines()) == 1
    placed = sorted(p.name for p in (folder / "bags").iterdir())
    assert 0 < len(placed) < 4
    assert not any((folder / "staging").iterdir())  # nothing partial left
    for name in placed:  # what was placed is whole, verified and recorded
        assert tree(folder / "bags" / name) == tree(archive / "bags" / name)
    recorded = {e["identifier"] for e in events(archive, REPLICATION)}
    assert recorded == set(placed)


def test_the_free_space_check_counts_blocks_not_bytes(archive: Path, small_disk: Path) -> None:
    """The check before copying sees a tmpfs too small for the bags' blocks."""
    code, out = run("replicate", str(archive), "--to", str(small_disk / "copy"))
    assert code == 2 and "not enough space" in out, out
    assert not any((small_disk / "copy" / "bags").iterdir())
    assert not events(archive, REPLICATION)


# --------------------------------------------------------------------------- withdrawal


def test_a_withdrawal_while_a_replica_is_unreachable_is_finished_by_the_next_replicate(
    archive: Path, tmp_path: Path
) -> None:
    near(archive, tmp_path / "near")
    assert replicate(archive, "near").ok
    name = ids(archive)[2]
    (tmp_path / "near").rename(tmp_path / "near.unplugged")  # the disk is not there today
    code, out = run("withdraw", str(archive), name, "--reason", "a legal takedown")
    assert code == 1, out
    assert "near: not reached" in out and "the next replicate to it" in out
    assert not (archive / "bags" / name).exists()
    (tomb,) = events(archive, "deaccession")
    assert set(json.loads(tomb["detail"])["pending"]) == {"near"}
    (tmp_path / "near.unplugged").rename(tmp_path / "near")
    assert (tmp_path / "near" / "bags" / name).is_dir()
    # The audit sees the copy still there; replicate puts it aside and records it.
    assert [s.code for s in audit_copies(archive).strays] == ["replica.withdrawn-present"]
    code, out = run("replicate", str(archive), "--to", "near")
    assert code == 0 and f"bags/{name}: withdrawn, but a copy is here (put aside in" in out
    assert not (tmp_path / "near" / "bags" / name).exists()
    (aside,) = (tmp_path / "near" / "quarantine").iterdir()
    assert aside.name.startswith(f"{name}.withdrawn.")
    (event,) = events(archive, QUARANTINE)
    assert event["identifier"] == name and json.loads(event["detail"])["target"] == "near"
    assert audit_copies(archive).ok
    assert audit(archive, workers=1).ok
    # Nothing more to do: a second replicate finds nothing to put aside.
    assert not replicate(archive, "near").strays


# --------------------------------------------------------------------------- ssh


def test_ssh_host_key_changed_is_refused_in_one_line(
    archive: Path, tmp_path: Path, sshd: dict[str, str]
) -> None:
    far = tmp_path / "far"
    register_ssh(archive, sshd, far)
    assert run("replicate", str(archive), "--to", "far")[0] == 0
    before = tree(far)
    # The host now answers with another key (reinstalled, or another machine).
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "impostor")],
        check=True,
    )
    kind, key = (tmp_path / "impostor.pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd['port']} {kind} {key}\n")
    settings.set_value(archive, "replicas.targets.far.known_hosts", str(known))
    for args in (
        ("replicate", str(archive), "--to", "far"),
        ("audit", str(archive), "--replicas"),
    ):
        code, out = run(*args)
        assert code == 2, out
        assert "the host's key is not the one in known_hosts" in out
        assert len(out.splitlines()) == 1
    assert tree(far) == before


def test_ssh_withdrawal_while_unreachable_is_finished_by_the_next_replicate(
    archive: Path, tmp_path: Path, sshd: dict[str, str]
) -> None:
    far = tmp_path / "far"
    register_ssh(archive, sshd, far)
    assert run("replicate", str(archive), "--to", "far")[0] == 0
    name = ids(archive)[0]
    url = sshd["url_base"] + str(far)
    settings.set_value(archive, "replicas.targets.far.url", "ssh://nobody@127.0.0.1:1" + str(far))
    code, out = run("withdraw", str(archive), name, "--reason", "duplicate")
    assert code == 1 and "far: not reached (" in out and "unreachable: " in out, out
    settings.set_value(archive, "replicas.targets.far.url", url)
    assert (far / "bags" / name).is_dir()
    code, out = run("replicate", str(archive), "--to", "far")
    assert code == 0 and "put aside in quarantine/" in out, out
    assert not (far / "bags" / name).exists()
    (aside,) = (far / "quarantine").iterdir()
    assert aside.name.startswith(f"{name}.withdrawn.")
    assert audit_copies(archive).ok


# --------------------------------------------------------------------------- status


def test_a_copy_repaired_shows_good_in_the_status(archive: Path, tmp_path: Path) -> None:
    """The fixity record of the audit that repaired a copy must not mark it bad again."""
    near(archive, tmp_path / "near")
    assert replicate(archive, "near").ok
    name = ids(archive)[1]
    shutil.rmtree(tmp_path / "near" / "bags" / name)
    assert run("audit", str(archive), "--repair")[0] == 0
    assert run("audit", str(archive))[0] == 0  # the primary's own verification, for --status
    code, out = run("audit", str(archive), "--status", "--json")
    assert code == 0, out
    doc = json.loads(out)
    (row,) = [c for c in doc["copies"] if c["identifier"] == name]
    assert row["copies"]["near"]["last_result"] == "good" and row["good_copies"] == 2
    assert doc["at_risk"] == []


# --------------------------------------------------------------------------- places


def test_a_target_inside_the_archive_is_refused(archive: Path) -> None:
    before = tree(archive)
    for folder in (archive / "bags" / "copy", archive / "copy"):
        code, out = run("replicate", str(archive), "--to", str(folder))
        assert code == 2 and "inside the archive" in out, out
        assert not folder.exists()
    assert tree(archive) == before


def test_two_names_for_one_folder_are_refused(archive: Path, tmp_path: Path) -> None:
    near(archive, tmp_path / "near", copies=3)
    assert replicate(archive, "near").ok
    os.symlink(tmp_path / "near", tmp_path / "also-near")
    settings.set_value(archive, "replicas.targets.usb.url", str(tmp_path / "also-near"))
    code, out = run("audit", str(archive), "--replicas")
    assert code == 2 and "'near' and 'usb' are the same folder" in out, out


def test_an_ssh_target_that_fills_up_mid_copy_stops_with_one_line(
    archive: Path, small_disk: Path, sshd: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SshTarget, "free_bytes", lambda self: None)
    far = small_disk / "far"
    register_ssh(archive, sshd, far)
    code, out = run("replicate", str(archive), "--to", "far")
    assert code == 2 and "the target is full" in out, out
    assert len(out.splitlines()) == 1
    assert not any((far / "staging").iterdir())  # the half-sent batch was removed
    assert not any((far / "bags").iterdir())  # one batch: nothing of it placed
    assert not events(archive, REPLICATION)
