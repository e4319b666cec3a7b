"""List items: the markers that begin one, in the scripts statements come in.

A line that starts with a marker keeps its own line on the page (with a hanging
indent) instead of being run into a paragraph.
"""

from __future__ import annotations

import re

#: Bullets institutions use (•, ·, ‣, ▪, ◦, –, —, -, *, ●, ■, ►, ✓).
BULLETS = "•·‣▪◦–—-*●■►✓"

_MARKER = re.compile(
    r"(?:"
    rf"[{re.escape(BULLETS)}]"  # a bullet
    # 1. 1) a) (i) ١.
    r"|\(?(?:\d{1,3}|[a-zа-яա-ֆა-ჰ]|[ivxlc]{1,6}|[\u0660-\u0669\u06f0-\u06f9]{1,3})[.)]"
    r"|\(?(?:[A-ZА-Я]|[IVXLC]{1,6})\)"  # A) (IV): never "A." (an initial, as in "A. Smith")
    r"|\d{1,3}(?:\.\d{1,3})+\.?"  # 1.1 / 2.3.1.
    r")(?=\s+\S)"
)


def list_marker(line: str) -> str | None:
    """The list marker that starts ``line`` ("1.", "a)", "(iv)", "•"), or None.

    A marker must be followed by white space and text: "2024." or "-5 °C" start no item.
    """
    match = _MARKER.match(line.lstrip())
    return match.group(0) if match else None
