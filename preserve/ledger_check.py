"""The ledger's tables against its hash chain: the chain is the ground truth.

The tables an audit trusts (the bag set, each bag's tag-manifest digests, its
state, the archive's trusted keys) can be edited with any SQLite client without
touching an event. So the audit derives what they must hold from the chained
events, whose every hash it has just verified, and reports any row that
disagrees:

- a bag is archived from its chained ``ingestion`` event (written when it was
  published) and its tag-manifest digests are those of its latest chained event
  that holds them (the ingestion event, or the ``ledger sealing`` event that bound
  an archive made before version 4);
- a key is trusted from its chained ``key trust`` event (``preserve keys trust``,
  ``keys init --archive``) or the sealing event.

The comparisons are SQL over the ledger (``json_each`` over the events' JSON), so
they return only the disagreements: memory does not grow with the number of bags.
A full check (``preserve ledger verify``, an unbounded audit) compares every row
and every ingestion event; a rolling slice (:func:`check` with ``rolling``) compares
the rows of the bags it checks (:func:`compare_bags`), the events since the last
checkpoint, and a window of the rest that moves on each slice (the sweep), so its
cost follows the slice, not the archive (docs/tamper-evidence.md). The window
starts where the chain's checkpoint says, or, for a slice that records no
checkpoint (a read-only replica), at a :class:`Cursor` (:mod:`preserve.rotation`).

Codes (all errors; docs/tamper-evidence.md): ``ledger.row-missing``,
``ledger.row-unrecorded``, ``ledger.digests-changed``, ``ledger.digests-unrecorded``,
``ledger.state-changed``, ``ledger.path-changed``, ``ledger.key-unrecorded``,
``ledger.key-missing``, ``ledger.key-unreadable``, and ``ledger.chain-broken`` for a
chain that does not verify.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from preserve import ledger
from preserve.bagit_format import Problem
from preserve.chain import GENESIS, SEAL_EVENT, BrokenLink, ChainReport, event_hash, verify_chain
from preserve.errors import KeyFileError
from preserve.keys import (
    KEY_TRUST_EVENT,
    TRUSTED_KEYS_DIR,
    fingerprint,
    load_public_key,
    public_pem,
)
from preserve.premis import INGESTION

#: Events that say which tag-manifest digests a bag has (the latest one counts).
_DIGEST_EVENTS = f"""
    type IN ('{INGESTION}', '{SEAL_EVENT}') AND identifier IS NOT NULL
    AND (type != '{INGESTION}' OR outcome = 'success')
    AND json_valid(detail) AND json_type(detail, '$.tagmanifests') = 'object'
"""
_INGESTED = f"type = '{INGESTION}' AND outcome = 'success'"

_INGESTED_E = f"e.type = '{INGESTION}' AND e.outcome = 'success'"

#: Bags (``b``, in a scope) whose digests in the table are not exactly those of their
#: latest digest event (same count, and every chained file with the same digest: the
#: table's key is (identifier, file), so the two sets are equal). Index lookups per bag.
_DIGESTS_DIFFER = f"""
    SELECT b.identifier FROM bags b JOIN events e ON e.id = (
        SELECT max(id) FROM events WHERE identifier = b.identifier AND {_DIGEST_EVENTS})
    WHERE ({{scope}}) AND (
        (SELECT count(*) FROM json_each(e.detail, '$.tagmanifests'))
            != (SELECT count(*) FROM bag_digests d WHERE d.identifier = b.identifier)
        OR EXISTS (SELECT 1 FROM json_each(e.detail, '$.tagmanifests') j
                   WHERE j.value IS NOT (SELECT d.sha256 FROM bag_digests d
                                         WHERE d.identifier = b.identifier AND d.file = j.key)))
    ORDER BY b.identifier
"""
#: Ingested bags (events ``e``, in a scope) whose row is gone. ``NOT EXISTS``, not
#: ``NOT IN (SELECT ...)``: the latter builds the list of every bag first. In ranges
#: of ids, ``+e.type``: the ranges, not the index of every ingestion, are read.
_ROWS_MISSING = """
    SELECT e.identifier, min(e.at), min(e.id) FROM events e
    WHERE {type} = 'ingestion' AND e.outcome = 'success' AND e.identifier IS NOT NULL
    AND ({scope})
    AND NOT EXISTS (SELECT 1 FROM bags b WHERE b.identifier = e.identifier)
    GROUP BY e.identifier ORDER BY e.identifier
