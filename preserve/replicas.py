"""Copies that heal: replicas of every published bag, audited against the chain, repaired.

A replica target is a folder (local or mounted) or ``ssh://user@host[:port]/path``
laid out like an archive, marked by a small file so that no other folder is ever
written into::

    TARGET/.preserve-replica     "preserve-replica/1"
    TARGET/bags/<identifier>/    a copy of the bag, byte for byte
    TARGET/staging/              copies on their way in (then one rename)
    TARGET/quarantine/           damaged or withdrawn copies, kept for investigation

A copy is never trusted on its own word. What a bag must hold is derived from the
ledger's chain: its chained tag-manifest digests pin ``tagmanifest-*.txt``, whose
lines pin every tag file (``manifest-*.txt`` among them), whose lines pin every
payload file. So every copy, the primary included, is judged by one listing of
its files with their SHA-256 (computed on the target: ``sha256sum`` over ssh),
compared with that expected inventory: a flipped byte, a deleted file, a planted
file or a consistent rewrite (payload and manifests edited together) all show.
Unlisted files under ``signatures/`` are allowed (signatures are unlisted tag
files by design; ``preserve audit`` checks the primary's cryptographically).

Every copy, repair and withdrawal is a chained event (PREMIS ``replication``,
``recovery``, ``deaccession``); the ``replica_copies`` and ``withdrawals`` tables
(ledger version 5) are what the status and the reading room ask.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from preserve import ledger, ledger_check
from preserve.archive import BAGS_DIR, STAGING_DIR
from preserve.bagit_format import DigestAlgorithm, parse_manifest, safe_relpath
from preserve.errors import ArchiveError, ExitCode, PreserveError
from preserve.fsio import fsync_dir, read_regular
from preserve.hashing import hash_file
from preserve.premis import FIXITY_CHECK
from preserve.premis import software_agent as _software_agent
from preserve.settings import load_settings, read_raw

MARKER = ".preserve-replica"
MARKER_TEXT = b"preserve-replica/1\n"
QUARANTINE_DIR = "quarantine"
PRIMARY = "primary"
#: PREMIS event types (Library of Congress vocabulary).
REPLICATION = "replication"
RECOVERY = "recovery"
DEACCESSION = "deaccession"
#: A tag or manifest file read to derive the expected inventory is at most this large.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
#: Bags copied or listed per ssh/rsync call.
SSH_BATCH = 200
SIGNATURES_PREFIX = "signatures/"


class ReplicaError(PreserveError):
    """A target cannot be used (unreachable, full, not a replica): nothing was changed (exit 2)."""

    exit_code = ExitCode.cannot_run


class UnknownBag(PreserveError):
    """The bag identifier is not one the archive holds (exit 1)."""

    exit_code = ExitCode.bad


#: A copy's files: bag-relative path → SHA-256, or ``"!odd"`` for a link, FIFO or device.
Inventory = dict[str, str]
ODD = "!odd"


# --------------------------------------------------------------------------- targets


class Target:
    """Where copies live: the interface the local folder and the ssh host share."""

    name: str
    url: str

    def prepare(self, *, create: bool) -> None:
        """Check the target is a replica (mark an empty or new folder as one when ``create``)."""
        raise NotImplementedError

    def inventories(self, identifiers: Sequence[str]) -> dict[str, Inventory | None]:
        """Each bag's files with their SHA-256 (None: the bag is absent)."""
        raise NotImplementedError

    def read(self, identifier: str, rel: str) -> bytes | None:
        """One small file of a copy (a manifest), or None."""
        raise NotImplementedError

    def free_bytes(self) -> int | None:
        raise NotImplementedError

    def put(self, bags: Mapping[str, Path], expected: Mapping[str, Inventory]) -> dict[str, str]:
        """Copy local bag folders in through staging; verify each where it landed against
        ``expected`` and rename it into ``bags/`` (an existing copy is quarantined first).
        Returns, per identifier, '' when placed or the reason it was not."""
        raise NotImplementedError

    def fetch(self, identifier: str, into: Path) -> None:
        """Bring a copy to a local folder ``into`` (which must not exist)."""
        raise NotImplementedError

    def quarantine(self, identifier: str, why: str) -> str | None:
        """Move ``bags/<identifier>`` into ``quarantine/``: the new path (None: absent)."""
        raise NotImplementedError


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


