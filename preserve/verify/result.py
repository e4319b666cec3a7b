"""What :func:`~preserve.verify.verify_bag` returns, and how its problems stay printable.

Shared by every other module of the verifier; it imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preserve.bagit_format import Problem, Severity

#: A check added on top of the BagIt ones (profile, metadata schema, PDF/A...). It gets
#: the bag directory and yields problems; if it raises, that is reported as an error.
#: A check with a true ``reads_bag_files`` attribute gets the listed bag instead
#: (:class:`preserve.verify.access.BagFiles`), so it runs on tar and zip bags too.
ExtraCheck = Callable[[Path], Iterable[Problem]]

#: Code of the one problem of a bag that could not be opened at all (CLI exit 2).
CANNOT_OPEN = "bag.cannot-open"


@dataclass(frozen=True)
class BagResult:
    """Everything :func:`verify_bag` found about one bag."""

    bag: str
    valid: bool
    problems: tuple[Problem, ...]
    files_checked: int
    bytes_checked: int
    seconds: float
    version: str | None = None
    algorithms: tuple[str, ...] = ()

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.error)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.warning)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of one bag in ``schemas/verify-report.schema.json``."""
        return {
            "bag": self.bag,
            "valid": self.valid,
            "version": self.version,
            "algorithms": list(self.algorithms),
            "files_checked": self.files_checked,
            "bytes_checked": self.bytes_checked,
            "seconds": round(self.seconds, 6),
            "problems": [p.as_dict() for p in self.problems],
        }


def _printable(p: Problem) -> bool:
    return (p.path.isascii() and p.message.isascii()) or not _has_surrogates(p.path + p.message)


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _show(rel: str) -> str:
    """A listed name as text that can always be printed (undecodable bytes escaped)."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
