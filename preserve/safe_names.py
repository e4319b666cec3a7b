"""The one rule for the name a received file gets inside a bag.

A statement arrives with whatever name its sender gave it. Inside a bag that name
must survive every repository and tool the bag will meet: bagit-python (what
Archivematica runs) splits manifest lines on line breaks, U+0085 and U+2028
included, so such a name is "in the manifest but not on the file system"; Windows
refuses device names (``con.txt``) and trailing dots or spaces; APTrust refuses
control characters (newline, carriage return, tab, vertical tab, bell), a leading
dash and names over 255 characters, and accepts any other printable character,
so letters of every script are kept (they are provenance, and readable).

:func:`portable_name` makes a name that passes all of these; the name as received
is kept in PREMIS ``originalName`` and the record's ``source.original_name``.
"""

from __future__ import annotations

import unicodedata

from preserve.identifiers import WINDOWS_RESERVED

#: The name given to a file that arrived without one, or whose name was nothing but
#: characters no repository accepts.
FALLBACK_NAME = "statement.txt"
#: Longest name in UTF-8 bytes: far below every file system's 255, leaving room for
#: the bag's folders in a path (Windows' 260 characters, tar's 100-byte name field).
MAX_NAME_BYTES = 100

#: Characters some operating system or BagIt itself gives a meaning in a path:
#: separators, Windows' reserved punctuation, and ``%`` (BagIt percent-encodes).
_RESERVED = frozenset('/\\:*?"<>|%')
#: Unicode categories that are never part of a portable name: controls (C0, C1 with
#: U+0085), line and paragraph separators (U+2028, U+2029) become a space; format
#: characters (bidi marks, zero-width joiners, BOM, soft hyphen), surrogates,
#: private use and unassigned code points are dropped.
_BREAKS = frozenset({"Cc", "Zl", "Zp"})
_DROPPED = frozenset({"Cf", "Cs", "Co", "Cn"})


def portable_name(name: str | None) -> str:
    """``name`` as every repository accepts it; :data:`FALLBACK_NAME` when nothing is left.

    NFC; line-breaking and control characters become spaces and format characters
    go; every space-like character (no-break, thin, ideographic...) becomes a plain
    space and runs of spaces one; reserved punctuation becomes ``_``; leading dots,
    dashes and spaces and trailing dots and spaces go; a Windows device name
    (``con``, ``lpt1``... with any extension) gets a leading ``_``; the stem is cut
    (at a character boundary) so the name fits :data:`MAX_NAME_BYTES`.
    """
    if not name:
        return FALLBACK_NAME
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", name):
        category = unicodedata.category(ch)
        if category in _BREAKS or category == "Zs":
            out.append(" ")
        elif category in _DROPPED:
            continue
        elif ch in _RESERVED:
            out.append("_")
        else:
            out.append(ch)
    text = " ".join(part for part in "".join(out).split(" ") if part)
    text = text.lstrip(".- ").rstrip(". ")
    if not text:
        return FALLBACK_NAME
    if text.partition(".")[0].rstrip(" ").casefold() in WINDOWS_RESERVED:
        text = "_" + text
    return _fit(text)


def _fit(name: str) -> str:
    """Cut the stem (before the last dot) so the name fits in MAX_NAME_BYTES of UTF-8."""
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension.encode("utf-8")) > 16:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    budget = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    cut = stem.encode("utf-8")[:budget].decode("utf-8", "ignore").rstrip(". ")
    return (cut or "statement") + suffix
