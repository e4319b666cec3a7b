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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from preserve.errors import ArchiveError

LEDGER_NAME = "ledger.sqlite"
#: How long a writer waits for another process's transaction before giving up
#: (read at each connect, so tests and callers may lower it).
BUSY_TIMEOUT_SECONDS = 60.0


#: The catalog's columns that the reading room counts and filters by.
CATALOG_FACETS = ("year", "organization", "signer", "language", "type")


def catalog_values(record: Mapping[str, Any]) -> tuple[str | None, ...]:
    """A metadata record as a catalog row (identifier, title, date_issued, *CATALOG_FACETS)."""
    creator = record.get("creator") or {}
    date = record.get("date_issued")
    return (
        record["identifier"],
        record.get("title") or record["identifier"],
        date,
        date[:4] if isinstance(date, str) and len(date) >= 4 else None,
        creator.get("organization") or record.get("publisher"),
        creator.get("name"),
        record.get("language"),
        record.get("type"),
    )


#: Run right after the statement's row went into ``statements_fts``: ``fts_rowid`` is
#: that row (the newest), checked to hold this identifier, else NULL. The reading
#: room filters search results by facet through it without reading each match's row.
CATALOG_INSERT = (
    "INSERT INTO catalog (identifier, title, date_issued, year, organization, signer, language,"
    " type, fts_rowid) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, (SELECT f.rowid FROM"
    " statements_fts f WHERE f.rowid = (SELECT rowid FROM statements_fts ORDER BY rowid DESC"
    " LIMIT 1) AND f.identifier = ?1))"
)


def _create_unspaced_index(db: sqlite3.Connection) -> None:
    """The trigram tokenizer needs SQLite 3.34; older ones get the table (so writers
    work) with unicode61, which finds whole runs only."""
    trigram = sqlite3.sqlite_version_info >= (3, 34, 0)
    db.execute(
        "CREATE VIRTUAL TABLE statements_unspaced USING fts5(identifier UNINDEXED, text,"
        f" tokenize = '{'trigram' if trigram else 'unicode61'}')"
    )


def _backfill_catalog(db: sqlite3.Connection) -> None:
    """Catalog rows for the bags already ingested (from each bag's statement.json,
    read without following links) and their unspaced runs (from the text index)."""
    from preserve.fsio import read_regular
    from preserve.search import unspaced_text

    files = [row[2] for row in db.execute("PRAGMA database_list") if row[1] == "main"]
    archive = Path(files[0]).parent if files and files[0] else None
    fts_rowids = {r[1]: r[0] for r in db.execute("SELECT rowid, identifier FROM statements_fts")}
    for row in db.execute("SELECT identifier, path, date_issued, title FROM bags").fetchall():
        record: dict[str, Any] = {}
        raw = (
            read_regular(archive / row[1] / "data" / "metadata" / "statement.json", 1 << 20)
            if archive is not None
            else None
        )
        with contextlib.suppress(ValueError, AttributeError):
            record = json.loads(raw) if raw else {}
        if not isinstance(record, dict) or record.get("identifier") != row[0]:
            record = {"identifier": row[0], "title": row[3], "date_issued": row[2]}
        db.execute(
            "INSERT INTO catalog (identifier, title, date_issued, year, organization, signer,"
            " language, type, fts_rowid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*catalog_values(record), fts_rowids.get(row[0])),
        )
    for row in db.execute(
        "SELECT identifier, title, body, signer, subjects FROM statements_fts"
    ).fetchall():
        text = unspaced_text(*row[1:])
        if text:
            db.execute(
                "INSERT INTO statements_unspaced (identifier, text) VALUES (?, ?)", (row[0], text)
            )


