"""``preserve replicate``: every published bag onto a target, verified where it lands."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from preserve import ledger
from preserve.replicas.base import (
    PRIMARY,
    REPLICATION,
    SSH_BATCH,
    Inventory,
    ReplicaError,
)
from preserve.replicas.inventory import compare, expected_inventory
from preserve.replicas.local import LocalTarget
from preserve.replicas.records import _chunks, _open, _record_copy, published_ids
from preserve.replicas.reports import ReplicateReport
from preserve.replicas.targets import resolve_target


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
