"""Assemble a Statement: leftovers off, paragraph blocks, label, title, datelines, signature.

This is the only module that knows about blocks and line positions; the others
each judge single lines (or the whole text) and know nothing of it. Each derived
field carries a confidence; below :data:`~preserve.statement._record.SURE` the
field stays blank and a coded :class:`Note` says why (a wrong value is worse than
none: identifiers and records are built from these fields).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from preserve.errors import InputError, UnreadableInput
from preserve.fsio import NotARegularFile, read_input
from preserve.statement import dates as _dates
from preserve.statement import decoding as _decoding
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
from preserve.statement.decoding import MAX_STATEMENT_BYTES, normalize_text
from preserve.statement.language import identify_language, identify_language_confidence
from preserve.statement.leftovers import chrome_kind, genre_label, label_type, strip_leftovers
from preserve.statement.lists import list_marker
from preserve.statement.sentences import CLOSERS, ends_sentence
from preserve.statement.signature import (
    after_sign_off,
    is_sign_off,
    is_signature_line,
    read_signature,
    signature_in_last_line,
)

#: A first line longer than this that ends like a sentence is body text: the
#: statement came without a title (a sidecar must give one).
_MAX_TITLE = 300
#: A title line of a multi-line title block is at most this long.
_TITLE_LINE = 160
#: Hard-wrapped text has lines up to about this long; a longer line is a paragraph.
_WRAPPED_LINE = 100
#: At most this many lines at the end are read as the signature block.
_MAX_SIGNATURE_LINES = 12
#: A heading inside the body: one short line, not a sentence, before a paragraph.
_HEADING = 120

#: A line's place in the text: (block number, line number in the block).
_At = tuple[int, int]
#: A block of body lines all at most this long (and more than one) is kept line by
#: line: an address, an addressee, contact lines. Hard-wrapped prose is longer.
_SHORT_LINE = 45

#: Lines after the signature that are the statement's own (contacts, P.S., annexes),
#: not the site's: they stay, after the signature, as written.
_TRAILER = re.compile(
    r"^(?:p\.\s?s\.?|ps:|п\.\s?с\.|post[- ]scriptum|for (?:media|press) (?:enquiries|inquiries)|"
    r"media (?:contact|enquiries|inquiries)|press contact|contact(?:s)? for (?:the )?media|"
    r"notes? (?:to|for) editors|контакты для сми|контакт для сми|для сми|"
    r"контакти для змі|для змі|contact presse|contacts? presse|pressekontakt|"
    r"hinweis für redaktionen|contacto de prensa|contacto para medios|"
    r"basın (?:iletişim|için iletişim)|media üçün|mətbuat üçün əlaqə|媒体联系|媒體聯繫|"
    r"新闻联系人|للتواصل|للاستفسار|للاستفسارات الإعلامية|برای تماس|ליצירת קשר|"
    r"לפניות תקשורת|მედიისთვის|լրատվամիջոցների համար|annex|appendix|attachment|"
    r"приложение|додаток|annexe|anhang|anlage|anexo|ek\s*\d*\s*[:.]|əlavə|附件|ملحق|پیوست|"
    r"נספח|დანართი|հավելված)",
    re.IGNORECASE,
)
#: A sentence ends inside the line and another begins: prose, not a title.
_INNER_SENTENCE = re.compile(r"[^\W\d_]{3,}[.!?։。]\s+[^\W\d_a-zа-яա-ֆ]")
#: Invocations above a (Persian, Arabic) statement: neither title nor body.
_INVOCATION = re.compile(
    r"^(?:بسمه تعال[یى]|باسمه تعال[یى]|بسم الله الرحمن الرح[يی]م|به نام خدا(?:وند.*)?|"
    r"بسم الله)$"
)
#: The addressee of a letter above its title ("An die Bürgerinnen und Bürger …",
#: "Главам администраций районов", "To the heads of district councils").
_ADDRESSEE = re.compile(
    r"^(?:to:|attn|attention:|to the (?:heads?|ministers?|directors?|members|chairs?|mayors?|"
    r"editors?|parents|citizens|residents|management|governors?|principals?)\b|"
    r"an (?:die|den|das|alle)\s|à l'attention|à (?:mesdames|messieurs|monsieur|madame)\b|"
    r"aux (?:parents|familles|directeurs|directrices|maires|membres|élus|habitants|citoyens|"
    r"médias|rédactions)\b|a la atención|al señor|a (?:los|las) (?:señor|padres|familias|"
    r"director|autoridades|alcald|vecin|ciudadan|medios)|señor[a]?\s|главам|главе|"
    r"руководител[яюм]|директор(?:ам|у)\s|председател(?:ю|ям)\s|министру|"
    r"начальник(?:у|ам)\s|губернатору|головам|голові|керівник(?:ам|у)|міністру|sayın\s|"
    r"إلى\s|السادة|السيد\s|جناب|سرکار|לכבוד|אל:)|^[\u4e00-\u9fff、，]{2,40}：$",
    re.IGNORECASE,
)
#: Salutations open a letter's body; they are never a title.
_SALUTATION = re.compile(r"[,:]$")
#: A site word glued to the end of a title ("…AÇIQLAMAbackend"): capitals then the word.
_GLUED = re.compile(
    r"(?<=[^\W\d_a-zа-яə])(?:backend|frontend|admin|share|print|menu|home|search|"
    r"login|more|read more)$"
)
#: End marks of a press release ("###", "-30-", "ENDS", "完"): neither body nor signer.
_END_MARK = re.compile(
    r"^(?:#{3}|-\s?30\s?-|[-–—(（\s]*(?:ends?|fin|конец|кінець|son|完|结束)[-–—)）\s]*)$", re.I
)


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
            # A colon introduces what follows (a list): it ends no paragraph.
            if (
                ends_sentence(line)
                and not line.rstrip(CLOSERS).endswith((":", "："))
                and (one_per_line or len(line) > _WRAPPED_LINE)
            ):
                blocks.append(current)
                current = []
        if current:
            blocks.append(current)
    return blocks


def parse_text(text: str) -> Statement:
    """Derive a Statement from already-decoded text (``original`` is its UTF-8)."""
    return _parse(text.encode("utf-8"), text, None)


def parse_statement(
    data: bytes, path: Path | str | None = None, encoding: str | None = None
) -> Statement:
    """Parse a statement as received (bytes) into a Statement; raise InputError if unusable.

    ``encoding`` (the ``--encoding`` option) reads the bytes in that encoding; without
    it UTF-8 is taken, or a legacy encoding when it is detected for sure.
    """
    text, codec, sure = _decode(data, path, encoding)
    statement = _parse(data, text, path, codec, sure)
    if not statement.text.strip():
        raise InputError(
            "statement has no text besides web-page leftovers ("
            + ", ".join(repr(line) for line in statement.leftovers[:3])
            + ")",
            path,
        )
    return statement


def read_statement(path: Path | str, encoding: str | None = None) -> Statement:
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
    return parse_statement(data, path, encoding)


def _decode(data: bytes, path: Path | str | None, encoding: str | None) -> tuple[str, str, float]:
    """(text, codec, confidence) of the bytes as received (legacy encodings detected)."""
    decoded = _decoding.decode_bytes(data, path, encoding)
    return decoded.text, decoded.encoding, decoded.confidence


def _read_date_line(line: str, hint: str | None) -> tuple[bool, dt.date | None, bool, str]:
    """(shaped like a date, the date, ambiguous, kind) of a whole line.

    ``kind`` is "date", "published", "last-modified" or "caption" (see
    :func:`dates.read_date_line`); an ambiguous numeric date ("05/12/2017" in
    English) has no date.
    """
    reading = _dates.read_date_line(line, hint)
    return reading.shaped, reading.date, reading.ambiguous, reading.kind


@dataclass
class _Page:
    """The text's blocks and what the parse has decided about their lines so far."""

    blocks: list[list[str]]
    positions: list[_At]
    kinds: dict[_At, BlockKind] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    confidence: dict[str, float] = field(default_factory=dict)
    #: A genre label run into the title line ("Press releaseNew rules…").
    glued_label: str | None = None
    #: Date lines that read as two different days ("05/12/2017" in English).
    ambiguous: set[_At] = field(default_factory=set)
    #: Date lines that are the page's publication stamp ("Опубліковано: …").
    published: set[_At] = field(default_factory=set)

    def line(self, at: _At) -> str:
        return self.blocks[at[0]][at[1]]

    def note(self, code: NoteCode, message: str, field_name: str | None = None) -> None:
        self.notes.append(Note(str(code), message, field_name))


