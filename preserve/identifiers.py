"""Readable identifiers for statements, in every script.

An identifier is organization (or signer), date and title, transliterated to
lowercase ASCII so it is safe as a folder name on every OS and in every URL.
python-slugify (text-unidecode) transliterates Latin, Cyrillic, Greek, Armenian
and Georgian as it always has, so identifiers already issued stay the same; the
scripts it made unreadable are transliterated here first:

- Arabic and Persian, and Hebrew: letter by letter by the common simplified
  romanisations (no diacritics), with the long-vowel letters read as vowels
  between consonants and the article as "al-": ديوان المظالم → diwan al-mzalim
  where unidecode gave dywn-lmzlm. No library does better without a dictionary
  (short vowels are not written); anyascii drops alif, uroman takes 3 s to load.
- Chinese: pinyin by pypinyin, which reads each character in its word (重庆 is
  chong-qing, 银行 yin-hang), where unidecode reads characters alone.
- Japanese kana and Korean hangul: anyascii (Hepburn-like romaji; Revised
  Romanization syllable by syllable). Kanji in Japanese text have no reading
  without a dictionary: they are left out, and a title that is left with nothing
  gets a digest (as before).

The libraries are imported only when a title in their script appears.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from slugify import slugify

from preserve.errors import FieldProblem

#: Names Windows will not accept as a file or folder name, with or without an extension.
WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"] + [f"com{i}" for i in range(10)] + [f"lpt{i}" for i in range(10)]
)

#: Longest derived identifier; leaves room under the schema's 120 and keeps paths short.
IDENTIFIER_MAX = 80


def derive_identifier(record: Mapping[str, Any]) -> str:
    """A stable, readable identifier: organization (or signer), date, title.

    Transliterated to ASCII lowercase so it is safe as a directory name on every
    OS and in every URL. A title cut to fit gets six hex digits of its digest, and
    one with no Latin transliteration is replaced by a digest, so that different
    titles (of one organization, on one date) give different identifiers.
    """
    creator = record.get("creator") if isinstance(record.get("creator"), dict) else {}
    who = (
        (creator or {}).get("organization")
        or record.get("publisher")
        or (creator or {}).get("name")
        or "statement"
    )
    parts = [_slug(str(who), 40, drop_stop_words=True) or "statement"]
    date = record.get("date_issued")
    if isinstance(date, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        parts.append(date)
    title = str(record.get("title") or "")
    digest = hashlib.sha256(title.encode()).hexdigest()
    budget = IDENTIFIER_MAX - sum(len(p) + 1 for p in parts)
    title_slug = _slug(title, budget)
    if not title_slug:
        title_slug = digest[:10]
    elif title_slug != _slug(title, len(title) * 8):
        # Cut short: two long titles that share their first words must still differ.
        title_slug = f"{_slug(title, budget - 7)}-{digest[:6]}"
    parts.append(title_slug)
    return "-".join(parts)


#: Short words a slug can do without (after transliteration): dropped from the
#: organization's name, and never left dangling at the end of a cut title.
STOP_WORDS = frozenset(
    [
        *("a", "an", "and", "at", "by", "for", "from", "in", "into", "of", "on", "or", "the"),
        *("to", "with"),  # English
        *("ve", "ile", "ucun", "uzre"),  # Azerbaijani, transliterated
        *("i", "v", "vo", "na", "po", "dlia", "dlya", "s", "so", "k", "o", "ob", "ot"),  # Russian
        *("al", "wa", "fi", "li", "min"),  # Arabic, transliterated
    ]
)


#: Letters the transliteration table lacks or gets wrong, and apostrophes that
#: would otherwise split a word ("Ombudsman's" → "ombudsmans").
SLUG_REPLACEMENTS = [["'", ""], ["\u2019", ""], ["ə", "e"], ["Ə", "E"]]


def _slug(text: str, max_length: int, *, drop_stop_words: bool = False) -> str:
    """ASCII slug cut at a word boundary (whole words, in order, no dangling 'of-the')."""
    slug: str = slugify(transliterate(text), lowercase=True, replacements=SLUG_REPLACEMENTS)
    words = [w for w in slug.split("-") if w]
    if drop_stop_words and any(w not in STOP_WORDS for w in words):
        words = [w for w in words if w not in STOP_WORDS]
    kept: list[str] = []
    for word in words:
        if len("-".join([*kept, word])) > max_length:
            break
        kept.append(word)
    if not kept and words and max_length > 0:
        return words[0][:max_length]
    while len(kept) > 1 and kept[-1] in STOP_WORDS:
        kept.pop()
    return "-".join(kept)


def identifier_problems(identifier: object) -> list[FieldProblem]:
    """Checks the schema's pattern cannot express: Windows names and dot segments."""
    if not isinstance(identifier, str):
        return []
    problems = []
    stem = identifier.split(".")[0]
    if stem in WINDOWS_RESERVED:
        problems.append(
            FieldProblem(
                "identifier",
                f"'{identifier}' is a reserved device name on Windows and cannot be a folder name",
            )
        )
    return problems


# --------------------------------------------------------------------------- transliteration

