"""Repair: a damaged or missing copy replaced from a good one, the bad one kept aside.

A batch of bags is repaired together: each bad copy is put aside (quarantine), then every
replacement bound for one target goes in one ``Target.put`` (one flush to disk, one rsync
and one remote hashing for an ssh host), and every recovery is chained in one ledger
transaction. Per bag, these cost more than the copying.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preserve import ledger
from preserve.fsio import STAGING_DIR
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


@dataclass(frozen=True)
class Damaged:
    """One bag as checked: its copies, what the chain says it must hold, each copy as found."""

    identifier: str
    copies: list[CopyCheck]
    want: Inventory
    before: Mapping[str, Inventory | None]


def repair_batch(
    db: sqlite3.Connection,
    damaged: Sequence[Damaged],
    everyone: Sequence[Target],
    archive: Path,
    notes: list[str],
) -> dict[str, list[CopyCheck]]:
    """Replace each bad copy of each bag with a good one, through staging; record each
    (with the digests of the bad copy as found and of the copy placed). Returns each
    bag's copies with what was done; a bag whose good copy cannot be had keeps its own."""
    by_name = {t.name: t for t in everyone}
    staging = archive / STAGING_DIR
    fetched: list[Path] = []
    sources: dict[str, str] = {}
    #: target → identifier → the local folder of a good copy
    plans: dict[str, dict[str, Path]] = {}
    wants = {d.identifier: d.want for d in damaged}
    try:
        for bag in damaged:
            local = _good_copy(bag, by_name, staging, fetched, sources, notes)
            if local is None:
                continue
            for c in bag.copies:
                if not c.good:
                    plans.setdefault(c.target, {})[bag.identifier] = local
        #: (target, identifier) → the action taken, and where the bad copy was put
        done: dict[tuple[str, str], tuple[str, str | None]] = {}
        for name, items in plans.items():
            done.update(_replace_on(by_name[name], items, wants))
        at = ledger.now()
        with ledger.write(db):
            for bag in damaged:
                for c in bag.copies:
                    action, aside = done.get((c.target, bag.identifier), ("", None))
                    if action != "repaired":
                        continue
                    _record_copy(
                        db,
                        bag.identifier,
                        by_name[c.target],
                        bag.want,
                        at,
                        RECOVERY,
                        {
                            "source": sources[bag.identifier],
                            "was": sorted({p[0] for p in c.problems}),
                            "before": _digests_of(bag.before.get(c.target)),
                            "problems": [m for _, m in c.problems][:20],
                            "quarantined": aside,
                        },
                    )
                    if c.target == PRIMARY:
                        db.execute(
                            "UPDATE bags SET last_verified_at = ?, last_result = 'success'"
                            " WHERE identifier = ?",
                            (at, bag.identifier),
                        )
        out: dict[str, list[CopyCheck]] = {}
        for bag in damaged:
            copies = []
            for c in bag.copies:
                action, aside = done.get((c.target, bag.identifier), ("", None))
                if action == "repaired":
                    kept = f"; damaged copy kept in {aside}" if aside else ""
                    c = _replace(c, f"repaired from {sources[bag.identifier]}{kept}")
                elif action:
                    c = _replace(c, f"repair failed: {action}")
                copies.append(c)
            out[bag.identifier] = copies
        return out
    finally:
        for folder in fetched:
            shutil.rmtree(folder, ignore_errors=True)


def _good_copy(
    bag: Damaged,
    by_name: Mapping[str, Target],
    staging: Path,
    fetched: list[Path],
    sources: dict[str, str],
    notes: list[str],
) -> Path | None:
    """A local folder holding a good copy of the bag: a local target's own, or one
    fetched from a remote target and verified again here (None: none could be had)."""
    good = [c.target for c in bag.copies if c.good]
    name = next((n for n in good if isinstance(by_name[n], LocalTarget)), good[0])
    source = by_name[name]
    sources[bag.identifier] = name
    if isinstance(source, LocalTarget):
        return source.bag_dir(bag.identifier)
    staging.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"repair.{bag.identifier}.", dir=staging))
    fetched.append(folder)
    local = folder / bag.identifier
    try:
        source.fetch(bag.identifier, local)
    except (ReplicaError, OSError) as exc:
        notes.append(f"{bag.identifier}: cannot fetch the copy from {name}: {exc}")
        return None
    os.sync()
    if compare(bag.want, local_inventory(local)):
        notes.append(f"{bag.identifier}: the copy fetched from {name} did not verify")
        return None
    return local


def _replace_on(
    target: Target, items: Mapping[str, Path], wants: Mapping[str, Inventory]
) -> dict[tuple[str, str], tuple[str, str | None]]:
    """Put each bad copy on one target aside, then place every replacement in one put."""
    done: dict[tuple[str, str], tuple[str, str | None]] = {}
    asides: dict[str, str | None] = {}
    for identifier in items:
        try:
            asides[identifier] = target.quarantine(identifier, "damaged")
        except (ReplicaError, OSError) as exc:
            done[(target.name, identifier)] = (str(exc), None)
    send = {i: p for i, p in items.items() if i in asides}
    try:
        placed = target.put(send, {i: wants[i] for i in send}) if send else {}
    except (ReplicaError, OSError) as exc:
        placed = {i: str(exc) for i in send}
    for identifier, why in placed.items():
        done[(target.name, identifier)] = (why or "repaired", asides.get(identifier))
    return done


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
