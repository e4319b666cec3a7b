"""Take in a statement as received and derive what its text already says.

The original bytes are kept untouched in :class:`Statement`; everything else
(title, paragraphs, signer, date, language) is *derived* and may be overridden
by a sidecar later (:mod:`preserve.metadata`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
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
    "\t": " ",
    "\f": "\n",  # page break
    "\v": "\n",
    "\u2028": "\n",  # LINE SEPARATOR
    "\u2029": "\n\n",  # PARAGRAPH SEPARATOR
    # Other control characters (a few are let through decoding) carry no text.
    **{chr(c): "" for c in [*range(0, 9), *range(14, 32), 0x7F]},
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
    """Derived text: LF line ends, space-like characters as spaces, no control
    characters, no trailing blanks."""
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

#: Labels a site puts above a statement's title (its section, its genre). Only
#: skipped at the very start, where they would otherwise be taken for the title.
LEADING_LABELS: frozenset[str] = frozenset(
    s.casefold()
    for s in (
        "Press release",
        "Press-release",
        "Statement",
        "Statements",
        "Announcement",
        "Appeal",
        "Mətbuat relizi",
        "Bəyanat",
        "Bəyanatlar",
        "Müraciət",
        "Пресс-релиз",
        "Заявление",
        "Заявления",
        "Обращение",
        "Մամուլի հաղորդագրություն",
        "Հայտարարություն",
        "პრესრელიზი",
        "განცხადება",
        "بيان",
        "بيان صحفي",
    )
)

#: Navigation words a breadcrumb trail starts with ("Home » News » Statements").
_BREADCRUMB_START = frozenset(
    s.casefold()
    for s in ("Home", "Main", "Ana səhifə", "Əsas", "Главная", "Գլխավոր", "მთავარი", "الرئيسية")
)
_BREADCRUMB_SEP = re.compile(r"\s(?:»|›|>|/|\||→)\s")
#: Counters and small print: "Views: 120", "Просмотров: 120", "© 2024 ...".
_COUNTER = re.compile(
    r"^(?:views|просмотров|просмотры|baxış(?:ların)? sayı|baxış|դիտումներ|ნახვები|"
    r"المشاهدات|مشاهدات)\s*:?\s*\d+$|^(?:©|\(c\)|copyright\b)",
    re.IGNORECASE,
)
#: Sharing and tag lines: "Share on Facebook", "Поделиться в Telegram", "Tags: ...",
#: or a row of social network names left from icons.
_SOCIAL = (
    "facebook|twitter|x|telegram|whatsapp|linkedin|vk|vkontakte|ok|odnoklassniki|instagram|"
    "youtube|email|e-mail|viber|threads|bluesky|mastodon"
)
_SHARE = re.compile(
    rf"^(?:share|share this|поделиться|paylaş|կիսվել|გაზიარება|مشاركة)\s*(?:on|in|via|в|через|"
    rf"на|:)?\s*(?:{_SOCIAL})?$|^(?:(?:{_SOCIAL})[\s,|·•]*)+$|"
    r"^(?:tags|teqlər|теги|метки|պիտակներ|თეგები|الوسوم)\s*:",
    re.IGNORECASE,
)


def _is_leftover(line: str) -> bool:
    """Site text, not statement text (checked only at the ends of the text)."""
    folded = " ".join(line.split()).casefold().strip(" .:|»›>")
    if folded in LEFTOVER_LINES or _COUNTER.match(folded) or _SHARE.match(folded):
        return True
    parts = _BREADCRUMB_SEP.split(" ".join(line.split()))
    # A breadcrumb trail: starts at "Home", or has two arrows ("News » Statements » 2024").
    # A title with one " / " or " | " in it is not one.
    return (
        len(parts) > 1
        and len(line) < 160
        and all(0 < len(p) <= 80 for p in parts)
        and (
            parts[0].casefold() in _BREADCRUMB_START
            or len(re.findall(r"\s(?:»|›|>|→)\s", line)) >= 2
        )
    )


# --------------------------------------------------------------------------- dates

#: Month names as statements print them, to month numbers. Covering the project's
#: languages here keeps date recognition fast and exact; dateparser (slow, lenient)
#: is only asked about short lines in other languages.
_MONTH_NAMES: dict[str, str] = {
    # English (with abbreviations), Azerbaijani, Turkish
    "en": "january february march april may june july august september october november december",
    "en-abbr": "jan feb mar apr may jun jul aug sep oct nov dec",
    "az": "yanvar fevral mart aprel may iyun iyul avqust sentyabr oktyabr noyabr dekabr",
    "tr": "ocak şubat mart nisan mayıs haziran temmuz ağustos eylül ekim kasım aralık",
    # Russian: genitive (23 февраля) and nominative (февраль 2024 is no date, but
    # "23 февраль 2024" occurs); Ukrainian genitive
    "ru": "января февраля марта апреля мая июня июля августа сентября октября ноября декабря",
    "ru-nom": "январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь",
    "uk": "січня лютого березня квітня травня червня липня серпня вересня жовтня листопада грудня",
    # Armenian: genitive (5 ապրիլի) and nominative
    "hy": "հունվարի փետրվարի մարտի ապրիլի մայիսի հունիսի հուլիսի օգոստոսի սեպտեմբերի "
    "հոկտեմբերի նոյեմբերի դեկտեմբերի",
    "hy-nom": "հունվար փետրվար մարտ ապրիլ մայիս հունիս հուլիս օգոստոս սեպտեմբեր հոկտեմբեր "
    "նոյեմբեր դեկտեմբեր",
    # Georgian: nominative, dative (10 მაისს), genitive
    "ka": "იანვარი თებერვალი მარტი აპრილი მაისი ივნისი ივლისი აგვისტო სექტემბერი ოქტომბერი "
    "ნოემბერი დეკემბერი",
    "ka-dat": "იანვარს თებერვალს მარტს აპრილს მაისს ივნისს ივლისს აგვისტოს სექტემბერს ოქტომბერს "
    "ნოემბერს დეკემბერს",
    "ka-gen": "იანვრის თებერვლის მარტის აპრილის მაისის ივნისის ივლისის აგვისტოს სექტემბრის "
    "ოქტომბრის ნოემბრის დეკემბრის",
    # Arabic: Egyptian/Gulf, Levantine (multi-word names joined by "_"), Maghrebi
    "ar": "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر",
    "ar-alt": "يناير فبراير مارس ابريل مايو يونيه يوليه اغسطس سبتمبر اكتوبر نوفمبر ديسمبر",
    "ar-lev": "كانون_الثاني شباط آذار نيسان أيار حزيران تموز آب أيلول تشرين_الأول "
    "تشرين_الثاني كانون_الأول",
    "ar-mag": "جانفي فيفري مارس أفريل ماي جوان جويلية أوت سبتمبر أكتوبر نوفمبر ديسمبر",
}
_MONTHS: dict[str, int] = {
    name: number for names in _MONTH_NAMES.values() for number, name in enumerate(names.split(), 1)
}
_MONTHS["sept"] = 9
#: Words that may stand around a date without changing it: year and ordinal
#: suffixes ("2024-cü il", "2024 г.", "2024 թ.", "2024 წლის", "23rd"), weekdays.
_DATE_NOISE = frozenset(
    word
    for words in (
        "year date published tarix дата ամսաթիվ თარიღი التاريخ of the st nd rd th il",
        "ildə ci cı cu cü г года год гг թ թվականի թվական წლის წ წელი م monday tuesday",
        "wednesday thursday friday saturday sunday bazar ertəsi çərşənbə axşamı cümə",
        "şənbə günü понедельник вторник среда четверг пятница суббота воскресенье",
    )
    for word in words.split()
)
_LEVANTINE = (
    ("كانون الثاني", "كانون_الثاني"),
    ("كانون الأول", "كانون_الأول"),
    ("تشرين الثاني", "تشرين_الثاني"),
    ("تشرين الأول", "تشرين_الأول"),
)
_TOKEN = re.compile(r"\d+|[^\W\d_]+(?:_[^\W\d_]+)?", re.UNICODE)
_NUMERIC_DMY = re.compile(r"(?<!\d)(\d{1,2})[./-](\d{1,2})[./-](\d{4})(?!\d)")
_NUMERIC_YMD = re.compile(r"(?<!\d)(\d{4})[./-](\d{1,2})[./-](\d{1,2})(?!\d)")
#: Years a statement of today can carry; also keeps Hijri years (1445) from being
#: read as Gregorian ones.
_YEARS = range(1900, 2101)
#: A date line is short; longer lines are sentences that mention a date.
_MAX_DATE_LINE = 60

_DATEPARSER_LANGUAGES = [
    "en",
    "az",
    "ru",
    "uk",
    "hy",
    "ka",
    "ar",
    "he",
    "el",
    "tr",
    "fr",
    "de",
    "es",
    "it",
    "pt",
    "pl",
]
_DATEPARSER_SETTINGS = {
    "STRICT_PARSING": True,
    "DATE_ORDER": "DMY",
    "REQUIRE_PARTS": ["day", "month", "year"],
    "PREFER_LOCALE_DATE_ORDER": False,
}


def parse_date(text: str) -> dt.date | None:
    """The calendar date a short line states, or None.

    Accepts "23 February 2024", "February 23, 2024", "23.02.2024", "2024-02-23",
    month names in the project's languages ("23 fevral 2024-cü il", "12 марта
    2024 г.", "5 ապրիլի 2024 թ.", "2024 წლის 10 მაისი", "14 يونيو 2024") and, via
    dateparser, in other languages; a place before a comma or dash ("Baku,
    23 February 2024"). Numeric dates are read day first. Not a real calendar date
    ("30 February 2024") gives None.
    """
    return _read_date(text)[1]


def _looks_like_date(line: str) -> bool:
    """True for a line shaped like a date even if it is not a real one (30 February)."""
    return _read_date(line)[0]


_TIME = re.compile(r"(?<![\d:])\d{1,2}:\d{2}(?::\d{2})?(?![\d:])")


def _read_date(line: str) -> tuple[bool, dt.date | None]:
    """(shaped like a date, the real date or None) for a whole line."""
    # A time of day beside the date ("March 15, 2024 | 14:30") does not change it.
    line = _TIME.sub(" ", line) if ":" in line else line
    line = " ".join(line.split()).strip(" .,;:()[]|·•")
    if not line or len(line) > _MAX_DATE_LINE or not any(ch.isdigit() for ch in line):
        return False, None
    for candidate in _date_candidates(line):
        shaped, date = _read_date_part(candidate)
        if shaped:
            return True, date
    return False, None


def _date_candidates(line: str) -> list[str]:
    """The line, and the parts a place or weekday may be separated from (by ',' or a dash)."""
    candidates = [line]
    for sep in (",", "،", " – ", " — ", " - "):
        if sep in line:
            head, tail = line.split(sep, 1)
            last = line.rsplit(sep, 1)[1]
            for part, rest in ((last, line[: -len(last)]), (tail, head), (head, tail)):
                # The other part must be a short place or weekday name, not more text.
                if part.strip() and len(rest.split()) <= 4 and not any(c.isdigit() for c in rest):
                    candidates.append(part.strip(" .,;:"))
    return candidates


def _read_date_part(text: str) -> tuple[bool, dt.date | None]:
    # "23.02.2024", "23.02.2024 г.", "Date: 2024-02-23": a numeric date and noise words.
    numeric = _NUMERIC_YMD.search(text) or _NUMERIC_DMY.search(text)
    if numeric is not None:
        rest = text[: numeric.start()] + " " + text[numeric.end() :]
        if not all(t.casefold() in _DATE_NOISE for t in _TOKEN.findall(rest)):
            numeric = None
    if numeric is not None:
        a, b, c = (int(g) for g in numeric.groups())
        year, month, day = (a, b, c) if a > 31 else (c, b, a)
        return True, _make_date(year, month, day)
    for long, joined in _LEVANTINE:
        text = text.replace(long, joined)
    tokens = _TOKEN.findall(text)
    numbers = [t for t in tokens if t.isdigit()]
    months = [_MONTHS[t.casefold()] for t in tokens if t.casefold() in _MONTHS]
    unknown = [
        t
        for t in tokens
        if not t.isdigit() and t.casefold() not in _MONTHS and t.casefold() not in _DATE_NOISE
    ]
    years = [n for n in numbers if len(n) == 4]
    days = [n for n in numbers if len(n) <= 2]
    if len(months) == 1 and len(years) == 1 and len(days) == 1 and not unknown:
        return True, _make_date(int(years[0]), months[0], int(days[0]))
    if (
        not months
        and len(years) == 1
        and int(years[0]) in _YEARS
        and len(days) == 1
        and 1 <= len(unknown) <= 2
    ):
        # A month name in a language not listed above: ask dateparser (slow, so last).
        parsed = dateparser.parse(
            text, languages=_DATEPARSER_LANGUAGES, settings=_DATEPARSER_SETTINGS
        )
        if isinstance(parsed, dt.datetime) and parsed.year in _YEARS:
            return True, parsed.date()
    return False, None


def _make_date(year: int, month: int, day: int) -> dt.date | None:
    if year not in _YEARS:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


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
        "office",
        "committee",
        "members of",
        "on behalf of",
        "inspector",
        "chief",
        "adviser",
        "advisor",
        "press service",
        "press office",
        "press secretary",
        "spokeswoman",
        "vice-",
        "member of",
        "staff of",
        "team",
        "general",
        "human rights",
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
        "mətbuat",
        "xidmət",
        "insan hüquqları",
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
        "пресс-служба",
        "аппарат",
        "по правам человека",
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
        "أمين عام",
        "الأمين العام",
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
        "Sincerely yours",
        "Yours faithfully",
        "Respectfully",
        "Respectfully yours",
        "With respect",
        "Regards",
        "Kind regards",
        "Best regards",
        "Hörmətlə",
        "Ehtiramla",
        "Dərin hörmətlə",
        "С уважением",
        "С глубоким уважением",
        "Искренне ваш",
        "Искренне Ваш",
        "Հարգանքով",
        "Հարգանքով՝",
        "პატივისცემით",
        "مع التحية",
        "مع خالص التحية",
        "مع خالص التحيات",
        "مع أطيب التحيات",
        "وتفضلوا بقبول فائق الاحترام",
        "وتفضلوا بقبول فائق الاحترام والتقدير",
    )
)

#: Characters that end a sentence, in the scripts statements come in: a line ending
#: in one is body text, never a name or role line. (Armenian "։", Arabic "؟", ...)
_SENTENCE_END = ".!?;:…։؟۔。"
#: Closing quotes and brackets that may follow a sentence's final stop.
_CLOSERS = "\"'»”’)]"
#: Lower-case words that belong inside a person's name (particles, patronymics).
_NAME_PARTICLES = frozenset(
    word
    for words in (
        "van von de der den da di du la le del della",
        "bin bint ibn al el y oğlu qızı kızı",
    )
    for word in words.split()
)
_NAME_WORD = re.compile(r"^[^\W\d_][^\W\d_.'’\-]*(?:[.'’\-][^\W\d_]*)*\.?$")
#: Scripts with no capital letters in everyday use (Georgian Mkhedruli has
#: Mtavruli capitals in Unicode, so Python calls its letters lower case).
_UNCASED = ((0x10D0, 0x10FF), (0x2D00, 0x2D2F))


def _is_role(line: str) -> bool:
    folded = line.casefold()
    return any(word in folded for word in ROLE_WORDS)


def _is_sign_off(line: str) -> bool:
    return " ".join(line.split()).casefold().rstrip(" ,.!:՝") in _SIGN_OFFS


def _ends_sentence(line: str) -> bool:
    stripped = line.rstrip().rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] in _SENTENCE_END


def _is_signature_line(line: str) -> bool:
    """Short, not a sentence: what a name or a role line looks like."""
    stripped = line.strip()
    return (
        0 < len(stripped) <= 200
        and len(stripped.split()) <= 20
        and not _ends_sentence(stripped)
        and not stripped.startswith(("-", "•", "*", "–", "—"))
    )


def _capitalised(word: str) -> bool:
    first = word[0]
    return (
        first.isupper() or not first.islower() or any(lo <= ord(first) <= hi for lo, hi in _UNCASED)
    )


def _is_name(line: str) -> bool:
    """A person's name: 1-5 words of letters, capitalised where the script has capitals."""
    words = line.split()
    if not 1 <= len(words) <= 5 or len(line) > 80 or _is_role(line):
        return False
    if not all(_NAME_WORD.match(w) for w in words):
        return False
    named = [w for w in words if w.casefold() not in _NAME_PARTICLES]
    return bool(named) and all(_capitalised(w) for w in named) and _capitalised(words[0])


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

#: A first line longer than this that ends like a sentence is body text: the
#: statement came without a title (a sidecar must give one).
_MAX_TITLE = 300
#: Hard-wrapped text has lines up to about this long; a longer line is a paragraph.
_WRAPPED_LINE = 100
#: At most this many lines at the end are read as the signature block.
_MAX_SIGNATURE_LINES = 10

#: A line's place in the text: (block number, line number in the block).
_At = tuple[int, int]


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
            if _ends_sentence(line) and (one_per_line or len(line) > _WRAPPED_LINE):
                blocks.append(current)
                current = []
        if current:
            blocks.append(current)
    return blocks


def _strip_leftovers(lines: list[str]) -> tuple[list[str], list[str]]:
    """Remove site text at both ends; return (kept, removed in reading order).

    Only whole lines at the very start or end are removed, so a sentence in the
    body that happens to read "Search in archive" stays.
    """
    head: list[str] = []
    tail: list[str] = []
    start, end = 0, len(lines)
    while end > start and (not lines[end - 1].strip() or _is_leftover(lines[end - 1])):
        if lines[end - 1].strip():
            tail.insert(0, lines[end - 1].strip())
        end -= 1
    while start < end and (
        not lines[start].strip() or _is_leftover(lines[start]) or _is_label(lines, start, end)
    ):
        if lines[start].strip():
            head.append(lines[start].strip())
        start += 1
    return lines[start:end], head + tail


def _is_label(lines: list[str], at: int, end: int) -> bool:
    """A genre label ("Press release") above a title; with no title under it, it is the title."""
    if " ".join(lines[at].split()).casefold().strip(" .:") not in LEADING_LABELS:
        return False
    following = next((line.strip() for line in lines[at + 1 : end] if line.strip()), "")
    stripped = following.rstrip(_CLOSERS)
    # A title may end in "!" or "?", rarely in a full stop; a first paragraph does.
    return bool(stripped) and stripped[-1] not in ".։。۔"


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
    positions: list[_At] = [(bi, li) for bi, block in enumerate(blocks) for li in range(len(block))]

    def line_at(at: _At) -> str:
        return blocks[at[0]][at[1]]

    # Every line that is a date on its own, real or not ("30 February 2024").
    dates: dict[_At, dt.date | None] = {}
    for at in positions:
        shaped, date = _read_date(line_at(at))
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
    candidates = [at for at in region if at not in dates and not _is_sign_off(line_at(at))]
    signer_name, signer_role, used, extra_names = _split_signature(
        [line_at(at) for at in candidates], [at[0] for at in candidates]
    )
    if extra_names:
        notes.append(
            "the signature block names more than one person: "
            + ", ".join(f"'{n}'" for n in [signer_name, *extra_names])
            + f"; took '{signer_name}' (the first)"
        )
    taken |= {at for at, keep in zip(candidates, used, strict=True) if keep}
    taken |= {at for at in region if at in dates or _is_sign_off(line_at(at))}
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
        if len(first) > _MAX_TITLE and _ends_sentence(first):
            return None, []
        lines = [at]
        block = blocks[at[0]]
        # A title wrapped over lines continues in lower case on the next line.
        for li in range(at[1] + 1, min(len(block), at[1] + 3)):
            previous, nxt = block[li - 1], block[li]
            if _ends_sentence(previous) or not nxt[:1].islower() or (at[0], li) in dates:
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
            if at in taken or not (at in dates or _is_signature_line(blocks[bi][li])):
                break
            suffix.insert(0, at)
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


def _split_signature(
    lines: list[str], block_of: list[int]
) -> tuple[str | None, str | None, list[bool], list[str]]:
    """Name and role from the signature lines; which lines were used; other names.

    The name is a line that looks like a person's name, preferably one next to an
    office line; the role is the office line(s) after it (in its block, or the next
    block when the name stands alone, as scraped pages have it), else the office
    lines just before it. "Name, Role" or "Name – Role" on one line is split.
    """
    used = [False] * len(lines)
    names = [i for i, line in enumerate(lines) if _is_name(line)]
    if not names:
        for i, line in enumerate(lines):
            for sep in (",", " – ", " — ", " - "):
                if sep in line:
                    head, tail = (part.strip() for part in line.split(sep, 1))
                    if _is_name(head) and _is_role(tail):
                        used[i] = True
                        return head, tail, used, []
        return None, None, used, []

    def next_to_role(i: int) -> bool:
        return any(0 <= j < len(lines) and _is_role(lines[j]) for j in (i - 1, i + 1))

    first = next((n for n in names if next_to_role(n)), names[0])
    role_lines = _role_lines(lines, block_of, first)
    used[first] = True
    for j in role_lines:
        used[j] = True
    role = " ".join(lines[j] for j in role_lines) or None
    # A joint statement: the other signers (and their roles) are signature, not body.
    extra: list[str] = []
    for n in names:
        if not used[n]:
            extra.append(lines[n])
            used[n] = True
            for j in _role_lines(lines, block_of, n):
                used[j] = True
    return lines[first], role, used, extra


def _role_lines(lines: list[str], block_of: list[int], i: int) -> list[int]:
    """The office lines of the name at ``i``.

    In order: the rest of its block; office lines just above it in its block (role
    before name); the next block when the name stands alone (scraped pages put blank
    lines between name and role); office lines just above it across a blank line.
    """

    def run_from(candidates: list[int]) -> list[int]:
        if not any(_is_role(lines[j]) for j in candidates):
            return []
        run: list[int] = []
        for j in candidates:
            if _is_name(lines[j]):  # the next signer of a joint statement
                break
            run.append(j)
        return run

    def roles_above(same_block: bool) -> list[int]:
        above: list[int] = []
        for j in range(i - 1, -1, -1):
            if not _is_role(lines[j]) or (same_block and block_of[j] != block_of[i]):
                break
            above.insert(0, j)
        return above

    after = [j for j in range(i + 1, len(lines)) if block_of[j] == block_of[i]]
    if after:
        return run_from(after) or roles_above(True)
    found = roles_above(True)
    if not found and i + 1 < len(lines):
        found = run_from([j for j in range(i + 1, len(lines)) if block_of[j] == block_of[i + 1]])
    return found or roles_above(False)
