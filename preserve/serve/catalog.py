"""What the reading room asks the ledger (read-only): browse, facets, audits, history.

Every query is parameterised and bounded (a page of rows, a facet's top values).
With no filter, facet counts come from the ``facet_counts`` table that the ledger's
triggers keep up to date at ingest; under a filter or a query they are counted
from the catalogue's indexes, once per filter set and ledger change (the routes
keep them with ``Ledger.cached``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from preserve import search as fulltext
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
    # The statements being published are in the counts and the catalogue: less those.
    typed = CATALOG_FACETS.index("type")
    excess = sum(
        1 for r in _pending(db) if _passes(r, filters) and (filters or r[typed] is not None)
    )
    return _count_recorded(db, filters) - excess


def _count_recorded(db: sqlite3.Connection, filters: Mapping[str, str]) -> int:
    """:func:`count` over every catalogue row, those being published included."""
    if len(filters) <= 1:
        facet, value = next(iter(filters.items())) if filters else ("type", None)
        return _selected(db, facet, value)
    clauses = [f"{f} = ?" for f in CATALOG_FACETS if f in filters]
    params = [filters[f] for f in CATALOG_FACETS if f in filters]
    # Through the most selective filter's index and the table (~1.3 µs a row), or, when
    # even that one selects much of the archive, one scan of the index that holds every
    # facet: language + type at 100,000, 23 ms -> 6 ms.
    fewest = min(_selected(db, f, v) for f, v in filters.items())
    scan = fewest > SCAN_SHARE * (_selected(db, "type", None) or 1) and _has_index(
        db, "catalog_by_fts_rowid"
    )
    return int(
        db.execute(
            "SELECT count(*) FROM catalog"
            + (" INDEXED BY catalog_by_fts_rowid" if scan else "")
            + " WHERE "
            + " AND ".join(clauses),
            params,
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


#: Below this share of the archive, the rows a filter selects are read through that
#: filter's index and then the table (~1.3 µs a row); above it, by scanning
#: ``catalog_by_fts_rowid``, which holds every facet (~0.1 µs an entry, no table read).
SCAN_SHARE = 0.05
#: Above this share of the archive matching a query, :func:`search_facets` counts the
#: statements that do not match and takes them from the archive's counts.
COMPLEMENT_SHARE = 0.5


def _unfiltered(db: sqlite3.Connection, facet: str, limit: int | None) -> list[FacetValue]:
    """A facet's whole-archive counts, kept by the ledger's triggers in ``facet_counts``."""
    order = "value DESC" if facet == "year" else "count DESC, value"
    return [
        FacetValue(r[0], int(r[1]))
        for r in db.execute(
            f"SELECT value, count FROM facet_counts WHERE facet = ? ORDER BY {order} LIMIT ?",
            (facet, -1 if limit is None else limit),
        )
    ]


def _has_index(db: sqlite3.Connection, name: str) -> bool:
    return (
        db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
        ).fetchone()
        is not None
    )


def _near_filters(filters: Mapping[str, str], prefix: str) -> tuple[str, list[str]]:
    """The condition "every filter but at most one holds" on the catalogue (``prefix``
    is its alias): the rows any facet count under ``filters`` can include."""
    keys = [f for f in CATALOG_FACETS if f in filters]
    tests = [f"({prefix}{f} IS ?)" for f in keys]
    if len(keys) == 1:
        return tests[0], [filters[keys[0]]]
    return (
        "(" + " OR ".join(tests) + ") AND (" + " + ".join(tests) + f") >= {len(keys) - 1}",
        [filters[f] for f in keys] * 2,
    )


def _tally(
    rows: Iterable[Sequence[Any]],
    filters: Mapping[str, str],
    wanted: Sequence[str],
    weighted: bool = False,
) -> dict[str, Counter[str]]:
    """Count each wanted facet's values over ``rows`` (tuples of :data:`CATALOG_FACETS`,
    ``weighted``: then how many statements the tuple stands for).

    A row that passes every filter counts for every facet; a row that fails exactly one
    filter counts only for that filter's facet (it is what choosing another value of
    that facet would add); a row that fails more counts for none.
    """
    index = {f: i for i, f in enumerate(CATALOG_FACETS)}
    checks = [(f, index[f], filters[f]) for f in CATALOG_FACETS if f in filters]
    columns = [(f, index[f]) for f in wanted]
    counts: dict[str, Counter[str]] = {f: Counter() for f in wanted}
    for row in rows:
        weight = row[-1] if weighted else 1
        missed = None
        for facet, i, value in checks:
            if row[i] != value:
                if missed is not None:
                    break
                missed = facet
        else:
            if missed is None:
                for facet, i in columns:
                    if row[i] is not None:
                        counts[facet][row[i]] += weight
            elif missed in counts and row[index[missed]] is not None:
                counts[missed][row[index[missed]]] += weight
    return counts


def _ranked(
    facet: str, counts: Counter[str], selected: str | None, limit: int | None
) -> list[FacetValue]:
    """Most frequent first (years newest first), the first ``limit``; the selected value
    is always listed, with its count (0 when nothing matches it)."""
    if facet == "year":
        values = sorted(counts.items(), key=lambda kv: kv[0], reverse=True)
    else:
        values = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = [FacetValue(v, n) for v, n in (values if limit is None else values[:limit])]
    if selected is not None and all(v.value != selected for v in shown):
        shown.append(FacetValue(selected, counts.get(selected, 0)))
    return shown


def facet_query(db: sqlite3.Connection, filters: Mapping[str, str]) -> tuple[str, list[str]]:
    """The query :func:`facets` reads the catalogue with under ``filters`` (at least one):
    every row that passes all filters but at most one, with its facets. Through the
    filter's own index where it selects few rows, else through ``catalog_by_fts_rowid``."""
    if len(filters) == 1:
        estimate = _selected(db, *next(iter(filters.items())))
    else:  # the rows that miss one filter are needed too
        estimate = sum(_selected(db, f, v) for f, v in filters.items())
    total = _selected(db, "type", None) or 1
    scan = estimate > SCAN_SHARE * total and _has_index(db, "catalog_by_fts_rowid")
    where, params = _near_filters(filters, "")
    return (
        f"SELECT {', '.join(CATALOG_FACETS)} FROM catalog"
        + (" INDEXED BY catalog_by_fts_rowid" if scan else "")
        + f" WHERE {where}",
        params,
    )


