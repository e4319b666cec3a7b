"""Exceptions that carry their exit code, so only the CLI edge decides how a run ends.

Library code raises these; ``preserve.cli`` maps them to an exit status in one place.
An error is never classified by its message text.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path
from typing import NamedTuple


class ExitCode(IntEnum):
    """The exit statuses of every ``preserve`` command."""

    ok = 0
    #: The input was checked and found bad (invalid statement, failed verification).
    bad = 1
    #: The command could not run (usage, unreadable path, unwritable archive).
    cannot_run = 2


class PreserveError(Exception):
    """Base of every error ``preserve`` raises on purpose."""

    exit_code: ExitCode = ExitCode.cannot_run

    def __init__(self, message: str, path: Path | str | None = None) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message a person sees: the file first, then what is wrong with it."""
        return f"{self.path}: {self.message}" if self.path else self.message


class InputError(PreserveError):
    """The input was read and is not acceptable (bad encoding, empty, too large, not JSON)."""

    exit_code = ExitCode.bad


class ValidationFailed(InputError):
    """Metadata failed the schema; ``problems`` lists every field that is wrong."""

    def __init__(self, problems: list[FieldProblem], path: Path | str | None = None) -> None:
        self.problems = problems
        first = problems[0].one_line() if problems else "invalid"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first + more, path)


class UnreadableInput(PreserveError):
    """A path could not be read at all (missing, a directory, no permission)."""

    exit_code = ExitCode.cannot_run


class ArchiveError(PreserveError):
    """The archive could not be used (not a directory, unwritable, locked, disk full)."""

    exit_code = ExitCode.cannot_run


class RenderError(InputError):
    """The statement cannot be rendered faithfully (for example a character no font has)."""


class FieldProblem(NamedTuple):
    """One thing wrong with one metadata field: where (a dotted path) and what to do.

    A NamedTuple, not a dataclass: every command imports this module, and a frozen
    dataclass costs ~0.3 ms more to create at import."""

    #: Dotted path of the field, e.g. ``creator.name``; empty for the record as a whole.
    field: str
    #: What is wrong, and where possible how to fix it.
    message: str

    def one_line(self) -> str:
        return f"{self.field or '(record)'}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class KeyFileError(PreserveError):
    """A signing key could not be used (missing, corrupt, wrong passphrase, not Ed25519)."""

    exit_code = ExitCode.cannot_run


class SigningError(PreserveError):
    """A bag could not be signed (not a bag, no tag manifest, unwritable); nothing was changed."""

    exit_code = ExitCode.cannot_run


class TimestampError(PreserveError):
    """No trusted timestamp could be had (TSA unreachable, refused, or answered garbage)."""

    exit_code = ExitCode.cannot_run