#: Migration 6, the reading room's tables, indexes, triggers and backfill.
_READING_ROOM_STEPS: tuple[str | Callable[[sqlite3.Connection], None], ...] = (
    """
    CREATE TABLE catalog (
        identifier TEXT PRIMARY KEY REFERENCES bags(identifier) ON DELETE CASCADE,
        title TEXT NOT NULL,
        date_issued TEXT,
        year TEXT,
        organization TEXT,
        signer TEXT,
        language TEXT,
        type TEXT,
        fts_rowid INTEGER                      -- its row in statements_fts (facet filters)
    )
    """,
    "CREATE INDEX catalog_by_date ON catalog(date_issued, identifier)",
    # (facet, date, identifier): browse pages in order, no sort; fts_rowid last, so
    # a facet filter on search reads the index alone (47 ms -> 2 ms for 8,000 rows).
    *(
        f"CREATE INDEX catalog_by_{f} ON catalog({f}, date_issued, identifier, fts_rowid)"
        for f in CATALOG_FACETS
    ),
    "CREATE INDEX bags_by_ingest ON bags(ingested_at, identifier)",
    "CREATE INDEX bags_by_verified ON bags(last_verified_at)",
    "CREATE INDEX bags_by_result ON bags(last_result, last_verified_at)",
    # Audit results per week (the dashboard's chart), kept as fixity checks are recorded.
    """
    CREATE TABLE audit_weeks (
        week TEXT PRIMARY KEY,                 -- strftime('%Y-%W') of the check
        passed INTEGER NOT NULL,
        failed INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
    "CREATE TRIGGER fixity_counted AFTER INSERT ON events WHEN new.type = 'fixity check'"
    " BEGIN INSERT INTO audit_weeks VALUES (strftime('%Y-%W', new.at),"
    " new.outcome = 'success', new.outcome != 'success') ON CONFLICT (week) DO UPDATE SET"
    " passed = passed + excluded.passed, failed = failed + excluded.failed; END",
    "INSERT INTO audit_weeks SELECT strftime('%Y-%W', at), sum(outcome = 'success'),"
    " sum(outcome != 'success') FROM events WHERE type = 'fixity check' GROUP BY 1",
    """
    CREATE TABLE facet_counts (
        facet TEXT NOT NULL,
        value TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (facet, value)
    ) WITHOUT ROWID
    """,
    "CREATE TRIGGER catalog_counted AFTER INSERT ON catalog BEGIN "
    + " ".join(
        f"INSERT INTO facet_counts SELECT '{f}', new.{f}, 1 WHERE new.{f} IS NOT NULL"
        " ON CONFLICT (facet, value) DO UPDATE SET count = count + 1;"
        for f in CATALOG_FACETS
    )
    + " END",
    "CREATE TRIGGER catalog_uncounted AFTER DELETE ON catalog BEGIN "
    + " ".join(
        f"UPDATE facet_counts SET count = count - 1 WHERE facet = '{f}' AND value = old.{f};"
        for f in CATALOG_FACETS
    )
    + " DELETE FROM facet_counts WHERE count <= 0; END",
    _create_unspaced_index,
    "CREATE TRIGGER bags_unindexed AFTER DELETE ON bags BEGIN"
    " DELETE FROM statements_unspaced WHERE identifier = old.identifier; END",
    _backfill_catalog,
)


def _reading_room(db: sqlite3.Connection) -> None:
    """Migration 6, run once: a ledger that already has the catalog keeps it (an
    archive brought back to an older version number and re-sealed runs the newer
    migrations again)."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'catalog'").fetchone():
        return
    for step in _READING_ROOM_STEPS:
        if callable(step):
            step(db)
        else:
            db.execute(step)


