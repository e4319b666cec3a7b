"""Repair: a damaged or missing copy replaced from a good one, the bad one kept aside."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from preserve import ledger
from preserve.archive import STAGING_DIR
from preserve.replicas.base import (
    PRIMARY,
    RECOVERY,
    Inventory,
    ReplicaError,
    Target,
)
from preserve.replicas.inventory import compare, local_inventory
from preserve.replicas.local import LocalTarget
from preserve.replicas.records import _inventory_digest, _record_copy
from preserve.replicas.reports import CopyCheck


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