"""
assert INGESTION == "ingestion"
#: Rows (``b``, in a scope) no chained ingestion event vouches for.
_UNRECORDED = f"""
    SELECT b.identifier, b.state FROM bags b WHERE ({{scope}}) AND NOT EXISTS
    (SELECT 1 FROM events e WHERE e.identifier = b.identifier AND {_INGESTED_E})
"""
#: Rows still 'publishing' whose ingestion the chain records.
_STATE_CHANGED = f"""
    SELECT b.identifier FROM bags b WHERE ({{scope}}) AND b.state = 'publishing' AND EXISTS
    (SELECT 1 FROM events e WHERE e.identifier = b.identifier AND {_INGESTED_E})
"""
_PATH_CHANGED = (
    "SELECT b.identifier, b.path FROM bags b WHERE ({scope}) AND b.path != 'bags/' || b.identifier"
)
#: Published rows whose chained events hold no digests although the chain ingested them.
_DIGESTS_UNRECORDED = f"""
    SELECT b.identifier FROM bags b WHERE ({{scope}}) AND b.state = 'published'
    AND NOT EXISTS (SELECT 1 FROM events WHERE identifier = b.identifier AND {_DIGEST_EVENTS})
    AND EXISTS (SELECT 1 FROM events e WHERE e.identifier = b.identifier AND {_INGESTED_E})
"""
#: Scopes: every row / event; the bags of a list (a JSON array); a window of rows
#: by identifier (after the first, up to the second; None: to the last row); a
#: window of events by id.
_ALL = ("1", ())
LISTED = "b.identifier IN (SELECT value FROM json_each(?))"


def chain_digests(db: sqlite3.Connection, identifier: str) -> dict[str, str] | None:
    """The tag-manifest digests the chain records for a bag (None: it records none)."""
    row = db.execute(
        f"SELECT detail FROM events WHERE identifier = ? AND {_DIGEST_EVENTS}"
        " ORDER BY id DESC LIMIT 1",
        (identifier,),
    ).fetchone()
    if row is None:
        return None
    digests = json.loads(row[0])["tagmanifests"]
    return {str(k): str(v) for k, v in digests.items()}


def is_ingested(db: sqlite3.Connection, identifier: str) -> bool:
    """Whether the chain records the bag's ingestion (it was published)."""
    query = f"SELECT 1 FROM events WHERE identifier = ? AND {_INGESTED} LIMIT 1"
    return db.execute(query, (identifier,)).fetchone() is not None


def unbound_digests(db: sqlite3.Connection) -> list[tuple[str, dict[str, str]]]:
    """Published bags whose digests no chained event holds yet, with the table's
    digests (what :func:`preserve.chain.seal_legacy` binds once, at the upgrade)."""
    rows = db.execute(
        "SELECT b.identifier, d.file, d.sha256 FROM bags b JOIN bag_digests d"
        " USING (identifier) WHERE b.state = 'published'"
        f" AND b.identifier NOT IN (SELECT identifier FROM events WHERE {_DIGEST_EVENTS})"
        " ORDER BY b.identifier, d.file"
    )
    found: dict[str, dict[str, str]] = {}
    for identifier, name, digest in rows:
        found.setdefault(identifier, {})[name] = digest
    return list(found.items())


def recorded_keys(db: sqlite3.Connection) -> dict[str, str]:
    """Trusted keys the chain records: fingerprint → file (relative to the archive)."""
    keys: dict[str, str] = {}
    for kind, detail in db.execute(
        "SELECT type, detail FROM events WHERE identifier IS NULL AND type IN (?, ?) ORDER BY id",
        (KEY_TRUST_EVENT, SEAL_EVENT),
    ):
        try:
            doc = json.loads(detail)
        except ValueError:
            continue
        if not isinstance(doc, dict):
            continue
        entries = [doc] if kind == KEY_TRUST_EVENT else doc.get("trusted_keys", [])
        for entry in entries:
            if isinstance(entry, dict) and "key_fingerprint" in entry and "file" in entry:
                keys[str(entry["key_fingerprint"])] = str(entry["file"])
    return keys


