"""The record parsing produces: the bytes as received and what was derived from them.

Kept apart from the parser so that the modules that only pass a statement around
(rendering, metadata, the archive) need not know how it was parsed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class NoteCode(StrEnum):
    """Stable codes of what parsing noticed; the message may change, the code does not.

    Tools (``validate --json``, the fixtures, the metadata hints) match on the code.
    """

    #: No line could be the title (a sidecar must give one).
    NO_TITLE = "parse.no-title"
    #: A line might be the title but might as well be site text or body: left blank.
    TITLE_UNSURE = "parse.title-unsure"
    #: No signature block with a name.
    NO_SIGNATURE = "parse.no-signature"
    #: A line might be the signer's name but might be site text: left blank.
    SIGNER_UNSURE = "parse.signer-unsure"
    #: A joint statement: every signer is in ``Statement.signers``; the first is the signer.
    SEVERAL_SIGNERS = "parse.several-signers"
    #: A line next to the name might be the role but is not recognisably an office.
    ROLE_UNSURE = "parse.role-unsure"
    #: No line with a date of issue.
    NO_DATE = "parse.no-date"
    #: A numeric date that reads as two different days (05/12/2017): left blank.
    DATE_AMBIGUOUS = "parse.date-ambiguous"
    #: A line shaped like a date that is no calendar day (30 February): left blank.
    DATE_INVALID = "parse.date-invalid"
    #: More than one date of issue candidate; the message says which was chosen.
    SEVERAL_DATES = "parse.several-dates"
    #: The bytes were not UTF-8; the message names the encoding they were read as.
    ENCODING_DETECTED = "parse.encoding-detected"
    #: The language could not be identified with confidence: left blank.
    LANGUAGE_UNSURE = "parse.language-unsure"


@dataclass(frozen=True)
class Note:
    """Something parsing noticed that a person may want to check."""

    #: A stable code (:class:`NoteCode`), for tools.
    code: str
    #: What was seen, for people (may quote the line in question).
    message: str
    #: The metadata field concerned ("title", "creator.name", "date_issued"...), if one.
    field: str | None = None

    def __contains__(self, fragment: str) -> bool:
        """``"parse.no-date" in note`` or ``"2024-11-20" in note``: code or message text."""
        return fragment == self.code or fragment in self.message

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}


@dataclass(frozen=True)
class Signer:
    """One person who signed the statement, with the office they signed in."""

    name: str
    role: str | None = None
    #: The institution, when the signature block names it on a line of its own.
    organization: str | None = None


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
    #: The first signer (``signers[0]``); None when no signer was found with confidence.
    signer_name: str | None = None
    signer_role: str | None = None
    date_issued: dt.date | None = None
    #: BCP 47 tag of the main language, if it could be identified.
    language: str | None = None
    #: Lines recognised as web-page leftovers and left out of ``text``.
    leftovers: tuple[str, ...] = ()
    #: Where the statement came from, for messages; None for bytes given directly.
    source_path: Path | None = None
    #: Anything parsing noticed that a person may want to check, each with a stable code.
    notes: tuple[Note, ...] = field(default=())
    #: Date lines outside the signature ("Baku, 23 February 2024" under the title),
    #: as written: not body paragraphs, but part of what was issued.
    datelines: tuple[str, ...] = ()
    #: A closing formula before the signature ("Sincerely,"), as written.
    sign_off: str | None = None
    #: Date lines in the signature block, as written ("23 February 2024").
    signature_dates: tuple[str, ...] = ()
    #: The derived text as the page shows it: every non-blank line, in order.
    blocks: tuple[Block, ...] = ()
    #: Every signer, in the order they signed (joint statements have several).
    signers: tuple[Signer, ...] = ()
    #: The genre label above the title, as written ("Press release", "Заявление").
    type_label: str | None = None
    #: The record ``type`` the label says ("press-release"), when it says so for certain.
    genre: str | None = None
    #: The encoding the bytes were read in (a Python codec name: "utf-8", "cp1251").
    encoding: str = "utf-8"
    #: How sure the choice of encoding is: 1.0 for UTF-8, a BOM or a given encoding.
    encoding_confidence: float = 1.0
    #: How sure the parse is of each field it filled, as (field, 0..1) pairs (a tuple,
    #: so the record stays hashable and picklable); a field below :data:`SURE` is left
    #: blank with a note instead. See :meth:`confidence_of`.
    confidence: tuple[tuple[str, float], ...] = ()

    @property
    def type(self) -> str | None:
        """The record ``type`` the label says (:attr:`genre`), under the record's name."""
        return self.genre

    @property
    def creators(self) -> tuple[Signer, ...]:
        """The signers under the record's name for them (``creators``)."""
        return self.signers

    def confidence_of(self, name: str) -> float | None:
        """How sure the parse is of a field ("title", "creator.name", ...), if it filled it."""
        return dict(self.confidence).get(name)


#: The confidence a derived field needs to be filled in; below it, the field stays
#: blank and a note says why (a wrong value is worse than none).
SURE = 0.6


def block_lines(text: str) -> list[str]:
    """The lines that a statement's blocks must hold, in order: the non-blank lines."""
    return [line.strip() for line in text.split("\n") if line.strip()]
