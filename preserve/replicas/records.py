"""The chain's record of copies: what is published or withdrawn, and copy events."""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from preserve import ledger
from preserve.errors import ArchiveError
from preserve.premis import software_agent as _software_agent
from preserve.replicas.base import (
    DEACCESSION,
    PRIMARY,
    QUARANTINE,
    Inventory,
    Target,
)
from preserve.replicas.reports import BAG_UNKNOWN, WITHDRAWN_PRESENT, Stray


def withdrawn_ids(db: sqlite3.Connection) -> dict[str, str]:
    """Bags the chain records as withdrawn: identifier → reason (the chain, not the table)."""
    out: dict[str, str] = {}
    for identifier, detail in db.execute(
        "SELECT identifier, detail FROM events WHERE type = ? AND outcome = 'success'"
        " AND identifier IS NOT NULL ORDER BY id",
        (DEACCESSION,),
    ):
        try:
            out[identifier] = str(json.loads(detail).get("reason", ""))
        except (ValueError, AttributeError):
            out[identifier] = ""
    return out


def archive_identity(db: sqlite3.Connection) -> str | None:
    """The archive's identity for its replicas' markers: the hash of its first chained
    event (a copy of the archive is the same archive; None: nothing recorded yet)."""
    row = db.execute(
        "SELECT hash FROM events WHERE hash IS NOT NULL ORDER BY id LIMIT 1"
    ).fetchone()
    return str(row[0]) if row and row[0] else None


def published_ids(db: sqlite3.Connection) -> list[str]:
    """Bags the chain records as ingested and not withdrawn: what every copy must hold."""
    gone = withdrawn_ids(db)
    rows = db.execute(
        "SELECT DISTINCT identifier FROM events WHERE type = 'ingestion' AND outcome = 'success'"
        " AND identifier IS NOT NULL ORDER BY identifier"
    )
    return [i for (i,) in rows if i not in gone]


def _open(archive: Path) -> sqlite3.Connection:
    archive = archive.absolute()
    if not (archive / ledger.LEDGER_NAME).is_file():
        raise ArchiveError("not a preserve archive (no ledger.sqlite)", archive)
    db = ledger.connect(archive)
    if ledger.version_of(db) < 5:  # pragma: no cover - connect migrates
        db.close()
        raise ArchiveError("the ledger is older than version 5", archive)
    return db


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@functools.cache
def software_agent() -> str:
    """The agent of every event here, read once (it reads package metadata: ~5 ms)."""
    return _software_agent()


def _inventory_digest(inv: Inventory) -> str:
    lines = "".join(f"{rel}\0{digest}\n" for rel, digest in sorted(inv.items()))
    return hashlib.sha256(lines.encode("utf-8", "surrogateescape")).hexdigest()


def _record_copy(
    db: sqlite3.Connection,
    identifier: str,
    target: Target,
    inv: Inventory,
    at: str,
    kind: str,
    extra: Mapping[str, Any],
) -> None:
    tagmanifests = {k: v for k, v in inv.items() if k.startswith("tagmanifest-")}
    ledger.record_event(
        db,
        identifier=identifier,
        type=kind,
        outcome="success",
        detail={
            "target": target.name,
            "url": target.url,
            "files": len(inv),
            "inventory_sha256": _inventory_digest(inv),
            "tagmanifests": tagmanifests,
            **extra,
        },
        agent=software_agent(),
        at=at,
    )
    if target.name != PRIMARY:
        db.execute(
            "INSERT INTO replica_copies (identifier, target, url, copied_at, last_verified_at,"
            " last_result) VALUES (?, ?, ?, ?, ?, 'good') ON CONFLICT (identifier, target)"
            " DO UPDATE SET url = excluded.url, copied_at = excluded.copied_at,"
            " last_verified_at = excluded.last_verified_at, last_result = 'good'",
            (identifier, target.name, target.url, at, at),
        )


def find_strays(target: Target, published: set[str], withdrawn: Mapping[str, str]) -> list[Stray]:
    """Folders in the target's ``bags/`` that no published bag explains (one listing)."""
    out = []
    for name in target.bag_names():
        if name in published:
            continue
        if name in withdrawn:
            out.append(Stray(target.name, name, WITHDRAWN_PRESENT, "withdrawn, but a copy is here"))
        else:
            out.append(
                Stray(target.name, name, BAG_UNKNOWN, "not a bag of this archive (planted?)")
            )
    return out


def put_aside(db: sqlite3.Connection, target: Target, strays: Sequence[Stray]) -> list[Stray]:
    """Move strays into the target's quarantine (never deleted), one chained PREMIS
    ``quarantine`` event each, all in one transaction."""
    done = []
    for stray in strays:
        why = "withdrawn" if stray.code == WITHDRAWN_PRESENT else "unknown"
        aside = target.quarantine(stray.identifier, why)
        done.append(replace(stray, action=f"put aside in {aside}" if aside else "already gone"))
    if not done:
        return done
    at = ledger.now()
    with ledger.write(db):
        for stray in done:
            withdrawn = stray.code == WITHDRAWN_PRESENT
            ledger.record_event(
                db,
                # A planted folder's name is no identifier of this archive's.
                identifier=stray.identifier if withdrawn else None,
                type=QUARANTINE,
                outcome="success",
                detail={
                    "target": target.name,
                    "url": target.url,
                    "folder": stray.identifier,
                    "why": stray.code,
                    "quarantined": stray.action.removeprefix("put aside in "),
                },
                agent=software_agent(),
                at=at,
            )
            if withdrawn:
                db.execute(
                    "DELETE FROM replica_copies WHERE identifier = ? AND target = ?",
                    (stray.identifier, target.name),
                )
    return done