class LocalTarget(Target):
    """A folder on this machine (or mounted). The primary archive is one too."""

    def __init__(self, name: str, root: Path, *, primary: bool = False) -> None:
        self.name = name
        self.root = root.absolute()
        self.url = str(self.root)
        self.primary = primary

    def prepare(self, *, create: bool) -> None:
        if self.primary:
            return
        root = self.root
        if root.is_symlink() or (root.exists() and not root.is_dir()):
            raise ReplicaError("not a folder: not a preserve replica", root)
        marker = root / MARKER
        if root.is_dir() and read_regular(marker, 1024) == MARKER_TEXT:
            for sub in (BAGS_DIR, STAGING_DIR, QUARANTINE_DIR):
                (root / sub).mkdir(exist_ok=True)
            return
        if root.is_dir() and any(root.iterdir()):
            raise ReplicaError(
                f"not a preserve replica (no {MARKER}) and not empty: nothing was written", root
            )
        if not create:
            raise ReplicaError(f"not a preserve replica (no {MARKER})", root)
        if not root.parent.is_dir():
            raise ReplicaError("unreachable: its parent folder does not exist", root)
        try:
            root.mkdir(exist_ok=True)
            for sub in (BAGS_DIR, STAGING_DIR, QUARANTINE_DIR):
                (root / sub).mkdir(exist_ok=True)
            from preserve.fsio import atomic_write

            atomic_write(marker, MARKER_TEXT)
        except OSError as exc:
            raise ReplicaError(f"cannot make a replica here: {exc.strerror or exc}", root) from None

    def bag_dir(self, identifier: str) -> Path:
        return self.root / BAGS_DIR / identifier

    def inventories(self, identifiers: Sequence[str]) -> dict[str, Inventory | None]:
        return {i: local_inventory(self.bag_dir(i)) for i in identifiers}

    def read(self, identifier: str, rel: str) -> bytes | None:
        bag_dir = self.bag_dir(identifier)
        if bag_dir.is_symlink() or safe_relpath(rel) is None or "/" in rel:
            return None  # only a top-level tag file, never through a link
        return read_regular(bag_dir / rel, MAX_MANIFEST_BYTES)

    def free_bytes(self) -> int | None:
        try:
            return shutil.disk_usage(self.root).free
        except OSError:
            return None

    def put(self, bags: Mapping[str, Path], expected: Mapping[str, Inventory]) -> dict[str, str]:
        out: dict[str, str] = {}
        staging_root = self.root / STAGING_DIR
        staging_root.mkdir(exist_ok=True)
        staged: dict[str, Path] = {}
        for identifier, source in bags.items():
            staged[identifier] = staging_root / f"{identifier}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
            try:
                _copy_tree(source, staged[identifier])
            except OSError as exc:
                shutil.rmtree(staged.pop(identifier), ignore_errors=True)
                out[identifier] = f"cannot write: {exc.strerror or exc}"
        # One flush of the whole batch to disk before any copy is verified and placed
        # (an fsync per file and folder costs more than the copying).
        os.sync()
        for identifier, path in staged.items():
            try:
                problems = compare(expected[identifier], local_inventory(path))
                if problems:
                    out[identifier] = "the copy differs after it landed: " + problems[0][1]
                    shutil.rmtree(path, ignore_errors=True)
                    continue
                target = self.bag_dir(identifier)
                if os.path.lexists(target):
                    self.quarantine(identifier, "replaced")
                os.rename(path, target)
                out[identifier] = ""
            except OSError as exc:
                shutil.rmtree(path, ignore_errors=True)
                out[identifier] = f"cannot write: {exc.strerror or exc}"
        fsync_dir(self.root / BAGS_DIR)
        return out

    def fetch(self, identifier: str, into: Path) -> None:
        _copy_tree(self.bag_dir(identifier), into)

    def quarantine(self, identifier: str, why: str) -> str | None:
        source = self.bag_dir(identifier)
        if not os.path.lexists(source):
            return None
        folder = self.root / QUARANTINE_DIR
        folder.mkdir(exist_ok=True)
        aside = folder / f"{identifier}.{why}.{_stamp()}"
        os.rename(source, aside)
        fsync_dir(folder)
        fsync_dir(source.parent)
        return str(aside.relative_to(self.root))


def _copy_tree(source: Path, dest: Path) -> None:
    """Copy a bag's regular files and folders (never a link); the caller syncs."""
    dest.mkdir()
    for root, dirs, files in os.walk(source, followlinks=False):
        rel = Path(root).relative_to(source)
        for d in dirs:
            if not (Path(root) / d).is_symlink():
                (dest / rel / d).mkdir()
        for f in files:
            src = Path(root) / f
            if src.is_symlink() or not src.is_file():
                continue
            shutil.copyfile(src, dest / rel / f, follow_symlinks=False)


def local_inventory(bag_dir: Path) -> Inventory | None:
    """Every file of a bag folder with its SHA-256 (links and devices as :data:`ODD`)."""
    if bag_dir.is_symlink() or not bag_dir.is_dir():
        return None
    found: Inventory = {}
    for root, dirs, files in os.walk(bag_dir, followlinks=False):
        base = Path(root)
        for d in list(dirs):
            if (base / d).is_symlink():
                dirs.remove(d)
                found[(base / d).relative_to(bag_dir).as_posix()] = ODD
        for f in files:
            path = base / f
            rel = path.relative_to(bag_dir).as_posix()
            try:
                digests, _ = hash_file(path, [DigestAlgorithm.sha256])
                found[rel] = digests[DigestAlgorithm.sha256]
            except OSError:
                found[rel] = ODD
    return found


@dataclass(frozen=True)
class SshUrl:
    user: str | None
    host: str
    port: int | None
    path: str


def parse_ssh_url(url: str) -> SshUrl:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise ReplicaError(f"not a valid ssh:// URL (bad port): {url}") from None
    if parts.scheme != "ssh" or not parts.hostname or not parts.path or parts.path == "/":
        raise ReplicaError(f"not a valid target URL (ssh://user@host[:port]/path): {url}")
    return SshUrl(parts.username, parts.hostname, port, unquote(parts.path))


