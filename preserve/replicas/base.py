"""Constants, errors and the interface every replica target implements."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from preserve.errors import ExitCode, PreserveError

MARKER = ".preserve-replica"
MARKER_TEXT = b"preserve-replica/1\n"
#: The marker's second line names the archive the replica belongs to (the hash of the
#: archive's first chained event): a replica of one archive is never written by another.
MARKER_ARCHIVE = "archive: "
QUARANTINE_DIR = "quarantine"
PRIMARY = "primary"
#: PREMIS event types (Library of Congress vocabulary).
REPLICATION = "replication"
RECOVERY = "recovery"
DEACCESSION = "deaccession"
#: A copy put aside on one target: a withdrawn bag's copy left there (the target was
#: unreachable at the withdrawal) or a bag the archive never held, planted in bags/.
QUARANTINE = "quarantine"
#: A tag or manifest file read to derive the expected inventory is at most this large.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
#: Bags listed, hashed, copied and recorded together (per ssh/rsync call, per flush to
#: disk, per ledger transaction): per-call costs (an ssh session, a process, a sync) are
#: then paid 10 times for 10,000 bags, not 10,000 times.
SSH_BATCH = 1000
SIGNATURES_PREFIX = "signatures/"
#: ``Target.put``'s reason for a bag not copied because the target filled up: the
#: operation stops there (exit 2) after recording the copies already placed.
NO_SPACE = "no space left on the target"
#: ``Target.put``'s reason for a copy that does not match the ledger's record once there.
LANDED_WRONG = "the copy differs after it landed"


class ReplicaError(PreserveError):
    """A target cannot be used (unreachable, full, not a replica): nothing was changed (exit 2)."""

    exit_code = ExitCode.cannot_run


class UnknownBag(PreserveError):
    """The bag identifier is not one the archive holds (exit 1)."""

    exit_code = ExitCode.bad


def marker_bytes(archive_id: str | None) -> bytes:
    """The marker of a replica of the archive ``archive_id`` (None: not bound yet)."""
    return MARKER_TEXT + (f"{MARKER_ARCHIVE}{archive_id}\n".encode() if archive_id else b"")


def check_marker(data: bytes | None, archive_id: str | None, where: Path | str) -> bool:
    """Whether ``data`` is a replica marker that ``archive_id`` may use; True when it
    must be bound to ``archive_id`` first (a marker from before the binding).

    Raises :class:`ReplicaError` for a replica of another archive."""
    if data is None or not data.startswith(MARKER_TEXT):
        return False
    rest = data[len(MARKER_TEXT) :].decode("utf-8", "replace").strip()
    bound = rest.removeprefix(MARKER_ARCHIVE) if rest.startswith(MARKER_ARCHIVE) else None
    if archive_id and bound and bound != archive_id:
        raise ReplicaError(
            f"a replica of another archive (its {MARKER} names {bound[:12]}…, this archive is "
            f"{archive_id[:12]}…): nothing was written",
            where,
        )
    return True


#: A copy's files: bag-relative path → SHA-256, or ``"!odd"`` for a link, FIFO or device.
Inventory = dict[str, str]
ODD = "!odd"


class Target:
    """Where copies live: the interface the local folder and the ssh host share."""

    name: str
    url: str

    def prepare(self, *, create: bool, archive_id: str | None = None) -> None:
        """Check the target is a replica of the archive ``archive_id`` (mark an empty or
        new folder as one when ``create``; bind a replica marked before the binding)."""
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

    def bag_names(self) -> list[str]:
        """Every entry of ``bags/``: a planted bag, or a withdrawn one left behind, shows."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the target holds open (nothing, for a folder)."""


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


@contextlib.contextmanager
def replicas_lock(archive: Path) -> Iterator[None]:
    """Hold the archive's replica lock for the block, or refuse at once (exit 2).

    Every operation that writes copies (replicate, repair, withdraw) takes it: two at
    once would stage and place the same bags side by side. It is an ``flock`` on the
    archive folder itself, so no file is written for it (a refused run changes
    nothing) and the kernel drops it when the holder dies (a killed run never leaves
    the archive locked).
    """
    try:
        fd = os.open(archive, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise ReplicaError(f"cannot open the archive: {exc.strerror or exc}", archive) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise ReplicaError(
                    "another replicate, repair or withdrawal is running on this archive; "
                    "nothing was changed: run this again when it has finished",
                    archive,
                ) from None
            raise ReplicaError(f"cannot lock the archive: {exc.strerror or exc}", archive) from None
        yield
    finally:
        os.close(fd)
