"""Search in archive: full-text search over the ledger's index (SQLite FTS5).

The index (title, body, signer, subjects and places) is filled at ingest, inside
the same transaction that records the bag, so search never finds a statement the
archive does not hold. Queries open the ledger read-only.
"""

from __future__ import annotations

import re
import sqlite3
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


@dataclass(frozen=True)
class Hit:
    """One statement that matches, best first."""

    identifier: str
    date_issued: str
    title: str
    snippet: str
    rank: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "date_issued": self.date_issued,
            "title": self.title,
            "snippet": self.snippet,
            "rank": self.rank,
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


def search(archive: Path, query: str, *, limit: int = 20) -> list[Hit]:
    """Statements in the archive matching every word of ``query``, best match first."""
    expression = fts_query(query)
    db = ledger.connect(archive, readonly=True)
    try:
        with ledger.reading(archive):
            return search_db(db, expression, limit=min(limit, MAX_RESULTS))
    finally:
        db.close()


def search_db(db: sqlite3.Connection, expression: str, *, limit: int = 20) -> list[Hit]:
    """Run an FTS5 expression (from :func:`fts_query`) against an open ledger."""
    weights = ", ".join(str(w) for w in WEIGHTS.values())
    rows = db.execute(
        "SELECT identifier, date_issued, title,"
        " snippet(statements_fts, 3, '[', ']', '…', 12) AS snippet,"
        f" bm25(statements_fts, 0, 0, {weights}) AS rank"
        " FROM statements_fts WHERE statements_fts MATCH ? ORDER BY rank LIMIT ?",
        (expression, limit),
    ).fetchall()
    return [
        Hit(r["identifier"], r["date_issued"], r["title"], r["snippet"], float(r["rank"]))
        for r in rows
    ]
