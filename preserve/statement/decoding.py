"""Bytes as received into text: UTF-8 at once, legacy encodings when sure, then normalise.

The checks run before anything else so that bad input is named precisely; the
decoded and normalised text is only ever derived, the original bytes stay as they
were. UTF-8 (with or without a BOM) and UTF-16/32 with a BOM are taken as they are;
other bytes go to charset-normalizer, whose candidates are weighed by the language
their text is in (py3langid) and by whether that language was ever written in that
encoding, and a statement whose encoding is not clear is refused, naming the
likely candidates and ``--encoding``, rather than decoded wrongly.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from preserve.errors import InputError

#: Statements larger than this are refused: a press release is a few pages, and
#: a limit keeps a hostile or mistaken input (a disk image, a log) out of memory.
MAX_STATEMENT_BYTES = 2 * 1024 * 1024

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


@dataclass(frozen=True)
class Decoded:
    """A statement's text and the encoding it was read in."""

    #: The decoded text (BOM removed), not yet normalised.
    text: str
    #: Python codec name of the encoding: "utf-8", "cp1251", "utf-16", ...
    encoding: str
    #: 1.0 for UTF-8, a BOM or an encoding given by the user; for a detected legacy
    #: encoding, how sure the detection is (at least ``MIN_CONFIDENCE``).
    confidence: float


#: Below this a detected encoding is refused. Measured (tests/test_decoding.py):
#: a paragraph in the legacy encodings of the 14 languages and of Chinese, Japanese,
#: Korean, Greek and Polish scores 0.91-1.0, the best wrong reading 0-0.92; a word or
#: two ("Café", "The Office wörks.") 0.2-0.7.
MIN_CONFIDENCE = 0.8
#: The best candidate must beat the next one (with a different text) by this much:
#: the closest right/wrong pairs measured were 0.08 (Greek) and 0.09 (Arabic with
#: English); English and Russian in one short paragraph (0.015) are refused.
MIN_MARGIN = 0.05
#: A text of fewer letters than this is too short to tell its encoding by: refused
#: ("Привет" in cp1251 reads as fluent Hebrew in cp1255).
MIN_LETTERS = 20
#: Detected encodings are chosen among these: the legacy encodings statements come
#: in (Windows and ISO code pages, KOI8, the CJK national encodings). Leaving out
#: DOS and Mac code pages and EBCDIC keeps the detector from choosing them for
#: Western text, which it otherwise does (cp850, cp037).
LEGACY_ENCODINGS = (
    "cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257",
    "latin_1", "iso8859_2", "iso8859_5", "iso8859_6", "iso8859_7", "iso8859_8",
    "iso8859_9", "iso8859_13", "iso8859_15", "koi8_r", "koi8_u",
    "gb18030", "big5", "cp932", "shift_jis", "euc_jp", "cp949", "euc_kr",
)  # fmt: skip
#: The encodings each language was written in before UTF-8: a candidate whose text
#: is in a language never written in its encoding (French read as cp1250) is not one.
_WESTERN = ("cp1252", "latin_1", "iso8859_15")
_CENTRAL = ("cp1250", "iso8859_2")
_CYRILLIC = ("cp1251", "koi8_r", "koi8_u", "iso8859_5")
_LANGUAGE_ENCODINGS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        "en fr de es it pt nl da sv no nb nn fi is ga ca eu gl af id ms sw la lb oc wa br "
        "et".split(),
        _WESTERN,
    ),
    **dict.fromkeys("pl cs sk hu sl hr bs sr ro sq".split(), _CENTRAL),
    **dict.fromkeys("ru uk be bg mk kk ky mn tg".split(), _CYRILLIC),
    **dict.fromkeys("tr az ku".split(), ("cp1254", "iso8859_9")),
    **dict.fromkeys("lt lv".split(), ("cp1257", "iso8859_13")),
    "et": ("cp1257", "iso8859_13", *_WESTERN),
    **dict.fromkeys("ar ary arz acm apc ajp".split(), ("cp1256", "iso8859_6")),
    **dict.fromkeys("fa ur ps sd ug ckb".split(), ("cp1256",)),
    "he": ("cp1255", "iso8859_8"),
    "el": ("cp1253", "iso8859_7"),
    **dict.fromkeys("zh yue wuu lzh".split(), ("gb18030", "big5")),
    "ja": ("cp932", "shift_jis", "euc_jp"),
    "ko": ("cp949", "euc_kr"),
}
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: Control characters a text statement never holds (tab, LF, CR and FF it may):
#: C0 but those four, DEL, and all of C1 (U+0080-U+009F, which appear when cp1252
#: bytes are read as Latin-1).
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def decode_bytes(
    data: bytes, path: Path | str | None = None, encoding: str | None = None
) -> Decoded:
    """Decode a statement as received, refusing what cannot be read for sure.

    ``encoding`` (the ``--encoding`` option) decodes strictly in that encoding and
    reports the first byte that does not decode. Without it: UTF-8 (BOM or not),
    UTF-16/32 with a BOM, else a detected legacy encoding, or an InputError naming
    the likely candidates. Control characters (C0 but tab, LF, CR, FF; all of C1)
    in the text are refused with the first one's position.
    """
    if len(data) > MAX_STATEMENT_BYTES:
        raise InputError(
            f"statement is {len(data):,} bytes; the limit is {MAX_STATEMENT_BYTES:,} bytes",
            path,
        )
    if encoding is not None:
        decoded = _decode_as(data, _codec(encoding, path), path)
    else:
        decoded = _decode_detected(data, path)
    _check_text(decoded.text, path)
    return decoded


