"""Copies per bag as last verified, for ``preserve audit --status``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preserve import ledger
from preserve.replicas.base import (
    PRIMARY,
)
from preserve.replicas.records import withdrawn_ids
from preserve.settings import load_settings


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
