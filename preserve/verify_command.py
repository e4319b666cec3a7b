"""The ``verify`` command's work and output, without click.

``preserve verify BAG...`` is the command run most often, on many bags, and what its
user waits for is the whole process: click is ~15 ms of its ~70 ms of start-up. So
its work is here, outside :mod:`preserve.cli` (whose package imports click), and two
callers share it: the click command (:func:`preserve.cli.checking.verify`), which
parses the options, and :mod:`preserve.__main__`, which calls :func:`verify_command`
directly for the plain call (bag paths, no option).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from preserve.bag_checks import PreserveChecks
from preserve.bagit_format import Limits
from preserve.errors import ExitCode
from preserve.fsio import archive_of
from preserve.verify import CANNOT_OPEN, BagResult, ExtraCheck, verify_bags


def archive_limits(archive: Path | None) -> Limits:
    """The ``[limits]`` settings of ``archive`` (the one the bags sit in), else the defaults."""
    if archive is None:
        return Limits()
    from preserve.settings import load_settings  # tomllib, the settings' schema: only here

    return load_settings(archive).limits


def verify_command(
    bags: Sequence[str],
    *,
    workers: int | None = None,
    trusted_keys: Sequence[Path] = (),
    tsa_roots: Sequence[Path] = (),
    profile_name: str | None = None,
    require_signature: bool = False,
    limits: Callable[[Path | None], Limits] = archive_limits,
    as_json: bool = False,
) -> int:
    """Verify ``bags``, print the report, and return the exit status: 0 all valid, 1 one
    invalid, 2 one could not be opened at all.

    ``limits`` gives the run's limits from the archive the first bag sits in (None
    outside an archive). A :class:`~preserve.errors.PreserveError` (keys, profile or
    settings that cannot be used) propagates: the caller prints it.
    """
    trust = None
    if trusted_keys or tsa_roots:
        from preserve.signing import Trust  # cryptography: only when keys are given

        trust = Trust.from_files(trusted_keys, tsa_roots)
    required = True if require_signature else None
    checks: tuple[ExtraCheck, ...] = (PreserveChecks(trust, require_signature=required),)
    if profile_name is not None:
        import logging

        from preserve.bag_checks import ProfileCheck
        from preserve.profile import load_profile

        profile = load_profile(profile_name)
        for warning in profile.warnings:
            logging.getLogger("preserve").warning("%s: %s", profile.source, warning)
        checks += (ProfileCheck(profile),)
    # One set of limits for the run: the options, else the [limits] of the archive
    # the (first) bag sits in, else the defaults.
    chosen = limits(archive_of(Path(bags[0]).absolute()))
    results = verify_bags(bags, workers=workers, extra_checks=checks, limits=chosen)
    if as_json:
        from preserve.cli.options import emit_json  # --json came through click

        done = list(results)
        all_valid = all(r.valid for r in done)
        unopened = any(p.code == CANNOT_OPEN for r in done for p in r.problems)
        emit_json({"valid": all_valid, "bags": [r.as_dict() for r in done]})
    else:
        all_valid, unopened = print_results(results)
    if unopened:
        return int(ExitCode.cannot_run)
    return int(ExitCode.ok if all_valid else ExitCode.bad)


def print_results(results: Iterable[BagResult]) -> tuple[bool, bool]:
    """Each bag's lines on stdout as its result comes (the workers check the next ones
    meanwhile): (all valid, any not opened).

    The parent shares the cores with the workers, so a clean bag costs one f-string
    and one write here (a list, a join and a scan of no problems each cost more).
    """
    write = sys.stdout.write
    all_valid, unopened = True, False
    for r in results:
        head = (
            f"{'VALID' if r.valid else 'INVALID'} {r.bag} "
            f"({r.files_checked} files, {r.bytes_checked:,} bytes, {r.seconds:.2f} s)\n"
        )
        if r.problems:
            write(
                head
                + "".join(
                    f"  {p.severity.value} {p.code} {p.path or '.'}: {p.message}\n"
                    for p in r.problems
                )
            )
            unopened = unopened or any(p.code == CANNOT_OPEN for p in r.problems)
        else:
            write(head)
        if not r.valid:
            all_valid = False
    sys.stdout.flush()
    return all_valid, unopened
