"""The archive's ledger: an SQLite database outside every bag.

It remembers what was ingested (and the digest of each bag's tag manifests at
that moment), every event since, and a full-text index for search. Because it
lives outside the bags, an audit can tell a bag that was rewritten consistently
(payload and manifests edited together) from one that is untouched.

One connection factory; read-only connections use ``mode=ro``; every write runs
in a ``BEGIN IMMEDIATE`` transaction; the schema grows by numbered migrations.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from preserve.errors import ArchiveError

LEDGER_NAME = "ledger.sqlite"
#: How long a writer waits for another process's transaction before giving up
#: (read at each connect, so tests and callers may lower it).
BUSY_TIMEOUT_SECONDS = 60.0


#: Numbered migrations, each a list of statements run in one transaction; the
#: ledger's ``user_version`` says how many have run. (Not ``executescript``: it
#: would commit half-way.)
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE bags (
            identifier TEXT PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,            -- relative to the archive root
            state TEXT NOT NULL CHECK (state IN ('publishing', 'published')),
            publisher_pid INTEGER,                 -- the process publishing it, while 'publishing'
            ingested_at TEXT NOT NULL,             -- UTC, ISO 8601
            payload_oxum TEXT NOT NULL,
            statement_sha256 TEXT NOT NULL,        -- the original bytes
            metadata_sha256 TEXT NOT NULL,         -- the canonical metadata JSON
            software TEXT NOT NULL,
            date_issued TEXT,
            title TEXT,
            last_verified_at TEXT,
            last_result TEXT
        )
        """,
        """
        CREATE TABLE bag_digests (
            identifier TEXT NOT NULL REFERENCES bags(identifier) ON DELETE CASCADE,
            file TEXT NOT NULL,                    -- a tag manifest, e.g. tagmanifest-sha256.txt
            sha256 TEXT NOT NULL,
            PRIMARY KEY (identifier, file)
        )
        """,
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            identifier TEXT,                       -- NULL for archive-wide events
            type TEXT NOT NULL,                    -- PREMIS event type
            at TEXT NOT NULL,
            outcome TEXT NOT NULL,
            detail TEXT NOT NULL,
            agent TEXT NOT NULL
        )
        """,
        """
        CREATE INDEX events_by_bag ON events(identifier, at)
        """,
        """
        CREATE VIRTUAL TABLE statements_fts USING fts5(
            identifier UNINDEXED, date_issued UNINDEXED, title, body, signer, subjects,
            tokenize = 'unicode61 remove_diacritics 2'
        )
        """,
    ),
    # 2: events form a hash chain (preserve.chain); earlier events are sealed at the next write.
    (
        "ALTER TABLE events ADD COLUMN prev_hash TEXT",
        "ALTER TABLE events ADD COLUMN hash TEXT",
        "CREATE INDEX events_by_hash ON events(hash)",
    ),
    # 3: prefix indexes, so prefix queries ("hüquq"*) stay fast on large archives.
    (
        """
        CREATE VIRTUAL TABLE statements_fts_new USING fts5(
            identifier UNINDEXED, date_issued UNINDEXED, title, body, signer, subjects,
            tokenize = 'unicode61 remove_diacritics 2', prefix = '3 4 5 6'
        )
        """,
        "INSERT INTO statements_fts_new SELECT * FROM statements_fts",
        "DROP TABLE statements_fts",
        "ALTER TABLE statements_fts_new RENAME TO statements_fts",
    ),
    # 4: the chain is the ground truth (preserve.ledger_check): events are looked up by
    # type; events from before the chain, and bags and trusted keys the chain does not
    # yet vouch for, are sealed once by a recorded event (chain.seal_legacy), and an
    # unchained event is refused from then on.
    ("CREATE INDEX IF NOT EXISTS events_by_type ON events(type, identifier)",),
    # 5: reserved for the replicas branch (LEAD: replace this placeholder with its
    # migration when merging; 6 below does not depend on it).
    ("SELECT 1",),
    # 6: the audit's queue at a million bags (preserve.audit.QUEUE_QUERY): never verified,
    # then least recently verified, read in index order instead of sorted in memory.
    ("CREATE INDEX IF NOT EXISTS bags_by_last_verified ON bags(last_verified_at, identifier)",),
)
#: From this ledger version on, every event must be chained (see :func:`strict`).
STRICT_VERSION = 4


def ledger_path(archive: Path) -> Path:
    return archive / LEDGER_NAME


def connect(archive: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the archive's ledger; writers also bring its schema up to date.

    A read-only connection (audits of read-only copies, the future reading
    room) never creates or changes the file.
    """
    path = ledger_path(archive)
    if readonly:
        if not path.is_file():
            raise ArchiveError(
                "no ledger here: not a preserve archive (ledger.sqlite missing)", archive
            )
    elif not path.exists() and _holds_bags(archive):
        raise damaged(path, "it is missing but the archive holds bags")
    elif path.is_file() and path.stat().st_size == 0 and _holds_bags(archive):
        raise damaged(path, "it is empty (0 bytes) but the archive holds bags")
    db: sqlite3.Connection | None = None
    try:
        if readonly:
            db = _connect_readonly(path)
        else:
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        version = version_of(db)
        if version == 0 and (readonly or _holds_bags(archive)):
            raise damaged(path, "it holds no ledger tables (empty, or not preserve's)")
        if version > len(MIGRATIONS):
            raise ArchiveError(
                f"the ledger is version {version}, newer than this preserve knows "
                f"({len(MIGRATIONS)}): upgrade preserve",
                path,
            )
        if not readonly:
            db.execute("PRAGMA synchronous=FULL")
            _migrate(db, archive)
    except sqlite3.Error as exc:
        if db is not None:
            db.close()
        if isinstance(exc, sqlite3.OperationalError) and not _is_damage(exc):
            raise ArchiveError(f"cannot open the ledger: {exc}", path) from None
        raise damaged(path, str(exc)) from None
    except BaseException:
        if db is not None:
            db.close()
        raise
    return db


