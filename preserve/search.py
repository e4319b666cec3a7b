"""Search in archive: full-text search over the ledger's index (SQLite FTS5).

The index (title, body, signer, subjects and places) is filled at ingest, inside
the same transaction that records the bag as 'publishing', before the bag is renamed
into ``bags/``; every query leaves out the statements still in that state
(:func:`unpublished`), so search never finds a statement the archive does not hold
yet. Queries open the ledger read-only.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preserve import ledger
from preserve.errors import InputError

#: Column weights for ranking (bm25): a word in the title counts most.
WEIGHTS = {"title": 10.0, "body": 1.0, "signer": 5.0, "subjects": 3.0}
MAX_RESULTS = 50
#: A query longer than this is refused before it is parsed: FTS5's cost grows with
#: every prefix term (a 3,200-word query took 50 s); no real search needs more.
MAX_QUERY_WORDS = 32
MAX_QUERY_BYTES = 1024
_WORD = re.compile(r"\w+", re.UNICODE)
#: Scripts written without spaces between words (Han, kana, Thai, Lao, Khmer,
#: Myanmar, Tibetan): unicode61 sees a whole run as one word, so their words are
#: looked up in the trigram index (ledger migration 4) as substrings instead.
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"
)


def unspaced_text(*parts: str | None) -> str:
    """The runs of unspaced scripts in ``parts``, one a line: what the trigram index holds."""
    return "\n".join(run for part in parts if part for run in _UNSPACED.findall(part))


@dataclass(frozen=True)
class Query:
    """What a person typed, split by how each word is found: ``expression`` for the
    unicode61 index (None when every word is unspaced), ``runs`` as substrings."""

    expression: str | None
    runs: tuple[str, ...]


def parse_query(text: str) -> Query:
    """Split a query into spaced words (an FTS5 expression) and unspaced runs."""
    runs = tuple(_UNSPACED.findall(text))
    rest = _UNSPACED.sub(" ", text)
    if not runs:
        return Query(fts_query(text), ())
    return Query(fts_query(rest) if _WORD.search(rest) else None, runs)


@dataclass(frozen=True)
class Hit:
    """One statement that matches, best first."""

    identifier: str
    date_issued: str
    title: str
    snippet: str
    rank: float
    #: The other language versions linked to it (:mod:`preserve.versions`).
    versions: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "date_issued": self.date_issued,
            "title": self.title,
            "snippet": self.snippet,
            "rank": self.rank,
            "versions": list(self.versions),
        }


def fts_query(text: str) -> str:
    """Turn what a person typed into a safe FTS5 query: every word must match.

    Words are quoted (so operators and punctuation are data, not syntax) and
    matched as prefixes from three letters on, which finds inflected forms
    ("архив" finds "архиве", "hüquq" finds "hüquqları").
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_QUERY_BYTES:
        raise InputError(
            f"the query is {size:,} bytes; at most {MAX_QUERY_BYTES:,} are searched "
            "(MAX_QUERY_BYTES): search for fewer, more telling words"
        )
    words = _WORD.findall(text)
    if len(words) > MAX_QUERY_WORDS:
        raise InputError(
            f"the query has {len(words):,} words; at most {MAX_QUERY_WORDS} are searched "
            "(MAX_QUERY_WORDS): search for fewer, more telling words"
        )
    if not words:
        raise InputError(f"the query {text!r} has no words to search for")
    return " ".join(f'"{w}"*' if len(w) >= 3 else f'"{w}"' for w in words)


#: The ledger's state of a bag recorded but not yet published: its row, text index and
#: catalogue row are written in one transaction before the rename into ``bags/`` and
#: marked 'published' after it (an ingest cut off in between leaves it so until the
#: next ingest's recovery finishes or undoes it).
PUBLISHING = "publishing"


@dataclass(frozen=True)
class Unpublished:
    """Statements the ledger records as 'publishing': indexed, but not in the archive yet.

    Search and every count leave them out, as browse does: a researcher never finds
    (or counts) a statement whose page answers 404. Read through the partial index of
    ledger migration 10 (0.01 ms; a scan of ``bags`` costs 30 ms at 100,000).
    """

    identifiers: tuple[str, ...] = ()
    #: Their rows in ``statements_fts``, where the catalogue knows them.
    rowids: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.identifiers)

    @property
    def located(self) -> bool:
        """Whether every one's text-index row is known (else matches are tested by name)."""
        return len(self.rowids) == len(self.identifiers)

    def excluded(self) -> tuple[str, list[Any]] | None:
        """An SQL condition on ``statements_fts`` that leaves them out (None: nothing to).

        By rowid (``+``: never a lookup driven by it) when every row is known; else by
        identifier, which reads each match's row (a ledger without the catalogue)."""
        if not self.identifiers:
            return None
        if self.located:
            return f"+rowid NOT IN ({','.join('?' * len(self.rowids))})", list(self.rowids)
        marks = ",".join("?" * len(self.identifiers))
        return f"identifier NOT IN ({marks})", list(self.identifiers)


