"""The main language of a statement, as a BCP 47 tag.

Scripts used by one language decide at once; py3langid (imported only when needed)
decides the rest.
"""

from __future__ import annotations

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
