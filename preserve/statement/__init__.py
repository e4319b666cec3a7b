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

from preserve.statement._record import Block, BlockKind, Statement, block_lines
from preserve.statement.dates import parse_date
from preserve.statement.decoding import MAX_STATEMENT_BYTES, decode_statement, normalize_text
from preserve.statement.language import identify_language
from preserve.statement.leftovers import LEADING_LABELS, LEFTOVER_LINES
from preserve.statement.lists import list_marker
from preserve.statement.parsing import parse_statement, parse_text, read_statement
from preserve.statement.signature import ROLE_WORDS

__all__ = [
    "LEADING_LABELS",
    "LEFTOVER_LINES",
    "MAX_STATEMENT_BYTES",
    "ROLE_WORDS",
    "Block",
    "BlockKind",
    "Statement",
    "block_lines",
    "decode_statement",
    "identify_language",
    "list_marker",
    "normalize_text",
    "parse_date",
    "parse_statement",
    "parse_text",
    "read_statement",
]
