"""The record parsing produces: the bytes as received and what was derived from them.

Kept apart from the parser so that the modules that only pass a statement around
(rendering, metadata, the archive) need not know how it was parsed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class BlockKind(StrEnum):
    """How a block of the statement looks on the page; never whether or where it appears."""

    #: A genre label above the title ("Press release", "Заявление").
    LABEL = "label"
    TITLE = "title"
    #: A place and date line ("Baku, 23 February 2024") outside the signature.
    DATELINE = "dateline"
    #: Prose: its lines are re-flowed into one paragraph.
    PARAGRAPH = "paragraph"
    #: A section heading inside the body.
    HEADING = "heading"
    #: Short lines kept line by line: addressee and address blocks, contact lines.
    LINES = "lines"
    #: List items: a line starting with a marker (:func:`list_marker`) begins an item;
    #: a line without one continues the item before it.
    LIST = "list"
    #: A closing formula before the signature ("Sincerely,").
    CLOSING = "closing"
    #: The signature block: names, roles and the date under them, line by line.
    SIGNATURE = "signature"


@dataclass(frozen=True)
class Block:
    """Consecutive lines of the derived text that look alike on the page.

    The blocks of a statement hold every non-blank line of ``Statement.text``
    exactly once, in the order received (see :func:`block_lines`): the parse chooses
    a block's kind, never drops, adds or moves a line.
    """

    kind: BlockKind
    #: The lines as in the derived text, without surrounding white space.
    lines: tuple[str, ...]


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
    #: The derived text as the page shows it: every non-blank line, in order.
    blocks: tuple[Block, ...] = ()


def block_lines(text: str) -> list[str]:
    """The lines that a statement's blocks must hold, in order: the non-blank lines."""
    return [line.strip() for line in text.split("\n") if line.strip()]
