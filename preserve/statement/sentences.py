"""Where a sentence ends, in the scripts statements come in.

Leftover labels, titles, paragraph breaks and signature lines are all told apart
from body text by this one test, so it lives in one place.
"""

from __future__ import annotations

#: Characters that end a sentence, in the scripts statements come in: a line ending
#: in one is body text, never a name or role line. (Armenian "։", Arabic "؟", ...)
SENTENCE_END = ".!?;:…։؟۔。"
#: Closing quotes and brackets that may follow a sentence's final stop.
CLOSERS = "\"'»”’)]"


def ends_sentence(line: str) -> bool:
    """True if the line's last character (before closing quotes) stops a sentence."""
    stripped = line.rstrip().rstrip(CLOSERS)
    return bool(stripped) and stripped[-1] in SENTENCE_END
