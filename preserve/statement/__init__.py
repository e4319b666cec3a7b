"""Take in a statement as received and derive what its text already says.

The original bytes are kept untouched in :class:`Statement`; everything else
(title, paragraphs, signer, date, language) is *derived* and may be overridden
by a sidecar later (:mod:`preserve.metadata`).

One job per module, data flowing one way (:mod:`~preserve.statement.parsing` uses
the others, none of them uses it): :mod:`~preserve.statement.decoding` (bytes to
text), :mod:`~preserve.statement.leftovers` (site text at the ends),
:mod:`~preserve.statement.dates`, :mod:`~preserve.statement.signature`,
:mod:`~preserve.statement.language`, and :mod:`~preserve.statement.sentences` (where
a sentence ends, which several of them ask).
"""

from __future__ import annotations

from preserve.statement._record import (
    SURE,
    Block,
    BlockKind,
    Note,
    NoteCode,
    Signer,
    Statement,
    block_lines,
)
from preserve.statement.dates import parse_date
from preserve.statement.decoding import MAX_STATEMENT_BYTES, decode_statement, normalize_text
from preserve.statement.language import identify_language, identify_language_confidence
from preserve.statement.leftovers import GENRE_LABELS, LEADING_LABELS, LEFTOVER_LINES, chrome_kind
from preserve.statement.lists import list_marker
from preserve.statement.parsing import parse_statement, parse_text, read_statement
from preserve.statement.signature import ROLE_VOCABULARY

__all__ = [
    "GENRE_LABELS",
    "LEADING_LABELS",
    "LEFTOVER_LINES",
    "MAX_STATEMENT_BYTES",
    "ROLE_VOCABULARY",
    "SURE",
    "Block",
    "BlockKind",
    "Note",
    "NoteCode",
    "Signer",
    "Statement",
    "block_lines",
    "chrome_kind",
    "decode_statement",
    "identify_language",
    "identify_language_confidence",
    "list_marker",
    "normalize_text",
    "parse_date",
    "parse_statement",
    "parse_text",
    "read_statement",
]
