"""Take in a statement as received and derive what its text already says.

The original bytes are kept untouched in :class:`Statement`; everything else
(title, paragraphs, signer, date, language) is *derived* and may be overridden
by a sidecar later (:mod:`preserve.metadata`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

#: Statements larger than this are refused: a press release is a few pages, and
#: a limit keeps a hostile or mistaken input (a disk image, a log) out of memory.
MAX_STATEMENT_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class Statement:
    """A statement as received, plus what parsing derived from it."""

    #: The bytes exactly as received; never changed, they go into the bag as they are.
    original: bytes
    #: The derived text: decoded, BOM removed, line ends LF, no-break spaces as
    #: spaces, web-page leftovers removed. Used for rendering and search only.
    text: str
    title: str | None
    #: Body paragraphs in reading order (title, signature block and leftovers excluded).
    paragraphs: tuple[str, ...]
    signer_name: str | None = None
    signer_role: str | None = None
    date_issued: dt.date | None = None
    #: BCP 47 tag of the main language, if it could be identified.
    language: str | None = None
    #: Lines recognised as web-page leftovers and left out of ``text``.
    leftovers: tuple[str, ...] = ()
    #: Where the statement came from, for messages; None for bytes given directly.
    source_path: Path | None = None
    #: Anything parsing noticed that a person may want to check.
    notes: tuple[str, ...] = field(default=())
