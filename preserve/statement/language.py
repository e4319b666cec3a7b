"""The main language of a statement, as a BCP 47 tag, with how sure that is.

Scripts used by one language decide at once; letters only one language of a script
has decide next (Ukrainian і ї є ґ, Azerbaijani ə); py3langid (imported only when
needed, with normalised probabilities) decides the rest, and a low probability
leaves the language blank rather than wrong.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import re
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from preserve.user_cache import cache_folder, trusted

_SCRIPT_LANGUAGES: tuple[tuple[str, tuple[tuple[int, int], ...]], ...] = (
    ("hy", ((0x0530, 0x058F), (0xFB13, 0xFB17))),
    ("ka", ((0x10A0, 0x10FF), (0x2D00, 0x2D2F), (0x1C90, 0x1CBF))),
    ("he", ((0x0590, 0x05FF),)),
    ("el", ((0x0370, 0x03FF),)),
)
_ARABIC = ((0x0600, 0x06FF), (0x0750, 0x077F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))
_CYRILLIC = ((0x0400, 0x04FF),)
_HAN = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
_KANA = ((0x3040, 0x30FF),)
_HANGUL = ((0xAC00, 0xD7AF), (0x1100, 0x11FF))
#: Letters of Persian not used in Arabic (پ چ ژ گ and the Persian yeh and kaf).
_PERSIAN_LETTERS = set("پچژگیک")
_UKRAINIAN_LETTERS = set("іїєґІЇЄҐ")
_RUSSIAN_LETTERS = set("ыэъёЫЭЪЁ")
#: Below this probability the classifier's answer is not taken.
MIN_PROBABILITY = 0.5


@cache
def _script_pattern(ranges: tuple[tuple[int, int], ...]) -> re.Pattern[str]:
    return re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in ranges) + "]")


_NON_LETTER = re.compile(r"[\W\d_]+")


def _letters(text: str) -> int:
    """How many of the text's characters are letters (not digits, marks of punctuation...)."""
    return len(text) - sum(len(m) for m in _NON_LETTER.findall(text))


def _share(text: str, ranges: tuple[tuple[int, int], ...], letters: int | None = None) -> float:
    """The share of the text's letters that are in the given code point ranges
    (``letters``: :func:`_letters` of the text, when the caller has counted them)."""
    if letters is None:
        letters = _letters(text)
    if letters <= 0:
        return 0.0
    inside = len(_script_pattern(ranges).findall(text))
    return min(1.0, inside / letters)


def identify_language(text: str) -> str | None:
    """BCP 47 tag of the text's main language, or None when not sure (see below)."""
    return identify_language_confidence(text)[0]


def identify_language_confidence(text: str) -> tuple[str | None, float]:
    """(BCP 47 tag or None, confidence 0..1) of the text's main language.

    Scripts used by one language decide at once (Armenian, Georgian, Hebrew, Greek;
    Han is tagged ``zh``, with kana ``ja``); Cyrillic with і/ї/є/ґ is Ukrainian,
    with ы/э/ъ/ё Russian; otherwise py3langid, a trained classifier, decides, and
    below :data:`MIN_PROBABILITY` the tag is None. Azerbaijani in Latin script is
    tagged ``az-Latn``, since Azerbaijani is also written in Cyrillic and Arabic.
    """
    sample = text[:20000]
    if not any(ch.isalpha() for ch in sample):
        return None, 0.0
    counted = _letters(sample)  # once: each script's share divides by it
    for tag, ranges in _SCRIPT_LANGUAGES:
        if _share(sample, ranges, counted) > 0.5:
            return tag, 1.0
    if _share(sample, _KANA, counted) > 0.1:
        return "ja", 0.9
    if _share(sample, _HANGUL, counted) > 0.5:
        return "ko", 1.0
    if _share(sample, _HAN, counted) > 0.5:
        return _chinese_script(sample), 1.0
    if _share(sample, _ARABIC, counted) > 0.5:
        lang, probability = _langid(sample)
        if lang in {"fa", "ur", "ps", "ku", "ug", "sd"}:
            return (lang, probability) if probability >= MIN_PROBABILITY else (None, probability)
        if lang != "ar" and _PERSIAN_LETTERS & set(sample):
            return "fa", 0.7
        return "ar", max(probability, 0.7)
    if _share(sample, _CYRILLIC, counted) > 0.5:
        letters = set(sample)
        ukrainian, russian = bool(_UKRAINIAN_LETTERS & letters), bool(_RUSSIAN_LETTERS & letters)
        if ukrainian and not russian:
            return "uk", 0.95
        if russian and not ukrainian:
            lang, probability = _langid(sample)
            if lang == "az" or "ә" in letters or "Ә" in letters:
                return "az-Cyrl", probability
            return (
                ("ru", 0.95)
                if lang not in {"be", "kk", "ky", "tt", "ba", "mn"}
                else (
                    lang,
                    probability,
                )
            )
    lang, probability = _langid(sample)
    if lang == "az" or (lang in {"tr", "tk", "uz"} and ("ə" in sample or "Ə" in sample)):
        lang = "az-Cyrl" if _share(sample, _CYRILLIC, counted) > 0.5 else "az-Latn"
        return lang, max(probability, 0.9 if "ə" in sample or "Ə" in sample else probability)
    if probability < MIN_PROBABILITY:
        return None, probability
    return lang, probability


