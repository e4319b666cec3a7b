"""Tests of preserve.statement.dates: date lines in the project's fourteen languages."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from preserve.statement.dates import (
    DateReading,
    parse_date,
    read_date,
    read_date_line,
    read_dateline_prefix,
)

DAY = dt.date(2024, 2, 23)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # Real failures of the first parser (issue 11)
        ("Strasbourg 29/05/2015", dt.date(2015, 5, 29)),
        ("Paris le 1er juin 2016", dt.date(2016, 6, 1)),
        ("Mainz, den 4. Juni 2024", dt.date(2024, 6, 4)),
        ("2016年1月28日", dt.date(2016, 1, 28)),
        ("יום: 5 באפריל 2017", dt.date(2017, 4, 5)),
        ("Dernière modification : 05/12/2017", dt.date(2017, 12, 5)),
        # ordinals
        ("1er mai 2024", dt.date(2024, 5, 1)),
        ("Berlin, den 4. Juni 2024", dt.date(2024, 6, 4)),
        ("am 4. Juni 2024", dt.date(2024, 6, 4)),
        ("1º de mayo de 2024", dt.date(2024, 5, 1)),
        ("1-го марта 2024 г.", dt.date(2024, 3, 1)),
        ("23rd of February 2024", DAY),
        # CJK, full-width digits, era years, Korean
        ("２０１６年１月２８日", dt.date(2016, 1, 28)),
        ("北京，2016年1月28日", dt.date(2016, 1, 28)),
        ("2016 年 1 月 28 日（星期四）", dt.date(2016, 1, 28)),
        ("令和6年5月1日", dt.date(2024, 5, 1)),
        ("民國113年5月1日", dt.date(2024, 5, 1)),
        ("2024년 2월 23일", DAY),
        # Hebrew, with and without the prefix ב
        ("5 באפריל 2017", dt.date(2017, 4, 5)),
        ("ירושלים, 23 פברואר 2024", DAY),
        ("ה-23 בפברואר 2024", DAY),
        # Arabic and Persian digits and months
        ("٢٣ فبراير ٢٠٢٤", DAY),
        ("۲۳ فوریه ۲۰۲۴", DAY),
        ("تهران، ۲۳ فوریه ۲۰۲۴", DAY),
        ("23 شباط 2024", DAY),
        ("14 كانون الثاني 2024", dt.date(2024, 1, 14)),
        ("الجزائر في 23 فيفري 2024", DAY),
        # Spanish, French, German, Turkish, Azerbaijani
        ("Madrid, a 3 de mayo de 2024", dt.date(2024, 5, 3)),
        ("a 3 de mayo de 2024", dt.date(2024, 5, 3)),
        ("Vendredi 23 février 2024", DAY),
        ("23 fevrier 2024", DAY),
        ("Freitag, 23. Februar 2024", DAY),
        ("23. März 2024", dt.date(2024, 3, 23)),
        ("Ankara, 23 Şubat 2024", DAY),
        ("23 ŞUBAT 2024 Cuma", DAY),
        ("23 NİSAN 2024", dt.date(2024, 4, 23)),
        ("Bakı şəhəri, 23 fevral 2024-cü il", DAY),
        ("2024-cü il 23 fevral", DAY),
        # Russian, Ukrainian genitive months with г./р.
        ("г. Москва, 23 февраля 2024 г.", DAY),
        ("23 лютого 2024 р.", DAY),
        ("Київ, 23 лютого 2024 року", DAY),
        ("23 лютий 2024", DAY),
        # Armenian, Georgian
        ("Երևան, 23 փետրվարի 2024 թ.", DAY),
        ("2024 թ. փետրվարի 23", DAY),
        ("თბილისი, 2024 წლის 23 თებერვალი", DAY),
        # a weekday before the date, with or without a comma
        ("Friday 23 February 2024", DAY),
        ("пятница, 23 февраля 2024", DAY),
        # numeric, labelled, with a time
        ("23.02.2024", DAY),
        ("Date: 2024-02-23", DAY),
        ("Tarix: 23.02.2024", DAY),
        ("23.02.2024, 14:30", DAY),
        ("February 23, 2024 at 2:30 pm", DAY),
        ("Oslo 23-02-2024", DAY),
        # Armenian "on the 5th", a label without a colon and a time after "о"
        ("2024 թվականի փետրվարի 23-ին", DAY),
        ("опубліковано 23 лютого 2024 року о 10:15", DAY),
    ],
)
def test_date_lines(line: str, expected: dt.date) -> None:
    reading = read_date_line(line)
    assert reading.shaped and not reading.ambiguous
    assert reading.date == expected
    assert type(reading.date) is dt.date  # not a calendar library's subclass
    assert reading.original == line


@pytest.mark.parametrize(
    ("line", "expected", "calendar"),
    [
        ("14 رمضان 1445 هـ", dt.date(2024, 3, 24), "hijri"),
        ("الرياض في 1 ذو الحجة 1445هـ", dt.date(2024, 6, 7), "hijri"),
        ("12 ربيع الأول 1446", dt.date(2024, 9, 15), "hijri"),
        ("۴ اسفند ۱۴۰۲", DAY, "persian"),
        ("تاریخ: ۱۴۰۳/۰۵/۲۰", dt.date(2024, 8, 10), "persian"),
        ("1445/09/14", None, "gregorian"),  # no Arabic script: not read as Hijri
        # two calendars on one line: the Gregorian date is taken
        ("2 ذو القعدة 1445هـ الموافق 10 مايو 2024م", dt.date(2024, 5, 10), "gregorian"),
        ("2 ذو القعدة 1445هـ الموافق", dt.date(2024, 5, 10), "hijri"),
        ("تهران، ۲۳ بهمن ۱۴۰۲", dt.date(2024, 2, 12), "persian"),
        ("1 فروردین 1403", dt.date(2024, 3, 20), "persian"),
    ],
)
def test_hijri_and_solar_hijri_dates_are_converted_and_kept_as_written(
    line: str, expected: dt.date, calendar: str
) -> None:
    reading = read_date_line(line)
    assert (reading.date, reading.calendar, reading.original) == (expected, calendar, line)


def test_a_hijri_day_that_does_not_exist_is_reported_not_guessed() -> None:
    reading = read_date_line("30 شعبان 1445 هـ")  # Sha'ban 1445 had 29 days (Umm al-Qura)
    assert reading.shaped and reading.date is None and reading.calendar == "hijri"


@pytest.mark.parametrize(
    ("line", "hint", "expected"),
    [
        ("05/12/2017", "fr", dt.date(2017, 12, 5)),
        ("05/12/2017", "en-GB", dt.date(2017, 12, 5)),
        ("05/12/2017", "en-US", dt.date(2017, 5, 12)),
        ("05/12/2017", "de", dt.date(2017, 12, 5)),
        ("05.12.2017", None, dt.date(2017, 12, 5)),  # dots: day first everywhere
        ("05.12.2017", "en-US", dt.date(2017, 12, 5)),
        ("12/25/2024", None, dt.date(2024, 12, 25)),  # only one reading
        ("25/12/2024", "en-US", dt.date(2024, 12, 25)),
        ("05/05/2017", None, dt.date(2017, 5, 5)),
        ("Genève, 05/12/2017", None, dt.date(2017, 12, 5)),  # not American English
        ("Bakı, 05/12/2017", "en", dt.date(2017, 12, 5)),
    ],
)
def test_numeric_dates_are_ordered_by_language(
    line: str, hint: str | None, expected: dt.date
) -> None:
    assert read_date_line(line, hint).date == expected


@pytest.mark.parametrize(
    ("line", "hint"),
    [
        ("05/12/2017", None),
        ("05/12/2017", "en"),
        ("Oslo 05-12-2017", "en"),
        ("Updated 05/12/2017", None),
        ("Paris, 05/12/2017", None),  # ASCII: could be American English
    ],
)
def test_ambiguous_numeric_dates_give_no_date(line: str, hint: str | None) -> None:
    reading = read_date_line(line, hint)
    assert reading.shaped and reading.ambiguous and reading.date is None
    assert parse_date(line, hint) is None
    assert read_date(line) == (True, None)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("Dernière modification : 05/12/2017", "last-modified"),
        ("Последнее изменение: 5 декабря 2017 г., 14:30", "last-modified"),
        ("Son güncelleme: 23.02.2024", "last-modified"),
        ("Zuletzt aktualisiert am 4. Juni 2024", "last-modified"),
        ("Last updated 23 February 2024", "last-modified"),
        ("更新时间：2016年1月28日", "last-modified"),
        ("آخر تحديث: 23 فبراير 2024", "last-modified"),
        ("Опубликовано: 23.02.2024", "published"),
        ("Published: 23 February 2024", "published"),
        ("发布时间：2016年1月28日", "published"),
        ("Photo: 23.02.2024", "caption"),
        ("Фото: 23.02.2024", "caption"),
        ("Baku, 23 February 2024", "date"),
        ("23 February 2024", "date"),
        ("Date: 23.02.2024", "date"),
    ],
)
def test_what_a_date_line_is_for(line: str, kind: str) -> None:
    reading = read_date_line(line)
    assert reading.shaped and reading.date is not None
    assert reading.kind == kind


@pytest.mark.parametrize(
    "line",
    [
        "05/12.2017",  # mixed separators
        "2017.05/12",
        "05-12/2017",
        "February 2024",
        "Section 2. Visits in 2023",
        "In 2024 we met 12 times",
        "visited on 23 February 2024",  # a sentence, not a place before a date
        "On 23 February 2024 the Commissioner met pupils of a village school.",
        "Page 3 of 12",
        "12:45",
        "Item 12, 2024",
        "",
    ],
)
def test_not_date_lines(line: str) -> None:
    assert read_date_line(line) == DateReading(False)
    assert read_date(line) == (False, None)


@pytest.mark.parametrize(
    "line", ["30 February 2024", "31.04.2024", "2024-02-30", "30 лютого 2024 р.", "2023年2月29日"]
)
def test_a_date_that_does_not_exist_is_reported_not_guessed(line: str) -> None:
    reading = read_date_line(line)
    assert reading.shaped and reading.date is None and not reading.ambiguous


def test_read_date_is_the_first_api() -> None:
    assert read_date("Baku, 23 fevral 2024") == (True, DAY)
    assert parse_date("23 fevral 2024") == DAY


def test_lines_that_cannot_be_dates_are_turned_away_early() -> None:
    """The parser asks about every line: long lines and lines without a digit never
    reach the tables (a cache or table lookup would show up in a profile)."""
    from preserve.statement import dates

    dates._read_line.cache_clear()
    read_date_line("A line without a digit, however it is written")
    read_date_line("x" * 200 + " 23 February 2024")
    assert dates._read_line.cache_info().misses == 0


@pytest.mark.parametrize(
    ("line", "written", "rest"),
    [
        (
            "GENEVA (23 February 2024) – Experts today called on",
            "GENEVA (23 February 2024)",
            "Experts",
        ),
        (
            "Baku, 23 February 2024 – The Office opened a hotline",
            "Baku, 23 February 2024",
            "The Office",
        ),
        ("Paris, 23 février 2024 — Le Défenseur des droits salue", "Paris, 23 février 2024", "Le"),
    ],
)
def test_a_dateline_that_opens_a_paragraph(line: str, written: str, rest: str) -> None:
    found = read_dateline_prefix(line)
    assert found is not None
    reading, end = found
    assert (reading.date, reading.original) == (DAY, written)
    assert line[end:].startswith(rest)
    assert not read_date_line(line).shaped  # the whole line is a paragraph


@pytest.mark.parametrize(
    "line", ["Experts (a group of five) – met today", "GENEVA – Experts met on 23 February 2024"]
)
def test_no_dateline_prefix(line: str) -> None:
    assert read_dateline_prefix(line) is None


MONTHS = {
    "en": "January February March April May June July August September October November December",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
    "diciembre",
    "tr": "Ocak Şubat Mart Nisan Mayıs Haziran Temmuz Ağustos Eylül Ekim Kasım Aralık",
    "az": "yanvar fevral mart aprel may iyun iyul avqust sentyabr oktyabr noyabr dekabr",
    "ru": "января февраля марта апреля мая июня июля августа сентября октября ноября декабря",
    "uk": "січня лютого березня квітня травня червня липня серпня вересня жовтня листопада грудня",
    "he": "ינואר פברואר מרץ אפריל מאי יוני יולי אוגוסט ספטמבר אוקטובר נובמבר דצמבר",
    "ar": "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر",
}
FORMS = {
    "en": ["{d} {m} {y}", "{m} {d}, {y}", "London, {d} {m} {y}"],
    "fr": ["Paris, le {d} {m} {y}", "{d} {m} {y}"],
    "de": ["Mainz, den {d}. {m} {y}", "{d}. {m} {y}"],
    "es": ["Madrid, a {d} de {m} de {y}", "{d} de {m} de {y}"],
    "tr": ["Ankara, {d} {m} {y}", "{d} {m} {y}"],
    "az": ["Bakı, {d} {m} {y}-ci il", "{d} {m} {y}"],
    "ru": ["г. Москва, {d} {m} {y} г.", "{d} {m} {y} года"],
    "uk": ["Київ, {d} {m} {y} р.", "{d} {m} {y} року"],
    "he": ["{d} ב{m} {y}", "ירושלים, {d} ב{m} {y}"],
    "ar": ["{d} {m} {y}", "الرياض في {d} {m} {y}م"],
}


@settings(max_examples=400, deadline=None)
@given(
    day=st.dates(dt.date(1990, 1, 1), dt.date(2100, 12, 31)),
    language=st.sampled_from(sorted(FORMS)),
    form=st.integers(0, 2),
)
def test_dates_written_in_each_language_read_back(day: dt.date, language: str, form: int) -> None:
    template = FORMS[language][form % len(FORMS[language])]
    month = MONTHS[language].split()[day.month - 1]
    line = template.format(d=day.day, m=month, y=day.year)
    assert read_date_line(line, language).date == day, line


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
@example("٢٣/٠٢/٢٠٢٤")
@example("令和99年99月99日")
@example("0/0/0000")
def test_any_line_is_read_without_error(line: str) -> None:
    reading = read_date_line(line)
    assert isinstance(reading, DateReading)
    assert reading.date is None or 1900 <= reading.date.year <= 2100


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("Stand: 3. Mai 2024", "last-modified"),
        ("Aufgenommen am 2. Mai 2024", "caption"),
        ("Standort Mainz, 4. Juni 2024", "date"),  # "stand" only as a word
        ("Bildungsministerium, 4. Juni 2024", "date"),  # "bild" only as a word
        ("本页更新时间：2024年5月3日", "last-modified"),  # no spaces in Chinese
    ],
)
def test_kind_words_are_whole_words_where_words_are_spaced(line: str, kind: str) -> None:
    assert read_date_line(line, None).kind == kind