def decode_statement(
    data: bytes, path: Path | str | None = None, encoding: str | None = None
) -> str:
    """Decode bytes as received into text (see :func:`decode_bytes`, which also says
    which encoding was used)."""
    return decode_bytes(data, path, encoding).text


def _codec(encoding: str, path: Path | str | None) -> str:
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"unknown encoding '{encoding}' (given with --encoding)", path) from None
    if not info._is_text_encoding:  # base64, rot13 ...
        raise InputError(f"'{encoding}' is not a text encoding (given with --encoding)", path)
    name = info.name
    # utf-8 and utf-16/32 given by the user still lose their BOM.
    return {"utf-8": "utf-8-sig", "utf-16-le": "utf-16-le", "utf-32-le": "utf-32-le"}.get(
        name, name
    )


def _decode_as(
    data: bytes, codec: str, path: Path | str | None, confidence: float = 1.0
) -> Decoded:
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        name = codec.removesuffix("-sig").upper() if codec.startswith("utf") else codec
        raise InputError(
            f"not valid {name}: byte 0x{data[exc.start]:02x} at offset {exc.start} (line {line})"
            + (
                "; save the statement as UTF-8 or give its encoding with --encoding"
                if codec == "utf-8-sig"
                else ""
            ),
            path,
        ) from None
    if codec.startswith(("utf-16", "utf-32")):
        text = text.removeprefix("\ufeff")
    return Decoded(text, "utf-8" if codec == "utf-8-sig" else codec, confidence)


def _decode_detected(data: bytes, path: Path | str | None) -> Decoded:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _decode_as(data, codec, path)
    if b"\x00" in data:
        raise InputError(
            "looks like a binary file (it contains NUL bytes), not a text statement"
            " (UTF-16 or UTF-32 without a BOM? give it with --encoding)",
            path,
        )
    try:
        return Decoded(data.decode("utf-8"), "utf-8", 1.0)
    except UnicodeDecodeError as exc:
        bad = exc.start
    if _looks_binary(data):
        raise InputError("looks like a binary file, not a text statement", path)
    scored = _candidates(data)
    best = scored[0] if scored else None
    letters = sum(1 for ch in best[2] if ch.isalpha()) if best is not None else 0
    runner_up = scored[1][0] if len(scored) > 1 else 0.0
    if (
        best is not None
        and letters >= MIN_LETTERS
        and best[0] >= MIN_CONFIDENCE
        and best[0] - runner_up >= MIN_MARGIN
    ):
        return Decoded(best[2], best[1], round(best[0], 3))
    line = data[:bad].count(b"\n") + 1
    if letters < MIN_LETTERS:
        why = f"its {letters} letters are too few to tell its encoding"
    else:
        why = "its encoding is not clear"
    names = ", ".join(f"{enc} ({score:.2f})" for score, enc, _text in scored[:3]) or "none found"
    raise InputError(
        f"not valid UTF-8 (byte 0x{data[bad]:02x} at offset {bad}, line {line}) and {why}: "
        f"likely {names}; give the encoding with --encoding NAME or save the statement as UTF-8",
        path,
    )