def _chinese_script(text: str) -> str:
    """``zh-Hant`` for Traditional characters, else ``zh`` (Simplified is assumed).

    The script decides fonts and search normalisation; hanzidentifier knows which
    characters exist in only one of the two.
    """
    import hanzidentifier

    return "zh-Hant" if hanzidentifier.identify(text) == hanzidentifier.TRADITIONAL else "zh"


@cache
def _identifier() -> Any:
    """py3langid's classifier, from an uncompressed, memory-mapped copy of its model
    when one can be kept.

    The model ships LZMA-compressed (4.5 MB to 68 MB): decompressing it costs ~0.7 s
    on every command that classifies a language, and even an uncompressed ``.npz``
    is read whole (``np.load`` cannot map a zip member). Its arrays are kept once as
    ``.npy`` files in the user's cache folder (named by the compressed file's
    SHA-256, so an upgraded model is never mixed up) and memory-mapped after that
    (~0.02 s): only the pages a text's features touch are read. Without a writable
    cache the model is loaded as py3langid does.
    """
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    try:
        return _from_cached_model(LanguageIdentifier, MODEL_DIR / MODEL_FILE)
    except (OSError, ValueError, KeyError, ImportError):
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


#: The model's arrays, one ``.npy`` file each in the cache folder.
_ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")


def _from_cached_model(identifier: Any, packed: Path) -> Any:
    import numpy as np

    digest = hashlib.sha256(packed.read_bytes()).hexdigest()[:16]
    cache = cache_folder()
    if cache is None:
        raise OSError("no cache folder of the user's own")  # the caller reads the model
    folder = cache / f"py3langid-{digest}"
    if not os.path.lexists(folder):
        _unpack_model(packed, folder)
    if cache_folder(folder.name, create=False) is None or not all(
        trusted(folder / f"{name}.npy") for name in _ARRAYS
    ):
        raise OSError(f"{folder} is not the user's own")  # never loaded: read the model
    data = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _ARRAYS}
    # The DFA tables are walked one byte at a time: a memoryview indexes them like
    # py3langid's array.array, without copying the 39 MB table into one.
    return identifier(
        data["ptc"],
        np.asarray(data["pc"]),
        data["classes"].tolist(),
        memoryview(data["nextmove"]),
        data["out_feat"].tolist(),
        norm_probs=True,
        tk_row=memoryview(data["nextmove_row"]),
    )


def _unpack_model(packed: Path, folder: Path) -> None:
    """Decompress the model into ``folder`` as ``.npy`` files (a temporary folder
    renamed into place, so a half-written copy is never read)."""
    import numpy as np

    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".part-"))
    try:
        with tempfile.TemporaryFile(dir=work) as tmp:
            with lzma.open(packed) as src:
                shutil.copyfileobj(src, tmp, length=1 << 20)
            tmp.seek(0)
            with np.load(tmp, allow_pickle=False) as npz:
                for name in _ARRAYS:
                    np.save(work / f"{name}.npy", npz[name], allow_pickle=False)
        try:
            os.rename(work, folder)
        except OSError:
            if not folder.is_dir():  # another process may have put it there first
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


#: The classifier reads this much: a few thousand characters decide a language
#: surely, and the time grows with the length.
_CLASSIFIED = 6000


def _langid(text: str) -> tuple[str, float]:
    lang, probability = _identifier().classify(text[:_CLASSIFIED])
    return str(lang), float(probability)
