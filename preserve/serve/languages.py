"""Language names for people: "Armenian (Հայերեն)" where machines keep ``hy``.

A researcher reads names, not BCP 47 tags, so every place the reading room shows a
statement's language to a person shows its English name and its own name (the
autonym), the autonym marked with its own ``lang`` and ``dir`` so an Arabic or
Persian name reads right to left inside an English page. URLs, query parameters,
``lang`` attributes and OAI-PMH set specs keep the code.

Names come from ``langcodes`` (CLDR data in ``language_data``), imported on the
first name asked for, not when the server starts. A code it cannot name (malformed,
unregistered, or the data package missing) is shown as given: never an exception,
never an empty label. Each code is looked up once per process.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass

from markupsafe import Markup, escape

#: Scripts written right to left (ISO 15924), for the autonym's ``dir``.
RTL_SCRIPTS = frozenset(
    {"Arab", "Hebr", "Thaa", "Syrc", "Nkoo", "Adlm", "Mand", "Samr", "Rohg", "Yezi", "Mend"}
)
#: Codes are read from requests too (a filter's value): the cache is bounded.
CACHED_CODES = 2048
#: U+2068 FIRST STRONG ISOLATE ... U+2069 POP DIRECTIONAL ISOLATE: where no element
#: can carry ``dir`` (an ``<option>``, an ``alt``), an autonym is isolated so an Arabic
#: name does not pull the count after it to its side.
_FSI, _PDI = "\u2068", "\u2069"


@dataclass(frozen=True)
class LanguageName:
    """How one language code is shown to a person."""

    code: str
    #: The English name ("Azerbaijani (Latin)"), or the code as given when unknown.
    english: str
    #: The language's own name, capitalised ("Azərbaycan (latın)"); "" when it is not
    #: known or is the English name again ("English").
    autonym: str = ""
    #: ``ltr`` or ``rtl``: the autonym's direction, from the language's script.
    direction: str = "ltr"

    def text(self) -> str:
        """Plain text for places without markup (an ``<option>``, an ``alt``)."""
        if not self.autonym:
            return self.english
        return f"{self.english} ({_FSI}{self.autonym}{_PDI})"

    def html(self) -> Markup:
        """The name as HTML: the autonym in a ``span`` with its own ``lang`` and ``dir``."""
        if not self.autonym:
            return Markup(escape(self.english))
        return Markup(
            f'{escape(self.english)} (<span lang="{escape(self.code)}"'
            f' dir="{self.direction}">{escape(self.autonym)}</span>)'
        )


def _names_available() -> bool:
    # langcodes prints advice to stdout and raises when language_data is missing: ask first.
    return importlib.util.find_spec("language_data") is not None


@functools.lru_cache(maxsize=CACHED_CODES)
def language_name(code: str) -> LanguageName:
    """The English name and the autonym of ``code``; the code itself when unknown."""
    if not code or not code.strip() or len(code) > 64 or not _names_available():
        return LanguageName(code, code)
    import langcodes

    try:
        tag = langcodes.Language.get(code)
        english = tag.display_name()
        autonym = tag.autonym()
        script = tag.script or tag.maximize().script
    except (ValueError, LookupError, TypeError):  # LanguageTagError is a ValueError
        return LanguageName(code, code)
    # langcodes names what it does not know "Unknown language [xx]" (or "Unknown
    # Script [Qaaa]"): a made-up label is worse than the code.
    if not tag.language or "[" in english or english.startswith("Unknown"):
        return LanguageName(code, code)
    if "[" in autonym or autonym == english:
        autonym = ""
    autonym = autonym[:1].title() + autonym[1:]  # titlecase: Georgian stays as it is
    return LanguageName(code, english, autonym, "rtl" if script in RTL_SCRIPTS else "ltr")


def name_html(code: str | None, missing: str = "language unknown") -> Markup:
    """Jinja filter ``langname``: the name as HTML (``missing`` when there is no code)."""
    if not code:
        return Markup(escape(missing))
    return language_name(code).html()


def name_text(code: str | None, missing: str = "language unknown", own: bool = True) -> str:
    """Jinja filter ``langtext``: the name as plain text (autonym isolated; left out
    when not ``own``, for English text a screen reader reads in one voice)."""
    if not code:
        return missing
    name = language_name(code)
    return name.text() if own else name.english
