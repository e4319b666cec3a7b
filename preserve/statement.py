"""Take in a statement as received and derive what its text already says.

The original bytes are kept untouched in :class:`Statement`; everything else
(title, paragraphs, signer, date, language) is *derived* and may be overridden
by a sidecar later (:mod:`preserve.metadata`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import dateparser

from preserve.errors import InputError, UnreadableInput

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


# --------------------------------------------------------------------------- decoding

#: Characters that web pages put where a plain space is meant.
_SPACE_LIKE = {
    "\u00a0": " ",  # NO-BREAK SPACE
    "\u202f": " ",  # NARROW NO-BREAK SPACE
    "\u2007": " ",  # FIGURE SPACE
    "\u2009": " ",  # THIN SPACE
    "\u200b": "",  # ZERO WIDTH SPACE (invisible, breaks word matching)
    "\ufeff": "",  # a stray BOM inside the text
}
_SPACE_TABLE = str.maketrans(_SPACE_LIKE)


def decode_statement(data: bytes, path: Path | str | None = None) -> str:
    """Decode bytes as received into text, refusing what is not a UTF-8 statement.

    The checks run before anything else so that bad input is named precisely and
    nothing downstream (or on disk) sees it.
    """
    if len(data) > MAX_STATEMENT_BYTES:
        raise InputError(
            f"statement is {len(data):,} bytes; the limit is {MAX_STATEMENT_BYTES:,} bytes",
            path,
        )
    if b"\x00" in data:
        raise InputError(
            "looks like a binary file (it contains NUL bytes), not a text statement", path
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"not valid UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start} (line {line}); "
            "save the statement as UTF-8",
            path,
        ) from None
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > max(3, len(text) // 100):
        raise InputError(
            f"looks like a binary file ({controls} control characters), not a text statement",
            path,
        )
    if not text.strip():
        raise InputError("statement is empty (no text after removing white space)", path)
    return text


def normalize_text(text: str) -> str:
    """Derived text: LF line ends, space-like characters as spaces, no trailing blanks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_SPACE_TABLE)
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n")


# --------------------------------------------------------------------------- leftovers

#: Site text that scraping brings along after (or before) a statement: navigation,
#: sharing and archive links. Matched against whole lines, case-insensitively, only
#: at the start or end of the text, never in the middle, so content is never cut.
LEFTOVER_LINES: frozenset[str] = frozenset(
    s.casefold()
    for s in (
        # English
        "Search in archive",
        "Search the archive",
        "Search",
        "Archive",
        "Print",
        "Share",
        "Back",
        "Go back",
        "Back to top",
        "Home",
        "News",
        "Read more",
        "Share this",
        "Print version",
        "Version for the visually impaired",
        "Subscribe",
        "Tags",
        "Previous",
        "Next",
        "Related news",
        "Facebook",
        "Twitter",
        "X",
        "Telegram",
        "WhatsApp",
        "LinkedIn",
        "Email",
        "Copy link",
        "Menu",
        "Close",
        # Azerbaijani
        "Arxivdə axtar",
        "Arxivdə axtarış",
        "Axtar",
        "Axtarış",
        "Arxiv",
        "Çap et",
        "Çap",
        "Paylaş",
        "Geri",
        "Geri qayıt",
        "Ana səhifə",
        "Xəbərlər",
        "Ətraflı",
        "Daha ətraflı",
        # Russian
        "Поиск в архиве",
        "Поиск по архиву",
        "Поиск",
        "Архив",
        "Печать",
        "Версия для печати",
        "Поделиться",
        "Назад",
        "Главная",
        "Новости",
        "Подробнее",
        "Читать далее",
        # Armenian
        "Որոնել արխիվում",
        "Որոնում",
        "Արխիվ",
        "Տպել",
        "Կիսվել",
        "Հետ",
        "Գլխավոր",
        "Լուրեր",
        # Georgian
        "არქივში ძიება",
        "ძიება",
        "არქივი",
        "ბეჭდვა",
        "გაზიარება",
        "უკან",
        "მთავარი",
        "სიახლეები",
        # Arabic
        "البحث في الأرشيف",
        "بحث",
        "الأرشيف",
        "طباعة",
        "مشاركة",
        "رجوع",
        "الرئيسية",
        "الأخبار",
    )
)

_BREADCRUMB = re.compile(r"^\s*\S.{0,80}(\s[»>/|›]\s.{1,80}){1,6}$")


def _is_leftover(line: str) -> bool:
    folded = " ".join(line.split()).casefold().strip(" .:|»›>")
    return folded in LEFTOVER_LINES or bool(_BREADCRUMB.match(line) and len(line) < 160)


# --------------------------------------------------------------------------- dates

