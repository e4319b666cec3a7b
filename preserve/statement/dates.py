"""Dates of issue in the project's languages, read from one line at a time.

Month tables for the fourteen languages the project sees (and their usual
spellings) make recognition exact and fast; the parser asks about every line, so
a line that cannot be a date is turned away after one regular-expression search.
dateparser (slow, lenient) is asked only about short lines that look like a day, a
word and a year in some other language. Dates in the Hijri (lunar) and Solar Hijri
(Persian) calendars, and Japanese and Republic of China era years, are converted
to Gregorian, and the line is kept as written.

A date is never guessed: "05/12/2017" is day first where the language says so and
ambiguous otherwise, and "30 February 2024" is reported as a date-shaped line
with no date.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

#: What a date line is there for, so the parser can rank a dateline or a date under
#: the signature above a page's "last modified" stamp or a photo caption.
DateKind = Literal["date", "published", "last-modified", "caption"]
#: The calendar a date was written in; ``DateReading.date`` is always Gregorian.
Calendar = Literal["gregorian", "hijri", "persian", "japanese", "roc"]


@dataclass(frozen=True)
class DateReading:
    """What one line says about a date."""

    #: The line is shaped like a date (even when it names no real day).
    shaped: bool
    #: The Gregorian date, or None: not shaped, not a real day (30 February), or
    #: ambiguous.
    date: dt.date | None = None
    #: Day and month could be either way round ("05/12/2017" in English); no date is
    #: given rather than a guess.
    ambiguous: bool = False
    #: The calendar the line is written in.
    calendar: Calendar = "gregorian"
    #: The line as given (the parser keeps it as written).
    original: str = ""
    #: What the date is for: a dateline or signature date, a publication stamp, a
    #: page's last modification, a caption.
    kind: DateKind = "date"


NOT_A_DATE = DateReading(False)

# --------------------------------------------------------------------------- tables

#: Month names as statements print them, to month numbers, in month order. Each
#: entry is (calendar, names); "_" joins the words of a two-word month.
_MONTH_NAMES: dict[str, tuple[Calendar, str]] = {
    "en": (
        "gregorian",
        "january february march april may june july august september october november december",
    ),
    "en-abbr": ("gregorian", "jan feb mar apr may jun jul aug sep oct nov dec"),
    "az": (
        "gregorian",
        "yanvar fevral mart aprel may iyun iyul avqust sentyabr oktyabr noyabr dekabr",
    ),
    "tr": (
        "gregorian",
        "ocak şubat mart nisan mayıs haziran temmuz ağustos eylül ekim kasım aralık",
    ),
    "tr-ascii": (
        "gregorian",
        "ocak subat mart nisan mayis haziran temmuz agustos eylul ekim kasim aralik",
    ),
    "fr": (
        "gregorian",
        "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    ),
    "fr-ascii": (
        "gregorian",
        "janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre",
    ),
    "fr-abbr": ("gregorian", "janv févr mars avr mai juin juil août sept oct nov déc"),
    "de": (
        "gregorian",
        "januar februar märz april mai juni juli august september oktober november dezember",
    ),
    "de-alt": (
        "gregorian",
        "jänner feber maerz april mai juni juli august september oktober november dezember",
    ),
    "es": (
        "gregorian",
        "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    ),
    "es-alt": (
        "gregorian",
        "enero febrero marzo abril mayo junio julio agosto setiembre octubre noviembre diciembre",
    ),
    # Russian genitive (23 февраля) and nominative ("23 февраль 2024" occurs)
    "ru": (
        "gregorian",
        "января февраля марта апреля мая июня июля августа сентября октября ноября декабря",
    ),
    "ru-nom": (
        "gregorian",
        "январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь",
    ),
    # Ukrainian genitive and nominative
    "uk": (
        "gregorian",
        "січня лютого березня квітня травня червня липня серпня вересня жовтня листопада грудня",
    ),
    "uk-nom": (
        "gregorian",
        "січень лютий березень квітень травень червень липень серпень "
        "вересень жовтень листопад грудень",
    ),
    # Armenian genitive (5 ապրիլի) and nominative
    "hy": (
        "gregorian",
        "հունվարի փետրվարի մարտի ապրիլի մայիսի հունիսի հուլիսի օգոստոսի "
        "սեպտեմբերի հոկտեմբերի նոյեմբերի դեկտեմբերի",
    ),
    "hy-nom": (
        "gregorian",
        "հունվար փետրվար մարտ ապրիլ մայիս հունիս հուլիս օգոստոս սեպտեմբեր "
        "հոկտեմբեր նոյեմբեր դեկտեմբեր",
    ),
    # Georgian nominative, dative (10 მაისს), genitive
    "ka": (
        "gregorian",
        "იანვარი თებერვალი მარტი აპრილი მაისი ივნისი ივლისი აგვისტო "
        "სექტემბერი ოქტომბერი ნოემბერი დეკემბერი",
    ),
    "ka-dat": (
        "gregorian",
        "იანვარს თებერვალს მარტს აპრილს მაისს ივნისს ივლისს აგვისტოს "
        "სექტემბერს ოქტომბერს ნოემბერს დეკემბერს",
    ),
    "ka-gen": (
        "gregorian",
        "იანვრის თებერვლის მარტის აპრილის მაისის ივნისის ივლისის აგვისტოს "
        "სექტემბრის ოქტომბრის ნოემბრის დეკემბრის",
    ),
    # Arabic: Egyptian/Gulf (two spellings), Levantine, Maghrebi
    "ar": (
        "gregorian",
        "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر",
    ),
    "ar-alt": (
        "gregorian",
        "يناير فبراير مارس ابريل مايو يونيه يوليه اغسطس سبتمبر اكتوبر نوفمبر ديسمبر",
    ),
    "ar-lev": (
        "gregorian",
        "كانون_الثاني شباط آذار نيسان أيار حزيران تموز آب أيلول تشرين_الأول "
        "تشرين_الثاني كانون_الأول",
    ),
    "ar-mag": (
        "gregorian",
        "جانفي فيفري مارس أفريل ماي جوان جويلية أوت سبتمبر أكتوبر نوفمبر ديسمبر",
    ),
    # Persian names of the Gregorian months
    "fa": ("gregorian", "ژانویه فوریه مارس آوریل مه ژوئن ژوئیه اوت سپتامبر اکتبر نوامبر دسامبر"),
    "fa-alt": (
        "gregorian",
        "ژانویه فوریه مارچ آپریل می جون جولای آگوست سپتامبر اکتبر نوامبر دسامبر",
    ),
    "he": ("gregorian", "ינואר פברואר מרץ אפריל מאי יוני יולי אוגוסט ספטמבר אוקטובר נובמבר דצמבר"),
    "he-alt": (
        "gregorian",
        "ינואר פברואר מרס אפריל מאי יוני יולי אוגוסט ספטמבר אוקטובר נובמבר דצמבר",
    ),
    # The Hijri (lunar) months, in the spellings statements use
    "hijri": (
        "hijri",
        "محرم صفر ربيع_الأول ربيع_الآخر جمادى_الأولى جمادى_الآخرة رجب شعبان "
        "رمضان شوال ذو_القعدة ذو_الحجة",
    ),
    "hijri-alt": (
        "hijri",
        "محرّم صفر ربيع_الاول ربيع_الثاني جمادى_الاولى جمادى_الثانية رجب "
        "شعبان رمضان شوال ذي_القعدة ذي_الحجة",
    ),
    "hijri-alt2": (
        "hijri",
        "محرم صفر ربيع_اول ربيع_ثاني جمادى_الأول جمادى_الاخرة رجب شعبان "
        "رمضان شوال ذو_القعده ذو_الحجه",
    ),
    # The Solar Hijri (Persian) months
    "persian": ("persian", "فروردین اردیبهشت خرداد تیر مرداد شهریور مهر آبان آذر دی بهمن اسفند"),
}
_MONTHS: dict[str, tuple[int, Calendar]] = {}
for _calendar, _names in _MONTH_NAMES.values():
    for _number, _name in enumerate(_names.split(), 1):
        _MONTHS.setdefault(_name, (_number, _calendar))
_MONTHS["sept"] = (9, "gregorian")
#: Two-word month names, joined with "_" before the line is cut into words.
_MULTIWORD = tuple((name.replace("_", " "), name) for name in _MONTHS if "_" in name)
_ARABIC_LETTER = re.compile("[\u0600-\u06ff]")
#: Persian digits and the letters Persian has and Arabic lacks (پ چ ژ گ ک ی).
_PERSIAN = re.compile("[\u06f0-\u06f9\u067e\u0686\u0698\u06af\u06a9\u06cc]")

#: Words that may stand in or around a date without changing it: year and ordinal
#: suffixes ("2024-cü il", "2024 г.", "2024 р.", "2024 թ.", "2024 წლის", "1er",
#: "1-го", "1º", "23rd"), prepositions and articles ("a 3 de mayo de 2024", "le",
#: "den", "of the"), the calendar markers ("هـ", "م"), "date" labels, weekdays.
_DATE_NOISE = frozenset(
    word
    for words in (
        # labels
        "date datum fecha tarih tarix дата դата ամսաթիվ თარიღი التاريخ تاريخ تاریخ תאריך",
        # English, French, German, Spanish, Turkish, Azerbaijani
        "year of the on at st nd rd th er re ère e eme ème le la du de del el den am im um a à en",
        "il ildə ci cı cu cü inci ıncı uncu üncü nci yılı yil yıl şəhəri şəhər şehri city",
        "º ª o",
        # Russian, Ukrainian
        "г гг года год го ого е р року рік м город ш в о",
        # Armenian, Georgian
        "թ թվականի թվական թ.-ի ք քաղաք ին წლის წ წელი ქ",
        # Arabic, Persian, Hebrew
        "م هـ ه ھ ق ش الموافق في سال ماه روز ב ה יום",
        # weekdays (a weekday before a date without a comma)
        "monday tuesday wednesday thursday friday saturday sunday",
        "lundi mardi mercredi jeudi vendredi samedi dimanche",
        "montag dienstag mittwoch donnerstag freitag samstag sonntag",
        "lunes martes miércoles jueves viernes sábado domingo",
        "pazartesi salı çarşamba perşembe cuma cumartesi pazar",
        "bazar ertəsi çərşənbə axşamı cümə şənbə günü",
        "понедельник вторник среда четверг пятница суббота воскресенье",
        "понеділок вівторок середа четвер пʼятниця п'ятниця субота неділя",
        "الاثنين الثلاثاء الأربعاء الخميس الجمعة السبت الأحد",
        "دوشنبه سه‌شنبه چهارشنبه پنجشنبه جمعه شنبه یکشنبه",
    )
    for word in words.split()
)
#: Labels and words that say what a date is for (matched in lower case, anywhere
#: before the date).
_KIND_WORDS: tuple[tuple[DateKind, tuple[str, ...]], ...] = (
    (
        "last-modified",
        tuple(
            "last modified|last updated|updated|modified|last change|"
            "dernière modification|derniere modification|mis à jour|mise à jour|"
            "modifié|zuletzt|aktualisiert|geändert|letzte änderung|stand|"
            "última modificación|última actualización|actualizado|modificado|"
            "son güncelleme|güncellendi|güncelleme tarihi|değiştirildi|"
            "son dəyişiklik|yenilənib|yeniləndi|yenilənmə|последнее изменение|"
            "последнее обновление|обновлено|изменено|востаннє|останнє оновлення|"
            "оновлено|змінено|թարմացվել|թարմացում|განახლდა|განახლების|آخر تحديث|"
            "تم التحديث|آخر تعديل|تاريخ التحديث|آخرین به روز رسانی|آخرین بروزرسانی|"
            "به‌روزرسانی|بروزرسانی|עודכן|עדכון אחרון|"
            "更新时间|更新日期|更新於|更新于|最后更新|修改时间".split("|")
        ),
    ),
    (
        "published",
        tuple(
            "published|posted|publié|publication|veröffentlicht|publicado|"
            "publicación|yayınlanma|yayın tarihi|yayımlandı|dərc|опубликовано|"
            "дата публикации|опубліковано|дата публікації|հրապարակ|გამოქვეყნ|"
            "تاريخ النشر|نشر في|منتشر|تاریخ انتشار|פורסם|תאריך פרסום|发布|發佈|發布|发表".split("|")
        ),
    ),
    (
        "caption",
        tuple(
            "photo|фото|foto|fotoğraf|bild|صورة|عکس|照片|图片|תמונה|լուսանկար|ფოტო|"
            "image|picture|aufgenommen|pictured|снято|знімок".split("|")
        ),
    ),
)
#: Years a statement of today can carry, by calendar; also keeps a Hijri year (1445)
#: from being read as a Gregorian one.
_YEARS: dict[Calendar, range] = {
    "gregorian": range(1900, 2101),
    "hijri": range(1343, 1501),  # hijridate's Umm al-Qura range
    "persian": range(1279, 1480),
    "japanese": range(1, 100),
    "roc": range(1, 200),
}
#: A date line is short; longer lines are sentences that mention a date.
_MAX_DATE_LINE = 60
_MAX_LINE = 120
#: Languages and countries that write a numeric date day first whatever the
#: separator; only American English (en-US) writes month first, and a bare "en"
#: may be either.
_MONTH_FIRST = frozenset({"en-us"})
_EITHER = frozenset({"en"})

#: Decimal digits of other scripts, read as ASCII: Arabic-Indic, Persian, full-width.
_DIGITS = str.maketrans(
    {
        **{chr(0x0660 + i): str(i) for i in range(10)},
        **{chr(0x06F0 + i): str(i) for i in range(10)},
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        "\uff0f": "/",  # FULLWIDTH SOLIDUS
        "\uff0e": ".",
        "\uff0d": "-",
        "\uff1a": ":",  # FULLWIDTH COLON
        "\u066b": ".",  # ARABIC DECIMAL SEPARATOR
        "\u060c": ",",  # ARABIC COMMA
        "\uff0c": ",",  # FULLWIDTH COMMA
        "\u3001": ",",  # IDEOGRAPHIC COMMA
        "\u200f": "",  # RIGHT-TO-LEFT MARK
        "\u200e": "",  # LEFT-TO-RIGHT MARK
    }
)
_HAS_DIGIT = re.compile(r"\d")
_TIME = re.compile(r"(?<![\d:])\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?(?![\d:])", re.I)
_TOKEN = re.compile(r"\d+|[^\W\d_]+(?:[_'’][^\W\d_]+)*", re.UNICODE)
#: The same separator twice ("05.12.2017", never "05/12.2017").
_NUMERIC_DMY = re.compile(r"(?<![\d./-])(\d{1,2})([./-])(\d{1,2})\2(\d{4})(?!\d|[./-]\d)")
_NUMERIC_YMD = re.compile(r"(?<![\d./-])(\d{4})([./-])(\d{1,2})\2(\d{1,2})(?!\d|[./-]\d)")
_MIXED = re.compile(r"(?<!\d)\d{1,4}[./-]\d{1,2}[./-]\d{1,4}(?!\d)")
#: 2016年1月28日, 令和6年5月1日, 民國113年5月1日, 2024년 2월 23일
_CJK = re.compile(
    r"(?P<era>令和|平成|昭和|民國|民国)?\s*(?P<year>\d{1,4}|元)\s*[年년]\s*"
    r"(?P<month>\d{1,2})\s*[月월]\s*(?P<day>\d{1,2})\s*[日일号號]?"
)
_ERAS: dict[str, tuple[Calendar, int]] = {
    "令和": ("japanese", 2018),
    "平成": ("japanese", 1988),
    "昭和": ("japanese", 1925),
    "民國": ("roc", 1911),
    "民国": ("roc", 1911),
}
#: A label before a colon: "Date:", "Dernière modification :", "יום:", "更新时间：".
_LABEL = re.compile(r"^(?P<label>[^\d:]{1,40}?)\s*:\s*(?P<rest>.+)$")

_DATEPARSER_LANGUAGES = [
    "en", "az", "ru", "uk", "hy", "ka", "ar", "fa", "he", "el", "tr", "fr", "de", "es",
    "it", "pt", "pl", "nl", "ro", "sr", "bg", "cs",
]  # fmt: skip
_DATEPARSER_SETTINGS = {
    "STRICT_PARSING": True,
    "DATE_ORDER": "DMY",
    "REQUIRE_PARTS": ["day", "month", "year"],
    "PREFER_LOCALE_DATE_ORDER": False,
}


# --------------------------------------------------------------------------- API


def parse_date(text: str, language_hint: str | None = None) -> dt.date | None:
    """The Gregorian date a short line states, or None.

    Accepts "23 February 2024", "February 23, 2024", "23.02.2024", "2024-02-23",
    month names in the project's languages ("23 fevral 2024-cü il", "12 марта
    2024 г.", "Mainz, den 4. Juni 2024", "2016年1月28日", "5 באפריל 2017", "14 رمضان
    1445 هـ") and, via dateparser, in others; a place or weekday before the date.
    Not a real calendar date ("30 February 2024") and an ambiguous one
    ("05/12/2017" without a language that decides) give None.
    """
    return read_date_line(text, language_hint).date


def read_date(line: str) -> tuple[bool, dt.date | None]:
    """(shaped like a date, the real date or None) for a whole line.

    The first API, kept for callers; :func:`read_date_line` says more.
    """
    reading = read_date_line(line)
    return reading.shaped, reading.date


def read_date_line(line: str, language_hint: str | None = None) -> DateReading:
    """What a whole line says about a date: shaped or not, the date, and what for.

    ``language_hint`` (a BCP 47 tag: the statement's language) decides the order of
    a numeric date like "05/12/2017"; without it, or for a bare "en", such a date is
    ``ambiguous`` unless the line itself is in a language that writes day first.
    Fast for the lines that cannot be dates (one search), since the parser asks
    about every line.
    """
    if len(line) > _MAX_LINE or _HAS_DIGIT.search(line) is None:
        return NOT_A_DATE
    return _read_line(line, language_hint)


@lru_cache(maxsize=4096)
def _read_line(original: str, language_hint: str | None) -> DateReading:
    line = original.translate(_DIGITS)
    # A time of day beside the date ("March 15, 2024 | 14:30") does not change it.
    line = _TIME.sub(" ", line) if ":" in line else line
    line = " ".join(line.split()).strip(" .,;:()[]|·•-–—")
    if not line:
        return NOT_A_DATE
    label = ""
    labelled = _LABEL.match(line)
    if labelled is not None and len(labelled["label"].split()) <= 4:
        label, line = labelled["label"], labelled["rest"].strip(" .,;:()[]|·•")
    if len(line) > _MAX_DATE_LINE:
        return NOT_A_DATE
    found = _read_cjk(line)
    if found is None and "الموافق" in line:
        # "2 ذو القعدة 1445هـ الموافق 10 مايو 2024م": two calendars, one day; the
        # Gregorian one is taken, the Hijri one if it alone is read.
        parts = [_read_date_part(part, "ar") for part in line.split("الموافق", 1)]
        read = [part for part in parts if part is not None]
        read.sort(key=lambda part: (part[0] is None, part[1] != "gregorian"))
        found = read[0] if read else None
    if found is None:
        for candidate, before in _date_candidates(line):
            found = _read_date_part(candidate, _hint(language_hint, original))
            if found is not None:
                label = f"{label} {before}"
                break
    if found is None:
        return NOT_A_DATE
    date, calendar, ambiguous, before = found
    return DateReading(
        True,
        date,
        ambiguous,
        calendar,
        original.strip(),
        _kind(f"{label} {before}"),
    )


#: "GENEVA (5 March 2024) – ", "Baku, 23 February 2024 – ": a dateline that opens
#: the first paragraph, as news agencies and UN press releases write it.
_DATELINE_PREFIX = re.compile(
    r"^(?P<place>[^\W\d_][^\W\d_ .'-]*(?:[ .'-]+[^\W\d_]+){0,3})\s*"
    r"(?:\((?P<paren>[^()]{6,40})\)|,\s*(?P<comma>[^–—()]{6,40}?))\s*[–—-]{1,2}\s+"
)


def read_dateline_prefix(
    line: str, language_hint: str | None = None
) -> tuple[DateReading, int] | None:
    """A dateline opening a paragraph ("GENEVA (5 March 2024) – Experts today ..."):
    its reading (``original`` is the dateline as written) and where the paragraph's
    own text starts; None when the line does not open with one."""
    match = _DATELINE_PREFIX.match(line)
    if match is None:
        return None
    date_part = match["paren"] or match["comma"]
    reading = read_date_line(date_part, language_hint)
    if not reading.shaped:
        return None
    written = line[: match.end()].rstrip(" –—-")
    return DateReading(
        True, reading.date, reading.ambiguous, reading.calendar, written
    ), match.end()


# --------------------------------------------------------------------------- reading

#: (date or None, calendar, ambiguous, the words before the date)
_Found = tuple[dt.date | None, Calendar, bool, str]


def _date_candidates(line: str) -> list[tuple[str, str]]:
    """The line, and the parts a place or weekday may be separated from (by ',' or a
    dash), each with the text before it."""
    candidates = [(line, "")]
    for sep in (",", " – ", " — ", " - ", " | "):
        if sep in line:
            head, tail = line.split(sep, 1)
            last = line.rsplit(sep, 1)[1]
            for part, rest in ((last, line[: -len(last)]), (tail, head), (head, tail)):
                # The other part must be a short place or weekday name, not more text;
                # after the date, a word or two ("23 February 2024, Friday").
                most = 2 if part is head else 4
                if part.strip() and len(rest.split()) <= most and not _HAS_DIGIT.search(rest):
                    before = rest if part is not head else ""
                    candidates.append((part.strip(" .,;:"), before))
    return candidates


def _read_cjk(line: str) -> _Found | None:
    match = _CJK.search(line)
    if match is None:
        return None
    rest = line[: match.start()] + line[match.end() :]
    # A place, a label or a weekday ("（星期五）") may stand beside it; not more text.
    if _HAS_DIGIT.search(rest) or len(rest.strip()) > 16:
        return None
    year_text = match["year"]
    year = 1 if year_text == "元" else int(year_text)
    calendar: Calendar = "gregorian"
    if match["era"]:
        calendar, offset = _ERAS[match["era"]]
        if year not in _YEARS[calendar]:
            return None, calendar, False, rest
        year += offset
    elif year_text == "元" or len(year_text) != 4:
        return None
    return _gregorian(year, int(match["month"]), int(match["day"])), calendar, False, rest


def _read_date_part(text: str, hint: str | None) -> _Found | None:
    numeric = _NUMERIC_YMD.search(text) or _NUMERIC_DMY.search(text)
    if numeric is not None:
        before, after = text[: numeric.start()], text[numeric.end() :]
        if _only_noise(after) and _place_or_noise(before):
            return (*_read_numeric(numeric, hint), before)
        return None
    if _MIXED.search(text):
        return None  # "05/12.2017", "2017.05/12": not one way of writing a date
    if _ARABIC_LETTER.search(text):
        for spaced, joined in _MULTIWORD:
            text = text.replace(spaced, joined)
    tokens = _TOKEN.findall(text)
    kinds = [_token_kind(t) for t in tokens]
    dated = [i for i, kind in enumerate(kinds) if kind in ("number", "month")]
    if not dated:
        return None
    first, last = dated[0], dated[-1]
    place = " ".join(tokens[:first])
    if not all(kind == "noise" for kind in kinds[last + 1 :]) or not _place_or_noise(place):
        return None
    core = [(t, k) for t, k in zip(tokens[first : last + 1], kinds[first : last + 1], strict=True)]
    numbers = [t for t, k in core if k == "number"]
    months = [m for t, k in core if k == "month" and (m := _month(t)) is not None]
    unknown = [t for t, k in core if k == "unknown"]
    years = [n for n in numbers if len(n) == 4]
    days = [n for n in numbers if len(n) <= 2]
    if len(months) == 1 and len(years) == 1 and len(days) == 1 and len(numbers) == 2:
        if unknown:
            return None
        number, calendar = months[0]
        return (*_convert(calendar, int(years[0]), number, int(days[0])), place)
    if (
        not months
        and len(years) == 1
        and int(years[0]) in _YEARS["gregorian"]
        and len(days) == 1
        and len(numbers) == 2
        and len(unknown) == 1
        and len(unknown[0]) >= 3
    ):
        parsed = _dateparser(" ".join(t for t, _k in core))
        if parsed is not None:
            return parsed, "gregorian", False, place
    return None


def _read_numeric(
    numeric: re.Match[str], hint: str | None
) -> tuple[dt.date | None, Calendar, bool]:
    a, sep, b, c = numeric.groups()
    if len(a) == 4:  # year first: always year, month, day
        year = int(a)
        if year not in _YEARS["gregorian"] and hint in ("fa", "ar"):
            # ۱۴۰۳/۰۵/۲۰: Solar Hijri in Persian, Hijri in Arabic
            return _convert("persian" if hint == "fa" else "hijri", year, int(b), int(c))
        return _gregorian(year, int(b), int(c)), "gregorian", False
    first, second, year = int(a), int(b), int(c)
    if first > 12 or second > 12 or first == second or sep == ".":
        # Only one reading, or dots (which nobody writes month first).
        if second > 12 and first <= 12 and sep != ".":
            return _gregorian(year, first, second), "gregorian", False
        return _gregorian(year, second, first), "gregorian", False
    tag = (hint or "").casefold()
    if tag in _MONTH_FIRST:
        return _gregorian(year, first, second), "gregorian", False
    if not tag or tag in _EITHER:
        return None, "gregorian", True
    return _gregorian(year, second, first), "gregorian", False


def _hint(language_hint: str | None, line: str) -> str | None:
    """The statement's language, unless it leaves the order open ("en", none) and the
    line's own words are not English (a label in French, a place in Cyrillic): those
    write numeric dates day first. Persian digits or letters say "fa", other Arabic
    script "ar" (for the calendar of a numeric date)."""
    if _PERSIAN.search(line):
        return "fa"
    if _ARABIC_LETTER.search(line) and not (language_hint or "").startswith(("fa", "ur")):
        return "ar"
    if language_hint and language_hint.casefold().startswith(("fa", "ur")):
        return "fa"
    if (language_hint or "").casefold() in ("", *_EITHER) and any(
        ord(ch) > 0x7F and ch.isalpha() for ch in line
    ):
        return "und"
    return language_hint


def _token_kind(token: str) -> str:
    if token.isdecimal():
        return "number"
    if _month(token) is not None:
        return "month"
    if _fold(token) in _DATE_NOISE:
        return "noise"
    return "unknown"


def _fold(token: str) -> str:
    return token.casefold().replace("i̇", "i")  # Turkish İ


def _month(token: str) -> tuple[int, Calendar] | None:
    folded = _fold(token)
    found = _MONTHS.get(folded)
    if found is None and len(folded) > 2 and folded[0] in "בל":  # Hebrew "באפריל"
        found = _MONTHS.get(folded[1:])
    if found is None and folded.endswith("."):
        found = _MONTHS.get(folded[:-1])
    return found


def _only_noise(text: str) -> bool:
    return all(_fold(t) in _DATE_NOISE for t in _TOKEN.findall(text))


def _place_or_noise(text: str) -> bool:
    """A place or weekday (at most three words, the first capitalised in scripts that
    have capitals) and date words: "Strasbourg", "Paris le", "г. Баку", "Mainz, den";
    or a label without a colon ("опубліковано", "Last updated")."""
    if _HAS_DIGIT.search(text):
        return False
    if len(text) <= 40 and _kind(text) != "date":
        return True
    words = [t for t in _TOKEN.findall(text) if _fold(t) not in _DATE_NOISE]
    if not words:
        return True
    return len(words) <= 3 and not words[0][0].islower()


def _convert(
    calendar: Calendar, year: int, month: int, day: int
) -> tuple[dt.date | None, Calendar, bool]:
    if year not in _YEARS[calendar]:
        return None, calendar, False
    if calendar == "hijri":
        from hijridate import Hijri  # imported only when a statement has a Hijri date

        try:
            day_of = Hijri(year, month, day).to_gregorian()
            return dt.date(day_of.year, day_of.month, day_of.day), calendar, False
        except (ValueError, OverflowError):
            return None, calendar, False
    if calendar == "persian":
        import jdatetime  # type: ignore[import-untyped]  # imported only when a statement has a Solar Hijri date

        try:
            day_of = jdatetime.date(year, month, day).togregorian()
            return dt.date(day_of.year, day_of.month, day_of.day), calendar, False
        except ValueError:
            return None, calendar, False
    return _gregorian(year, month, day), calendar, False


def _gregorian(year: int, month: int, day: int) -> dt.date | None:
    if year not in _YEARS["gregorian"]:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _kind_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    """Words at a word start; short ones also at a word end ("stand" is not "Standort",
    "bild" not "Bildung"). Scripts written without spaces (CJK) match anywhere."""
    parts = []
    for word in words:
        spaced = ord(word[0]) < 0x2E80
        start = r"(?<!\w)" if spaced else ""
        end = r"(?!\w)" if spaced and len(word) <= 5 else ""
        parts.append(start + re.escape(word) + end)
    return re.compile("|".join(parts))


_KIND_PATTERNS = tuple((kind, _kind_pattern(words)) for kind, words in _KIND_WORDS)


def _kind(before: str) -> DateKind:
    text = before.casefold()
    if not text.strip():
        return "date"
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(text):
            return kind
    return "date"


@lru_cache(maxsize=1024)
def _dateparser(text: str) -> dt.date | None:
    """A month name in a language not listed above: ask dateparser (slow to load and to
    run, so last, cached, and imported only when a statement needs it)."""
    import dateparser

    parsed = dateparser.parse(text, languages=_DATEPARSER_LANGUAGES, settings=_DATEPARSER_SETTINGS)
    if isinstance(parsed, dt.datetime) and parsed.year in _YEARS["gregorian"]:
        return parsed.date()
    return None
