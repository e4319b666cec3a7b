"""The ledger's events as a hash chain, so its history cannot be quietly rewritten.

Every event row carries ``prev_hash`` (the previous event's ``hash``; 64 zeros
for the first) and ``hash``, the SHA-256 of the event's canonical form::

    sha256(UTF-8 of JSON {"agent", "at", "detail", "identifier", "outcome",
                          "prev_hash", "type", "v": 1}
           with sorted keys, separators "," and ":", non-ASCII kept as is)

Editing or deleting an event breaks the link after it; rewriting every hash
after it is only caught against a head published earlier. :func:`anchor`
gives that head (optionally timestamped by a TSA) for the institution to
publish or deposit elsewhere, and ``verify_chain(db, head=...)`` proves that
nothing up to it has changed since.

The chain is extended inside the caller's write transaction (``BEGIN
IMMEDIATE`` holds the write lock), so concurrent writers queue and never fork it.
Events from before the chain are sealed once, by a recorded event, when the
ledger reaches version 4 (:func:`seal_legacy`); after that an unchained event is
a broken chain. The chain is the audit's ground truth for the ledger's tables
(:mod:`preserve.ledger_check`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring as _quote  # json.dumps's own (C) string encoder
from pathlib import Path
from typing import Any

from preserve.ledger import STRICT_VERSION, now

GENESIS = "0" * 64
ANCHOR_FORMAT = "preserve-ledger-anchor/1"


#: The columns of an event that its hash covers (with ``prev_hash`` and a version).
EVENT_FIELDS = ("identifier", "type", "at", "outcome", "detail", "agent")


def event_hash(prev_hash: str, event: Mapping[str, Any] | sqlite3.Row) -> str:
    """The hash of one event (a mapping or ledger row with :data:`EVENT_FIELDS`)
    given the previous event's hash (see the module doc)."""
    return hashlib.sha256(canonical_event(prev_hash, event).encode("utf-8")).hexdigest()


def canonical_event(prev_hash: str, event: Mapping[str, Any] | sqlite3.Row) -> str:
    """The JSON text an event's hash is taken over.

    Spelled out for the usual event (text fields, the identifier text or NULL), a
    few times faster than ``json.dumps`` of a dict, which an audit's replay of
    every event pays for; byte for byte what :func:`_canonical_json` gives (a
    property test holds them equal), and anything else goes through it.
    """
    identifier, kind, at, outcome, detail, agent = (event[name] for name in EVENT_FIELDS)
    texts = (prev_hash, kind, at, outcome, detail, agent)
    if all(type(t) is str for t in texts) and (identifier is None or type(identifier) is str):
        q = _quote
        return (
            f'{{"agent":{q(agent)},"at":{q(at)},"detail":{q(detail)},"identifier":'
            f'{"null" if identifier is None else q(identifier)},"outcome":{q(outcome)},'
            f'"prev_hash":{q(prev_hash)},"type":{q(kind)},"v":1}}'
        )
    return _canonical_json(prev_hash, event)


def _canonical_json(prev_hash: str, event: Mapping[str, Any] | sqlite3.Row) -> str:
    return json.dumps(
        {"v": 1, "prev_hash": prev_hash, **{name: event[name] for name in EVENT_FIELDS}},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def head(db: sqlite3.Connection) -> str:
    """The hash of the last chained event (:data:`GENESIS` for an empty chain)."""
    row = db.execute("SELECT hash FROM events WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1")
    found = row.fetchone()
    return str(found[0]) if found else GENESIS


def append(
    db: sqlite3.Connection,
    *,
    identifier: str | None,
    type: str,
    at: str,
    outcome: str,
    detail: str,
    agent: str,
) -> str:
    """Insert one chained event; returns its hash. Must run inside a write transaction.

    It never seals unchained events: that happens once, when the ledger is
    brought to version 4 (:func:`seal_legacy`); after that an unchained event is
    a broken chain, not history to adopt.
    """
    if not db.in_transaction:
        raise RuntimeError("ledger events must be recorded inside ledger.write()")
    prev = head(db)
    event = {
        "identifier": identifier,
        "type": type,
        "at": at,
        "outcome": outcome,
        "detail": detail,
        "agent": agent,
    }
    digest = event_hash(prev, event)
    db.execute(
        "INSERT INTO events (identifier, type, at, outcome, detail, agent, prev_hash, hash)"
        " VALUES (?,?,?,?,?,?,?,?)",
        (identifier, type, at, outcome, detail, agent, prev, digest),
    )
    return digest


#: The event recorded when a ledger is bound to its chain (ledger version 4): it
#: seals events from before the chain, and vouches for bags and trusted keys whose
#: chained events do not yet say what the audit needs (see :mod:`preserve.ledger_check`).
SEAL_EVENT = "ledger sealing"


def seal_legacy(db: sqlite3.Connection, archive: Path) -> int:
    """Bind a ledger made before version 4 to its chain, once (inside the migration).

    Chains a leading run of events written before the chain existed (only when no
    event is chained yet: unchained events after chained ones are a broken chain,
    left for :func:`verify_chain` to report), then records a :data:`SEAL_EVENT`
    for each bag whose chained events hold no tag-manifest digests and one for
    the archive's trusted keys that no event records. Returns the events sealed.
    """
    from preserve import ledger_check
    from preserve.premis import software_agent

    sealed = 0
    if not db.execute("SELECT 1 FROM events WHERE hash IS NOT NULL LIMIT 1").fetchone():
        prev = GENESIS
        for row in db.execute("SELECT * FROM events WHERE hash IS NULL ORDER BY id").fetchall():
            digest = event_hash(prev, row)
            db.execute(
                "UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?",
                (prev, digest, row["id"]),
            )
            prev = digest
            sealed += 1
    agent, at = software_agent(), now()

    def seal(identifier: str | None, detail: str) -> None:
        append(
            db,
            identifier=identifier,
            type=SEAL_EVENT,
            at=at,
            outcome="success",
            detail=detail,
            agent=agent,
        )

    if sealed:
        seal(None, json.dumps({"sealed_events": sealed, "reason": "events from before the chain"}))
    for identifier, digests in ledger_check.unbound_digests(db):
        seal(
            identifier,
            json.dumps(
                {"tagmanifests": digests, "reason": "digests recorded before the chain held them"},
                sort_keys=True,
            ),
        )
    unbound = ledger_check.unbound_keys(db, archive)
    if unbound:
        seal(
            None,
            json.dumps(
                {"trusted_keys": unbound, "reason": "keys trusted before the chain recorded it"},
                sort_keys=True,
            ),
        )
    return sealed


@dataclass(frozen=True)
class BrokenLink:
    """The first place the chain does not hold."""

    event_id: int
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class ChainReport:
    """What :func:`verify_chain` found."""

    events: int
    head: str
    last_id: int | None
    broken: BrokenLink | None = None
    #: With a published head: whether it is in the chain (None when none was given).
    head_found: bool | None = None
    published_head: str | None = None
    unchained: int = 0

    @property
    def ok(self) -> bool:
        return self.broken is None and self.head_found is not False

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "head": self.head,
            "last_event_id": self.last_id,
            "published_head": self.published_head,
            "published_head_found": self.head_found,
            "unchained_events": self.unchained,
            "first_broken_link": None if self.broken is None else self.broken.as_dict(),
        }