#: Numbered migrations, each a list of statements run in one transaction; the
#: ledger's ``user_version`` says how many have run. (Not ``executescript``: it
#: would commit half-way.) A step may also be a function of the connection, for
#: what SQL alone cannot do (reading the bags to backfill a table).
MIGRATIONS: tuple[tuple[str | Callable[[sqlite3.Connection], None], ...], ...] = (
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
    # 5: language versions linked (preserve.versions): the links, and each statement's
    # issuer, date, language and shape, from which links are proposed.
    (
        """
        CREATE TABLE IF NOT EXISTS version_links (
            identifier TEXT NOT NULL,          -- the statement whose record or event says so
            other TEXT NOT NULL,               -- the version it names (perhaps not archived yet)
            relation TEXT NOT NULL CHECK (relation IN ('hasVersion', 'isVersionOf')),
            at TEXT NOT NULL,
            PRIMARY KEY (identifier, other)
        )
        """,
        "CREATE INDEX IF NOT EXISTS version_links_by_other ON version_links(other)",
        """
        CREATE TABLE IF NOT EXISTS statement_shapes (
            identifier TEXT PRIMARY KEY,
            issuer TEXT NOT NULL,              -- slug of the organization (or signer)
            date_issued TEXT NOT NULL,
            language TEXT NOT NULL,
            shape TEXT NOT NULL                -- the kinds of its blocks, in order
        )
        """,
        "CREATE INDEX IF NOT EXISTS statement_shapes_by_date"
        " ON statement_shapes(date_issued, issuer)",
    ),
    # 6: the reading room (preserve.serve): a catalog row per bag with the fields it
    # browses by, facet counts kept by triggers in the transaction that records the
    # bag (counting 100,000 rows per page view costs ~70 ms), and a trigram index of
    # the scripts written without spaces (Chinese, Japanese, Thai...), whose words
    # the unicode61 index cannot find inside a run of text.
    # (run once, see _reading_room)
    (_reading_room,),
    # 7: copies of each bag on replica targets (preserve.replicas), and withdrawals: both
    # also recorded as chained events ('replication', 'recovery', 'deaccession'), which
    # stay the ground truth; these tables are what the status and the reading room ask.
    (
        """
        CREATE TABLE IF NOT EXISTS replica_copies (
            identifier TEXT NOT NULL,
            target TEXT NOT NULL,                  -- the target's name (or its URL)
            url TEXT NOT NULL,
            copied_at TEXT,
            last_verified_at TEXT,
            last_result TEXT,                      -- 'good', or the problem codes
            PRIMARY KEY (identifier, target)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS withdrawals (
            identifier TEXT PRIMARY KEY,
            at TEXT NOT NULL,
            reason TEXT NOT NULL,
            event_hash TEXT NOT NULL               -- the chained 'deaccession' event
        )
        """,
    ),
    # 8: the audit's queue at a million bags (preserve.audit.QUEUE_QUERY): never verified,
    # then least recently verified, read in index order instead of sorted in memory.
    ("CREATE INDEX IF NOT EXISTS bags_by_last_verified ON bags(last_verified_at, identifier)",),
    # 9: the reading room's facet filters on search, tested per match by its text-index
    # row (preserve.serve.catalog.within): a lookup in this index instead of building
    # the list of every row the filter selects (3 ms for a language's 8,000 rows).
    (
        "CREATE INDEX IF NOT EXISTS catalog_by_fts_rowid"
        " ON catalog(fts_rowid, language, type, year, organization, signer)",
    ),
    # 10: the bags being published (state 'publishing': a handful at most), which search
    # and the reading room's counts leave out (preserve.search.unpublished): a partial
    # index, so asking costs a lookup, not a scan of every bag (30 ms at 100,000).
    ("CREATE INDEX IF NOT EXISTS bags_publishing ON bags(identifier) WHERE state = 'publishing'",),
    # 11: when each bag last changed for harvesters (OAI-PMH datestamps, from/until):
    # its publication, or its withdrawal. The row's ingested_at is written when the bag
    # starts publishing, so a bag published (or recovered) after a harvest, and a bag
    # withdrawn after one, were out of every later incremental harvest. Backfilled from
    # the chain: the last withdrawal, else the ingestion event, else ingested_at.
    (
        lambda db: _add_column(db, "bags", "changed_at TEXT"),
        """
        UPDATE bags SET changed_at = coalesce(
            (SELECT max(at) FROM events e
              WHERE e.identifier = bags.identifier AND e.type = 'deaccession'),
            (SELECT max(at) FROM events e
              WHERE e.identifier = bags.identifier AND e.type = 'ingestion'
                AND e.outcome = 'success'),
            ingested_at)
        """,
        "CREATE INDEX IF NOT EXISTS bags_by_change ON bags(changed_at, identifier)",
    ),
)


def _add_column(db: sqlite3.Connection, table: str, column: str) -> None:
    """``ALTER TABLE ... ADD COLUMN``, once: a migration may run again on a ledger whose
    version was set back (as the other steps' ``IF NOT EXISTS`` allow)."""
    name = column.split()[0]
    if name not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")


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
                    db.execute(statement) if isinstance(statement, str) else statement(db)
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


@dataclass(frozen=True)
class Withdrawal:
    """A bag withdrawn from every copy (``preserve withdraw``): when, and why."""

    identifier: str
    at: str
    reason: str
    event_hash: str


def withdrawal(db: sqlite3.Connection, identifier: str) -> Withdrawal | None:
    """Whether ``identifier`` was withdrawn, when and why (None: it was not), for the
    reading room's 410 tombstones. A ledger before version 5 has no withdrawals."""
    if version_of(db) < 5:
        return None
    row = db.execute(
        "SELECT identifier, at, reason, event_hash FROM withdrawals WHERE identifier = ?",
        (identifier,),
    ).fetchone()
    return None if row is None else Withdrawal(*row)