class SshTarget(Target):
    """A folder on another host, reached with the system's ``ssh`` and ``rsync``.

    ``BatchMode=yes`` (never a password prompt) and, when given, one identity file and
    one known_hosts file with ``StrictHostKeyChecking=yes``: an unknown host key is an
    unreachable target, never accepted.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        identity: str | None = None,
        known_hosts: str | None = None,
        timeout: int = 15,
    ) -> None:
        self.name = name
        self.url = url
        self.remote = parse_ssh_url(url)
        self.identity = identity
        self.known_hosts = known_hosts
        self.timeout = timeout
        if shutil.which("ssh") is None:
            raise ReplicaError("ssh is not installed here: cannot reach " + url)

    def ssh_args(self) -> list[str]:
        args = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.timeout}"]
        args += ["-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR"]
        if self.known_hosts:
            args += ["-o", f"UserKnownHostsFile={self.known_hosts}"]
        if self.identity:
            args += ["-o", "IdentitiesOnly=yes", "-i", self.identity]
        if self.remote.port:
            args += ["-p", str(self.remote.port)]
        return args

    @property
    def login(self) -> str:
        user = f"{self.remote.user}@" if self.remote.user else ""
        return f"{user}{self.remote.host}"

    def _sh(self, script: str, *, check: bool = True) -> bytes:
        """Run a POSIX shell script on the host (sent on stdin: no quoting through ssh)."""
        try:
            done = subprocess.run(
                [*self.ssh_args(), self.login, "sh", "-s"],
                input=script.encode("utf-8"),
                capture_output=True,
                timeout=max(600, self.timeout * 4),
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ReplicaError(f"unreachable: {exc}", self.url) from None
        if done.returncode == 255:
            why = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ReplicaError(f"unreachable: {why[-1] if why else 'ssh failed'}", self.url)
        if check and done.returncode != 0:
            why = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ReplicaError(
                f"the remote command failed: {why[-1] if why else done.returncode}", self.url
            )
        return done.stdout

    def _root(self) -> str:
        return shlex.quote(self.remote.path)

    def prepare(self, *, create: bool) -> None:
        root = self._root()
        marker = shlex.quote(MARKER_TEXT.decode().strip())
        script = f"""
root={root}
if [ -L "$root" ] || {{ [ -e "$root" ] && [ ! -d "$root" ]; }}; then echo NOTDIR; exit 0; fi
if [ -f "$root/{MARKER}" ] && [ "$(cat "$root/{MARKER}")" = {marker} ]; then
  mkdir -p "$root/bags" "$root/staging" "$root/quarantine" && echo OK; exit 0; fi
if [ -d "$root" ] && [ -n "$(ls -A "$root")" ]; then echo NOTREPLICA; exit 0; fi
if [ {"1" if create else "0"} = 0 ]; then echo NOTREPLICA; exit 0; fi
[ -d "$(dirname "$root")" ] || {{ echo NOPARENT; exit 0; }}
mkdir -p "$root/bags" "$root/staging" "$root/quarantine" &&
  printf '%s\\n' {marker} > "$root/{MARKER}.tmp" && mv "$root/{MARKER}.tmp" "$root/{MARKER}" &&
  echo OK
"""
        answer = self._sh(script).decode("utf-8", "replace").strip()
        if answer == "OK":
            return
        reasons = {
            "NOTDIR": "not a folder: not a preserve replica",
            "NOTREPLICA": f"not a preserve replica (no {MARKER}) and not empty: "
            "nothing was written",
            "NOPARENT": "unreachable: its parent folder does not exist",
        }
        raise ReplicaError(reasons.get(answer, f"cannot make a replica here ({answer})"), self.url)

    def inventories(self, identifiers: Sequence[str]) -> dict[str, Inventory | None]:
        out: dict[str, Inventory | None] = {}
        for start in range(0, len(identifiers), SSH_BATCH):
            batch = identifiers[start : start + SSH_BATCH]
            out.update(self._inventories(batch, BAGS_DIR))
        return out

    def _inventories(self, identifiers: Sequence[str], sub: str) -> dict[str, Inventory | None]:
        """One ``find | sha256sum`` over the whole batch (a process per bag costs more than
        the hashing); a missing bag, or one that is a link, is reported as missing."""
        ids = " ".join(shlex.quote(i) for i in identifiers)
        script = f"""
cd {self._root()}/{sub} || exit 3
set --
for id in {ids}; do
  if [ -d "$id" ] && [ ! -L "$id" ]; then set -- "$@" "$id"; else printf 'MISSING %s\\0' "$id"; fi
