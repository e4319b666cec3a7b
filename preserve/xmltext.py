"""Text that an XML 1.0 document can hold, whatever the statement carried.

ElementTree writes any string it is given, so a control character in a left-out
line of a page, a capture note or a title (BEL, ESC, a form feed...) would make
``premis.xml``, ``metadata.xml`` or ``dublin_core.xml`` a file no XML parser
reads: the bag still verifies by its digests, but the repository ingesting it
rejects the file. XML 1.0 cannot hold those characters at all, not even as
character references, so each is written as a visible escape (``\\x07``,
``\\ud800``) instead; everything else is kept as it is. The statement itself is
never changed: it is preserved byte for byte as the original file.
"""

from __future__ import annotations

import re

#: What XML 1.0 cannot hold: C0 controls other than tab, LF and CR; lone surrogates
#: (from undecodable bytes); U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` with each character XML 1.0 cannot hold written as ``\\xNN``/``\\uNNNN``."""
    return _NOT_XML.sub(_escape, text) if _NOT_XML.search(text) else text


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