def facets(
    db: sqlite3.Connection,
    filters: Mapping[str, str] | None = None,
    wanted: Sequence[str] = CATALOG_FACETS,
    limit: int | None = FACET_VALUES_SHOWN,
) -> dict[str, list[FacetValue]]:
    """Each facet's values, each with how many statements its link would list.

    With no filter, the whole archive's counts (``facet_counts``). Under filters, the
    usual faceted-search counts: for a facet with no filter of its own, the statements
    the filters select that have the value; for a filtered facet, those of the *other*
    filters that have the value (its link replaces that facet's filter). Values no
    such statement has are left out, except a selected value, always listed.
    """
    filters = filters or {}
    pending = _pending(db)
    if not filters and not pending:
        return {f: _unfiltered(db, f, limit) for f in wanted}
    counted = _less(_counts(db, filters, wanted), _tally(pending, filters, wanted))
    return {f: _ranked(f, counted[f], filters.get(f), limit) for f in wanted}


def _counts(
    db: sqlite3.Connection, filters: Mapping[str, str], wanted: Sequence[str]
) -> dict[str, Counter[str]]:
    """:func:`facets`' counts over every catalogue row, those being published included
    (the ledger's tables hold them from the transaction that records the bag on)."""
    if not filters:
        return {f: Counter({v.value: v.count for v in _unfiltered(db, f, None)}) for f in wanted}
    rows = db.execute(*facet_query(db, filters)).fetchall()
    if len(filters) == 1:  # every row passes the one filter: count the columns as they are
        read = list(zip(*rows, strict=True)) if rows else [()] * len(CATALOG_FACETS)
        columns = dict(zip(CATALOG_FACETS, read, strict=True))
        counted = {
            f: Counter(v for v in columns[f] if v is not None) for f in wanted if f not in filters
        }
    else:
        counted = _tally(rows, filters, wanted)
    for facet in wanted:
        if facet not in counted:  # the only filter: its facet's counts are the whole archive's
            counted[facet] = Counter({v.value: v.count for v in _unfiltered(db, facet, None)})
    return counted


