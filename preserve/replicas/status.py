"""Copies per bag as last verified, for ``preserve audit --status``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
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
    required = required_copies(archive)
    rows = iter_copy_status(archive, ((i, v, r) for i, (v, r) in sorted(primary.items())), required)
    return required, list(rows)


def required_copies(archive: Path) -> int:
    """``[replicas] copies`` of the archive's settings."""
    return load_settings(archive.absolute()).replica_copies


def iter_copy_status(
    archive: Path,
    primary: Iterable[tuple[str, str | None, str | None]],
    required: int | None = None,
) -> Iterator[CopyStatus]:
    """:func:`copy_status` streamed: ``primary`` gives (identifier, last verified, last
    result) bag by bag, and each bag's copies are read with one indexed query, so the
    memory does not grow with the archive. ``required``: :func:`required_copies`, when
    the caller has read it already."""
    archive = archive.absolute()
    if required is None:
        required = required_copies(archive)
    db = ledger.connect(archive, readonly=True)
    try:
        with ledger.reading(archive):
            replicas = ledger.version_of(db) >= 5
            gone = set(withdrawn_ids(db))
            for identifier, verified, result in primary:
                if identifier in gone:
                    continue
                copies = {PRIMARY: (verified, "good" if result == "success" else result)}
                if replicas:
                    for target, at, outcome in db.execute(
                        "SELECT target, last_verified_at, last_result FROM replica_copies"
                        " WHERE identifier = ? ORDER BY target",
                        (identifier,),
                    ):
                        copies[target] = (at, outcome)
                good = sum(1 for _, r in copies.values() if r == "good")
                yield CopyStatus(identifier, copies, good, good < required)
    finally:
        db.close()
