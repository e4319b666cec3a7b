"""A replica folder on another host, reached with the system's ssh and rsync."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from preserve.bagit_format import safe_relpath
from preserve.fsio import BAGS_DIR, STAGING_DIR
from preserve.replicas.base import (
    LANDED_WRONG,
    MARKER,
    MARKER_TEXT,
    NO_SPACE,
    ODD,
    QUARANTINE_DIR,
    SSH_BATCH,
    Inventory,
    ReplicaError,
    Target,
    _stamp,
    check_marker,
    marker_bytes,
)
from preserve.replicas.inventory import compare
from preserve.replicas.ssh_url import _Full, _ssh_failure, parse_ssh_url


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
        self._folder: str | None = None
        self._control: str | None = None
        if shutil.which("ssh") is None:
            raise ReplicaError("ssh is not installed here: cannot reach " + url)

    def _base_args(self) -> list[str]:
        args = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.timeout}"]
        args += ["-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR"]
        if self.known_hosts:
            args += ["-o", f"UserKnownHostsFile={self.known_hosts}"]
        if self.identity:
            args += ["-o", "IdentitiesOnly=yes", "-i", self.identity]
        if self.remote.port:
            args += ["-p", str(self.remote.port)]
        return args

    def ssh_args(self) -> list[str]:
        """ssh's arguments (for rsync's ``-e`` too), through one master connection
        opened at first use: a handshake per call costs more than many calls' work."""
        if self._control is None:
            self._start_master()
        return [*self._base_args(), "-o", "ControlMaster=no", "-o", f"ControlPath={self._control}"]

    def _start_master(self) -> None:
        folder = tempfile.mkdtemp(prefix="preserve-ssh-")
        control = os.path.join(folder, "master")
        # stderr to a file, not a pipe: the master outlives this call and would hold a
        # pipe open (subprocess would wait for it).
        with tempfile.TemporaryFile() as err:
            try:
                done = subprocess.run(
                    [
                        *self._base_args(),
                        "-o",
                        "ControlMaster=yes",
                        "-o",
                        f"ControlPath={control}",
                        "-o",
                        "ControlPersist=120",
                        "-N",
                        "-f",
                        self.login,
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    timeout=self.timeout * 4,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                shutil.rmtree(folder, ignore_errors=True)
                raise ReplicaError(f"unreachable: {exc}", self.url) from None
            if done.returncode != 0:
                shutil.rmtree(folder, ignore_errors=True)
                err.seek(0)
                raise ReplicaError(_ssh_failure(err.read()), self.url)
        self._folder, self._control = folder, control

    def close(self) -> None:
        """Close the master connection (it would close itself after 2 idle minutes)."""
        if self._control is None:
            return
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(
                [
                    *self._base_args(),
                    "-o",
                    f"ControlPath={self._control}",
                    "-O",
                    "exit",
                    self.login,
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=10,
                check=False,
            )
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)
        self._control = self._folder = None

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
            raise ReplicaError(_ssh_failure(done.stderr), self.url)
        if check and done.returncode != 0:
            why = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ReplicaError(
                f"the remote command failed: {why[-1] if why else done.returncode}", self.url
            )
        return done.stdout

    def _root(self) -> str:
        return shlex.quote(self.remote.path)

    def prepare(self, *, create: bool, archive_id: str | None = None) -> None:
        root = self._root()
        first = shlex.quote(MARKER_TEXT.decode().strip())
        content = shlex.quote(marker_bytes(archive_id).decode())
        script = f"""
root={root}
if [ -L "$root" ] || {{ [ -e "$root" ] && [ ! -d "$root" ]; }}; then echo NOTDIR; exit 0; fi
if [ -f "$root/{MARKER}" ] && [ ! -L "$root/{MARKER}" ] &&
   [ "$(head -n 1 "$root/{MARKER}")" = {first} ]; then
  for s in bags staging quarantine; do
    if [ -L "$root/$s" ] || {{ [ -e "$root/$s" ] && [ ! -d "$root/$s" ]; }}; then
      echo "LINKED $s"; exit 0; fi
  done
  mkdir -p "$root/bags" "$root/staging" "$root/quarantine" && echo OK && cat "$root/{MARKER}"
  exit 0; fi
if [ -d "$root" ] && [ -n "$(ls -A "$root")" ]; then echo NOTREPLICA; exit 0; fi
if [ {"1" if create else "0"} = 0 ]; then echo NOTREPLICA; exit 0; fi
[ -d "$(dirname "$root")" ] || {{ echo NOPARENT; exit 0; }}
mkdir -p "$root/bags" "$root/staging" "$root/quarantine" &&
  printf '%s' {content} > "$root/{MARKER}.tmp" && mv "$root/{MARKER}.tmp" "$root/{MARKER}" &&
  echo NEW
"""
        answer = self._sh(script)
        word, _, found = answer.partition(b"\n")
        if word == b"NEW":
            return
        if word == b"OK":
            bind = check_marker(found, archive_id, self.url)
            if bind and archive_id and found != marker_bytes(archive_id):
                self._sh(
                    f"printf '%s' {content} > {root}/{MARKER}.tmp &&"
                    f" mv {root}/{MARKER}.tmp {root}/{MARKER}"
                )
            return
        text = word.decode("utf-8", "replace").strip()
        reasons = {
            "NOTDIR": "not a folder: not a preserve replica",
            "NOTREPLICA": f"not a preserve replica (no {MARKER}) and not empty: "
            "nothing was written",
            "NOPARENT": "unreachable: its parent folder does not exist",
        }
        if text.startswith("LINKED "):
            raise ReplicaError(
                f"{text[7:]}/ is a link or not a folder: nothing was written", self.url
            )
        raise ReplicaError(reasons.get(text, f"cannot make a replica here ({text})"), self.url)

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

    def bag_names(self) -> list[str]:
        raw = self._sh(
            f"cd {self._root()}/{BAGS_DIR} && find . -mindepth 1 -maxdepth 1 -printf '%f\\0'"
        )
        return sorted(n.decode("utf-8", "surrogateescape") for n in raw.split(b"\0") if n)

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

    def _rsync(self, args: Sequence[str], *, stdin: bytes | None = None) -> None:
        if shutil.which("rsync") is None:
            raise ReplicaError("rsync is not installed here: cannot copy to " + self.url)
        shell = " ".join(shlex.quote(a) for a in self.ssh_args())
        try:
            done = subprocess.run(
                ["rsync", "-a", "--no-links", "--no-devices", "--no-specials", "-e", shell, *args],
                input=stdin,
                capture_output=True,
                check=False,
            )
        except OSError as exc:
            raise ReplicaError(f"cannot run rsync: {exc}", self.url) from None
        if done.returncode != 0:
            err = done.stderr.decode("utf-8", "replace")
            if "No space left on device" in err or "Disk quota exceeded" in err:
                raise _Full(NO_SPACE, self.url)
            if done.returncode == 255 or "Host key verification failed" in err:
                raise ReplicaError(_ssh_failure(done.stderr), self.url)
            why = err.strip().splitlines()
            raise ReplicaError(f"rsync failed: {why[-1] if why else done.returncode}", self.url)

    def _send(self, bags: Mapping[str, Path], staging: str) -> None:
        """One rsync per source folder (the primary's ``bags/``: one for the whole batch),
        the bags named in a ``--files-from`` list: no argument list grows with the batch.
        rsync makes ``staging`` itself (its parent exists)."""
        by_parent: dict[Path, list[str]] = {}
        for identifier, source in bags.items():
            if source.name != identifier:
                raise ValueError(f"a bag's folder must be named after it: {source}")
            by_parent.setdefault(source.parent, []).append(identifier)
        dest = f"{self.login}:{self.remote.path}/{staging}/"
        for parent, names in by_parent.items():
            listing = "".join(f"{n}\0" for n in names).encode("utf-8", "surrogateescape")
            self._rsync(
                ["-r", "--from0", "--files-from=-", f"{parent}/", dest],
                stdin=listing,
            )

    def put(self, bags: Mapping[str, Path], expected: Mapping[str, Inventory]) -> dict[str, str]:
        out: dict[str, str] = {}
        items = list(bags.items())
        for start in range(0, len(items), SSH_BATCH):
            batch = dict(items[start : start + SSH_BATCH])
            staging = f"{STAGING_DIR}/batch.{os.getpid()}.{uuid.uuid4().hex[:8]}"
            cleaned = False
            try:
                try:
                    self._send(batch, staging)
                except _Full:
                    # The target filled up: nothing of this batch is placed, none after it.
                    out.update((i, NO_SPACE) for i, _ in items[start:])
                    break
                self._place(batch, staging, expected, out)
                cleaned = True
            finally:
                if not cleaned:
                    self._sh(f"rm -rf {self._root()}/{staging}", check=False)
        return out

    def _place(
        self,
        batch: Mapping[str, Path],
        staging: str,
        expected: Mapping[str, Inventory],
        out: dict[str, str],
    ) -> None:
        """Verify a batch where it landed (one remote hashing), then one remote script:
        an existing copy put aside, every good copy moved into ``bags/`` by one ``mv``,
        each placement confirmed, staging removed."""
        # rsync names each copy after its source folder: the bag's identifier.
        landed = self._inventories(list(batch), staging)
        good = []
        for identifier in batch:
            problems = compare(expected[identifier], landed.get(identifier))
            if problems:
                out[identifier] = f"{LANDED_WRONG}: {problems[0][1]}"
            else:
                good.append(identifier)
                out[identifier] = "not moved into bags/"
        ids = " ".join(shlex.quote(i) for i in good)
        paths = " ".join(shlex.quote(f"{staging}/{i}") for i in good)
        stamp = _stamp()
        script = f"cd {self._root()} || exit 3\n"
        if good:
            script += f"""for id in {ids}; do
  if [ -e "bags/$id" ] || [ -L "bags/$id" ]; then
    mv "bags/$id" "quarantine/$id.replaced.{stamp}"; fi
done
mv -t bags -- {paths}
for id in {ids}; do
  if [ -d "bags/$id" ] && [ ! -L "bags/$id" ] && [ ! -e "{staging}/$id" ]; then
    printf '%s\\0' "$id"; fi
done
"""
        script += f"rm -rf {shlex.quote(staging)}\n"
        for name in self._sh(script, check=False).split(b"\0"):
            if name:
                out[name.decode("utf-8", "surrogateescape")] = ""

    def fetch(self, identifier: str, into: Path) -> None:
        src = f"{self.login}:{self.remote.path}/{BAGS_DIR}/{identifier}/"
        self._rsync([src, str(into) + "/"])

    def quarantine(self, identifier: str, why: str) -> str | None:
        q = shlex.quote(identifier)
        rel = f"{QUARANTINE_DIR}/{identifier}.{why}.{_stamp()}"
        answer = self._sh(
            f"cd {self._root()} || exit 3\n"
            f"if [ -e bags/{q} ] || [ -L bags/{q} ]; then mv bags/{q} {shlex.quote(rel)}"
            " && echo MOVED; fi\n"
        )
        return rel if answer.strip() == b"MOVED" else None