def _parse(
    original: bytes,
    decoded: str,
    path: Path | str | None,
    encoding: str = "utf-8",
    encoding_confidence: float = 1.0,
) -> Statement:
    normalized = normalize_text(decoded)
    kept, leftovers = strip_leftovers(normalized.split("\n"))
    derived = "\n".join(kept).strip("\n")
    blocks = _blocks(derived)
    page = _Page(blocks, [(bi, li) for bi, block in enumerate(blocks) for li in range(len(block))])
    if encoding.replace("_", "-").lower() not in {"utf-8", "utf-8-sig", "utf8"}:
        page.note(
            NoteCode.ENCODING_DETECTED,
            f"the file is not UTF-8; it was read as {encoding} "
            f"(confidence {encoding_confidence:.2f}); the original bytes are kept as received",
        )
    # The language decides how a numeric date reads (05/12/2017 is day first in French).
    hint = identify_language(derived[:4000])

    # Every line that is a date on its own, real or not ("30 February 2024"); a
    # caption's or a modification's date is none of the statement's.
    dates: dict[_At, dt.date | None] = {}
    page.ambiguous = set()
    for at in page.positions:
        shaped, date, ambiguous, kind = _read_date_line(page.line(at), hint)
        if shaped and kind in {"date", "published"}:
            dates[at] = date
            if ambiguous:
                page.ambiguous.add(at)
            if kind == "published":
                page.published.add(at)

    type_label, genre = _find_label(page, dates)
    title = _find_title(page, dates)
    if type_label is None and page.glued_label is not None:
        type_label, genre = page.glued_label, label_type(page.glued_label)
    title_lines = [at for at, kind in page.kinds.items() if kind is BlockKind.TITLE]
    # Datelines: a date line right under (or above) the title, or a block of its own.
    datelines = {
        at
        for at in dates
        if len(blocks[at[0]]) == 1 or (title_lines and at[0] == title_lines[0][0])
    }
    header = set(page.kinds)

    trailer = _trailer(page, dates, header)
    region = _signature_region(page, dates, header | trailer)
    signers = _find_signers(page, dates, region, header | trailer)
    wire = _wire_date(page, dates, hint)
    date_issued = _choose_date(page, dates, region, _published_dates(leftovers, hint), wire)
    in_region = set(region)
    for at in region:
        if is_sign_off(page.line(at)):
            page.kinds[at] = BlockKind.CLOSING
        elif at in dates:
            page.kinds.setdefault(at, BlockKind.SIGNATURE)
    for at in datelines:
        page.kinds.setdefault(at, BlockKind.DATELINE)
    # A stray date line in the body (a block of its own) is a dateline too.
    marked = {bi for bi, _li in page.kinds}
    paragraphs = tuple(
        text
        for bi, block in enumerate(blocks)
        if (
            text := " ".join(block)
            if bi not in marked
            else " ".join(line for li, line in enumerate(block) if (bi, li) not in page.kinds)
        )
    )
    language, sure = identify_language_confidence(_sample([title or "", *paragraphs]))
    if language is None and any(ch.isalpha() for ch in "".join(paragraphs) + (title or "")):
        page.note(
            NoteCode.LANGUAGE_UNSURE,
            f"the language could not be identified with confidence ({sure:.2f})",
            "language",
        )
    elif language is not None:
        page.confidence["language"] = round(sure, 3)
    page_blocks = _page_blocks(blocks, page.kinds)
    if [line for b in page_blocks for line in b.lines] != block_lines(derived):
        raise AssertionError("blocks must hold every line of the text once, in order")
    first = signers[0] if signers else None
    return Statement(
        original=original,
        text=derived,
        title=title,
        paragraphs=paragraphs,
        signer_name=first.name if first else None,
        signer_role=first.role if first else None,
        date_issued=date_issued,
        language=language,
        leftovers=tuple(leftovers),
        source_path=None if path is None else Path(path),
        notes=tuple(page.notes),
        datelines=tuple(
            page.line(at) for at in page.positions if at in datelines and at not in in_region
        ),
        sign_off=next((page.line(at) for at in region if is_sign_off(page.line(at))), None),
        signature_dates=tuple(page.line(at) for at in region if at in dates),
        blocks=page_blocks,
        encoding=encoding,
        encoding_confidence=encoding_confidence,
        signers=tuple(signers),
        type_label=type_label,
        genre=genre,
        confidence=tuple(sorted(page.confidence.items())),
    )


