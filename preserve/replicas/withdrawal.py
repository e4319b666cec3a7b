"""``preserve withdraw``: every copy put aside, a chained tombstone left."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preserve import ledger, ledger_check
from preserve.errors import ArchiveError
from preserve.replicas.base import (
    DEACCESSION,
    PRIMARY,
    UnknownBag,
)
from preserve.replicas.local import LocalTarget
from preserve.replicas.records import _open, software_agent, withdrawn_ids
from preserve.replicas.targets import registered_targets

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
