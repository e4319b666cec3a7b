"""``preserve audit --replicas`` (and ``--repair``): every copy of every bag against the chain."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from preserve import ledger
from preserve.premis import FIXITY_CHECK
from preserve.replicas.base import (
    PRIMARY,
    SSH_BATCH,
    Inventory,
    Target,
    replicas_lock,
)
from preserve.replicas.inventory import compare, expected_inventory
from preserve.replicas.local import LocalTarget
from preserve.replicas.records import (
    _chunks,
    _open,
    archive_identity,
    find_strays,
    published_ids,
    put_aside,
    software_agent,
    withdrawn_ids,
)
from preserve.replicas.repairing import Damaged, repair_batch
from preserve.replicas.reports import BagCopies, CopyCheck, ReplicaReport, Stray
from preserve.replicas.targets import check_apart, registered_targets
from preserve.settings import load_settings


def audit_copies(
    archive: Path,
    *,
    repair: bool = False,
    targets: Sequence[Target] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReplicaReport:
    """``preserve audit --replicas`` (and ``--repair``): every copy of every bag against
    the ledger's chain; with ``repair``, damaged or missing copies replaced from a good one.

    A bag with no good copy anywhere is reported lost; nothing of it is overwritten.
    """
    archive = archive.absolute()
    with replicas_lock(archive) if repair else contextlib.nullcontext():
        return _audit_copies(archive, repair, targets, progress)


def _audit_copies(
    archive: Path,
    repair: bool,
    targets: Sequence[Target] | None,
    progress: Callable[[str], None] | None,
) -> ReplicaReport:
    db = _open(archive)
    chosen: list[Target] = []
    try:
        settings = load_settings(archive)
        chosen = list(targets) if targets is not None else registered_targets(archive)
        check_apart(archive, chosen)
        for target in chosen:
            target.prepare(create=False, archive_id=archive_identity(db))
        primary = LocalTarget(PRIMARY, archive, primary=True)
        everyone: list[Target] = [primary, *chosen]
        required = settings.replica_copies
        ids = published_ids(db)
        withdrawn = withdrawn_ids(db)
        strays: list[Stray] = []
        for target in chosen:
            found_there = find_strays(target, set(ids), withdrawn)
            strays += put_aside(db, target, found_there) if repair else found_there
        bags: list[BagCopies] = []
        repaired = 0
        notes: list[str] = []
        for batch in _chunks(ids, SSH_BATCH):
            found = _inventories(everyone, batch)
            checked: list[tuple[str, list[CopyCheck], Inventory | None]] = []
            for identifier in batch:
                want = expected_inventory(db, identifier, everyone)
                copies = []
                for t in everyone:
                    inv = found[t.name].get(identifier)
                    problems = (
                        [("replica.no-good-record", "no copy holds the ledger's tag manifest")]
                        if want is None
                        else compare(want, inv)
                    )
                    copies.append(CopyCheck(t.name, tuple(problems)))
                checked.append((identifier, copies, want))
            at = ledger.now()
            mended: dict[str, list[CopyCheck]] = {}
            if repair:
                damaged = [
                    Damaged(i, copies, want, {t.name: found[t.name].get(i) for t in everyone})
                    for i, copies, want in checked
                    if want is not None and 0 < sum(c.good for c in copies) < len(copies)
                ]
                if damaged:
                    mended = repair_batch(db, damaged, everyone, archive, notes)
            with ledger.write(db):
                for identifier, copies, _ in checked:
                    _record_check(db, identifier, mended.get(identifier, copies), at)
            for identifier, copies, _ in checked:
                lost = not any(c.good for c in copies)
                copies = mended.get(identifier, copies)
                repaired += sum(1 for c in copies if c.repaired)
                good_after = sum(1 for c in copies if c.good or c.repaired)
                bags.append(BagCopies(identifier, tuple(copies), good_after, required, lost))
                if progress:
                    progress(identifier)
        names = tuple(t.name for t in everyone)
        if len(everyone) < required:
            notes.append(
                f"{required} copies are required but only {len(everyone)} places are known "
                "(the primary and the registered targets): register more targets"
            )
        return ReplicaReport(
            str(archive), names, required, tuple(bags), repaired, tuple(notes), tuple(strays)
        )
    finally:
        for target in chosen:
            target.close()
        db.close()


def _record_check(
    db: sqlite3.Connection, identifier: str, copies: Sequence[CopyCheck], at: str
) -> None:
    detail = {c.target: ("good" if c.good else sorted({p[0] for p in c.problems})) for c in copies}
    ledger.record_event(
        db,
        identifier=identifier,
        type=FIXITY_CHECK,
        outcome="success" if all(c.good for c in copies) else "failure",
        detail={"copies": detail},
        agent=software_agent(),
        at=at,
    )
    for c in copies:
        if c.target == PRIMARY:
            continue
        # A copy repaired just now is good (its recovery event says from what).
        result = "good" if c.good or c.repaired else ",".join(sorted({p[0] for p in c.problems}))
        db.execute(
            "INSERT INTO replica_copies (identifier, target, url, last_verified_at, last_result)"
            " VALUES (?, ?, '', ?, ?) ON CONFLICT (identifier, target) DO UPDATE SET"
            " last_verified_at = excluded.last_verified_at, last_result = excluded.last_result",
            (identifier, c.target, at, result),
        )


def _inventories(
    everyone: Sequence[Target], batch: Sequence[str]
) -> dict[str, dict[str, Inventory | None]]:
    """Every place's copies of a batch, listed at once: an ssh host hashes its copies
    while the local ones are hashed here (reads and hashing release the GIL), so the
    slowest place sets the pace instead of the sum of them."""
    with ThreadPoolExecutor(max_workers=len(everyone)) as pool:
        futures = {t.name: pool.submit(t.inventories, batch) for t in everyone}
        return {name: future.result() for name, future in futures.items()}
