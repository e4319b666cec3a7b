"""``preserve replicate``: every published bag onto a target, verified where it lands."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from preserve import ledger
from preserve.replicas.base import (
    LANDED_WRONG,
    NO_SPACE,
    PRIMARY,
    REPLICATION,
    SSH_BATCH,
    Inventory,
    ReplicaError,
    replicas_lock,
)
from preserve.replicas.inventory import compare, expected_inventory
from preserve.replicas.local import LocalTarget
from preserve.replicas.records import (
    _chunks,
    _open,
    _record_copy,
    archive_identity,
    find_strays,
    published_ids,
    put_aside,
    withdrawn_ids,
)
from preserve.replicas.reports import WITHDRAWN_PRESENT, ReplicateReport
from preserve.replicas.targets import check_apart, resolve_target

#: The space a file takes is counted in whole blocks of this size (a small bag's files
#: take far more room on disk than the sum of their sizes).
BLOCK = 4096


def _size(inv: Inventory, bag_dir: Path) -> int:
    total = 2 * BLOCK  # the bag's folders
    for rel in inv:
        with contextlib.suppress(OSError):
            total += -(-(bag_dir / rel).lstat().st_size // BLOCK) * BLOCK
    return total


def _why(why: str, primary: LocalTarget, identifier: str, expected: dict[str, Inventory]) -> str:
    """A copy that did not verify where it landed: say so, or, when the primary's own copy
    is what differs from the ledger, say that (it is hashed only then: every copy is
    verified where it lands, so hashing the primary before sending was a second pass)."""
    if not why.startswith(LANDED_WRONG):
        return why
    problems = compare(expected[identifier], primary.inventories([identifier])[identifier])
    if problems:
        return f"the primary's copy is damaged ({problems[0][1]}): run preserve audit --repair"
    return why


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
    ledger's record: a copy made from a damaged primary does not verify where it lands,
    and is not placed.
    """
    archive = archive.absolute()
    with replicas_lock(archive):
        return _replicate(archive, spec, progress)


def _replicate(archive: Path, spec: str, progress: Callable[[str], None] | None) -> ReplicateReport:
    target = resolve_target(archive, spec)
    db = _open(archive)
    try:
        check_apart(archive, [target])
        target.prepare(create=True, archive_id=archive_identity(db))
        primary = LocalTarget(PRIMARY, archive, primary=True)
        ids = published_ids(db)
        # A withdrawn bag still here (the target was unreachable at the withdrawal) is put
        # aside now, which finishes the withdrawal; a planted one is only reported.
        found = find_strays(target, set(ids), withdrawn_ids(db))
        strays = put_aside(db, target, [s for s in found if s.code == WITHDRAWN_PRESENT])
        strays += [s for s in found if s.code != WITHDRAWN_PRESENT]
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
                        failed.append((identifier, _why(why, primary, identifier, expected)))
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
            if NO_SPACE in placed.values():
                raise ReplicaError(
                    f"the target is full (no space left on it): {len(copied)} bags copied,"
                    f" verified and recorded before it filled; the rest were not copied and"
                    f" nothing partial was left",
                    target.url,
                )
            for identifier in batch:
                if progress:
                    progress(identifier)
        return ReplicateReport(
            str(archive), target.name, tuple(copied), tuple(already), tuple(failed), tuple(strays)
        )
    finally:
        target.close()
        db.close()
