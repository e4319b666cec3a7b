"""Dates of issue: month tables in the project's languages, with dateparser as a fallback.

Date lines are recognised exactly and fast from the tables here; dateparser (slow,
lenient) is only asked about short lines that look like a date in another language.
"""

from __future__ import annotations

import datetime as dt
import re

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
    return read_date(text)[1]


def _looks_like_date(line: str) -> bool:
    """True for a line shaped like a date even if it is not a real one (30 February)."""
    return read_date(line)[0]


_TIME = re.compile(r"(?<![\d:])\d{1,2}:\d{2}(?::\d{2})?(?![\d:])")


def read_date(line: str) -> tuple[bool, dt.date | None]:
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
    numbers = [t for t in tokens if t.isdecimal()]
    months = [_MONTHS[t.casefold()] for t in tokens if t.casefold() in _MONTHS]
    unknown = [
        t
        for t in tokens
        if not t.isdecimal() and t.casefold() not in _MONTHS and t.casefold() not in _DATE_NOISE
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
        # A month name in a language not listed above: ask dateparser (slow to load
        # and to run, so last, and imported only when a statement needs it).
        import dateparser

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
