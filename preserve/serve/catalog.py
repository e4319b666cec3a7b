"""What the reading room asks the ledger (read-only): browse, facets, audits, history.

Every query is parameterised and bounded (a page of rows, a facet's top values);
facet counts come from the ``facet_counts`` table that ledger migration 4 keeps
up to date at ingest, never from counting the catalogue per page view.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from preserve import versions as version_links
from preserve.ledger import CATALOG_FACETS
from preserve.premis import FIXITY_CHECK

PAGE_SIZE = 20
FACET_VALUES_SHOWN = 12
#: The ledger event type that withdraws a statement: PREMIS "deaccession", the chained
#: tombstone `preserve withdraw` records (preserve.replicas.DEACCESSION); its URL then
#: answers 410 with a tombstone.
WITHDRAWAL = "deaccession"
WITHDRAWN_STATE = "withdrawn"
FACET_LABELS = {
    "year": "Year",
    "organization": "Organization",
    "signer": "Signer",
    "language": "Language",
    "type": "Type",
}


@dataclass(frozen=True)
class Row:
    """One statement as the lists show it."""

    identifier: str
    title: str
    date_issued: str | None
    signer: str | None
    organization: str | None
    language: str | None
    type: str | None
    last_verified_at: str | None
    last_result: str | None
    state: str
    snippet: str = ""
    #: Its other language versions the archive serves (lists show the group).
    versions: tuple[Row, ...] = ()


@dataclass(frozen=True)
class FacetValue:
    value: str
    count: int


@dataclass(frozen=True)
class Withdrawal:
    """When and why a statement was withdrawn (the tombstone's content)."""

    at: str
    reason: str


@dataclass(frozen=True)
class AuditEvent:
    at: str
    outcome: str
    problems: tuple[str, ...]


_ROW_SQL = (
    "SELECT c.identifier, c.title, c.date_issued, c.signer, c.organization, c.language,"
    " c.type, b.last_verified_at, b.last_result, b.state FROM catalog c"
    " JOIN bags b ON b.identifier = c.identifier"
)


def _row(r: Sequence[Any], snippet: str = "") -> Row:
    return Row(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], snippet=snippet)


def _where(filters: Mapping[str, str]) -> tuple[str, list[str]]:
    clauses = ["b.state != 'publishing'"]
    params: list[str] = []
    for facet in CATALOG_FACETS:
        if facet in filters:
            clauses.append(f"c.{facet} = ?")
            params.append(filters[facet])
    return " WHERE " + " AND ".join(clauses), params


def browse(db: sqlite3.Connection, filters: Mapping[str, str], page: int) -> tuple[list[Row], int]:
    """A page of statements, newest first, and how many match the filters."""
    where, params = _where(filters)
    rows = db.execute(
        _ROW_SQL + where + " ORDER BY c.date_issued DESC, c.identifier DESC LIMIT ? OFFSET ?",
        [*params, PAGE_SIZE, (page - 1) * PAGE_SIZE],
    ).fetchall()
    return [_row(r) for r in rows], count(db, filters)


def count(db: sqlite3.Connection, filters: Mapping[str, str]) -> int:
    """How many statements the filters select: from the facet counts for none or one
    filter (every statement has a type), by the catalog's indexes for more."""
    if len(filters) <= 1:
        facet, value = next(iter(filters.items())) if filters else ("type", None)
        row = db.execute(
            "SELECT coalesce(sum(count), 0) FROM facet_counts WHERE facet = ?"
            + (" AND value = ?" if value is not None else ""),
            (facet, value) if value is not None else (facet,),
        ).fetchone()
        return int(row[0])
    clauses = [f"{f} = ?" for f in CATALOG_FACETS if f in filters]
    params = [filters[f] for f in CATALOG_FACETS if f in filters]
    return int(
        db.execute(
            "SELECT count(*) FROM catalog WHERE " + " AND ".join(clauses), params
        ).fetchone()[0]
    )


#: Up to this many matches a facet filter on search is tested per match, through
#: ``catalog_by_fts_rowid`` (ledger migration 9: ~0.3 µs a match); beyond, the list of
#: rows the filter selects is built once (~0.4 µs a row selected) and each match is
#: looked up in it (~0.1 µs). 96,000 matches: 26 ms one by one, 15 ms by the list.
PROBE_LIMIT = 20_000


