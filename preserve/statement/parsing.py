"""Assemble a Statement: leftovers off, paragraph blocks, title, datelines, signature.

This is the only module that knows about blocks and line positions; the others
each judge single lines (or the whole text) and know nothing of it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from preserve.errors import InputError, UnreadableInput
from preserve.fsio import NotARegularFile, read_input
from preserve.statement._record import Block, BlockKind, Statement, block_lines
from preserve.statement.dates import read_date
from preserve.statement.decoding import MAX_STATEMENT_BYTES, decode_statement, normalize_text
from preserve.statement.language import identify_language
from preserve.statement.leftovers import strip_leftovers
from preserve.statement.lists import list_marker
from preserve.statement.sentences import ends_sentence
from preserve.statement.signature import is_sign_off, is_signature_line, split_signature

#: A first line longer than this that ends like a sentence is body text: the
#: statement came without a title (a sidecar must give one).
_MAX_TITLE = 300
#: Hard-wrapped text has lines up to about this long; a longer line is a paragraph.
_WRAPPED_LINE = 100
#: At most this many lines at the end are read as the signature block.
_MAX_SIGNATURE_LINES = 10

#: A line's place in the text: (block number, line number in the block).
_At = tuple[int, int]
#: A block of body lines all at most this long (and more than one) is kept line by
#: line: an address, an addressee, contact lines. Hard-wrapped prose is longer.
_SHORT_LINE = 45


def _blocks(text: str) -> list[list[str]]:
    """Paragraph blocks: groups of consecutive non-blank lines.

    A line break inside a group also ends a paragraph when the line ends a sentence
    and is not hard-wrapped (longer than a wrapped line is), or when the text has no
    blank lines at all: scraped pages often put one paragraph per line.
    """
    groups: list[list[str]] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            current.append(line.strip())
        elif current:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    one_per_line = len(groups) == 1
    blocks: list[list[str]] = []
    for group in groups:
        current = []
        for line in group:
            current.append(line)
            if ends_sentence(line) and (one_per_line or len(line) > _WRAPPED_LINE):
                blocks.append(current)
                current = []
        if current:
            blocks.append(current)
    return blocks


def parse_text(text: str) -> Statement:
    """Derive a Statement from already-decoded text (``original`` is its UTF-8)."""
    return _parse(text.encode("utf-8"), text, None)


def parse_statement(data: bytes, path: Path | str | None = None) -> Statement:
    """Parse a statement as received (bytes) into a Statement; raise InputError if unusable."""
    statement = _parse(data, decode_statement(data, path), path)
    if not statement.text.strip():
        raise InputError(
            "statement has no text besides web-page leftovers ("
            + ", ".join(repr(line) for line in statement.leftovers[:3])
            + ")",
            path,
        )
    return statement


def read_statement(path: Path | str) -> Statement:
    """Read and parse a statement file, naming the file in every error."""
    path = Path(path)
    try:
        if path.is_dir():
            raise UnreadableInput("is a directory, not a statement file", path)
        data = read_input(path, MAX_STATEMENT_BYTES)
    except NotARegularFile:
        raise UnreadableInput("not a regular file (a FIFO, device or socket)", path) from None
    except OSError as exc:
        raise UnreadableInput(f"cannot read: {exc.strerror or exc}", path) from None
    return parse_statement(data, path)


def _parse(original: bytes, decoded: str, path: Path | str | None) -> Statement:
    normalized = normalize_text(decoded)
    kept, leftovers = strip_leftovers(normalized.split("\n"))
    derived = "\n".join(kept).strip("\n")
    blocks = _blocks(derived)
    notes: list[str] = []
    positions: list[_At] = [(bi, li) for bi, block in enumerate(blocks) for li in range(len(block))]

    def line_at(at: _At) -> str:
        return blocks[at[0]][at[1]]

    # Every line that is a date on its own, real or not ("30 February 2024").
    dates: dict[_At, dt.date | None] = {}
    for at in positions:
        shaped, date = read_date(line_at(at))
        if shaped:
            dates[at] = date

    title, title_lines = _find_title(blocks, positions, dates)
    if title is None:
        notes.append("no title line was found")
    taken = set(title_lines)
    # Datelines: a date line right under (or above) the title, or a block of its own.
    datelines = {
        at
        for at in dates
        if len(blocks[at[0]]) == 1 or (title_lines and at[0] == title_lines[0][0])
    }

    region = _signature_region(blocks, positions, dates, taken)
    candidates = [at for at in region if at not in dates and not is_sign_off(line_at(at))]
    signer_name, signer_role, used, extra_names = split_signature(
        [line_at(at) for at in candidates], [at[0] for at in candidates]
    )
    if extra_names:
        notes.append(
            "the signature block names more than one person: "
            + ", ".join(f"'{n}'" for n in [signer_name, *extra_names])
            + f"; took '{signer_name}' (the first)"
        )
    taken |= {at for at, keep in zip(candidates, used, strict=True) if keep}
    taken |= {at for at in region if at in dates or is_sign_off(line_at(at))}
    taken |= datelines

    date_issued = _choose_date(dates, region, line_at, notes)

    paragraphs = tuple(
        " ".join(line for li, line in enumerate(block) if (bi, li) not in taken)
        for bi, block in enumerate(blocks)
        if any((bi, li) not in taken for li in range(len(block)))
    )
    if signer_name is None:
        notes.append("no signature block with a name was found")
    language = identify_language("\n".join([title or "", *paragraphs]))
    in_region = set(region)
    kinds: dict[_At, BlockKind] = {at: BlockKind.TITLE for at in title_lines}
    kinds.update({at: BlockKind.DATELINE for at in datelines if at not in in_region})
    for at in region:
        if is_sign_off(line_at(at)):
            kinds[at] = BlockKind.CLOSING
        elif at in taken:
            kinds[at] = BlockKind.SIGNATURE
    page_blocks = _page_blocks(blocks, kinds)
    if [line for b in page_blocks for line in b.lines] != block_lines(derived):
        raise AssertionError("blocks must hold every line of the text once, in order")
    return Statement(
        original=original,
        text=derived,
        title=title,
        paragraphs=paragraphs,
        signer_name=signer_name,
        signer_role=signer_role,
        date_issued=date_issued,
        language=language,
        leftovers=tuple(leftovers),
        source_path=None if path is None else Path(path),
        notes=tuple(notes),
        datelines=tuple(line_at(at) for at in positions if at in datelines and at not in in_region),
        sign_off=next((line_at(at) for at in region if is_sign_off(line_at(at))), None),
        signature_dates=tuple(line_at(at) for at in region if at in dates),
        blocks=page_blocks,
    )


def _page_blocks(blocks: list[list[str]], kinds: dict[_At, BlockKind]) -> tuple[Block, ...]:
    """Every line, in order, grouped into blocks of one kind.

    Lines the parse recognised (title, datelines, closing, signature) take that kind;
    the rest is body: list items where lines start with a list marker, short lines
    kept line by line, prose otherwise. A kind change or a paragraph break starts a
    new block; nothing is dropped or moved.
    """
    out: list[Block] = []
    for bi, block in enumerate(blocks):
        current: list[str] = []
        kind: BlockKind | None = None
        body = [(li, line) for li, line in enumerate(block) if (bi, li) not in kinds]
        body_kind = _body_kind([line for _li, line in body])
        in_list = False
        for li, line in enumerate(block):
            this = kinds.get((bi, li))
            if this is None:
                in_list = in_list or (body_kind is BlockKind.LIST and list_marker(line) is not None)
                this = (
                    BlockKind.LIST
                    if in_list
                    else (BlockKind.PARAGRAPH if body_kind is BlockKind.LIST else body_kind)
                )
            if this is not kind and current:
                assert kind is not None
                out.append(Block(kind, tuple(current)))
                current = []
            kind = this
            current.append(line)
        if current:
            assert kind is not None
            out.append(Block(kind, tuple(current)))
    return tuple(out)


def _body_kind(lines: list[str]) -> BlockKind:
    """How body lines of one paragraph block look: a list, short lines, or prose."""
    if any(list_marker(line) for line in lines):
        return BlockKind.LIST
    if len(lines) > 1 and all(len(line) <= _SHORT_LINE for line in lines):
        return BlockKind.LINES
    return BlockKind.PARAGRAPH


def _find_title(
    blocks: list[list[str]], positions: list[_At], dates: dict[_At, dt.date | None]
) -> tuple[str | None, list[_At]]:
    """The title: the first line that is not a date, with its wrapped continuation lines.

    A date above the title is a dateline, not the title. A long first sentence is
    body text, so such a statement has no title.
    """
    for n, at in enumerate(positions):
        if at in dates:
            continue
        if n > 0 and positions[n - 1] not in dates:
            return None, []
        first = blocks[at[0]][at[1]]
        if len(first) > _MAX_TITLE and ends_sentence(first):
            return None, []
        lines = [at]
        block = blocks[at[0]]
        # A title wrapped over lines continues in lower case on the next line.
        for li in range(at[1] + 1, min(len(block), at[1] + 3)):
            previous, nxt = block[li - 1], block[li]
            if ends_sentence(previous) or not nxt[:1].islower() or (at[0], li) in dates:
                break
            lines.append((at[0], li))
        return " ".join(blocks[b][i] for b, i in lines), lines
    return None, []


def _signature_region(
    blocks: list[list[str]], positions: list[_At], dates: dict[_At, dt.date | None], taken: set[_At]
) -> list[_At]:
    """The lines at the end that can be a signature block, in reading order.

    Walk back from the end over short, non-sentence lines (names, roles, dates,
    sign-offs). A block is crossed whole; the last block may also end in a
    signature glued to the last paragraph without a blank line.
    """
    region: list[_At] = []
    for bi in range(len(blocks) - 1, -1, -1):
        suffix: list[_At] = []
        for li in range(len(blocks[bi]) - 1, -1, -1):
            at = (bi, li)
            if at in taken or not (at in dates or is_signature_line(blocks[bi][li])):
                break
            suffix.insert(0, at)
            if len(region) + len(suffix) > _MAX_SIGNATURE_LINES:
                break  # too long for a signature block: no need to walk the rest
        if not suffix or len(region) + len(suffix) > _MAX_SIGNATURE_LINES:
            break
        region[:0] = suffix
        if len(suffix) < len(blocks[bi]):
            break  # the rest of this block is body text
    return region


def _choose_date(
    dates: dict[_At, dt.date | None],
    region: list[_At],
    line_at: Callable[[_At], str],
    notes: list[str],
) -> dt.date | None:
    """The date of issue: the one in the signature block, else the last date line."""
    for at, date in dates.items():
        if date is None:
            notes.append(f"'{line_at(at)}' looks like a date but is not a real calendar date")
    real = [(at, d) for at, d in dates.items() if d is not None]
    if not real:
        if not dates:
            notes.append("no line with a date of issue was found")
        return None
    in_signature = [(at, d) for at, d in real if at in region]
    at, chosen = (in_signature or real)[-1]
    others = sorted({d for _at, d in real if d != chosen})
    if others:
        where = "under the signature" if in_signature else "the last one"
        notes.append(
            "the text has more than one date: "
            + ", ".join(d.isoformat() for d in sorted({*others, chosen}))
            + f"; chose {chosen.isoformat()} from '{line_at(at)}' ({where})"
        )
    return chosen