def _pending(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """The catalogue rows of the statements being published (:data:`CATALOG_FACETS`,
    then ``fts_rowid``): recorded, so counted by the ledger's tables, but not listed by
    browse or search until their bag is published. A handful at most."""
    identifiers = fulltext.unpublished(db).identifiers
    if not identifiers:
        return []
    return [
        tuple(r)
        for r in db.execute(
            f"SELECT {', '.join(CATALOG_FACETS)}, fts_rowid FROM catalog"
            f" WHERE identifier IN ({','.join('?' * len(identifiers))})",
            identifiers,
        )
    ]


def _less(
    counted: dict[str, Counter[str]], excess: Mapping[str, Counter[str]]
) -> dict[str, Counter[str]]:
    """Each facet's counts less ``excess`` (values left with none drop out)."""
    return {f: c - excess[f] if excess.get(f) else c for f, c in counted.items()}


def _passes(row: Sequence[Any], filters: Mapping[str, str]) -> bool:
    return all(row[CATALOG_FACETS.index(f)] == v for f, v in filters.items())


def search_facets(
    db: sqlite3.Connection,
    expression: str,
    filters: Mapping[str, str],
    wanted: Sequence[str] = CATALOG_FACETS,
    limit: int | None = FACET_VALUES_SHOWN,
) -> dict[str, list[FacetValue]]:
    """:func:`facets` over the statements that match a full-text ``expression``.

    Each match's facets are read from ``catalog_by_fts_rowid`` (one index lookup a
    match) and grouped in SQL. When most of the archive matches (and at most one filter
    narrows it), the statements that do *not* match are counted instead and taken from
    the archive's counts: a scan of that index against the list of matches costs a
    third of 96,000 lookups.
    """
    sql, params, complement = search_facet_query(db, expression, filters, wanted)
    rows = db.execute(sql, params)
    if complement:
        missing = _tally(rows, filters, wanted, weighted=True)
        everything = _counts(db, filters, wanted)
        counted = {f: everything[f] - missing[f] for f in wanted}
    else:
        counted = _tally(rows, filters, wanted, weighted=True)
    # Both ways count the matches being published (their text is indexed): less those.
    pending = [r for r in _pending(db) if r[-1] is not None]
    if pending:
        matching = {
            int(r[0])
            for r in db.execute(
                "SELECT rowid FROM statements_fts WHERE statements_fts MATCH ?"
                f" AND +rowid IN ({','.join('?' * len(pending))})",
                (expression, *(r[-1] for r in pending)),
            )
        }
        excess = _tally([r for r in pending if r[-1] in matching], filters, wanted)
        counted = _less(counted, excess)
    return {f: _ranked(f, counted[f], filters.get(f), limit) for f in wanted}


def search_facet_query(
    db: sqlite3.Connection, expression: str, filters: Mapping[str, str], wanted: Sequence[str]
) -> tuple[str, list[str], bool]:
    """The query :func:`search_facets` groups with, and whether it reads the statements
    that do not match (most of the archive matches, at most one filter)."""
    indexed = _has_index(db, "catalog_by_fts_rowid")
    # One filter: its own facet counts every match (the rows that miss it too).
    where, params = _near_filters(filters, "c.") if len(filters) > 1 else ("1", [])
    # Grouped in SQL by what the tally reads: a wanted facet's value, whether a filter
    # on another facet holds (its value or NULL), nothing else: a few thousand groups
    # where the matches are 100,000 (fetching each match to Python costs twice as much).
    columns: list[str] = []
    column_params: list[str] = []
    for facet in CATALOG_FACETS:
        if facet in wanted:
            columns.append(f"c.{facet}")
        elif facet in filters:
            columns.append(f"CASE WHEN c.{facet} = ? THEN c.{facet} END")
            column_params.append(filters[facet])
        else:
            columns.append("NULL")
    select = f"SELECT {', '.join(columns)}, count(*)"
    group = " GROUP BY 1, 2, 3, 4, 5"
    matches = db.execute(
        "SELECT count(*) FROM statements_fts WHERE statements_fts MATCH ?", (expression,)
    ).fetchone()[0]
    # (With two filters or more, only the matches near every filter are grouped: fewer.)
    total = _selected(db, "type", None)
    if indexed and len(filters) <= 1 and matches > COMPLEMENT_SHARE * total:
        return (
            f"{select} FROM catalog c INDEXED BY catalog_by_fts_rowid WHERE (c.fts_rowid IS NULL"
            " OR c.fts_rowid NOT IN (SELECT rowid FROM statements_fts WHERE statements_fts"
            f" MATCH ?)) AND {where}{group}",
            [*column_params, expression, *params],
            True,
        )
    return (
        f"{select} FROM statements_fts JOIN catalog c"
        + (" INDEXED BY catalog_by_fts_rowid" if indexed else "")
        + " ON c.fts_rowid = statements_fts.rowid WHERE statements_fts MATCH ?"
        f" AND {where}{group}",
        [*column_params, expression, *params],
        False,
    )


def rows_facets(
    rows: Sequence[Row],
    filters: Mapping[str, str],
    wanted: Sequence[str] = CATALOG_FACETS,
    limit: int | None = FACET_VALUES_SHOWN,
) -> dict[str, list[FacetValue]]:
    """:func:`facets` over given catalogue rows (the hits of an unspaced-script search)."""

    def year(r: Row) -> str | None:  # as ledger.catalog_values derives it
        d = r.date_issued
        return d[:4] if isinstance(d, str) and len(d) >= 4 else None

    values = [
        tuple(year(r) if f == "year" else getattr(r, f) for f in CATALOG_FACETS) for r in rows
    ]
    counted = _tally(values, filters, wanted)
    return {f: _ranked(f, counted[f], filters.get(f), limit) for f in wanted}


def _selected(db: sqlite3.Connection, facet: str, value: str | None) -> int:
    """How many statements have ``value`` for ``facet`` (all that have one: None)."""
    row = db.execute(
        "SELECT coalesce(sum(count), 0) FROM facet_counts WHERE facet = ?"
        + (" AND value = ?" if value is not None else ""),
        (facet, value) if value is not None else (facet,),
    ).fetchone()
    return int(row[0])


def facet_values(db: sqlite3.Connection, facet: str) -> list[FacetValue]:
    """Every value of one facet that a published statement has, with how many (for
    OAI-PMH sets: a set only a statement being published has would list nothing)."""
    counted = _less(
        {facet: Counter({v.value: v.count for v in _unfiltered(db, facet, None)})},
        _tally(_pending(db), {}, (facet,)),
    )[facet]
    return [FacetValue(v, n) for v, n in sorted(counted.items())]


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
    # neither overdue nor counted among the bags, only as withdrawn. A bag being
    # published is not in the archive yet (its link would answer 404): not counted
    # either (through the partial index bags_publishing, ledger migration 10).
    live = (
        f"identifier NOT IN (SELECT identifier FROM events WHERE type = '{WITHDRAWAL}')"
        " AND identifier NOT IN (SELECT identifier FROM bags WHERE state = 'publishing')"
    )
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
