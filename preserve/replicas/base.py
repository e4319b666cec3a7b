"""Constants, errors and the interface every replica target implements."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

from preserve.errors import ExitCode, PreserveError

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