def unpublished(db: sqlite3.Connection) -> Unpublished:
    """The statements the ledger records as 'publishing' (see :class:`Unpublished`)."""
    identifiers = tuple(
        str(r[0])
        # the state written out, not bound: only then may SQLite use the partial index
        for r in db.execute(f"SELECT identifier FROM bags WHERE state = '{PUBLISHING}'")
    )
    if not identifiers:
        return Unpublished()
    marks = ",".join("?" * len(identifiers))
    try:
        rowids = tuple(
            int(r[0])
            for r in db.execute(
                f"SELECT fts_rowid FROM catalog WHERE identifier IN ({marks})"
                " AND fts_rowid IS NOT NULL",
                identifiers,
            )
        )
    except sqlite3.OperationalError:  # a ledger from before the catalogue (migration 6)
        rowids = ()
    return Unpublished(identifiers, rowids)


def _and_published(
    db: sqlite3.Connection, within: tuple[str, Sequence[Any]] | None
) -> tuple[str, Sequence[Any]] | None:
    """``within`` (a condition on the text index's row) and: not a bag being published."""
    excluded = unpublished(db).excluded()
    if excluded is None:
        return within
    if within is None:
        return excluded
    return f"({within[0]}) AND {excluded[0]}", [*within[1], *excluded[1]]


def search(archive: Path, query: str, *, limit: int = 20) -> list[Hit]:
    """Statements in the archive matching every word of ``query``, best match first."""
    parsed = parse_query(query)
    db = ledger.connect(archive, readonly=True)
    try:
        with ledger.reading(archive):
            return search_parsed(db, parsed, limit=min(limit, MAX_RESULTS))
    finally:
        db.close()


def search_db(db: sqlite3.Connection, expression: str, *, limit: int = 20) -> list[Hit]:
    """Run an FTS5 expression (from :func:`fts_query`) against an open ledger."""
    return search_counted(db, expression, limit=limit)[0]


#: Ranking costs ~1 µs a match (bm25 alone; snippets are made for the page shown only):
#: bm25 over 40,000 matches was still 200 ms with the snippets. Above this many
#: matches the most recently ingested come first instead, read in index order
#: without touching the rest.
RANK_LIMIT = 2000


def search_counted(
    db: sqlite3.Connection,
    expression: str,
    *,
    limit: int = 20,
    offset: int = 0,
    within: tuple[str, Sequence[Any]] | None = None,
    versions: bool = True,
    scores: bool = True,
    at_most: int | None = None,
) -> tuple[list[Hit], int]:
    """Hits ``offset`` to ``offset + limit`` and how many statements match in all.

    Ordered by bm25 rank (ties: first ingested first, as before) when at most
    :data:`RANK_LIMIT` statements match, else most recently ingested first.
    ``within`` is an SQL condition on the index's row and its parameters (the
    reading room's facet filters), applied before counting. ``versions`` False
    leaves :attr:`Hit.versions` empty (the reading room finds them for a whole page);
    ``scores`` False leaves :attr:`Hit.rank` 0 when the hits are not ranked (bm25's
    first call reads every match of each word: 2 ms for a word in most statements).
    ``at_most``: a bound on the matches already known (the reading room counts the
    unfiltered matches to choose how to filter); within :data:`RANK_LIMIT`, the
    matches are scored and counted in one pass, with no count of their own.

    Ranked, in two steps: the page's rowids (reading only bm25 for each match), then
    the snippets of those rows alone.
    Newest first, in one step: the page in index order, snippets for it alone.
    """
    filtered = within is not None
    condition, extra = _and_published(db, within) or ("1", ())
    where = f"statements_fts MATCH ? AND ({condition})"
    weights = ", ".join(str(w) for w in WEIGHTS.values())
    bm25 = f"bm25(statements_fts, 0, 0, {weights})"
    ranks: dict[int, float]
    if at_most is not None and at_most <= RANK_LIMIT:
        scored = db.execute(
            f"SELECT rowid, {bm25} FROM statements_fts WHERE {where}", (expression, *extra)
        ).fetchall()
        matches = len(scored)
        scored.sort(key=lambda r: (r[1], r[0]))
        ranks = {int(r[0]): float(r[1]) for r in scored[offset : offset + limit]}
    else:
        matches = int(
            db.execute(
                f"SELECT count(*) FROM statements_fts WHERE {where}", (expression, *extra)
            ).fetchone()[0]
        )
        if offset >= matches:
            return [], matches
        if matches > RANK_LIMIT:
            score = bm25 if scores else "0.0"
            rows = db.execute(
                "SELECT identifier, date_issued, title,"
                f" snippet(statements_fts, 3, '[', ']', '…', 12) AS snippet, {score} AS score"
                f" FROM statements_fts WHERE {where} ORDER BY rowid DESC LIMIT ? OFFSET ?",
                (expression, *extra, limit, offset),
            ).fetchall()
            return [_hit(db, r, float(r["score"]), versions) for r in rows], matches
        page = db.execute(
            f"SELECT rowid, {bm25} FROM statements_fts WHERE {where}"
            " ORDER BY 2, rowid LIMIT ? OFFSET ?",
            (expression, *extra, limit, offset),
        ).fetchall()
        ranks = {int(r[0]): float(r[1]) for r in page}
    if not ranks:
        return [], matches
    # Up to RANK_LIMIT matches in all, one pass over them makes the page's snippets
    # (0.7 ms for 1,100); beyond, each row is looked up (~75 µs a row for two prefixes).
    everything = at_most if filtered else matches
    lookup = "+rowid" if everything is not None and everything <= RANK_LIMIT else "rowid"
    found = {
        int(r["rowid"]): r
        for r in db.execute(
            "SELECT rowid, identifier, date_issued, title,"
            " snippet(statements_fts, 3, '[', ']', '…', 12) AS snippet FROM statements_fts"
            f" WHERE statements_fts MATCH ? AND {lookup} IN ({','.join('?' * len(ranks))})",
            (expression, *ranks),
        )
    }
    hits = [
        _hit(db, found[rowid], rank, versions) for rowid, rank in ranks.items() if rowid in found
    ]
    return hits, matches


