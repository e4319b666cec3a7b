"""Language versions of one statement, linked without touching a published bag.

Institutions publish one statement in several languages. A version declares the
others in its sidecar (``versions``: identifiers of the other versions;
``translation_of``: the one it translates), and is linked to them from its own bag
(PREMIS relationships written when it is bagged, ``dcterms:hasVersion`` /
``dcterms:isVersionOf`` in its record) and from the ledger: a ``version link``
event, in the hash chain, for each end of each link, and a row in
``version_links``. A bag published earlier is never edited (it may be signed);
the later version links to it.

The tool also *proposes* links, never makes them: a statement with the same
issuer and date of issue and the same shape (the kinds of its blocks, in order)
as one already archived, in another language, is named in the ingest result.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slugify import slugify

from preserve import ledger
from preserve.statement import Statement

#: The ledger event type that records one end of a link.
VERSION_LINK = "version link"
HAS_VERSION = "hasVersion"
IS_VERSION_OF = "isVersionOf"
_INVERSE = {HAS_VERSION: IS_VERSION_OF, IS_VERSION_OF: HAS_VERSION}


@dataclass(frozen=True)
class Link:
    """One declared link: ``identifier`` *relation* ``other``."""

    identifier: str
    relation: str
    other: str


def declared(record: Mapping[str, Any]) -> list[Link]:
    """The links a record declares (``versions``, ``translation_of``), in order."""
    identifier = str(record["identifier"])
    links = [Link(identifier, HAS_VERSION, str(v)) for v in record.get("versions", [])]
    if record.get("translation_of"):
        links.append(Link(identifier, IS_VERSION_OF, str(record["translation_of"])))
    return [link for link in links if link.other != identifier]


def issuer_key(record: Mapping[str, Any]) -> str:
    creator = record.get("creator") or {}
    who = creator.get("organization") or record.get("publisher") or creator.get("name") or ""
    return slugify(str(who))


def shape(statement: Statement) -> str:
    """A statement's shape: its blocks' kinds in order (the same in every language version)."""
    return " ".join(block.kind.value for block in statement.blocks)


def _has_tables(db: sqlite3.Connection) -> bool:
    row = db.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'version_links'"
    ).fetchone()
    return bool(row[0])


def stage_links(db: sqlite3.Connection, record: Mapping[str, Any], statement: Statement) -> None:
    """Note a bag's shape and declared links as rows, with its 'publishing' ledger row.

    No event yet: the chain only says what happened, and the bag is not published
    until :func:`publish_links` runs with it (or :func:`unstage_links` when it never is).
    """
    identifier = str(record["identifier"])
    at = ledger.now()
    db.execute(
        "INSERT OR REPLACE INTO statement_shapes VALUES (?, ?, ?, ?, ?)",
        (
            identifier,
            issuer_key(record),
            record["date_issued"],
            record["language"],
            shape(statement),
        ),
    )
    for link in declared(record):
        db.execute(
            "INSERT OR REPLACE INTO version_links VALUES (?, ?, ?, ?)",
            (identifier, link.other, link.relation, at),
        )


def unstage_links(db: sqlite3.Connection, identifier: str) -> None:
    """Forget the rows of a bag that was never published."""
    db.execute("DELETE FROM version_links WHERE identifier = ?", (identifier,))
    db.execute("DELETE FROM statement_shapes WHERE identifier = ?", (identifier,))


def _published(db: sqlite3.Connection, identifier: str) -> bool:
    row = db.execute("SELECT state FROM bags WHERE identifier = ?", (identifier,)).fetchone()
    return row is not None and row[0] == "published"


def _event(
    db: sqlite3.Connection, identifier: str, detail: dict[str, Any], agent: str, at: str
) -> None:
    ledger.record_event(
        db,
        identifier=identifier,
        type=VERSION_LINK,
        outcome="success",
        detail=detail,
        agent=agent,
        at=at,
    )


def publish_links(db: sqlite3.Connection, identifier: str, agent: str) -> list[str]:
    """Record a published bag's links in the chain (in the transaction that marks it published).

    Each link gets an event on each end whose bag is archived (the other end's says
    which bag declared it). Returns one note per link whose other end is not (yet)
    in the archive. Crash recovery calls this too, for a publication it completes.
    """
    at = ledger.now()
    notes: list[str] = []
    rows = db.execute(
        "SELECT other, relation FROM version_links WHERE identifier = ? ORDER BY rowid",
        (identifier,),
    ).fetchall()
    for other, relation in rows:
        present = _published(db, other)
        detail = {"relation": relation, "other": other, "other_archived": present}
        _event(db, identifier, detail, agent, at)
        if not present:
            notes.append(f"version {other} is not in the archive (yet)")
            continue
        _link_back(db, other, identifier, _INVERSE[relation], identifier, agent, at)
    # Versions archived earlier that named this one: their links now have both ends.
    earlier = db.execute(
        "SELECT identifier, relation FROM version_links WHERE other = ? AND identifier != ?",
        (identifier, identifier),
    ).fetchall()
    for other, relation in earlier:
        if not _published(db, other):
            continue
        _link_back(db, identifier, other, _INVERSE[relation], other, agent, at)
    return notes


def _link_back(
    db: sqlite3.Connection,
    holder: str,
    other: str,
    relation: str,
    declared_by: str,
    agent: str,
    at: str,
) -> None:
    """The inverse of a declared link, held by ``holder``, with its chained event; once."""
    inserted = db.execute(
        "INSERT OR IGNORE INTO version_links VALUES (?, ?, ?, ?)", (holder, other, relation, at)
    ).rowcount
    if inserted:
        detail = {"relation": relation, "other": other, "declared_by": declared_by}
        _event(db, holder, detail, agent, at)


def propose(db: sqlite3.Connection, record: Mapping[str, Any], statement: Statement) -> list[str]:
    """Archived statements that look like versions of this one and are not linked to it."""
    if not _has_tables(db):
        return []
    identifier = str(record["identifier"])
    linked = set(group(db, identifier)) | {link.other for link in declared(record)}
    rows = db.execute(
        "SELECT identifier FROM statement_shapes WHERE date_issued = ? AND issuer = ?"
        " AND language != ? AND shape = ? AND identifier != ? ORDER BY identifier",
        (
            record["date_issued"],
            issuer_key(record),
            record["language"],
            shape(statement),
            identifier,
        ),
    ).fetchall()
    return [row[0] for row in rows if row[0] not in linked]


def group(db: sqlite3.Connection, identifier: str) -> list[str]:
    """Every version linked to ``identifier``, directly or through others, itself included."""
    if not _has_tables(db):
        return [identifier]
    seen = {identifier}
    frontier = [identifier]
    while frontier:
        current = frontier.pop()
        for (other,) in db.execute(
            "SELECT other FROM version_links WHERE identifier = ?"
            " UNION SELECT identifier FROM version_links WHERE other = ?",
            (current, current),
        ):
            if other not in seen:
                seen.add(other)
                frontier.append(other)
    return sorted(seen)


def missing_links(
    db: sqlite3.Connection, scope: tuple[str, Sequence[Any]] = ("1", ())
) -> list[Link]:
    """Links whose other end the archive does not hold (for the audit). ``scope``: an
    SQL condition on the linking bag's row ``b`` and its parameters (a rolling slice's
    window or page of bags; default: every bag)."""
    if not _has_tables(db):
        return []
    condition, params = scope
    rows = db.execute(
        "SELECT l.identifier, l.relation, l.other FROM version_links l"
        " JOIN bags b ON b.identifier = l.identifier"
        " LEFT JOIN bags o ON o.identifier = l.other"
        f" WHERE o.identifier IS NULL AND ({condition}) ORDER BY l.identifier, l.other",
        tuple(params),
    ).fetchall()
    return [Link(*row) for row in rows]


def premis_relations(record: Mapping[str, Any]) -> Sequence[tuple[str, str]]:
    """(relationship subtype, other identifier) for the bag's PREMIS document."""
    names = {HAS_VERSION: "has version", IS_VERSION_OF: "is version of"}
    return [(names[link.relation], link.other) for link in declared(record)]