done
[ $# -gt 0 ] || exit 0
find "$@" -mindepth 1 ! -type d ! -type f -printf 'ODD %p\\0'
find "$@" -mindepth 1 -type f -print0 | xargs -0 -r sha256sum -z
"""
        raw = self._sh(script)
        out: dict[str, Inventory | None] = {i: {} for i in identifiers}
        for record in raw.split(b"\0"):
            text = record.decode("utf-8", "surrogateescape")
            if not text:
                continue
            if text.startswith("MISSING "):
                out[text[8:]] = None
                continue
            if text.startswith("ODD "):
                digest, path = ODD, text[4:]
            else:
                digest, _, path = text.partition("  ")
                digest = digest.lstrip("\\")
            identifier, _, rel = path.partition("/")
            inv = out.get(identifier)
            if inv is not None and rel:
                inv[rel] = digest
        return out

    def read(self, identifier: str, rel: str) -> bytes | None:
        if safe_relpath(rel) is None or "/" in rel:
            return None  # only a top-level tag file, never through a link
        bag = shlex.quote(f"{self.remote.path}/{BAGS_DIR}/{identifier}")
        path = shlex.quote(f"{self.remote.path}/{BAGS_DIR}/{identifier}/{rel}")
        data = self._sh(
            f"[ ! -L {bag} ] && [ -f {path} ] && [ ! -L {path} ] && cat {path}", check=False
        )
        return data or None

    def free_bytes(self) -> int | None:
        out = self._sh(f"df -Pk {self._root()} | tail -1", check=False).split()
        try:
            return int(out[3]) * 1024
        except (IndexError, ValueError):
            return None

    def _rsync(self, sources: Sequence[str], dest: str) -> None:
        if shutil.which("rsync") is None:
            raise ReplicaError("rsync is not installed here: cannot copy to " + self.url)
        shell = " ".join(shlex.quote(a) for a in self.ssh_args())
        try:
            done = subprocess.run(
                ["rsync", "-a", "--no-links", "-e", shell, *sources, dest],
                capture_output=True,
                check=False,
            )
        except OSError as exc:
            raise ReplicaError(f"cannot run rsync: {exc}", self.url) from None
        if done.returncode != 0:
            why = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ReplicaError(f"rsync failed: {why[-1] if why else done.returncode}", self.url)

    def put(self, bags: Mapping[str, Path], expected: Mapping[str, Inventory]) -> dict[str, str]:
        out: dict[str, str] = {}
        items = list(bags.items())
        for start in range(0, len(items), SSH_BATCH):
            batch = dict(items[start : start + SSH_BATCH])
            staging = f"{STAGING_DIR}/batch.{os.getpid()}.{uuid.uuid4().hex[:8]}"
            self._sh(f"mkdir -p {self._root()}/{staging}")
            dest = f"{self.login}:{self.remote.path}/{staging}/"
            self._rsync([str(p) for p in batch.values()], dest)
            # rsync names each copy after its source folder: the bag's identifier.
            landed = self._inventories(list(batch), staging)
            moves = []
            for identifier in batch:
                problems = compare(expected[identifier], landed.get(identifier))
                if problems:
                    out[identifier] = "the copy differs after it landed: " + problems[0][1]
                    continue
                q = shlex.quote(identifier)
                aside = shlex.quote(f"{identifier}.replaced.{_stamp()}")
                moves.append(
                    f"if [ -e bags/{q} ] || [ -L bags/{q} ]; then mv bags/{q} quarantine/{aside};"
                    f" fi; mv -T {staging}/{q} bags/{q} && echo {q}"
                )
                out[identifier] = "not moved into bags/"
            if moves:
                script = f"cd {self._root()} || exit 3\n" + "\n".join(moves) + "\n"
                for line in self._sh(script, check=False).decode().split():
                    out[line] = ""
            self._sh(f"rm -rf {self._root()}/{staging}", check=False)
        return out

    def fetch(self, identifier: str, into: Path) -> None:
        src = f"{self.login}:{self.remote.path}/{BAGS_DIR}/{identifier}/"
        self._rsync([src], str(into) + "/")

    def quarantine(self, identifier: str, why: str) -> str | None:
        q = shlex.quote(identifier)
        rel = f"{QUARANTINE_DIR}/{identifier}.{why}.{_stamp()}"
        answer = self._sh(
            f"cd {self._root()} || exit 3\n"
            f"if [ -e bags/{q} ] || [ -L bags/{q} ]; then mv bags/{q} {shlex.quote(rel)}"
            " && echo MOVED; fi\n"
        )
        return rel if answer.strip() == b"MOVED" else None


def make_target(
    name: str, url: str, *, identity: str | None = None, known_hosts: str | None = None
) -> Target:
    """A target from its URL: ``ssh://…`` or a folder path (``file://`` allowed)."""
    if url.startswith("ssh://"):
        return SshTarget(name, url, identity=identity, known_hosts=known_hosts)
    if "://" in url and not url.startswith("file://"):
        raise ReplicaError(f"unknown kind of target (a folder or ssh://…): {url}")
    return LocalTarget(name, Path(unquote(url.removeprefix("file://"))))


def resolve_target(archive: Path, spec: str) -> Target:
    """``--to``: the name of a target in ``[replicas.targets]``, a folder or an ssh URL."""
    raw = read_raw(archive).get("replicas", {}).get("targets", {})
    if spec in raw:
        entry = raw[spec]
        return make_target(
            spec,
            str(entry["url"]),
            identity=entry.get("identity"),
            known_hosts=entry.get("known_hosts"),
        )
    if "/" not in spec and not Path(spec).is_dir():
        known = ", ".join(sorted(raw)) or "none"
        raise ReplicaError(
            f"no target named '{spec}' in settings.toml (registered: {known}); "
            f"a new folder is given as a path (./{spec})"
        )
    return make_target(spec, spec)


def registered_targets(archive: Path) -> list[Target]:
    """Every target in the archive's settings, in name order."""
    raw = read_raw(archive).get("replicas", {}).get("targets", {})
    return [
        make_target(
            name, str(e["url"]), identity=e.get("identity"), known_hosts=e.get("known_hosts")
        )
        for name, e in sorted(raw.items())
    ]


# --------------------------------------------------------------------------- the chain's record


def withdrawn_ids(db: sqlite3.Connection) -> dict[str, str]:
    """Bags the chain records as withdrawn: identifier → reason (the chain, not the table)."""
    out: dict[str, str] = {}
    for identifier, detail in db.execute(
        "SELECT identifier, detail FROM events WHERE type = ? AND outcome = 'success'"
        " AND identifier IS NOT NULL ORDER BY id",
        (DEACCESSION,),
    ):
        try:
            out[identifier] = str(json.loads(detail).get("reason", ""))
        except (ValueError, AttributeError):
            out[identifier] = ""
    return out


def published_ids(db: sqlite3.Connection) -> list[str]:
    """Bags the chain records as ingested and not withdrawn: what every copy must hold."""
    gone = withdrawn_ids(db)
    rows = db.execute(
        "SELECT DISTINCT identifier FROM events WHERE type = 'ingestion' AND outcome = 'success'"
        " AND identifier IS NOT NULL ORDER BY identifier"
    )
    return [i for (i,) in rows if i not in gone]


def _listed(data: bytes | None, name: str) -> dict[str, str] | None:
    if data is None:
        return None
    parsed = parse_manifest(data, name)
    return {e.path: e.digest.lower() for e in parsed.entries}


def expected_inventory(
    db: sqlite3.Connection, identifier: str, sources: Sequence[Target]
) -> Inventory | None:
    """What every copy of the bag must hold, derived from the chain through any copy whose
    tag manifest matches the chained digest (None: no copy holds one that does)."""
    chained = ledger_check.chain_digests(db, identifier)
    if not chained or "tagmanifest-sha256.txt" not in chained:
        return None
    want = chained["tagmanifest-sha256.txt"]
    for source in sources:
        tag = source.read(identifier, "tagmanifest-sha256.txt")
        if tag is None or hashlib.sha256(tag).hexdigest() != want:
            continue
        tags = _listed(tag, "tagmanifest-sha256.txt") or {}
        manifest_digest = tags.get("manifest-sha256.txt")
        if manifest_digest is None:
            continue
        for inner in sources:
            manifest = inner.read(identifier, "manifest-sha256.txt")
            if manifest is None or hashlib.sha256(manifest).hexdigest() != manifest_digest:
                continue
            payload = _listed(manifest, "manifest-sha256.txt") or {}
            return {**payload, **tags, **chained}
    return None


def compare(expected: Inventory, found: Inventory | None) -> list[tuple[str, str]]:
    """(code, message) for each way a copy differs from the expected inventory."""
    if found is None:
        return [("replica.bag-missing", "the bag is not there")]
    problems: list[tuple[str, str]] = []
    for rel, digest in sorted(expected.items()):
        got = found.get(rel)
        if got is None:
            problems.append(("replica.file-missing", f"{rel} is missing"))
        elif got == ODD:
            problems.append(("replica.file-odd", f"{rel} is a link, FIFO or device"))
        elif got != digest:
            problems.append(("replica.file-changed", f"{rel} differs from the ledger's record"))
    for rel in sorted(set(found) - set(expected)):
        if rel.startswith(SIGNATURES_PREFIX) and found[rel] != ODD:
            continue
        problems.append(("replica.file-extra", f"{rel} is not in the ledger's record"))
    return problems


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class CopyCheck:
    """One copy of one bag: good, or what is wrong with it."""

    target: str
    problems: tuple[tuple[str, str], ...] = ()
    #: What was done about it (repair, quarantine), if anything.
    action: str = ""

    @property
    def good(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "good": self.good,
            "problems": [{"code": c, "message": m} for c, m in self.problems],
            "action": self.action,
        }


@dataclass(frozen=True)
class BagCopies:
    """Every copy of one bag, and how many are good (after any repair)."""

    identifier: str
    copies: tuple[CopyCheck, ...]
    good_after: int
    required: int
    lost: bool = False

    @property
    def at_risk(self) -> bool:
        return self.good_after < self.required

    def as_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "good_copies": self.good_after,
            "required": self.required,
            "at_risk": self.at_risk,
            "lost": self.lost,
            "copies": [c.as_dict() for c in self.copies],
        }