def version_of(db: sqlite3.Connection) -> int:
    """The ledger's schema version (``PRAGMA user_version``: migrations run)."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def strict(db: sqlite3.Connection) -> bool:
    """Whether the ledger is bound to its chain (version 4 on): no unchained event is
    acceptable, and the tables must agree with the chain (:mod:`preserve.ledger_check`)."""
    return version_of(db) >= STRICT_VERSION


def _holds_bags(archive: Path) -> bool:
    try:
        return any(True for _ in (archive / "bags").iterdir())
    except OSError:
        return False


_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


def _is_damage(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    text = str(exc).lower()
    return (
        code in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
        or "malformed" in text
        or "not a database" in text
        or "no such table" in text
        or "no such column" in text
    )


def damaged(path: Path, why: str) -> ArchiveError:
    """The one line for a ledger that is not a readable preserve ledger (exit 2)."""
    return ArchiveError(
        f"the ledger is damaged ({why}): nothing was read or written; "
        "restore ledger.sqlite from a backup",
        path,
    )


@contextmanager
def reading(archive: Path) -> Iterator[None]:
    """Turn an SQLite error while reading the ledger (a page past a truncation, a
    corrupt index) into one :class:`ArchiveError`, never a traceback."""
    try:
        yield
    except sqlite3.Error as exc:
        path = ledger_path(archive)
        if _is_damage(exc):
            raise damaged(path, str(exc)) from None
        raise ArchiveError(f"cannot read the ledger: {exc}", path) from None


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """``mode=ro``; on read-only storage, where SQLite cannot create the WAL's
    shared-memory file, ``immutable=1`` (nothing can change the file there)."""
    base = path.resolve().as_uri()
    try:
        db = sqlite3.connect(
            f"{base}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
        )
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError as exc:
        if os.access(path.parent, os.W_OK) or _is_damage(exc):
            raise
    return sqlite3.connect(f"{base}?immutable=1", uri=True, isolation_level=None)


def _migrate(db: sqlite3.Connection, archive: Path) -> None:
    if version_of(db) >= len(MIGRATIONS):
        return  # the common case: no write lock taken just to open the ledger
    with write(db):
        current = version_of(db)
        for number, statements in enumerate(MIGRATIONS, start=1):
            if number > current:
                for statement in statements:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")
        if current < STRICT_VERSION <= len(MIGRATIONS):
            from preserve import chain

            chain.seal_legacy(db, archive)


@contextmanager
def write(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken at once (``BEGIN IMMEDIATE``) so writers queue.

    A transaction that fails is rolled back whole, and an SQLite error (disk full,
    I/O error, locked) becomes an :class:`ArchiveError` saying what happened, so
    the command ends with one line and exit 2, never a traceback.
    """
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise ledger_error(exc) from None
    try:
        yield db
    except BaseException as exc:
        _rollback(db)
        if isinstance(exc, sqlite3.Error):
            raise ledger_error(exc) from None
        raise
    try:
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        _rollback(db)
        raise ledger_error(exc) from None