def _find_label(page: _Page, dates: dict[_At, dt.date | None]) -> tuple[str | None, str | None]:
    """A genre label among the first lines ("Press release"), and the type it names.

    Lines above the label that are not dates are the page's banner (the institution's
    or the channel's name): kept as lines, never the title.
    """
    for n, at in enumerate(page.positions[:4]):
        label = genre_label(page.line(at))
        if label is None:
            continue
        for above in page.positions[:n]:
            page.kinds[above] = BlockKind.DATELINE if above in dates else BlockKind.LINES
        page.kinds[at] = BlockKind.LABEL
        return label, label_type(label)
    return None, None


def _find_title(page: _Page, dates: dict[_At, dt.date | None]) -> str | None:
    """The title: the first line after label and datelines, with its other lines.

    A title block of two or three short lines standing alone before the first
    paragraph is one title; inside a paragraph block, a line continues the title
    only when it goes on in lower case. A date line, a label, a salutation, a list
    item or a long first sentence is never a title.
    """
    start = next(
        (n for n, at in enumerate(page.positions) if at not in page.kinds and at not in dates),
        None,
    )
    # An invocation, or an addressee with a title line under it, comes first.
    while start is not None and start + 1 < len(page.positions):
        line = page.line(page.positions[start])
        nxt = page.positions[start + 1]
        if not (
            _INVOCATION.match(line.strip())
            or (
                _ADDRESSEE.match(line.strip())
                and len(line) <= _TITLE_LINE
                and nxt[0] != page.positions[start][0]
                and not ends_sentence(page.line(nxt))
            )
        ):
            break
        page.kinds[page.positions[start]] = BlockKind.LINES
        start = next(
            (
                n
                for n in range(start + 1, len(page.positions))
                if page.positions[n] not in page.kinds and page.positions[n] not in dates
            ),
            None,
        )
    if start is None:
        page.note(NoteCode.NO_TITLE, "no line could be the title", "title")
        return None
    at = page.positions[start]
    block = page.blocks[at[0]]
    first = block[at[1]]
    if (
        (len(first) > _MAX_TITLE and ends_sentence(first))
        or _SALUTATION.search(first)
        or list_marker(first) is not None
        or (
            ends_sentence(first)
            and not first.rstrip(CLOSERS).endswith(("?", "!"))
            and len(first) > _WRAPPED_LINE
        )
    ):
        page.note(NoteCode.NO_TITLE, "the text starts with body text, not a title line", "title")
        return None
    if ends_sentence(first) and not first.rstrip(CLOSERS).endswith(("?", "!")):
        page.note(
            NoteCode.TITLE_UNSURE,
            f"the first line ends like a sentence ('{_short(first)}'): it may be the first "
            "paragraph rather than a title, so the title was left blank",
            "title",
        )
        return None
    if len(first) > 60 and _INNER_SENTENCE.search(first):
        page.note(NoteCode.NO_TITLE, "the text starts with body text, not a title line", "title")
        return None
    lines = [at]
    rest = [(at[0], li) for li in range(at[1] + 1, len(block))]
    if (
        at[1] == 0
        and 1 <= len(rest) <= 2
        and at[0] + 1 < len(page.blocks)
        and all(
            r not in dates
            and len(page.line(r)) <= _TITLE_LINE
            and len(first) <= _TITLE_LINE
            and list_marker(page.line(r)) is None
            and not genre_label(page.line(r))
            for r in rest
        )
        and not any(ends_sentence(page.line(r)) for r in [at, *rest[:-1]])
        and (
            not ends_sentence(page.line(rest[-1]))
            or page.line(rest[-1]).rstrip(CLOSERS).endswith(("?", "!"))
        )
    ):
        lines += rest  # a title block of its own, over two or three lines
    else:
        for r in rest[:2]:
            previous = page.line((r[0], r[1] - 1))
            if ends_sentence(previous) or not page.line(r)[:1].islower() or r in dates:
                break
            lines.append(r)
    for r in lines:
        page.kinds[r] = BlockKind.TITLE
    title = " ".join(page.line(r) for r in lines)
    title = _unglue(title, page)
    page.confidence["title"] = 1.0
    if len(title.strip(" .:-–—|")) < 3:
        page.note(
            NoteCode.TITLE_UNSURE, f"'{title}' is too short to be sure it is a title", "title"
        )
        page.confidence["title"] = 0.3
        for r in lines:
            del page.kinds[r]
        return None
    return title