@dataclass(frozen=True)
class ReplicaReport:
    """A cross-copy audit (with ``repair``: and what it mended)."""

    archive: str
    targets: tuple[str, ...]
    required: int
    bags: tuple[BagCopies, ...]
    repaired: int = 0
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Every bag has its required good copies and every copy is good (or was repaired)."""
        return all(
            not b.at_risk
            and not b.lost
            and all(c.good or c.action.startswith("repaired") for c in b.copies)
            for b in self.bags
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "archive": self.archive,
            "ok": self.ok,
            "targets": list(self.targets),
            "required_copies": self.required,
            "bags_checked": len(self.bags),
            "at_risk": sum(1 for b in self.bags if b.at_risk),
            "lost": sorted(b.identifier for b in self.bags if b.lost),
            "repaired": self.repaired,
            "notes": list(self.notes),
            "bags": [b.as_dict() for b in self.bags],
        }


@dataclass(frozen=True)
class ReplicateReport:
    archive: str
    target: str
    copied: tuple[str, ...] = ()
    already: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "archive": self.archive,
            "target": self.target,
            "ok": self.ok,
            "copied": len(self.copied),
            "already_there": len(self.already),
            "failed": [{"identifier": i, "reason": r} for i, r in self.failed],
        }


# --------------------------------------------------------------------------- operations


def _open(archive: Path) -> sqlite3.Connection:
    archive = archive.absolute()
    if not (archive / ledger.LEDGER_NAME).is_file():
        raise ArchiveError("not a preserve archive (no ledger.sqlite)", archive)
    db = ledger.connect(archive)
    if ledger.version_of(db) < 5:  # pragma: no cover - connect migrates
        db.close()
        raise ArchiveError("the ledger is older than version 5", archive)
    return db


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _size(inv: Inventory, bag_dir: Path) -> int:
    total = 0
    for rel in inv:
        with contextlib.suppress(OSError):
            total += (bag_dir / rel).lstat().st_size
    return total


def replicate(
    archive: Path,
    spec: str,
    *,
    progress: Callable[[str], None] | None = None,
) -> ReplicateReport:
    """``preserve replicate``: every published bag onto the target, verified where it lands.

    Idempotent and resumable: a bag whose copy there is already good is left alone;
    a bag is placed only after its copy in staging matches the ledger's record. A
    copy that is there but damaged is not overwritten here (``audit --repair`` does,
    keeping the damaged one in quarantine). The primary's own copy must match the
    ledger's record before it is sent.
    """
    archive = archive.absolute()
    target = resolve_target(archive, spec)
    db = _open(archive)
    try:
        target.prepare(create=True)
        primary = LocalTarget(PRIMARY, archive, primary=True)
        ids = published_ids(db)
        copied: list[str] = []
        already: list[str] = []
        failed: list[tuple[str, str]] = []
        free = target.free_bytes()
        for batch in _chunks(ids, SSH_BATCH):
            there = target.inventories(batch)
            to_send: dict[str, Path] = {}
            expected: dict[str, Inventory] = {}
            need = 0
            for identifier in batch:
                want = expected_inventory(db, identifier, [primary])
                if want is None:
                    failed.append(
                        (
                            identifier,
                            "the primary's copy does not match the ledger: repair it first",
                        )
                    )
                    continue
                if there.get(identifier) is not None:
                    problems = compare(want, there[identifier])
                    if not problems:
                        already.append(identifier)
                    else:
                        failed.append(
                            (
                                identifier,
                                f"the copy there is damaged ({problems[0][1]}): "
                                "run preserve audit --repair",
                            )
                        )
                    continue
                problems = compare(want, primary.inventories([identifier])[identifier])
                if problems:
                    failed.append(
                        (
                            identifier,
                            f"the primary's copy is damaged ({problems[0][1]}): "
                            "run preserve audit --repair",
                        )
                    )
                    continue
                to_send[identifier] = primary.bag_dir(identifier)
                expected[identifier] = want
                need += _size(want, primary.bag_dir(identifier))
            if free is not None and need > free:
                raise ReplicaError(
                    f"not enough space: {need:,} bytes needed, {free:,} free; "
                    f"{len(copied)} bags copied before this",
                    target.url,
                )
            if free is not None:
                free -= need
            placed = target.put(to_send, expected) if to_send else {}
            at = ledger.now()
            with ledger.write(db):
                for identifier, why in placed.items():
                    if why:
                        failed.append((identifier, why))
                        continue
                    copied.append(identifier)
                    _record_copy(
                        db,
                        identifier,
                        target,
                        expected[identifier],
                        at,
                        REPLICATION,
                        {"source": PRIMARY},
                    )
            for identifier in batch:
                if progress:
                    progress(identifier)
        return ReplicateReport(
            str(archive), target.name, tuple(copied), tuple(already), tuple(failed)
        )
    finally:
        db.close()


@functools.cache
def software_agent() -> str:
    """The agent of every event here, read once (it reads package metadata: ~5 ms)."""
    return _software_agent()


def _inventory_digest(inv: Inventory) -> str:
    lines = "".join(f"{rel}\0{digest}\n" for rel, digest in sorted(inv.items()))
    return hashlib.sha256(lines.encode("utf-8", "surrogateescape")).hexdigest()


def _record_copy(
    db: sqlite3.Connection,
    identifier: str,
    target: Target,
    inv: Inventory,
    at: str,
    kind: str,
    extra: Mapping[str, Any],
) -> None:
    tagmanifests = {k: v for k, v in inv.items() if k.startswith("tagmanifest-")}
    ledger.record_event(
        db,
        identifier=identifier,
        type=kind,
        outcome="success",
        detail={
            "target": target.name,
            "url": target.url,
            "files": len(inv),
            "inventory_sha256": _inventory_digest(inv),
            "tagmanifests": tagmanifests,
            **extra,
        },
        agent=software_agent(),
        at=at,
    )
    if target.name != PRIMARY:
        db.execute(
            "INSERT INTO replica_copies (identifier, target, url, copied_at, last_verified_at,"
            " last_result) VALUES (?, ?, ?, ?, ?, 'good') ON CONFLICT (identifier, target)"
            " DO UPDATE SET url = excluded.url, copied_at = excluded.copied_at,"
            " last_verified_at = excluded.last_verified_at, last_result = 'good'",
            (identifier, target.name, target.url, at, at),
        )


def audit_copies(
    archive: Path,
    *,
    repair: bool = False,
    targets: Sequence[Target] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReplicaReport:
    """``preserve audit --replicas`` (and ``--repair``): every copy of every bag against
    the ledger's chain; with ``repair``, damaged or missing copies replaced from a good one.

    A bag with no good copy anywhere is reported lost; nothing of it is overwritten.
    """
    archive = archive.absolute()
    db = _open(archive)
    try:
        settings = load_settings(archive)
        chosen = list(targets) if targets is not None else registered_targets(archive)
        for target in chosen:
            target.prepare(create=False)
        primary = LocalTarget(PRIMARY, archive, primary=True)
        everyone: list[Target] = [primary, *chosen]
        required = settings.replica_copies
        ids = published_ids(db)
        bags: list[BagCopies] = []
        repaired = 0
        notes: list[str] = []
        for batch in _chunks(ids, SSH_BATCH):
            found = {t.name: t.inventories(batch) for t in everyone}
            checked: list[tuple[str, list[CopyCheck], Inventory | None]] = []
            for identifier in batch:
                want = expected_inventory(db, identifier, everyone)
                copies = []
                for t in everyone:
                    inv = found[t.name].get(identifier)
                    problems = (
                        [("replica.no-good-record", "no copy holds the ledger's tag manifest")]
                        if want is None
                        else compare(want, inv)
                    )
                    copies.append(CopyCheck(t.name, tuple(problems)))
                checked.append((identifier, copies, want))
            at = ledger.now()
            for identifier, copies, want in checked:
                good = [c.target for c in copies if c.good]
                lost = not good
                if repair and good and want is not None and len(good) < len(copies):
                    before = {t.name: found[t.name].get(identifier) for t in everyone}
                    copies = _repair(db, identifier, copies, everyone, want, archive, notes, before)
                    repaired += sum(1 for c in copies if c.action.startswith("repaired"))
                good_after = sum(1 for c in copies if c.good or c.action.startswith("repaired"))
                bags.append(BagCopies(identifier, tuple(copies), good_after, required, lost))
                if progress:
                    progress(identifier)
            with ledger.write(db):
                for identifier, copies, _ in checked:
                    _record_check(db, identifier, copies, at)
        names = tuple(t.name for t in everyone)
        if len(everyone) < required:
            notes.append(
                f"{required} copies are required but only {len(everyone)} places are known "
                "(the primary and the registered targets): register more targets"
            )
        return ReplicaReport(str(archive), names, required, tuple(bags), repaired, tuple(notes))
    finally:
        db.close()


def _record_check(
    db: sqlite3.Connection, identifier: str, copies: Sequence[CopyCheck], at: str
) -> None:
    detail = {c.target: ("good" if c.good else sorted({p[0] for p in c.problems})) for c in copies}
    ledger.record_event(
        db,
        identifier=identifier,
        type=FIXITY_CHECK,
        outcome="success" if all(c.good for c in copies) else "failure",
        detail={"copies": detail},
        agent=software_agent(),
        at=at,
    )
    for c in copies:
        if c.target == PRIMARY:
            continue
        result = "good" if c.good else ",".join(sorted({p[0] for p in c.problems}))
        db.execute(
            "INSERT INTO replica_copies (identifier, target, url, last_verified_at, last_result)"
            " VALUES (?, ?, '', ?, ?) ON CONFLICT (identifier, target) DO UPDATE SET"
            " last_verified_at = excluded.last_verified_at, last_result = excluded.last_result",
            (identifier, c.target, at, result),
        )


def _repair(
    db: sqlite3.Connection,
    identifier: str,
    copies: list[CopyCheck],
    everyone: Sequence[Target],
    want: Inventory,
    archive: Path,
    notes: list[str],
    before: Mapping[str, Inventory | None],
) -> list[CopyCheck]:
    """Replace each bad copy of one bag with a good one, through staging; record each
    (with the digests of the bad copy as found, ``before``, and of the copy placed)."""
    by_name = {t.name: t for t in everyone}
    good = [c.target for c in copies if c.good]
    source_name = next((n for n in good if isinstance(by_name[n], LocalTarget)), good[0])
    source = by_name[source_name]
    fetched: Path | None = None
    staging = archive / STAGING_DIR
    staging.mkdir(exist_ok=True)
    try:
        if isinstance(source, LocalTarget):
            local = source.bag_dir(identifier)
        else:
            fetched = Path(tempfile.mkdtemp(prefix=f"repair.{identifier}.", dir=staging))
            local = fetched / identifier
            source.fetch(identifier, local)
            os.sync()
            if compare(want, local_inventory(local)):
                notes.append(f"{identifier}: the copy fetched from {source_name} did not verify")
                return copies
        out: list[CopyCheck] = []
        for c in copies:
            if c.good:
                out.append(c)
                continue
            target = by_name[c.target]
            was = sorted({p[0] for p in c.problems})
            try:
                aside = target.quarantine(identifier, "damaged")
                placed = target.put({identifier: local}, {identifier: want})[identifier]
            except (ReplicaError, OSError) as exc:
                placed = str(exc)
                aside = None
            if placed:
                out.append(_replace(c, f"repair failed: {placed}"))
                continue
            with ledger.write(db):
                _record_copy(
                    db,
                    identifier,
                    target,
                    want,
                    ledger.now(),
                    RECOVERY,
                    {
                        "source": source_name,
                        "was": was,
                        "before": _digests_of(before.get(c.target)),
                        "problems": [m for _, m in c.problems][:20],
                        "quarantined": aside,
                    },
                )
                if target.name == PRIMARY:
                    db.execute(
                        "UPDATE bags SET last_verified_at = ?, last_result = 'success'"
                        " WHERE identifier = ?",
                        (ledger.now(), identifier),
                    )
            out.append(
                _replace(
                    c,
                    f"repaired from {source_name}"
                    + (f"; damaged copy kept in {aside}" if aside else ""),
                )
            )
        return out
    finally:
        if fetched is not None:
            shutil.rmtree(fetched, ignore_errors=True)


def _digests_of(inv: Inventory | None) -> dict[str, Any] | None:
    """A copy as found, for the record: its tag-manifest digests and an inventory digest."""
    if inv is None:
        return None
    return {
        "inventory_sha256": _inventory_digest(inv),
        "tagmanifests": {k: v for k, v in inv.items() if k.startswith("tagmanifest-")},
        "files": len(inv),
    }


def _replace(c: CopyCheck, action: str) -> CopyCheck:
    return CopyCheck(c.target, c.problems, action)


# --------------------------------------------------------------------------- withdrawal


@dataclass(frozen=True)
class WithdrawReport:
    identifier: str
    reason: str
    at: str
    #: target → where its copy was put aside (None: it held none).
    quarantined: Mapping[str, str | None]

    def as_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "reason": self.reason,
            "at": self.at,
            "quarantined": dict(self.quarantined),
        }


def withdraw(archive: Path, identifier: str, reason: str) -> WithdrawReport:
    """``preserve withdraw``: put every copy of a bag aside (quarantine, never deleted) and
    leave a chained tombstone (``deaccession``) so audits expect it gone.

    Every target is checked reachable before anything moves; an unknown or already
    withdrawn identifier changes nothing (exit 1).
    """
    archive = archive.absolute()
    reason = " ".join(reason.split())
    if not reason:
        raise UnknownBag("a reason is required (--reason)")
    db = _open(archive)
    try:
        if not ledger_check.is_ingested(db, identifier):
            raise UnknownBag(f"no bag '{identifier}' in this archive", archive)
        if identifier in withdrawn_ids(db):
            raise UnknownBag(f"'{identifier}' was already withdrawn", archive)
        targets = registered_targets(archive)
        for target in targets:
            target.prepare(create=False)
        moved: dict[str, str | None] = {}
        for target in [LocalTarget(PRIMARY, archive, primary=True), *targets]:
            try:
                moved[target.name] = target.quarantine(identifier, "withdrawn")
            except OSError as exc:
                raise ArchiveError(
                    f"cannot move {identifier} aside on {target.name}: {exc.strerror or exc}"
                    f" (already moved: {moved})"
                ) from None
        at = ledger.now()
        with ledger.write(db):
            digest = ledger.record_event(
                db,
                identifier=identifier,
                type=DEACCESSION,
                outcome="success",
                detail={"reason": reason, "quarantined": moved},
                agent=software_agent(),
                at=at,
            )
            db.execute(
                "INSERT OR REPLACE INTO withdrawals (identifier, at, reason, event_hash)"
                " VALUES (?, ?, ?, ?)",
                (identifier, at, reason, digest),
            )
            db.execute("DELETE FROM statements_fts WHERE identifier = ?", (identifier,))
            db.execute("DELETE FROM replica_copies WHERE identifier = ?", (identifier,))
        return WithdrawReport(identifier, reason, at, moved)
    finally:
        db.close()


# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class CopyStatus:
    identifier: str
    #: target → (last verified at, last result)
    copies: Mapping[str, tuple[str | None, str | None]]
    good: int
    at_risk: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "good_copies": self.good,
            "at_risk": self.at_risk,
            "copies": {
                t: {"last_verified_at": v, "last_result": r} for t, (v, r) in self.copies.items()
            },
        }


def copy_status(
    archive: Path, primary: Mapping[str, tuple[str | None, str | None]]
) -> tuple[int, list[CopyStatus]]:
    """Each bag's copies as last verified (the primary's from ``primary``), and whether it
    has fewer good copies than ``[replicas] copies`` requires. Read-only."""
    archive = archive.absolute()
    required = load_settings(archive).replica_copies
    db = ledger.connect(archive, readonly=True)
    try:
        with ledger.reading(archive):
            per: dict[str, dict[str, tuple[str | None, str | None]]] = {}
            if ledger.version_of(db) >= 5:
                for identifier, target, verified, result in db.execute(
                    "SELECT identifier, target, last_verified_at, last_result FROM replica_copies"
                ):
                    per.setdefault(identifier, {})[target] = (verified, result)
            gone = set(withdrawn_ids(db))
    finally:
        db.close()
    rows = []
    for identifier, (verified, result) in sorted(primary.items()):
        if identifier in gone:
            continue
        copies = {PRIMARY: (verified, "good" if result == "success" else result)}
        copies.update(per.get(identifier, {}))
        good = sum(1 for _, r in copies.values() if r == "good")
        rows.append(CopyStatus(identifier, copies, good, good < required))
    return required, rows