_DATE_LANGUAGES = ["en", "az", "ru", "uk", "hy", "ka", "ar", "he", "el", "tr", "fr", "de", "es"]
_DATE_SETTINGS = {
    "STRICT_PARSING": True,
    "DATE_ORDER": "DMY",
    "REQUIRE_PARTS": ["day", "month", "year"],
    "PREFER_LOCALE_DATE_ORDER": False,
}
#: A line that could be a date: short, has a day-like and a year-like number.
_DATELIKE = re.compile(r"^(?=.*\b\d{1,2}\b|.*\d{4}-\d{2}-\d{2})(?=.*\b\d{4}\b).{6,60}$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_date(text: str) -> dt.date | None:
    """A calendar date in the forms institutions use, or None.

    Accepts "23 February 2024", "February 23, 2024", "23.02.2024", "2024-02-23",
    month names in many languages (dateparser), and a place before a comma
    ("Baku, 23 February 2024"). Ambiguous numeric dates are read day first.
    """
    text = " ".join(text.split()).strip(" .")
    if not _DATELIKE.match(text):
        return None
    iso = _ISO_DATE.match(text)
    if iso:
        try:
            return dt.date(int(iso[1]), int(iso[2]), int(iso[3]))
        except ValueError:
            return None
    candidates = [text]
    if "," in text:
        candidates.append(text.rsplit(",", 1)[1].strip())
        candidates.append(text.split(",", 1)[1].strip())
    for candidate in candidates:
        parsed = dateparser.parse(candidate, languages=_DATE_LANGUAGES, settings=_DATE_SETTINGS)
        if isinstance(parsed, dt.datetime):
            return parsed.date()
    return None


_MONTHISH = re.compile(r"\d{1,4}[ ./-]+\S+[ ./-]+\d{2,4}|\S+\s+\d{1,2},?\s+\d{4}")


def _looks_like_date(line: str) -> bool:
    """True for a line shaped like a date even if it is not a real one (30 February)."""
    return (
        bool(_DATELIKE.match(" ".join(line.split())) and _MONTHISH.search(line))
        and len(line.split()) <= 6
    )


# --------------------------------------------------------------------------- signature

#: Words that mark a line as a role or office rather than a person's name.
ROLE_WORDS: tuple[str, ...] = tuple(
    w.casefold()
    for w in (
        "commissioner",
        "ombudsman",
        "ombudsperson",
        "defender",
        "chair",
        "chairman",
        "chairwoman",
        "chairperson",
        "director",
        "president",
        "minister",
        "secretary",
        "representative",
        "rapporteur",
        "head of",
        "spokesperson",
        "spokesman",
        "deputy",
        "ambassador",
        "advocate",
        "mediator",
        "coordinator",
        "executive",
        "officer",
        "board",
        "council",
        "office of",
        "committee",
        "members of",
        "on behalf of",
        # Azerbaijani
        "müvəkkil",
        "ombudsman",
        "sədr",
        "rəhbər",
        "nazir",
        "direktor",
        "katib",
        "nümayəndə",
        "komissar",
        "idarə",
        "aparat",
        # Russian
        "уполномоченн",
        "омбудсмен",
        "председател",
        "директор",
        "министр",
        "секретар",
        "представител",
        "руководител",
        "комиссар",
        "заместител",
        # Armenian
        "պաշտպան",
        "նախագահ",
        "տնօրեն",
        "նախարար",
        "քարտուղար",
        "ներկայացուցիչ",
        # Georgian
        "დამცველი",
        "თავმჯდომარე",
        "დირექტორი",
        "მინისტრი",
        "მდივანი",
        "წარმომადგენელი",
        # Arabic
        "رئيس",
        "مفوض",
        "المفوض",
        "أمين",
        "مدير",
        "وزير",
        "ممثل",
        "ديوان",
        "المظالم",
    )
)

#: Closing formulas that stand before a signature and are neither name nor role.
_SIGN_OFFS = frozenset(
    s.casefold()
    for s in (
        "Sincerely",
        "Yours sincerely",
        "Respectfully",
        "Regards",
        "Best regards",
        "Hörmətlə",
        "С уважением",
        "Հարգանքով",
        "პატივისცემით",
        "مع التحية",
        "وتفضلوا بقبول فائق الاحترام",
    )
)


def _is_role(line: str) -> bool:
    folded = line.casefold()
    return any(word in folded for word in ROLE_WORDS)


def _is_signature_line(line: str) -> bool:
    """Short, not a sentence: what a name or a role line looks like."""
    stripped = line.strip()
    return (
        0 < len(stripped) <= 200
        and len(stripped.split()) <= 20
        and stripped[-1] not in ".!?;:…؟"
        and not stripped.startswith(("-", "•", "*"))
    )


def _is_name(line: str) -> bool:
    words = line.split()
    return (
        1 <= len(words) <= 5
        and len(line) <= 80
        and not any(ch.isdigit() for ch in line)
        and not _is_role(line)
        and all(w[0].isupper() or not w[0].islower() for w in words if w[0].isalpha())
    )


# --------------------------------------------------------------------------- language

_SCRIPT_LANGUAGES: tuple[tuple[str, tuple[tuple[int, int], ...]], ...] = (
    ("hy", ((0x0530, 0x058F), (0xFB13, 0xFB17))),
    ("ka", ((0x10A0, 0x10FF), (0x2D00, 0x2D2F), (0x1C90, 0x1CBF))),
    ("he", ((0x0590, 0x05FF),)),
    ("el", ((0x0370, 0x03FF),)),
)
_ARABIC = ((0x0600, 0x06FF), (0x0750, 0x077F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))
_CYRILLIC = ((0x0400, 0x04FF),)


def _share(text: str, ranges: tuple[tuple[int, int], ...]) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    inside = sum(1 for ch in letters if any(lo <= ord(ch) <= hi for lo, hi in ranges))
    return inside / len(letters)


def identify_language(text: str) -> str | None:
    """BCP 47 tag of the text's main language.

    Scripts used by one language decide at once (Armenian, Georgian, Hebrew, Greek);
    otherwise py3langid, a trained classifier, decides. Azerbaijani in Latin script
    is tagged ``az-Latn``, since Azerbaijani is also written in Cyrillic and Arabic.
    """
    sample = text[:20000]
    if not any(ch.isalpha() for ch in sample):
        return None
    for tag, ranges in _SCRIPT_LANGUAGES:
        if _share(sample, ranges) > 0.5:
            return tag
    if _share(sample, _ARABIC) > 0.5:
        lang = _langid(sample)
        return lang if lang in {"fa", "ur", "ps", "ku", "ug", "sd"} else "ar"
    lang = _langid(sample)
    if lang == "az" or (lang in {"tr", "tk", "uz"} and ("ə" in sample or "Ə" in sample)):
        return "az-Cyrl" if _share(sample, _CYRILLIC) > 0.5 else "az-Latn"
    return lang


def _langid(text: str) -> str:
    import py3langid

    lang, _score = py3langid.classify(text)
    return str(lang)


# --------------------------------------------------------------------------- parsing


def _blocks(text: str) -> list[list[str]]:
    """Groups of consecutive non-blank lines."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            current.append(line.strip())
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _strip_leftovers(lines: list[str]) -> tuple[list[str], list[str]]:
    """Remove leftover lines at both ends; return (kept, removed)."""
    removed: list[str] = []
    start, end = 0, len(lines)
    while end > start and (not lines[end - 1].strip() or _is_leftover(lines[end - 1])):
        if lines[end - 1].strip():
            removed.insert(0, lines[end - 1].strip())
        end -= 1
    while start < end and (not lines[start].strip() or _is_leftover(lines[start])):
        if lines[start].strip():
            removed.append(lines[start].strip())
        start += 1
    return lines[start:end], removed


def parse_text(text: str) -> Statement:
    """Derive a Statement from already-decoded text (``original`` is its UTF-8)."""
    return _parse(text.encode("utf-8"), text, None)


def parse_statement(data: bytes, path: Path | str | None = None) -> Statement:
    """Parse a statement as received (bytes) into a Statement; raise InputError if unusable."""
    return _parse(data, decode_statement(data, path), path)


def read_statement(path: Path | str) -> Statement:
    """Read and parse a statement file, naming the file in every error."""
    path = Path(path)
    try:
        if path.is_dir():
            raise UnreadableInput("is a directory, not a statement file", path)
        with path.open("rb") as fh:
            data = fh.read(MAX_STATEMENT_BYTES + 1)
    except OSError as exc:
        raise UnreadableInput(f"cannot read: {exc.strerror or exc}", path) from None
    return parse_statement(data, path)


def _parse(original: bytes, decoded: str, path: Path | str | None) -> Statement:
    normalized = normalize_text(decoded)
    kept, leftovers = _strip_leftovers(normalized.split("\n"))
    derived = "\n".join(kept).strip("\n")
    blocks = _blocks(derived)
    notes: list[str] = []

    title: str | None = None
    if blocks:
        first = blocks.pop(0)
        title = first[0]
        if len(first) > 1:
            # Title directly followed by text with no blank line: the rest is body.
            blocks.insert(0, first[1:])

    # Dates stand on their own line; the signature block holds the date of issue,
    # a dateline under the title is the other usual place.
    date_issued: dt.date | None = None
    all_lines = [(bi, li, line) for bi, block in enumerate(blocks) for li, line in enumerate(block)]
    date_lines = [
        (bi, li, line) for bi, li, line in all_lines if _looks_like_date(line) or parse_date(line)
    ]
    parsed_dates = [(bi, li, line, parse_date(line)) for bi, li, line in date_lines]
    real = [(bi, li, line, d) for bi, li, line, d in parsed_dates if d is not None]
    unreal = [line for _bi, _li, line, d in parsed_dates if d is None]
    for line in unreal:
        notes.append(f"'{line}' looks like a date but is not a real calendar date")
    chosen_date_at: tuple[int, int] | None = None
    if real:
        # Prefer the last date line (the one under the signature); say so if others differ.
        bi, li, line, date_issued = real[-1]
        chosen_date_at = (bi, li)
        others = sorted({d for *_rest, d in real if d != date_issued})
        if others:
            notes.append(
                "the text has more than one date: "
                + ", ".join(d.isoformat() for d in [*others, date_issued])
                + f"; chose {date_issued.isoformat()} from '{line}' (the last one)"
            )
    elif unreal:
        date_issued = None

    # The signature block: trailing short lines after the last sentence paragraph.
    lines_from_end: list[tuple[int, int, str]] = []
    for bi in range(len(blocks) - 1, -1, -1):
        block = blocks[bi]
        if all(
            _is_signature_line(line) or (bi, li) == chosen_date_at for li, line in enumerate(block)
        ):
            lines_from_end[:0] = [(bi, li, line) for li, line in enumerate(block)]
            if len(lines_from_end) > 6:
                break
            continue
        break
    signature = [
        (bi, li, line)
        for bi, li, line in lines_from_end
        if (bi, li) != chosen_date_at
        and not _looks_like_date(line)
        and line.casefold().rstrip(",") not in _SIGN_OFFS
    ]
    signer_name, signer_role, used = _split_signature([line for *_p, line in signature])
    used_positions = {
        (bi, li) for (bi, li, _line), keep in zip(signature, used, strict=True) if keep
    }
    remove = set(used_positions)
    if chosen_date_at is not None and (
        chosen_date_at in {(bi, li) for bi, li, _ in lines_from_end}
        or _date_alone(blocks, chosen_date_at)
    ):
        remove.add(chosen_date_at)
    # Sign-offs next to a signature are part of the signature block, not the body.
    if used_positions:
        for bi, li, line in lines_from_end:
            if line.casefold().rstrip(",") in _SIGN_OFFS:
                remove.add((bi, li))

    paragraphs = tuple(
        " ".join(line for li, line in enumerate(block) if (bi, li) not in remove)
        for bi, block in enumerate(blocks)
        if any((bi, li) not in remove for li in range(len(block)))
    )
    if signer_name is None:
        notes.append("no signature block with a name was found")
    if date_issued is None and not unreal:
        notes.append("no line with a date of issue was found")
    language = identify_language("\n".join([title or "", *paragraphs]))
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
    )


def _date_alone(blocks: list[list[str]], at: tuple[int, int]) -> bool:
    """A date line that is a block of its own (a dateline), not inside a paragraph."""
    return len(blocks[at[0]]) == 1


def _split_signature(lines: list[str]) -> tuple[str | None, str | None, list[bool]]:
    """Name and role from the signature lines; which lines were used.

    The name is the line that looks like a person's name (few capitalised words,
    no office words); the role is the office line(s) next to it, before or after.
    "Name, Role" on one line is split at the first comma.
    """
    used = [False] * len(lines)
    if not lines:
        return None, None, used
    names = [i for i, line in enumerate(lines) if _is_name(line)]
    if not names:
        # "Jane Doe, Commissioner for ..." on one line.
        for i, line in enumerate(lines):
            if "," in line:
                head, tail = (part.strip() for part in line.split(",", 1))
                if _is_name(head) and _is_role(tail):
                    used[i] = True
                    return head, tail, used
        return None, None, used
    i = names[-1] if len(names) > 1 and _is_role(lines[-1]) is False else names[0]
    used[i] = True
    role_lines = [
        j for j in range(i + 1, len(lines)) if not _is_name(lines[j]) or _is_role(lines[j])
    ]
    if not role_lines:
        role_lines = [j for j in range(0, i) if _is_role(lines[j])]
    role_lines = _contiguous(role_lines)
    for j in role_lines:
        used[j] = True
    role = " ".join(lines[j] for j in role_lines) or None
    return lines[i], role, used


def _contiguous(indices: list[int]) -> list[int]:
    """The first run of consecutive indices (a role spans adjacent lines only)."""
    run: list[int] = []
    for j in indices:
        if run and j != run[-1] + 1:
            break
        run.append(j)
    return run