def _unglue(title: str, page: _Page) -> str:
    """The title without a label or site text run into it (scraping drops the break).

    "Press releaseNew rules…": a label, then a capital right after a lower-case
    letter (the label is kept as the page's label). "…başlayırÇap et",
    "…AÇIQLAMAbackend": a button or site word at the end, run in the same way.
    """
    for n in range(3, min(len(title) - 1, 40)):
        head, tail = title[:n], title[n:]
        if head[-1].islower() and tail[0].isupper() and genre_label(head) is not None:
            page.glued_label = head
            return tail
    match = _GLUED.search(title)
    if match is not None:
        return title[: match.start()].rstrip()
    for n in range(len(title) - 2, max(len(title) - 40, 1), -1):
        head, tail = title[:n], title[n:]
        if (
            head[-1].isalpha()
            and tail[0].isupper()
            and not head[-1].isupper()
            and chrome_kind(tail) == "navigation"
        ):
            return head.rstrip()
    return title


def _sample(texts: list[str], size: int = 20000) -> str:
    """The first ``size`` characters of the texts joined by line breaks (without
    joining all of a long statement)."""
    taken: list[str] = []
    length = 0
    for text in texts:
        taken.append(text)
        length += len(text) + 1
        if length >= size:
            break
    return "\n".join(taken)[:size]