def _looks_binary(data: bytes) -> bool:
    controls = sum(data.count(bytes([c])) for c in (*range(1, 9), *range(14, 27), *range(28, 32)))
    return controls > max(3, len(data) // 100)


def _candidates(data: bytes) -> list[tuple[float, str, str]]:
    """(score, encoding, text) for each distinct text the detector finds, best first.

    A candidate's score is the share of the language identifier's probability that
    goes to languages once written in one of the encodings giving that text, less
    the detector's measure of mess (chaos)."""
    from charset_normalizer import from_bytes

    identifier = _language_identifier()
    seen: dict[str, tuple[float, str, str]] = {}
    for match in from_bytes(data, cp_isolation=list(LEGACY_ENCODINGS)):
        text = str(match)
        if text in seen or match.chaos > 0.2 or _CONTROL.search(text):
            continue  # (Latin-1 reads cp1252's quotes and dashes as C1 controls)
        encodings = {match.encoding, *match.could_be_from_charset}
        sample = text[:4000]
        share = sum(
            float(prob)
            for lang, prob in identifier.rank(sample)
            if encodings & set(_LANGUAGE_ENCODINGS.get(lang, ()))
        )
        encoding = next((e for e in LEGACY_ENCODINGS if e in encodings), match.encoding)
        score = share * (1.0 - match.chaos) * _case_plausibility(sample)
        seen[text] = (max(0.0, score), encoding, text)
    return sorted(seen.values(), key=lambda c: -c[0])


_WORD = re.compile(r"[^\W\d_]{2,}")


def _case_plausibility(text: str) -> float:
    """The share of words whose letter case a writer would use: lower, Title, or
    CAPITALS when capitals are not most of the text. Bytes read in the wrong code
    page of a cased script come out as "пОЛЕ" or as capitals throughout (Hebrew
    read as KOI8-R), which language identification alone takes for Russian."""
    good = caps = bad = 0
    for word in _WORD.findall(text):
        if word.islower() or word.istitle():
            good += 1
        elif word.isupper():
            caps += 1
        elif any(ch.isupper() or ch.islower() for ch in word):
            bad += 1
        else:
            good += 1  # an uncased script
    total = good + caps + bad
    if not total:
        return 1.0
    return (good + (caps if caps * 2 < total else 0)) / total


@cache
def _language_identifier() -> Any:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


#: The most combining marks (non-starters) one character may carry: Unicode's
#: Stream-Safe Text Format (UAX #15) allows 30. One letter with a million marks
#: ("Zalgo" text) made HarfBuzz run out of memory; no script needs more than a few.
MAX_COMBINING_MARKS = 30


#: Characters of canonical combining class other than 0 (non-starters), as ranges of
#: hexadecimal code points (Unicode 14, Python 3.11's unicodedata; a test keeps the
#: table equal to the running Python's). Built once here: deriving it at run time
#: means 130,000 look-ups, half a second of start-up.
_NON_STARTERS = (
    "0300-034E 0350-036F 0483-0487 0591-05BD 05BF 05C1-05C2 05C4-05C5 05C7 0610-061A "
    "064B-065F 0670 06D6-06DC 06DF-06E4 06E7-06E8 06EA-06ED 0711 0730-074A 07EB-07F3 07FD "
    "0816-0819 081B-0823 0825-0827 0829-082D 0859-085B 0898-089F 08CA-08E1 08E3-08FF 093C "
    "094D 0951-0954 09BC 09CD 09FE 0A3C 0A4D 0ABC 0ACD 0B3C 0B4D 0BCD 0C3C 0C4D 0C55-0C56 "
    "0CBC 0CCD 0D3B-0D3C 0D4D 0DCA 0E38-0E3A 0E48-0E4B 0EB8-0EBA 0EC8-0ECB 0F18-0F19 0F35 "
    "0F37 0F39 0F71-0F72 0F74 0F7A-0F7D 0F80 0F82-0F84 0F86-0F87 0FC6 1037 1039-103A 108D "
    "135D-135F 1714-1715 1734 17D2 17DD 18A9 1939-193B 1A17-1A18 1A60 1A75-1A7C 1A7F "
    "1AB0-1ABD 1ABF-1ACE 1B34 1B44 1B6B-1B73 1BAA-1BAB 1BE6 1BF2-1BF3 1C37 1CD0-1CD2 "
    "1CD4-1CE0 1CE2-1CE8 1CED 1CF4 1CF8-1CF9 1DC0-1DFF 20D0-20DC 20E1 20E5-20F0 2CEF-2CF1 "
    "2D7F 2DE0-2DFF 302A-302F 3099-309A A66F A674-A67D A69E-A69F A6F0-A6F1 A806 A82C A8C4 "
    "A8E0-A8F1 A92B-A92D A953 A9B3 A9C0 AAB0 AAB2-AAB4 AAB7-AAB8 AABE-AABF AAC1 AAF6 ABED "
    "FB1E FE20-FE2F 101FD 102E0 10376-1037A 10A0D 10A0F 10A38-10A3A 10A3F 10AE5-10AE6 "
    "10D24-10D27 10EAB-10EAC 10F46-10F50 10F82-10F85 11046 11070 1107F 110B9-110BA "
    "11100-11102 11133-11134 11173 111C0 111CA 11235-11236 112E9-112EA 1133B-1133C 1134D "
    "11366-1136C 11370-11374 11442 11446 1145E 114C2-114C3 115BF-115C0 1163F 116B6-116B7 "
    "1172B 11839-1183A 1193D-1193E 11943 119E0 11A34 11A47 11A99 11C3F 11D42 11D44-11D45 "
    "11D97 16AF0-16AF4 16B30-16B36 16FF0-16FF1 1BC9E 1D165-1D169 1D16D-1D172 1D17B-1D182 "
    "1D185-1D18B 1D1AA-1D1AD 1D242-1D244 1E000-1E006 1E008-1E018 1E01B-1E021 1E023-1E024 "
    "1E026-1E02A 1E130-1E136 1E2AE 1E2EC-1E2EF 1E8D0-1E8D6 1E944-1E94A "
)


@cache
def _mark_run() -> re.Pattern[str]:
    """A run of more than MAX_COMBINING_MARKS non-starters."""
    members = []
    for part in "".join(_NON_STARTERS).split():
        first, _, last = part.partition("-")
        members.append(re.escape(chr(int(first, 16))))
        if last:
            members.append("-" + re.escape(chr(int(last, 16))))
    return re.compile(f"[{''.join(members)}]{{{MAX_COMBINING_MARKS + 1},}}")


#: Where a run of marks can be: 31 non-ASCII, non-space characters in a row. A cheap
#: first look (a class this small is fast); the exact class runs only on such spans,
#: which only scripts written without spaces (Chinese, Thai) have in ordinary text.
_LONG_RUN = re.compile(rf"[^\s\x00-\x7f]{{{MAX_COMBINING_MARKS + 1},}}")


def _first_mark_run(text: str) -> re.Match[str] | None:
    if text.isascii():
        return None
    marks = _mark_run()
    for candidate in _LONG_RUN.finditer(text):
        run = marks.search(text, candidate.start(), candidate.end())
        if run is not None:
            return run
    return None


def _check_text(text: str, path: Path | str | None) -> None:
    run = _first_mark_run(text)
    if run is not None:
        at = run.start()
        line = text.count("\n", 0, at) + 1
        column = at - (text.rfind("\n", 0, at) + 1) + 1
        raise InputError(
            f"{len(run.group()):,} combining marks in a row at line {line}, column {column};"
            f" a character carries at most {MAX_COMBINING_MARKS} (Unicode's stream-safe"
            " limit): this is not text a statement holds",
            path,
        )
    first = _CONTROL.search(text)
    if first is not None:
        count = len(_CONTROL.findall(text))
        if count > max(3, len(text) // 100):
            raise InputError(
                f"looks like a binary file ({count} control characters), not a text statement",
                path,
            )
        at = first.start()
        line = text.count("\n", 0, at) + 1
        column = at - (text.rfind("\n", 0, at) + 1) + 1
        code = ord(text[at])
        kind = "C1 control character" if code >= 0x80 else "control character"
        raise InputError(
            f"{kind} U+{code:04X} at line {line}, column {column}: a statement is text"
            " (a wrong encoding, or bytes of another kind of file?)",
            path,
        )
    if not text.strip():
        raise InputError("statement is empty (no text after removing white space)", path)


def normalize_text(text: str) -> str:
    """Derived text: LF line ends, space-like characters as spaces, no control
    characters, no trailing blanks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_SPACE_TABLE)
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n")