def _rollback(db: sqlite3.Connection) -> None:
    # SQLite may already have rolled back by itself (disk full, I/O error).
    if db.in_transaction:
        # The transaction is gone either way; the original error is the one reported.
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_IOERR, _SQLITE_FULL = 5, 6, 10, 13


def ledger_error(exc: sqlite3.Error) -> ArchiveError:
    """What an SQLite error means for the archive, in one line; nothing was recorded."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    text = str(exc).lower()
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED) or "locked" in text:
        return ArchiveError(
            f"the ledger is locked by another process (waited {BUSY_TIMEOUT_SECONDS:g} s); "
            "nothing was recorded: try again when it has finished"
        )
    if code == _SQLITE_FULL or "full" in text:
        return ArchiveError("no space left on the archive's disk: the ledger was not changed")
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "malformed" in text:
        return ArchiveError(
            f"the ledger is damaged ({exc}): nothing was recorded; "
            "restore ledger.sqlite from a backup"
        )
    if code == _SQLITE_IOERR or "i/o" in text:
        return ArchiveError(f"I/O error writing the ledger ({exc}): the ledger was not changed")
    return ArchiveError(f"cannot write the ledger: {exc}")


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class LedgerBag:
    """A bag as the ledger remembers it."""

    identifier: str
    path: str
    state: str
    ingested_at: str
    payload_oxum: str
    statement_sha256: str
    metadata_sha256: str
    tagmanifest_digests: Mapping[str, str]
    last_verified_at: str | None
    last_result: str | None


class BagRow(NamedTuple):
    """The few columns an audit plans with (a plain tuple: one per bag of the archive)."""

    identifier: str
    path: str
    state: str
    ingested_at: str
    last_verified_at: str | None
    publisher_pid: int | None = None


def bag_rows(db: sqlite3.Connection) -> list[BagRow]:
    """Every bag as a :class:`BagRow`: a third of the memory of :func:`all_bags`
    (a LedgerBag with its digests is ~1.3 KB; 100,000 of them are 130 MB)."""
    return [
        BagRow(*row)
        for row in db.execute(
            "SELECT identifier, path, state, ingested_at, last_verified_at, publisher_pid FROM bags"
        )
    ]


def get_bag(db: sqlite3.Connection, identifier: str) -> LedgerBag | None:
    row = db.execute("SELECT * FROM bags WHERE identifier = ?", (identifier,)).fetchone()
    return None if row is None else _bag(db, row)


def all_bags(db: sqlite3.Connection) -> list[LedgerBag]:
    rows = db.execute("SELECT * FROM bags ORDER BY identifier").fetchall()
    digests: dict[str, dict[str, str]] = {}
    for d in db.execute("SELECT identifier, file, sha256 FROM bag_digests"):
        digests.setdefault(d["identifier"], {})[d["file"]] = d["sha256"]
    return [_bag(db, row, digests.get(row["identifier"], {})) for row in rows]


def _bag(
    db: sqlite3.Connection, row: sqlite3.Row, digests: Mapping[str, str] | None = None
) -> LedgerBag:
    if digests is None:
        digests = {
            d["file"]: d["sha256"]
            for d in db.execute(
                "SELECT file, sha256 FROM bag_digests WHERE identifier = ?", (row["identifier"],)
            )
        }
    return LedgerBag(
        identifier=row["identifier"],
        path=row["path"],
        state=row["state"],
        ingested_at=row["ingested_at"],
        payload_oxum=row["payload_oxum"],
        statement_sha256=row["statement_sha256"],
        metadata_sha256=row["metadata_sha256"],
        tagmanifest_digests=dict(digests),
        last_verified_at=row["last_verified_at"],
        last_result=row["last_result"],
    )


def record_event(
    db: sqlite3.Connection,
    *,
    identifier: str | None,
    type: str,
    outcome: str,
    detail: str | Mapping[str, Any],
    agent: str,
    at: str | None = None,
) -> str:
    """Append an event to the hash chain (call inside :func:`write`); returns its hash."""
    from preserve import chain

    text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
    return chain.append(
        db,
        identifier=identifier,
        type=type,
        at=at or now(),
        outcome=outcome,
        detail=text,
        agent=agent,
    )
