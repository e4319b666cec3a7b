"""``preserve withdraw``: every copy put aside, a chained tombstone left."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preserve import ledger, ledger_check
from preserve.errors import ArchiveError
from preserve.replicas.base import (
    DEACCESSION,
    PRIMARY,
    ReplicaError,
    Target,
    UnknownBag,
    replicas_lock,
)
from preserve.replicas.local import LocalTarget
from preserve.replicas.records import _open, archive_identity, software_agent, withdrawn_ids
from preserve.replicas.targets import check_apart, registered_targets


@dataclass(frozen=True)
class WithdrawReport:
    identifier: str
    reason: str
    at: str
    #: target → where its copy was put aside (None: it held none).
    quarantined: Mapping[str, str | None]
    #: target → why it could not be reached: its copy is put aside by the next
    #: ``preserve replicate`` (or ``audit --repair``) to it.
    pending: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "reason": self.reason,
            "at": self.at,
            "quarantined": dict(self.quarantined),
            "pending": dict(self.pending),
        }


def withdraw(archive: Path, identifier: str, reason: str) -> WithdrawReport:
    """``preserve withdraw``: put every copy of a bag aside (quarantine, never deleted) and
    leave a chained tombstone (``deaccession``) so audits expect it gone.

    A target that cannot be reached does not hold the withdrawal up (a legal takedown
    cannot wait for a backup host): it is named in the tombstone as pending, and the next
    ``replicate`` or ``audit --repair`` to it puts its copy aside (a chained
    ``quarantine`` event). An unknown or already withdrawn identifier changes nothing
    (exit 1).
    """
    archive = archive.absolute()
    reason = " ".join(reason.split())
    if not reason:
        raise UnknownBag("a reason is required (--reason)")
    with replicas_lock(archive):
        return _withdraw(archive, identifier, reason)


def _withdraw(archive: Path, identifier: str, reason: str) -> WithdrawReport:
    db = _open(archive)
    targets: list[Target] = []
    try:
        if not ledger_check.is_ingested(db, identifier):
            raise UnknownBag(f"no bag '{identifier}' in this archive", archive)
        if identifier in withdrawn_ids(db):
            raise UnknownBag(f"'{identifier}' was already withdrawn", archive)
        targets = registered_targets(archive)
        check_apart(archive, targets)
        pending: dict[str, str] = {}
        reachable: list[Target] = []
        for target in targets:
            try:
                target.prepare(create=False, archive_id=archive_identity(db))
                reachable.append(target)
            except ReplicaError as exc:
                pending[target.name] = str(exc)
        moved: dict[str, str | None] = {}
        for target in [LocalTarget(PRIMARY, archive, primary=True), *reachable]:
            try:
                moved[target.name] = target.quarantine(identifier, "withdrawn")
            except ReplicaError as exc:
                pending[target.name] = str(exc)
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
                detail={"reason": reason, "quarantined": moved, "pending": pending},
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
            # Harvesters learn of the deletion from this time on (the OAI datestamp).
            db.execute("UPDATE bags SET changed_at = ? WHERE identifier = ?", (at, identifier))
        return WithdrawReport(identifier, reason, at, moved, pending)
    finally:
        for target in targets:
            target.close()
        db.close()