def verify_chain(db: sqlite3.Connection, *, published_head: str | None = None) -> ChainReport:
    """Recompute every link in id order and report the first that does not hold.

    Codes: ``chain.event-changed`` (an event's fields no longer give its hash),
    ``chain.link-broken`` (an event does not point at the one before it: one was
    deleted, inserted or rewritten), ``chain.unchained`` (an event without a hash
    after chained ones), ``chain.tail-deleted`` (SQLite numbered events past the
    last one present). With ``published_head``, that hash must be in the chain.
    """
    if published_head is not None:
        published_head = published_head.strip().lower()
    prev = GENESIS
    count = 0
    last_id: int | None = None
    broken: BrokenLink | None = None
    found = False if published_head is not None else None
    unchained = 0
    columns = {r[1] for r in db.execute("PRAGMA table_info(events)")}
    if "hash" not in columns:  # a ledger from before the chain, opened read-only
        total = db.execute("SELECT count(*) FROM events").fetchone()[0]
        last = db.execute("SELECT max(id) FROM events").fetchone()[0]
        return ChainReport(total, GENESIS, last, None, found, published_head, total)
    # From ledger version 4 on, events from before the chain were sealed at the
    # upgrade: an unchained event is one whose hash was removed.
    legacy_allowed = int(db.execute("PRAGMA user_version").fetchone()[0]) < STRICT_VERSION
    for row in db.execute("SELECT * FROM events ORDER BY id"):
        count += 1
        event_id = int(row["id"])
        if broken is None:
            if row["hash"] is None:
                if legacy_allowed and unchained == count - 1:
                    unchained += 1  # a leading run from before the chain; sealed at the upgrade
                else:
                    broken = BrokenLink(
                        event_id,
                        "chain.unchained",
                        "event carries no hash: its hash was removed (every event of a "
                        "ledger of version 4 or later is chained)",
                    )
            elif row["prev_hash"] != prev:
                gap = f" (ids jump from {last_id})" if last_id and event_id != last_id + 1 else ""
                broken = BrokenLink(
                    event_id,
                    "chain.link-broken",
                    f"does not point at the event before it{gap}: an event was deleted, "
                    "inserted or rewritten",
                )
            elif event_hash(prev, row) != row["hash"]:
                broken = BrokenLink(
                    event_id, "chain.event-changed", "event was changed after it was recorded"
                )
            else:
                prev = row["hash"]
                if published_head is not None and prev == published_head:
                    found = True
        last_id = event_id
    if broken is None and last_id is not None:
        seq = _sequence(db)
        if seq is not None and seq > last_id:
            broken = BrokenLink(
                last_id,
                "chain.tail-deleted",
                f"events after id {last_id} (up to {seq}) were deleted",
            )
    return ChainReport(count, prev, last_id, broken, found, published_head, unchained)


def _sequence(db: sqlite3.Connection) -> int | None:
    try:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else int(row[0])


@dataclass(frozen=True)
class Anchor:
    """The chain's head at a moment: what an institution publishes or deposits."""

    head: str
    events: int
    last_id: int | None

    def line(self) -> str:
        return f"{ANCHOR_FORMAT} events={self.events} last-id={self.last_id or 0} head={self.head}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": ANCHOR_FORMAT,
            "head": self.head,
            "events": self.events,
            "last_event_id": self.last_id,
            "line": self.line(),
        }


def anchor(db: sqlite3.Connection) -> tuple[Anchor, ChainReport]:
    """The current head, with the verification that says whether it is worth publishing."""
    report = verify_chain(db)
    return Anchor(report.head, report.events, report.last_id), report
