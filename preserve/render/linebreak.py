"""Where a line may break: the Unicode line breaking algorithm (UAX #14), via ICU.

Chinese, Japanese, Thai and Khmer are written without spaces between words, so a
paragraph cannot be wrapped at spaces alone. ICU's line break iterator implements
UAX #14 with the CJK rules (a break may fall between two ideographs, never before
closing punctuation such as 。」、 or after opening punctuation such as 「), and
finds word boundaries in Thai, Lao, Khmer and Burmese with its dictionaries. ICU
comes from the ``icu4py`` wheel (ICU4C bundled), imported on first use only, so
statements in spaced scripts that never need it do not pay for loading it.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

#: Scripts written without spaces between words, where breaking only at spaces would
#: leave a whole sentence (or paragraph) as one unbreakable word.
_UNSPACED = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),  # Khmer symbols
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3000, 0x33FF),  # CJK punctuation, kana, bopomofo, enclosed, compatibility
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF00, 0xFFEF),  # half- and full-width forms
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)


def needs_dictionary(text: str) -> bool:
    """True when ``text`` has characters of a script written without spaces between words."""
    for ch in text:
        code = ord(ch)
        if code < 0x0E00:
            continue
        if any(lo <= code <= hi for lo, hi in _UNSPACED):
            return True
    return False


def _locale(language: str | None) -> str:
    """ICU locale id for a BCP 47 tag: only the primary language matters for line breaks."""
    if not language:
        return "und"
    primary = language.replace("_", "-").split("-")[0].lower()
    return primary if primary.isascii() and primary.isalpha() else "und"


def break_opportunities(text: str, language: str | None = None) -> list[int]:
    """Offsets ``i`` (0 < i < len(text), code points) where a line may break before ``text[i]``.

    A break after a space is reported at the first character after the spaces, as UAX #14
    does; mandatory breaks (after a line feed) are included. ``language`` (a BCP 47
    tag) selects ICU's locale-specific tailoring; ``None`` uses the root rules.
    """
    return list(_breaks(text, _locale(language)))


@lru_cache(maxsize=1 << 12)
def _breaks(text: str, locale: str) -> tuple[int, ...]:
    if len(text) < 2:
        return ()
    from icu4py.breakers import LineBreaker  # lazy: ~12 ms and 30 MB of ICU data

    # ICU reports UTF-16 offsets; map them back to code point offsets.
    utf16_to_index: dict[int, int] = {}
    unit = 0
    for index, ch in enumerate(text):
        utf16_to_index[unit] = index
        unit += 2 if ord(ch) > 0xFFFF else 1
    out: list[int] = []
    for _start, end in LineBreaker(text, locale).segments():
        at = utf16_to_index.get(end)
        if at is not None and 0 < at < len(text):
            out.append(at)
    return tuple(_never_before_mark(text, out))


def _never_before_mark(text: str, offsets: list[int]) -> list[int]:
    """Drop offsets that would separate a combining mark from its base (defensive: ICU
    already keeps grapheme clusters whole)."""
    return [i for i in offsets if not unicodedata.category(text[i]).startswith("M")]