def _key_files(archive: Path) -> Iterator[tuple[str, Path]]:
    folder = archive / TRUSTED_KEYS_DIR
    if folder.is_symlink() or not folder.is_dir():
        return
    for entry in sorted(folder.iterdir()):
        if entry.name.endswith(".pem") or entry.is_symlink():
            yield f"{TRUSTED_KEYS_DIR}/{entry.name}", entry


def unbound_keys(db: sqlite3.Connection, archive: Path) -> list[dict[str, str]]:
    """Key files in ``trusted-keys/`` that no chained event records (sealed once)."""
    recorded = recorded_keys(db)
    found = []
    for rel, path in _key_files(archive):
        try:
            if path.is_symlink():
                continue  # never followed: the audit reports it
            fp = fingerprint(load_public_key(path))
        except KeyFileError:
            continue  # not a key: the audit reports it
        if fp not in recorded:
            found.append({"key_fingerprint": fp, "file": rel})
    return found


@dataclass(frozen=True)
class LedgerCheck:
    """What the chain says against what the tables and ``trusted-keys/`` hold."""

    chain: ChainReport
    #: Whether the tables are bound to the chain (ledger version 4 on).
    bound: bool
    #: Problems of the archive as a whole (the chain, trusted keys).
    problems: tuple[Problem, ...] = ()
    #: Problems of single bags, by identifier (only bags where the tables disagree).
    bag_problems: dict[str, list[Problem]] = field(default_factory=dict)
    #: Bags the chain records whose row is gone: identifier → ingested at.
    rows_missing: dict[str, str] = field(default_factory=dict)
    #: Rows in state 'publishing' whose ingestion the chain records (so: published).
    published_per_chain: set[str] = field(default_factory=set)
    #: PEMs of the keys in ``trusted-keys/`` that the chain vouches for.
    trusted_pems: tuple[bytes, ...] = ()
    #: What an audit with write access records for the next one to start from
    #: (:func:`replay`); None for a short chain, a broken one, or a full check.
    checkpoint: Checkpoint | None = None
    #: A rolling slice's check: the rows compared beyond the slice's own bags (the
    #: sweep's window); None for a full check, which compared every row.
    window: Window | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and not self.bag_problems and not self.rows_missing


def verify_ledger(archive: Path, *, published_head: str | None = None) -> LedgerCheck:
    """``preserve ledger verify``: the chain and every table bound to it, read-only.

    A damaged ledger is one :class:`~preserve.errors.ArchiveError` (exit 2).
    """
    archive = archive.absolute()
    db = ledger.connect(archive, readonly=True)
    try:
        with ledger.reading(archive):
            db.execute("BEGIN")
            return check(db, archive, published_head=published_head)
    finally:
        db.close()


@dataclass(frozen=True)
class Window:
    """What a rolling slice compares beyond its own bags: the sweep's window of rows
    (identifiers after ``after``, up to ``upto``; None: to the last) and of events
    (the ``(first, last)`` id ranges: those since the checkpoint, and the sweep's)."""

    after: str
    upto: str | None
    events: tuple[tuple[int, int], ...]

    def rows(self) -> tuple[str, tuple[str, ...]]:
        """The window of rows as an SQL condition on ``b`` and its parameters."""
        if self.upto is None:
            return "b.identifier > ?", (self.after,)
        return "b.identifier > ? AND b.identifier <= ?", (self.after, self.upto)


@dataclass(frozen=True)
class Cursor:
    """Where a slice that records no checkpoint sweeps (:mod:`preserve.rotation`: a
    read-only replica's state file, or the clock), instead of where the chain's
    checkpoint says: its window of rows starts after ``bags_swept_to``, its stretch
    of old events at ``swept_to``; ``rows`` and ``events``: their sizes (None: as a
    recording slice's)."""

    bags_swept_to: str
    swept_to: int
    rows: int | None = None
    events: int | None = None


