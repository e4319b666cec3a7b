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
they cost a scan of the events and return only the disagreements: memory does
not grow with the number of bags.

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

#: ``latest(identifier, id)``: each bag's latest event that holds its digests.
_WITH_LATEST = f"""
    WITH latest AS (SELECT identifier, max(id) AS id FROM events WHERE {_DIGEST_EVENTS}
                    GROUP BY identifier)
"""
#: Bags whose digests in the table are not exactly those of their latest digest event
#: (same count, and every chained file with the same digest: the table's key is
#: (identifier, file), so the two sets are equal). Index lookups per bag.
_DIGESTS_DIFFER = f"""
    {_WITH_LATEST}
    SELECT l.identifier FROM latest l JOIN events e ON e.id = l.id
    WHERE l.identifier IN (SELECT identifier FROM bags) AND (
        (SELECT count(*) FROM json_each(e.detail, '$.tagmanifests'))
            != (SELECT count(*) FROM bag_digests d WHERE d.identifier = l.identifier)
        OR EXISTS (SELECT 1 FROM json_each(e.detail, '$.tagmanifests') j
                   WHERE j.value IS NOT (SELECT d.sha256 FROM bag_digests d
                                         WHERE d.identifier = l.identifier AND d.file = j.key)))
    ORDER BY l.identifier
"""


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
    published_per_chain: frozenset[str] = frozenset()
    #: PEMs of the keys in ``trusted-keys/`` that the chain vouches for.
    trusted_pems: tuple[bytes, ...] = ()
    #: What an audit with write access records for the next one to start from
    #: (:func:`replay`); None for a short chain, a broken one, or a full check.
    checkpoint: Checkpoint | None = None

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


def check(
    db: sqlite3.Connection,
    archive: Path,
    *,
    published_head: str | None = None,
    incremental: bool = False,
) -> LedgerCheck:
    """Replay and verify the chain, then compare every table the audit trusts with it.

    Run it inside one read transaction, so the chain and the tables are one
    snapshot. A ledger older than version 4 (opened read-only, never upgraded) is
    not bound yet: only its chain is verified. ``incremental`` (the audit): the
    chain is replayed from its latest checkpoint (:func:`replay`), not from the start.
    """
    checkpoint: Checkpoint | None = None
    if incremental and published_head is None:
        report, checkpoint = replay(db)
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
    bags: dict[str, list[Problem]] = {}

    def add(identifier: str, code: str, message: str) -> None:
        bags.setdefault(identifier, []).append(Problem(code, "", message))

    missing: dict[str, str] = {}
    for identifier, at, event_id in db.execute(
        f"SELECT identifier, min(at), min(id) FROM events WHERE {_INGESTED}"
        " AND identifier IS NOT NULL AND identifier NOT IN (SELECT identifier FROM bags)"
        " GROUP BY identifier ORDER BY identifier"
    ):
        missing[identifier] = at
        add(
            identifier,
            "ledger.row-missing",
            f"the chain records its ingestion at {at} (event {event_id}), "
            "but the ledger's bags table has no row for it: the row was deleted",
        )
    published: set[str] = set()
    for identifier, state in db.execute(
        "SELECT identifier, state FROM bags b WHERE NOT EXISTS (SELECT 1 FROM events e"
        f" WHERE e.identifier = b.identifier AND {_INGESTED_E})"
    ):
        if state == "published":
            add(
                identifier,
                "ledger.row-unrecorded",
                "the ledger has a row for this bag but the chain records no ingestion of it: "
                "the row was added outside preserve",
            )
    for (identifier,) in db.execute(
        "SELECT identifier FROM bags b WHERE state = 'publishing' AND EXISTS (SELECT 1"
        f" FROM events e WHERE e.identifier = b.identifier AND {_INGESTED_E})"
    ):
        published.add(identifier)
        add(
            identifier,
            "ledger.state-changed",
            "the ledger's row says 'publishing' but the chain records the bag's ingestion: "
            "the row was changed (the bag is audited as published)",
        )
    for identifier, path in db.execute(
        "SELECT identifier, path FROM bags WHERE path != 'bags/' || identifier"
    ):
        add(
            identifier,
            "ledger.path-changed",
            f"the ledger's row points at {path!r}, not bags/{identifier}: the row was changed "
            "(the bag is audited at bags/" + identifier + ")",
        )
    changed = [identifier for (identifier,) in db.execute(_DIGESTS_DIFFER)]
    for identifier in changed:
        add(
            identifier,
            "ledger.digests-changed",
            "the ledger's tag-manifest digests differ from those its chain recorded at "
            "ingest: the table was edited (the bag is checked against the chain's)",
        )
    for (identifier,) in db.execute(
        "SELECT identifier FROM bags WHERE state = 'published'"
        f" AND identifier NOT IN (SELECT identifier FROM events WHERE {_DIGEST_EVENTS})"
        f" AND identifier IN (SELECT identifier FROM events WHERE {_INGESTED})"
    ):
        add(
            identifier,
            "ledger.digests-unrecorded",
            "no chained event records this bag's tag-manifest digests",
        )
    key_problems, pems = _check_keys(db, archive)
    problems += key_problems
    return LedgerCheck(
        report,
        True,
        tuple(problems),
        bags,
        missing,
        frozenset(published),
        tuple(pems),
        checkpoint if report.ok else None,
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


@dataclass(frozen=True)
class Checkpoint:
    """Where the chain was verified up to, as a chained event records it."""

    #: Events up to this id verified, ending in ``head`` (the hash of that event).
    through_id: int
    head: str
    events: int
    #: The sweep's position: the next replay verifies older events again from here.
    swept_to: int = 0

    def as_detail(self) -> dict[str, Any]:
        return {
            "through_id": self.through_id,
            "head": self.head,
            "events": self.events,
            "swept_to": self.swept_to,
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
            int(doc["through_id"]), str(doc["head"]), int(doc["events"]), int(doc["swept_to"])
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
    latest = latest_checkpoint(db) if ledger.strict(db) else None
    if latest is None:
        return _full(db, swept_to=0)
    _, start = latest
    stored = db.execute("SELECT hash FROM events WHERE id = ?", (start.through_id,)).fetchone()
    new = _replay_range(db, start.head, start.through_id + 1, None)
    sweep_from = start.swept_to if 0 < start.swept_to <= start.through_id else 1
    sweep_to = sweep_from + SWEEP_EVENTS - 1
    before = db.execute(
        "SELECT hash FROM events WHERE id < ? ORDER BY id DESC LIMIT 1", (sweep_from,)
    ).fetchone()
    old = _replay_range(
        db, before[0] if before else GENESIS, sweep_from, min(sweep_to, start.through_id)
    )
    if stored is None or stored[0] != start.head:
        return _full(db, swept_to=0, mismatch=start)
    if new is None or old is None:
        return _full(db, swept_to=0)
    count, head, last = new
    last_id = last if last is not None else start.through_id
    try:
        seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    except sqlite3.Error:
        seq = None
    if seq is not None and int(seq[0]) > last_id:
        return _full(db, swept_to=0)  # the tail was deleted: said as a full replay says it
    events = start.events + count
    swept = 0 if sweep_to >= start.through_id else sweep_to + 1
    report = ChainReport(events, head, last_id)
    return report, _checkpoint(report, swept)


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
