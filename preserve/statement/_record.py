"""The record parsing produces: the bytes as received and what was derived from them.

Kept apart from the parser so that the modules that only pass a statement around
(rendering, metadata, the archive) need not know how it was parsed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path


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
    #: Date lines outside the signature ("Baku, 23 February 2024" under the title),
    #: as written: not body paragraphs, but part of what was issued.
    datelines: tuple[str, ...] = ()
    #: A closing formula before the signature ("Sincerely,"), as written.
    sign_off: str | None = None
    #: Date lines in the signature block, as written ("23 February 2024").
    signature_dates: tuple[str, ...] = ()