#: Arabic-script letters (Arabic and Persian), by the common simplified romanisation.
_ARABIC = {
    "ا": "a", "أ": "a", "إ": "i", "آ": "a", "ٱ": "a", "ء": "", "ؤ": "u", "ئ": "i",
    "ب": "b", "ت": "t", "ث": "th", "ج": "j", "ح": "h", "خ": "kh", "د": "d", "ذ": "dh",
    "ر": "r", "ز": "z", "س": "s", "ش": "sh", "ص": "s", "ض": "d", "ط": "t", "ظ": "z",
    "ع": "", "غ": "gh", "ف": "f", "ق": "q", "ك": "k", "ل": "l", "م": "m", "ن": "n",
    "ه": "h", "ة": "a", "و": "w", "ي": "y", "ى": "a", "پ": "p", "چ": "ch", "ژ": "zh",
    "ک": "k", "گ": "g", "ی": "y", "ۀ": "e", "ھ": "h", "ے": "e", "ٹ": "t", "ڈ": "d",
    "ڑ": "r", "ں": "n",
}  # fmt: skip
#: Hebrew letters (final forms too), by the common simplified romanisation.
_HEBREW = {
    "א": "", "ב": "v", "ג": "g", "ד": "d", "ה": "h", "ו": "v", "ז": "z", "ח": "kh",
    "ט": "t", "י": "y", "כ": "kh", "ך": "kh", "ל": "l", "מ": "m", "ם": "m", "נ": "n",
    "ן": "n", "ס": "s", "ע": "", "פ": "f", "ף": "f", "צ": "ts", "ץ": "ts", "ק": "k",
    "ר": "r", "ש": "sh", "ת": "t",
}  # fmt: skip
#: Consonant letters that are read as a vowel between consonants: Arabic و ي ی
#: (u, i), Hebrew ו י (o, i).
_VOWEL_LETTERS = {"و": "u", "ي": "i", "ی": "i", "ו": "o", "י": "i"}
#: Hebrew letters read differently at the start of a word: ב b, כ k, פ p, and the
#: silent letters as a.
_ALIFS = frozenset("اآأإٱ")
_HEBREW_INITIAL = {"ב": "b", "כ": "k", "פ": "p", "א": "a", "ע": "a"}
_NOT_SLUGIFY = re.compile(
    "[\u0590-\u05ff\u0600-\u06ff\u0750-\u077f\ufb1d-\ufdff\ufe70-\ufeff"
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u1100-\u11ff]"
)
_RUN = re.compile(
    "(?P<semitic>[\u0590-\u05ff\u0600-\u06ff\u0750-\u077f\ufb1d-\ufdff\ufe70-\ufeff]+)"
    "|(?P<han>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)"
    "|(?P<other>[\u3040-\u30ff\uac00-\ud7af\u1100-\u11ff]+)"
)
_KANA = re.compile("[\u3040-\u30ff]")
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_HANGUL = re.compile("[\uac00-\ud7af\u1100-\u11ff]")


def transliterate(text: str) -> str:
    """Text with its Arabic, Persian, Hebrew, Chinese, Japanese and Korean words in
    Latin letters; everything else (Latin, Cyrillic, Greek, Armenian, Georgian) as it
    was, for python-slugify to transliterate as before."""
    if _NOT_SLUGIFY.search(text) is None:
        return text
    # Japanese with kanji has no reading without a dictionary: none of it is
    # transliterated (rather than kana particles alone), so a title of nothing else
    # gets a digest.
    kana = _KANA.search(text) is not None
    kanji_with_kana = kana and _HAN.search(text) is not None

    def replace(match: re.Match[str]) -> str:
        run = match.group()
        if match["semitic"]:
            return " ".join(_semitic_word(word) for word in re.split("[\u200c\u0640]", run))
        if kanji_with_kana and not _HANGUL.search(run):
            return " "
        if match["han"]:
            return f" {_pinyin(run)} "
        from anyascii import anyascii

        return f" {anyascii(run)} "

    return _RUN.sub(replace, text)


def _semitic_word(word: str) -> str:
    """One Arabic, Persian or Hebrew word, letter by letter (marks and points dropped)."""
    out: list[str] = []
    if word[:2] in ("ال", "ٱل") and len(word) > 3:
        out.append("al-")
        word = word[2:]
    letters = [ch for ch in word if ch in _ARABIC or ch in _HEBREW]
    vowel_before = True  # the start of a word counts as a vowel: و ي stay w y there
    for i, ch in enumerate(letters):
        after = letters[i + 1] if i + 1 < len(letters) else ""
        if ch in _VOWEL_LETTERS and not vowel_before and after not in _ALIFS:
            # After a consonant and not before alif: a long vowel (ديوان diwan, حقوق
            # hquq); w/y/v at the start of a word, after a vowel and before alif.
            out.append(_VOWEL_LETTERS[ch])
            vowel_before = True
            continue
        if ch in _HEBREW:
            if i == 0 and ch in _HEBREW_INITIAL:
                out.append(_HEBREW_INITIAL[ch])
            elif ch == "ה" and not after:
                out.append("a")  # final he: a vowel
            else:
                out.append(_HEBREW[ch])
        else:
            out.append(_ARABIC[ch])
        vowel_before = ch in _ALIFS
    return "".join(out)


def _pinyin(run: str) -> str:
    from pypinyin import lazy_pinyin

    return " ".join(lazy_pinyin(run, v_to_u=True))