def _short(line: str, limit: int = 60) -> str:
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _trailer(page: _Page, dates: dict[_At, dt.date | None], taken: set[_At]) -> set[_At]:
    """The statement's own lines after its signature: media contacts, P.S., annexes.

    Found from the end: the first such line among the last lines, when a line that
    can belong to a signature stands right above it. They stay in the text after the
    signature, as body lines.
    """
    tail = [at for at in page.positions[-_MAX_SIGNATURE_LINES * 2 :] if at not in taken]
    for n, at in enumerate(tail):
        if n == 0 or not _TRAILER.match(page.line(at)):
            continue
        above = tail[n - 1]
        if above in dates or is_signature_line(page.line(above)):
            return set(tail[n:])
    return set()


def _signature_region(page: _Page, dates: dict[_At, dt.date | None], taken: set[_At]) -> list[_At]:
    """The lines at the end that can be a signature block, in reading order.

    Walk back from the end (above any trailer) over short, non-sentence lines
    (names, roles, dates, sign-offs). A block is crossed whole; the last block may
    also end in a signature glued to the last paragraph without a blank line.
    """
    blocks = page.blocks
    region: list[_At] = []
    last = max((bi for bi, li in page.positions if (bi, li) not in taken), default=-1)
    for bi in range(last, -1, -1):
        suffix: list[_At] = []
        for li in range(len(blocks[bi]) - 1, -1, -1):
            at = (bi, li)
            if at in taken:
                if suffix or any((bi, lj) not in taken for lj in range(li)):
                    break
                continue
            line = blocks[bi][li]
            if not (at in dates or is_signature_line(line) or is_sign_off(line)):
                break
            suffix.insert(0, at)
            if len(region) + len(suffix) > _MAX_SIGNATURE_LINES:
                break  # too long for a signature block: no need to walk the rest
        if not suffix or len(region) + len(suffix) > _MAX_SIGNATURE_LINES:
            break
        region[:0] = suffix
        if suffix[0][1] > 0 and (bi, suffix[0][1] - 1) not in taken:
            break  # the rest of this block is body text
    return region