def check(
    db: sqlite3.Connection,
    archive: Path,
    *,
    published_head: str | None = None,
    incremental: bool = False,
    rolling: int | None = None,
    cursor: Cursor | None = None,
) -> LedgerCheck:
    """Replay and verify the chain, then compare the tables the audit trusts with it.

    Run it inside one read transaction, so the chain and the tables are one
    snapshot. A ledger older than version 4 (opened read-only, never upgraded) is
    not bound yet: only its chain is verified. ``incremental`` (the audit): the
    chain is replayed from its latest checkpoint (:func:`replay`), not from the start.

    ``rolling`` (with ``incremental``; a rolling slice expecting to check that many
    bags, 0: as many as the last audit did): where a checkpoint exists, only the
    events since it and the sweep's windows are compared (:class:`Window`, sized to
    the slice, at least :data:`SWEEP_MIN_BAGS` rows and :data:`SWEEP_MIN_EVENTS`
    events); the slice compares its own bags as it takes them (:func:`compare_bags`).
    Without a checkpoint (a short chain, or a first audit) the check is full.
    ``cursor``: the windows start there, not where the checkpoint says (a slice that
    records no checkpoint); the checkpoint returned then says where they stopped.
    """
    checkpoint: Checkpoint | None = None
    start: Checkpoint | None = None
    swept: tuple[int, int] | None = None
    share = 0
    if incremental and published_head is None:
        sweep = SWEEP_EVENTS
        latest = latest_checkpoint(db) if rolling is not None and ledger.strict(db) else None
        if latest is not None:
            share = rolling or latest[1].checked
            count = int(db.execute("SELECT count(*) FROM bags").fetchone()[0])
            portion = -(-latest[1].through_id * share // max(1, count))
            sweep = max(SWEEP_MIN_EVENTS, portion)
            if cursor is not None and cursor.events is not None:
                sweep = max(1, cursor.events)
        report, checkpoint, start, swept = _replay(
            db, sweep, cursor.swept_to if cursor is not None else None
        )
    else:
        report = verify_chain(db, published_head=published_head)
    problems: list[Problem] = []
    if report.broken is not None:
        problems.append(
            Problem(
                "ledger.chain-broken",
                "ledger.sqlite",
                f"the hash chain breaks at event {report.broken.event_id} "
                f"({report.broken.code}: {report.broken.message}); the ledger's history "
                "was changed (preserve ledger verify)",
            )
        )
    if not ledger.strict(db):
        return LedgerCheck(report, False, tuple(problems))
    window: Window | None = None
    if rolling is not None and start is not None and swept is not None:
        # The rows after the last window, as many as the slice's share; a window that
        # reaches the last row runs to the end of the names (a planted bag named after
        # every row is in it), and the next starts again from the first.
        size = max(SWEEP_MIN_BAGS, share)
        after = start.bags_swept_to
        if cursor is not None:
            after = cursor.bags_swept_to
            size = max(1, cursor.rows) if cursor.rows is not None else size
        after_sql = "SELECT identifier FROM bags WHERE identifier > ? ORDER BY identifier"
        end = db.execute(f"{after_sql} LIMIT 1 OFFSET ?", (after, size - 1))
        upto = end.fetchone()
        if upto is not None and db.execute(f"{after_sql} LIMIT 1", (upto[0],)).fetchone() is None:
            upto = None
        last = report.last_id if report.last_id is not None else start.through_id
        window = Window(
            after,
            None if upto is None else str(upto[0]),
            ((start.through_id + 1, last), swept),
        )
        if checkpoint is not None:
            checkpoint = replace(checkpoint, bags_swept_to=window.upto or "", checked=share)
    elif checkpoint is not None and start is not None:
        checkpoint = replace(checkpoint, bags_swept_to=start.bags_swept_to)
    found = LedgerCheck(report, True, window=window)
    if window is None:
        compare(db, found, _ALL, _ALL)
    else:
        ranges = " OR ".join("e.id BETWEEN ? AND ?" for _ in window.events)
        compare(db, found, window.rows(), (ranges, tuple(i for r in window.events for i in r)))
    key_problems, pems = _check_keys(db, archive)
    problems += key_problems
    return replace(
        found,
        problems=tuple(problems),
        trusted_pems=tuple(pems),
        checkpoint=checkpoint if report.ok else None,
    )


def compare_bags(db: sqlite3.Connection, found: LedgerCheck, identifiers: list[str]) -> None:
    """Compare the rows of these bags with the chain (a rolling slice's own bags, as
    it takes them), adding what disagrees to ``found`` (their rows exist: no event
    is looked at for a missing one)."""
    compare(db, found, (LISTED, (json.dumps(identifiers),)), None)


def compare(
    db: sqlite3.Connection,
    found: LedgerCheck,
    rows: tuple[str, tuple[Any, ...]],
    events: tuple[str, tuple[Any, ...]] | None,
) -> None:
    """Every comparison of the tables with the chain, over the rows (``b``) and the
    ingestion events (``e``; None: none) in scope; what disagrees goes into ``found``."""
    bags, missing, published = found.bag_problems, found.rows_missing, found.published_per_chain
    scope, params = rows

    def add(identifier: str, code: str, message: str) -> None:
        bags.setdefault(identifier, []).append(Problem(code, "", message))

    missing_rows: list[Any] = []
    if events is not None:
        kind = "e.type" if events is _ALL else "+e.type"
        query = _ROWS_MISSING.format(scope=events[0], type=kind)
        missing_rows = db.execute(query, events[1]).fetchall()
    for identifier, at, event_id in missing_rows:
        missing[identifier] = at
        add(
            identifier,
            "ledger.row-missing",
            f"the chain records its ingestion at {at} (event {event_id}), "
            "but the ledger's bags table has no row for it: the row was deleted",
        )
    for identifier, state in db.execute(_UNRECORDED.format(scope=scope), params):
        if state == "published":
            add(
                identifier,
                "ledger.row-unrecorded",
                "the ledger has a row for this bag but the chain records no ingestion of it: "
                "the row was added outside preserve",
            )
    for (identifier,) in db.execute(_STATE_CHANGED.format(scope=scope), params):
        published.add(identifier)
        add(
            identifier,
            "ledger.state-changed",
            "the ledger's row says 'publishing' but the chain records the bag's ingestion: "
            "the row was changed (the bag is audited as published)",
        )
    for identifier, path in db.execute(_PATH_CHANGED.format(scope=scope), params):
        add(
            identifier,
            "ledger.path-changed",
            f"the ledger's row points at {path!r}, not bags/{identifier}: the row was changed "
            "(the bag is audited at bags/" + identifier + ")",
        )
    for (identifier,) in db.execute(_DIGESTS_DIFFER.format(scope=scope), params):
        add(
            identifier,
            "ledger.digests-changed",
            "the ledger's tag-manifest digests differ from those its chain recorded at "
            "ingest: the table was edited (the bag is checked against the chain's)",
        )
    for (identifier,) in db.execute(_DIGESTS_UNRECORDED.format(scope=scope), params):
        add(
            identifier,
            "ledger.digests-unrecorded",
            "no chained event records this bag's tag-manifest digests",
        )


def _check_keys(db: sqlite3.Connection, archive: Path) -> tuple[list[Problem], list[bytes]]:
    recorded = recorded_keys(db)
    problems: list[Problem] = []
    pems: list[bytes] = []
    present: set[str] = set()
    for rel, path in _key_files(archive):
        try:
            if path.is_symlink():  # never followed: trust is what the archive itself holds
                raise KeyFileError("a symbolic link, not a key file")
            key = load_public_key(path)
        except KeyFileError as exc:
            problems.append(Problem("ledger.key-unreadable", rel, exc.message))
            continue
        fp = fingerprint(key)
        present.add(fp)
        if fp in recorded:
            pems.append(public_pem(key))
        else:
            problems.append(
                Problem(
                    "ledger.key-unrecorded",
                    rel,
                    f"key {fp} is in trusted-keys/ but the chain records no trust in it: it was "
                    "added outside preserve (signatures by it are not trusted)",
                )
            )
    for fp, rel in sorted(recorded.items(), key=lambda item: item[1]):
        if fp not in present:
            problems.append(
                Problem(
                    "ledger.key-missing",
                    rel,
                    f"the chain records trust in key {fp}, but trusted-keys/ no longer holds it",
                )
            )
    return problems, pems


# --------------------------------------------------------------------------- checkpoints

#: The chained event (archive-wide) an audit records once it has verified the chain:
#: ``{"through_id", "head", "events", "swept_to"}`` (see :func:`replay`).
CHECKPOINT_EVENT = "ledger checkpoint"
#: Chains shorter than this are replayed whole every time (a second or two), and
#: get no checkpoint: a small archive's ledger gains no events it does not need.
CHECKPOINT_MIN_EVENTS = 100_000
#: Events before the checkpoint that each incremental replay verifies again, in
#: turn from where the last one stopped (the sweep), so an old event edited in
#: place is found within one cycle of audits, as a bag is.
SWEEP_EVENTS = 200_000
#: A rolling slice's sweep (:class:`Window`): at least this many events replayed and
#: rows compared, and more for a larger slice (its share of the archive), so the
#: sweep goes round the archive at least as fast as the slices go round its bags.
SWEEP_MIN_EVENTS = 20_000
SWEEP_MIN_BAGS = 10_000


@dataclass(frozen=True)
class Checkpoint:
    """Where the chain was verified up to, as a chained event records it."""

    #: Events up to this id verified, ending in ``head`` (the hash of that event).
    through_id: int
    head: str
    events: int
    #: The sweep's position: the next replay verifies older events again from here.
    swept_to: int = 0
    #: The sweep of the rows (rolling slices): the next compares rows after this one.
    bags_swept_to: str = ""
    #: Bags the audit checked (a slice with a budget and no limit sweeps that share).
    checked: int = 0

    def as_detail(self) -> dict[str, Any]:
        return {
            "through_id": self.through_id,
            "head": self.head,
            "events": self.events,
            "swept_to": self.swept_to,
            "bags_swept_to": self.bags_swept_to,
            "checked": self.checked,
        }


def latest_checkpoint(db: sqlite3.Connection) -> tuple[int, Checkpoint] | None:
    """The latest checkpoint event's id and content (None: none, or not readable)."""
    row = db.execute(
        "SELECT id, detail FROM events WHERE type = ? AND identifier IS NULL"
        " ORDER BY id DESC LIMIT 1",
        (CHECKPOINT_EVENT,),
    ).fetchone()
    if row is None:
        return None
    try:
        doc = json.loads(row[1])
        found = Checkpoint(
            int(doc["through_id"]),
            str(doc["head"]),
            int(doc["events"]),
            int(doc["swept_to"]),
            str(doc.get("bags_swept_to", "")),  # checkpoints before rolling windows lack
            int(doc.get("checked", 0)),  # these two
        )
    except (ValueError, TypeError, KeyError):
        return None
    if found.through_id >= int(row[0]):
        return None  # a checkpoint vouches only for events before it
    return int(row[0]), found


def replay(db: sqlite3.Connection) -> tuple[ChainReport, Checkpoint | None]:
    """:func:`~preserve.chain.verify_chain`, from the latest checkpoint on.

    The checkpoint is itself a chained event after the events it vouches for, so
    it is verified with the events replayed; the stored hash of its last event
    must still be the one it recorded (rewriting the events before it and their
    hashes breaks that, or the chain after it), and the sweep replays a stretch
    of the older events each time (an event edited in place, hashes left alone).
    Anything amiss: the whole chain is replayed, and reported as
    :func:`verify_chain` reports it. Returns the report and the checkpoint the
    caller may record (None for a chain under :data:`CHECKPOINT_MIN_EVENTS`).
    """
    report, checkpoint, _, _ = _replay(db, SWEEP_EVENTS)
    return report, checkpoint


def _replay(
    db: sqlite3.Connection, sweep: int, sweep_from: int | None = None
) -> tuple[ChainReport, Checkpoint | None, Checkpoint | None, tuple[int, int] | None]:
    """:func:`replay` with a sweep of ``sweep`` events (from ``sweep_from``; None: where
    the checkpoint says); also the checkpoint it started from and the ids it swept
    (both None when it replayed the whole chain)."""
    latest = latest_checkpoint(db) if ledger.strict(db) else None
    if latest is None:
        return (*_full(db, swept_to=0), None, None)
    _, start = latest
    stored = db.execute("SELECT hash FROM events WHERE id = ?", (start.through_id,)).fetchone()
    new = _replay_range(db, start.head, start.through_id + 1, None)
    begin = start.swept_to if sweep_from is None else sweep_from
    sweep_from = begin if 0 < begin <= start.through_id else 1
    sweep_to = sweep_from + sweep - 1
    before = db.execute(
        "SELECT hash FROM events WHERE id < ? ORDER BY id DESC LIMIT 1", (sweep_from,)
    ).fetchone()
    old = _replay_range(
        db, before[0] if before else GENESIS, sweep_from, min(sweep_to, start.through_id)
    )
    if stored is None or stored[0] != start.head:
        return (*_full(db, swept_to=0, mismatch=start), None, None)
    if new is None or old is None:
        return (*_full(db, swept_to=0), None, None)
    count, head, last = new
    last_id = last if last is not None else start.through_id
    try:
        seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    except sqlite3.Error:
        seq = None
    if seq is not None and int(seq[0]) > last_id:
        # the tail was deleted: said as a full replay says it
        return (*_full(db, swept_to=0), None, None)
    events = start.events + count
    swept = 0 if sweep_to >= start.through_id else sweep_to + 1
    report = ChainReport(events, head, last_id)
    return report, _checkpoint(report, swept), start, (sweep_from, min(sweep_to, start.through_id))


def _full(
    db: sqlite3.Connection, *, swept_to: int, mismatch: Checkpoint | None = None
) -> tuple[ChainReport, Checkpoint | None]:
    report = verify_chain(db)
    if report.broken is None and mismatch is not None:
        # Every link holds, yet the checkpoint disagrees: the events up to it and
        # every hash since were rewritten, but not the checkpoint's record.
        report = replace(
            report,
            broken=BrokenLink(
                mismatch.through_id,
                "chain.checkpoint-mismatch",
                f"the hash of event {mismatch.through_id} is not the one a checkpoint "
                "recorded after it: the chain was rewritten up to there",
            ),
        )
    return report, _checkpoint(report, swept_to)


def _checkpoint(report: ChainReport, swept_to: int) -> Checkpoint | None:
    if not report.ok or report.last_id is None or report.events < CHECKPOINT_MIN_EVENTS:
        return None
    return Checkpoint(report.last_id, report.head, report.events, swept_to)


def _replay_range(
    db: sqlite3.Connection, prev: str, first_id: int, last_id: int | None
) -> tuple[int, str, int | None] | None:
    """Verify events ``first_id``..``last_id`` (to the end: None) chained from ``prev``;
    (count, head, last id) or None at the first link that does not hold."""
    sql = "SELECT * FROM events WHERE id >= ?" + (" AND id <= ?" if last_id is not None else "")
    params = (first_id,) if last_id is None else (first_id, last_id)
    count, last = 0, None
    for row in db.execute(sql + " ORDER BY id", params):
        digest = row["hash"]
        if digest is None or row["prev_hash"] != prev or event_hash(prev, row) != digest:
            return None
        prev, last = digest, int(row["id"])
        count += 1
    return count, prev, last


def extend(db: sqlite3.Connection, checkpoint: Checkpoint) -> Checkpoint:
    """``checkpoint`` moved past the events written since it was taken (an audit's own
    fixity events), replayed now from its head, so the next audit need not: after a
    full audit of a million bags its first slice replayed them (11 s before its first
    bag). Unchanged if a link does not hold (the next audit's replay reports it)."""
    new = _replay_range(db, checkpoint.head, checkpoint.through_id + 1, None)
    if new is None:
        return checkpoint
    count, head, last = new
    if last is None:
        return checkpoint
    return replace(checkpoint, through_id=last, head=head, events=checkpoint.events + count)


def record_checkpoint(db: sqlite3.Connection, checkpoint: Checkpoint, agent: str) -> None:
    """Chain a checkpoint event (inside :func:`preserve.ledger.write`)."""
    ledger.record_event(
        db,
        identifier=None,
        type=CHECKPOINT_EVENT,
        outcome="success",
        detail=checkpoint.as_detail(),
        agent=agent,
    )