def within(
    filters: Mapping[str, str], db: sqlite3.Connection | None = None, matches: int | None = None
) -> tuple[str, list[str]] | None:
    """The facet filters as a condition on the full-text index's row.

    With ``db`` and fewer than :data:`PROBE_LIMIT` ``matches``, each match's row is
    looked up in ``catalog_by_fts_rowid`` (when the ledger has it). Otherwise through
    the list of ``catalog.fts_rowid`` the filter selects: testing a rowid costs
    nothing, reading each match's identifier to test it costs a row read (3x slower
    at 100,000). The ``+`` keeps SQLite from driving the search by rowid, one MATCH
    per rowid.
    """
    if not filters:
        return None
    clauses = [f"{f} = ?" for f in CATALOG_FACETS if f in filters]
    params = [filters[f] for f in CATALOG_FACETS if f in filters]
    if (
        db is not None
        and matches is not None
        and matches < PROBE_LIMIT
        and db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'catalog_by_fts_rowid'"
        ).fetchone()
    ):
        return (
            "EXISTS (SELECT 1 FROM catalog INDEXED BY catalog_by_fts_rowid"
            " WHERE catalog.fts_rowid = statements_fts.rowid AND "
            + " AND ".join(f"catalog.{c}" for c in clauses)
            + ")",
            params,
        )
    return (
        "+rowid IN (SELECT fts_rowid FROM catalog WHERE " + " AND ".join(clauses) + ")",
        params,
    )


def facets(db: sqlite3.Connection) -> dict[str, list[FacetValue]]:
    """The archive's facet values with their counts, most frequent first (years newest first)."""
    out: dict[str, list[FacetValue]] = {}
    for facet in CATALOG_FACETS:
        order = "value DESC" if facet == "year" else "count DESC, value"
        out[facet] = [
            FacetValue(r[0], int(r[1]))
            for r in db.execute(
                f"SELECT value, count FROM facet_counts WHERE facet = ? ORDER BY {order} LIMIT ?",
                (facet, FACET_VALUES_SHOWN),
            )
        ]
    return out


def facet_values(db: sqlite3.Connection, facet: str) -> list[FacetValue]:
    """Every value of one facet (for OAI-PMH sets)."""
    return [
        FacetValue(r[0], int(r[1]))
        for r in db.execute(
            "SELECT value, count FROM facet_counts WHERE facet = ? ORDER BY value", (facet,)
        )
    ]


def rows_by_identifier(
    db: sqlite3.Connection, identifiers: Sequence[str], filters: Mapping[str, str]
) -> dict[str, Row]:
    """Catalogue rows for search hits, kept only when they pass the facet filters."""
    if not identifiers:
        return {}
    where, params = _where(filters)
    marks = ",".join("?" * len(identifiers))
    rows = db.execute(
        _ROW_SQL + where + f" AND c.identifier IN ({marks})", [*params, *identifiers]
    ).fetchall()
    return {r[0]: _row(r) for r in rows}


def _linked(db: sqlite3.Connection, identifiers: Sequence[str]) -> set[str]:
    """Which of ``identifiers`` have a version link (one query for a page of rows)."""
    if not identifiers:
        return set()
    marks = ",".join("?" * len(identifiers))
    try:
        rows = db.execute(
            f"SELECT identifier FROM version_links WHERE identifier IN ({marks})"
            f" UNION SELECT other FROM version_links WHERE other IN ({marks})",
            [*identifiers, *identifiers],
        ).fetchall()
    except sqlite3.OperationalError:  # a ledger from before the versions migration
        return set()
    return {str(r[0]) for r in rows}


def version_group(db: sqlite3.Connection, identifier: str) -> list[Row]:
    """Every language version of a statement the archive serves, itself first, then the
    others by language (the same group on each version's page); one row when it has none."""
    if not _linked(db, [identifier]):
        row = get_row(db, identifier)
        return [] if row is None else [row]
    members = version_links.group(db, identifier)
    found = rows_by_identifier(db, members, {})
    others = sorted(
        (found[m] for m in members if m in found and m != identifier),
        key=lambda r: (r.language or "", r.identifier),
    )
    return ([found[identifier]] if identifier in found else []) + others


def with_versions(db: sqlite3.Connection, rows: Sequence[Row]) -> list[Row]:
    """The rows, each with its other language versions attached (for lists and search)."""
    linked = _linked(db, [r.identifier for r in rows])
    out = []
    for row in rows:
        if row.identifier in linked:
            group = version_group(db, row.identifier)[1:]
            row = dataclasses.replace(row, versions=tuple(group))
        out.append(row)
    return out


def get_row(db: sqlite3.Connection, identifier: str) -> Row | None:
    r = db.execute(_ROW_SQL + " WHERE c.identifier = ?", (identifier,)).fetchone()
    return None if r is None else _row(r)


def bag_path(db: sqlite3.Connection, identifier: str) -> str | None:
    """The bag's path relative to the archive, as the ledger recorded it."""
    r = db.execute(
        "SELECT path FROM bags WHERE identifier = ? AND state != 'publishing'", (identifier,)
    ).fetchone()
    return None if r is None else str(r[0])


def withdrawal(
    db: sqlite3.Connection, identifier: str, state: str | None = None
) -> Withdrawal | None:
    """The statement's withdrawal, if the ledger records one (an event, or the bag's state)."""
    r = db.execute(
        "SELECT at, detail FROM events WHERE identifier = ? AND type = ? ORDER BY id DESC LIMIT 1",
        (identifier, WITHDRAWAL),
    ).fetchone()
    if r is not None:
        return Withdrawal(str(r[0]), _reason(str(r[1])))
    if state == WITHDRAWN_STATE:
        return Withdrawal("", "")
    return None