def _find_signers(
    page: _Page, dates: dict[_At, dt.date | None], region: list[_At], taken: set[_At]
) -> list[Signer]:
    """Who signed, with roles; the lines they take become SIGNATURE; notes when unsure."""
    candidates: list[_At] = []
    texts: list[str] = []
    signed_off = False
    for at in region:
        line = page.line(at)
        if at in dates or _END_MARK.match(line.strip()):
            continue
        if is_sign_off(line):
            signed_off = True
            continue
        candidates.append(at)
        texts.append(after_sign_off(line) or line)
        signed_off = signed_off or after_sign_off(line) is not None
    reading = read_signature(texts, [at[0] for at in candidates], signed_off=signed_off)
    signers = reading.signers
    confidence = reading.confidence
    used = {at for at, flag in zip(candidates, reading.used, strict=True) if flag}
    if not signers:
        glued = _glued_signature(page, region, taken)
        if glued is not None:
            signers, confidence = [glued], 0.8
    if signers and confidence < SURE:
        page.note(
            NoteCode.SIGNER_UNSURE,
            f"'{signers[0].name}' may be the signer but may as well be site text; left blank",
            "creator.name",
        )
        page.confidence["creator.name"] = confidence
        return []
    if not signers:
        if reading.unsure_name:
            page.note(
                NoteCode.SIGNER_UNSURE,
                f"'{reading.unsure_name}' may be the signer but may as well be site text; "
                "left blank",
                "creator.name",
            )
        else:
            page.note(
                NoteCode.NO_SIGNATURE, "no signature block with a name was found", "creator.name"
            )
        return []
    for at in used:
        page.kinds[at] = BlockKind.SIGNATURE
    page.confidence["creator.name"] = round(confidence, 3)
    if signers[0].role:
        page.confidence["creator.role"] = 1.0  # only office vocabulary makes a role
    if reading.unsure_role:
        page.note(
            NoteCode.ROLE_UNSURE,
            f"'{reading.unsure_role}' under the name may be the role; it is no known office, "
            "so the role was left blank",
            "creator.role",
        )
    if len(signers) > 1:
        page.note(
            NoteCode.SEVERAL_SIGNERS,
            "signed by "
            + ", ".join(f"'{s.name}'" for s in signers)
            + f"; '{signers[0].name}' is the creator",
            "creator",
        )
    return signers


def _glued_signature(page: _Page, region: list[_At], taken: set[_At]) -> Signer | None:
    """A signature run into the end of the last paragraph's line (the line stays prose)."""
    body = [at for at in page.positions if at not in taken and at not in region]
    if not body or page.kinds.get(body[-1]) is not None:
        return None
    found = signature_in_last_line(page.line(body[-1]))
    return None if found is None else found[1]


def _page_blocks(blocks: list[list[str]], kinds: dict[_At, BlockKind]) -> tuple[Block, ...]:
    """Every line, in order, grouped into blocks of one kind.

    Lines the parse recognised (label, title, datelines, closing, signature) take
    that kind; the rest is body: list items where lines start with a list marker,
    a short line of its own before a paragraph is a heading, short lines kept line by
    line, prose otherwise. A kind change or a paragraph break starts a new block;
    nothing is dropped or moved.
    """
    out: list[Block] = []
    title_block = min((at[0] for at, k in kinds.items() if k is BlockKind.TITLE), default=None)
    for bi, block in enumerate(blocks):
        current: list[str] = []
        kind: BlockKind | None = None
        body = [(li, line) for li, line in enumerate(block) if (bi, li) not in kinds]
        body_kind = _body_kind([line for _li, line in body])
        if (
            len(block) == 1
            and title_block is not None
            and bi > title_block
            and not kinds.get((bi, 0))
            and _is_heading(blocks, kinds, bi)
        ):
            body_kind = BlockKind.HEADING
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


def _is_heading(blocks: list[list[str]], kinds: dict[_At, BlockKind], bi: int) -> bool:
    """A section heading: one short line, no sentence, before prose (the caller checks
    that it stands after the title)."""
    line = blocks[bi][0]
    if (
        len(line) > _HEADING
        or ends_sentence(line)
        or bi + 1 >= len(blocks)
        # A salutation ("Dear colleagues,", "各位家长：") or a caption is no heading.
        or line.rstrip(CLOSERS).endswith((",", "，", "،", "：", "!"))
        or _INNER_SENTENCE.search(line)
        or "©" in line
    ):
        return False
    nxt = blocks[bi + 1]
    return (
        (bi + 1, 0) not in kinds
        and _body_kind(nxt) is BlockKind.PARAGRAPH
        and ends_sentence(nxt[-1])
        and len(" ".join(nxt)) > len(line)
    )


def _body_kind(lines: list[str]) -> BlockKind:
    """How body lines of one paragraph block look: a list, short lines, or prose."""
    if any(list_marker(line) for line in lines):
        return BlockKind.LIST
    if len(lines) > 1 and all(len(line) <= _SHORT_LINE for line in lines):
        return BlockKind.LINES
    return BlockKind.PARAGRAPH