def _hit(db: sqlite3.Connection, row: sqlite3.Row, rank: float, versions: bool) -> Hit:
    identifier = row["identifier"]
    other = _other_versions(db, identifier) if versions else ()
    return Hit(identifier, row["date_issued"], row["title"], row["snippet"], rank, other)


def count_upto(db: sqlite3.Connection, expression: str, cap: int) -> int:
    """How many statements match, counted up to ``cap`` (cheap however many match)."""
    condition, extra = _and_published(db, None) or ("1", ())
    return int(
        db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM statements_fts WHERE statements_fts MATCH ?"
            f" AND {condition} LIMIT ?)",
            (expression, *extra, cap),
        ).fetchone()[0]
    )


def _other_versions(db: sqlite3.Connection, identifier: str) -> tuple[str, ...]:
    """The statement's other language versions in the archive (preserve.versions)."""
    from preserve.versions import group

    return tuple(v for v in group(db, identifier) if v != identifier)


def unspaced_filter(runs: tuple[str, ...]) -> tuple[str, list[str]]:
    """SQL (``identifier IN (...)``) and its parameters for statements holding every run.

    Runs of three characters or more use the trigram index; shorter ones (a
    two-character Chinese word is common) are below what a trigram can match
    (SQLite's trigram LIKE returns no row for them), so ``instr`` scans the
    unspaced runs, which are all this table holds.
    """
    clauses, params = [], []
    for run in runs:
        if len(run) >= 3:
            clauses.append("statements_unspaced MATCH ?")
            params.append('"' + run + '"')
        else:
            clauses.append("instr(text, ?) > 0")
            params.append(run)
    sql = "identifier IN (SELECT identifier FROM statements_unspaced WHERE "
    return sql + " AND ".join(clauses) + ")", params


def search_parsed(
    db: sqlite3.Connection, query: Query, *, limit: int = 20, versions: bool = True
) -> list[Hit]:
    """Run a :class:`Query` against an open ledger (both indexes when it needs both);
    ``versions`` False leaves :attr:`Hit.versions` empty (see :func:`search_counted`)."""
    if not query.runs:
        assert query.expression is not None
        return search_counted(db, query.expression, limit=limit, versions=versions)[0]
    where, params = unspaced_filter(query.runs)
    pending = unpublished(db)
    if pending:  # these queries read each row's identifier anyway
        where += f" AND identifier NOT IN ({','.join('?' * len(pending.identifiers))})"
        params = [*params, *pending.identifiers]
    try:
        if query.expression is not None:
            weights = ", ".join(str(w) for w in WEIGHTS.values())
            rows = db.execute(
                "SELECT identifier, date_issued, title, body,"
                " snippet(statements_fts, 3, '[', ']', '…', 12) AS snippet,"
                f" bm25(statements_fts, 0, 0, {weights}) AS rank"
                f" FROM statements_fts WHERE statements_fts MATCH ? AND {where}"
                " ORDER BY rank LIMIT ?",
                (query.expression, *params, limit),
            ).fetchall()
        else:
            rows = db.execute(
                "SELECT identifier, date_issued, title, body, '' AS snippet, 0.0 AS rank"
                f" FROM statements_fts WHERE {where} ORDER BY date_issued DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # a ledger from before migration 4
            return []
        raise
    return [
        Hit(
            r["identifier"],
            r["date_issued"],
            r["title"],
            r["snippet"] or run_snippet(r["body"] or r["title"], query.runs[0]),
            float(r["rank"]),
            _other_versions(db, r["identifier"]) if versions else (),
        )
        for r in rows
    ]


def run_snippet(text: str, run: str, width: int = 24) -> str:
    """A snippet around the first ``run`` in ``text``, marked like FTS5's ``[...]``."""
    at = text.find(run)
    if at < 0:
        return text[: width * 2] + ("…" if len(text) > width * 2 else "")
    start, end = max(0, at - width), at + len(run) + width
    return (
        ("…" if start else "")
        + text[start:at]
        + "["
        + run
        + "]"
        + text[at + len(run) : end]
        + ("…" if end < len(text) else "")
    )
