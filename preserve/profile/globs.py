"""The specification's globs: ``*`` is any run of characters, ``/`` included; the rest literal."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable


@functools.lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    """``*`` is any run of characters, ``/`` included; everything else is literal."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def _matches_any(path: str, patterns: Iterable[str]) -> bool:
    return any(_glob(p).fullmatch(path) for p in patterns)


def _covers_any(entry: str, patterns: Iterable[str]) -> bool:
    """Whether the patterns allow ``entry``, or, for a folder (``data/src/``), a file in it."""
    if not entry.endswith("/"):
        return _matches_any(entry, patterns)
    for pattern in patterns:
        head, star, _ = pattern.partition("*")
        # Without a star the pattern is one path; with one, whatever follows the literal
        # head can be absorbed by the star, so only the head has to agree with the folder.
        if (star and (head.startswith(entry) or entry.startswith(head))) or (
            not star and pattern.startswith(entry) and len(pattern) > len(entry)
        ):
            return True
    return False