def _published_dates(leftovers: list[str], hint: str | None) -> list[dt.date]:
    """Dates in the page's own publication field ("Fecha: Jul 29, 2023", "опубліковано 12
    березня 2024 року о 10:15"): site text, but where some pages give the date of issue."""
    found = []
    for line in leftovers:
        if chrome_kind(line) != "published":
            continue
        for part in _published_parts(line):
            date = _read_date_line(part, hint)[1]
            if date is not None:
                found.append(date)
                break
    return found


def _published_parts(line: str) -> list[str]:
    """The pieces of a publication field that may be its date, most likely first."""
    text = " ".join(line.split())
    rest = re.sub(r"^[^\d:：]*[:：]\s*|^[^\W\d]+(?:\s+[^\W\d]+)?\s+(?=\d)", "", text, count=1)
    # A time of day, with the word before it ("о 10:15", "at 10:15"), is no part of it.
    rest = re.sub(r"(?:\s+[^\W\d]{1,3})?\s*\b\d{1,2}:\d{2}\b[,|·•]?", " ", rest).strip(" ,|")
    return [rest, *re.split(r"\s{2,}|\s[|·•]\s", " ".join(line.split(" ")))[:2], text]


def _wire_date(page: _Page, dates: dict[_At, dt.date | None], hint: str | None) -> dt.date | None:
    """A dateline opening the first paragraph, wire style: "GENEVA (5 March 2024) – …",
    "Comunicado 274 de 2023 | San Isidro, 29 de julio de 2023. La Red …"."""
    first = next((at for at in page.positions if at not in page.kinds and at not in dates), None)
    if first is None:
        return None
    line = page.line(first)
    candidates = [m.group(1) for m in re.finditer(r"\(([^()]{6,40})\)", line[:80])]
    dash = re.match(r"^(.{6,80}?)\s[–—-]\s", line)
    if dash:
        candidates.append(dash.group(1))
    stop = re.match(r"^(.{6,100}?)\.\s", line)
    if stop:
        candidates += [part.strip() for part in stop.group(1).split("|")]
    for candidate in candidates:
        shaped, date, ambiguous, kind = _read_date_line(candidate, hint)
        if shaped and date is not None and not ambiguous and kind == "date":
            return date
    return None


def _choose_date(
    page: _Page,
    dates: dict[_At, dt.date | None],
    region: list[_At],
    published: list[dt.date] | None = None,
    wire: dt.date | None = None,
) -> dt.date | None:
    """The date of issue: the one in the signature block, else the last date line,
    else the page's publication field.

    A date line that is no calendar date is reported, never guessed; when real
    dates differ, the chosen one is named in a note with the others.
    """
    line_at: Callable[[_At], str] = page.line
    for at, date in dates.items():
        if at in page.ambiguous:
            page.note(
                NoteCode.DATE_AMBIGUOUS,
                f"'{line_at(at)}' reads as two different days (day or month first); "
                "the date was left blank",
                "date_issued",
            )
        elif date is None:
            page.note(
                NoteCode.DATE_INVALID,
                f"'{line_at(at)}' looks like a date but is not a real calendar date",
                "date_issued",
            )
    if wire is not None and not any(d is not None for d in dates.values()):
        page.confidence["date_issued"] = 0.9
        return wire
    stamps = [d for at, d in dates.items() if at in page.published and d is not None]
    real = [(at, d) for at, d in dates.items() if d is not None and at not in page.published]
    fallback = [*stamps, *(published or [])]
    if not real and fallback and all(at in page.published for at in dates):
        page.confidence["date_issued"] = 0.8
        return fallback[0]
    if not real:
        if not dates:
            page.note(NoteCode.NO_DATE, "no line with a date of issue was found", "date_issued")
        return None
    in_signature = [(at, d) for at, d in real if at in region]
    at, chosen = (in_signature or real)[-1]
    others = sorted({d for _at, d in real if d != chosen})
    if others:
        where = "under the signature" if in_signature else "the last one"
        page.note(
            NoteCode.SEVERAL_DATES,
            "the text has more than one date: "
            + ", ".join(d.isoformat() for d in sorted({*others, chosen}))
            + f"; chose {chosen.isoformat()} from '{line_at(at)}' ({where})",
            "date_issued",
        )
    page.confidence["date_issued"] = 1.0
    return chosen
