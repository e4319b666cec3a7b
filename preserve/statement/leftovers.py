"""Web-page leftovers: site text that scraping brings along with a statement.

Navigation, sharing and archive links, counters, breadcrumbs and genre labels are
recognised only as whole lines at the very start or end of the text, never in the
middle, so statement text is never cut.
"""

from __future__ import annotations

import re

from preserve.statement.sentences import CLOSERS

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
#: Counters and small print: "Views: 120", "Просмотров: 120", "© 2024 ...",
#: "Copyright 2024 ..." (not a sentence that merely starts with "Copyright").
_COUNTER = re.compile(
    r"^(?:views|просмотров|просмотры|baxış(?:ların)? sayı|baxış|դիտումներ|ნახვები|"
    r"المشاهدات|مشاهدات)\s*:?\s*\d+$|^(?:©|\(c\)\s|copyright\s+(?:©|\(c\)|\d{4}))"
    r"|^all rights reserved\.?$",
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


def strip_leftovers(lines: list[str]) -> tuple[list[str], list[str]]:
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
    stripped = following.rstrip(CLOSERS)
    # A title may end in "!" or "?", rarely in a full stop; a first paragraph does.
    return bool(stripped) and stripped[-1] not in ".։。۔"