def withdrawn_identifiers(db: sqlite3.Connection, identifiers: Sequence[str]) -> set[str]:
    if not identifiers:
        return set()
    marks = ",".join("?" * len(identifiers))
    return {
        r[0]
        for r in db.execute(
            f"SELECT DISTINCT identifier FROM events WHERE type = ? AND identifier IN ({marks})",
            (WITHDRAWAL, *identifiers),
        )
    }


def _reason(detail: str) -> str:
    try:
        value = json.loads(detail)
    except ValueError:
        return detail
    if isinstance(value, dict):
        return str(value.get("reason") or value.get("why") or "")
    return str(value)


def audits(db: sqlite3.Connection, identifier: str, limit: int = 10) -> list[AuditEvent]:
    """The bag's last fixity checks, newest first."""
    return [
        AuditEvent(str(r[0]), str(r[1]), _problem_codes(str(r[2])))
        for r in db.execute(
            "SELECT at, outcome, detail FROM events WHERE identifier = ? AND type = ?"
            " ORDER BY at DESC, id DESC LIMIT ?",
            (identifier, FIXITY_CHECK, limit),
        )
    ]


def _problem_codes(detail: str) -> tuple[str, ...]:
    try:
        value = json.loads(detail)
    except ValueError:
        return ()
    problems = value.get("problems", []) if isinstance(value, dict) else []
    return tuple(str(p) for p in problems) if isinstance(problems, list) else ()


# --------------------------------------------------------------------------- dashboard


@dataclass(frozen=True)
class Dashboard:
    total: int
    verified_30: int
    verified_90: int
    never: int
    overdue: list[tuple[str, str | None]]
    overdue_count: int
    failures: list[tuple[str, str, tuple[str, ...]]]
    failing_count: int
    weeks: list[tuple[str, int, int]]
    withdrawn: int = 0


def dashboard(db: sqlite3.Connection, today: dt.datetime | None = None) -> Dashboard:
    """Counts of recent verifications, overdue and failing bags, and the weekly history,
    each read from an index or from ``audit_weeks`` (never a scan of every bag)."""
    now = today or dt.datetime.now(dt.UTC)

    def ago(days: int) -> str:
        return (now - dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def one(sql: str, *params: object) -> int:
        return int(db.execute(sql, params).fetchone()[0] or 0)

    # A withdrawn bag is gone from every copy: audits no longer expect it, so it is
    # neither overdue nor counted among the bags, only as withdrawn.
    live = f"identifier NOT IN (SELECT identifier FROM events WHERE type = '{WITHDRAWAL}')"
    withdrawn = one("SELECT count(DISTINCT identifier) FROM events WHERE type = ?", WITHDRAWAL)
    total = one(f"SELECT count(*) FROM bags WHERE {live}")
    v30 = one(f"SELECT count(*) FROM bags WHERE last_verified_at >= ? AND {live}", ago(30))
    v90 = one(f"SELECT count(*) FROM bags WHERE last_verified_at >= ? AND {live}", ago(90))
    never = one(f"SELECT count(*) FROM bags WHERE last_verified_at IS NULL AND {live}")
    stale = one(f"SELECT count(*) FROM bags WHERE last_verified_at < ? AND {live}", ago(90))
    failing = one(f"SELECT count(*) FROM bags WHERE last_result = 'failure' AND {live}")
    overdue: list[tuple[str, str | None]] = [
        (str(r[0]), r[1])
        for sql, params in (
            (
                "SELECT identifier, last_verified_at FROM bags WHERE last_verified_at IS NULL"
                f" AND {live} LIMIT 20",
                (),
            ),
            (
                "SELECT identifier, last_verified_at FROM bags WHERE last_verified_at < ?"
                f" AND {live} ORDER BY last_verified_at LIMIT 20",
                (ago(90),),
            ),
        )
        for r in db.execute(sql, params)
    ][:20]
    failures = []
    for r in db.execute(
        "SELECT identifier, last_verified_at FROM bags WHERE last_result = 'failure'"
        f" AND {live} ORDER BY last_verified_at DESC LIMIT 20"
    ).fetchall():
        last = audits(db, str(r[0]), 1)
        failures.append((str(r[0]), str(r[1] or ""), last[0].problems if last else ()))
    keys = [(now - dt.timedelta(weeks=i)).strftime("%Y-%W") for i in range(25, -1, -1)]
    per_week = {
        str(r[0]): (int(r[1]), int(r[2]))
        for r in db.execute(
            "SELECT week, passed, failed FROM audit_weeks WHERE week >= ?", (keys[0],)
        )
    }
    weeks = [(key, *per_week.get(key, (0, 0))) for key in keys]
    return Dashboard(
        total, v30, v90, never, overdue, never + stale, failures, failing, weeks, withdrawn
    )
