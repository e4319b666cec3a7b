"""The chain's record of copies: what is published or withdrawn, and copy events."""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from preserve import ledger
from preserve.errors import ArchiveError
from preserve.premis import software_agent as _software_agent
from preserve.replicas.base import (
    DEACCESSION,
    PRIMARY,
    Inventory,
    Target,
)

# --------------------------------------------------------------------------- the chain's record


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


def published_ids(db: sqlite3.Connection) -> list[str]:
    """Bags the chain records as ingested and not withdrawn: what every copy must hold."""
    gone = withdrawn_ids(db)
    rows = db.execute(
        "SELECT DISTINCT identifier FROM events WHERE type = 'ingestion' AND outcome = 'success'"
        " AND identifier IS NOT NULL ORDER BY identifier"
    )
    return [i for (i,) in rows if i not in gone]


# --------------------------------------------------------------------------- operations


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
