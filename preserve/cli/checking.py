"""Commands that check bags and archives: verify, audit."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from preserve.cli.options import (
    F,
    emit_json,
    handles_errors,
    json_option,
    open_executor,
    progress_bar,
    scheduler_options,
)
from preserve.errors import ExitCode, PreserveError

if TYPE_CHECKING:
    import datetime as dt

#: ``--max-files`` ... ``--max-ratio``: one option for each field of Limits.
_LIMIT_HELP = {
    "max_files": "Files and directories in one bag.",
    "max_depth": "Directory levels below the bag root.",
    "max_path_bytes": "UTF-8 bytes of one path.",
    "max_line_chars": "Characters of one manifest or fetch.txt line.",
    "max_manifest_bytes": "Bytes of one manifest or fetch.txt (SIZE).",
    "max_bag_info_bytes": "Bytes of bag-info.txt (SIZE).",
    "max_tag_file_bytes": "Bytes of any other tag file read whole (SIZE).",
    "max_bytes": "Bytes a serialized bag may make us decompress (SIZE: 100M, 1.5G, bytes).",
    "max_ratio": "The largest compression ratio of a member.",
}
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """``100M``, ``2G``, ``1.5G``, ``512K`` or plain bytes (binary units), at least 1;
    a fraction of a unit is rounded down to whole bytes."""
    from decimal import Decimal

    value = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = value[-1:] if value[-1:] in _SIZE_UNITS and value[-1:] else ""
    number = value[: len(value) - len(unit)]
    whole, dot, fraction = number.partition(".")
    digits = whole + fraction
    if (
        not digits.isascii()
        or not digits.isdigit()
        or not whole
        or (dot and (not fraction or not unit))
        or len(digits) > 18
    ):
        raise click.BadParameter(f"{text!r} is not a size like 100M, 1.5G, 2G or 4096")
    size = int(Decimal(number) * _SIZE_UNITS[unit])
    if size < 1:
        raise click.BadParameter(f"{text!r} is not a size like 100M, 1.5G, 2G or 4096")
    return size


def limit_options(func: F) -> F:
    """The verifier's limits as options; unset ones come from the archive's
    ``[limits]`` settings, then from the defaults (docs/limits.md)."""
    for name in reversed(list(_LIMIT_HELP)):
        sized = name.endswith("_bytes")
        func = click.option(
            "--" + name.replace("_", "-"),
            name,
            type=click.STRING if sized else click.IntRange(min=1),
            metavar="SIZE" if sized else "N",
            help=_LIMIT_HELP[name],
        )(func)
    return func


def chosen_limits(archive: Path | None, given: dict[str, Any]) -> Any:
    """The Limits for a run: options given, else the archive's ``[limits]``, else defaults."""
    import dataclasses

    from preserve.verify_command import archive_limits

    base = archive_limits(archive)
    values = {
        name: parse_size(value) if isinstance(value, str) else value
        for name, value in given.items()
        if value is not None
    }
    try:
        return dataclasses.replace(base, **values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


# --------------------------------------------------------------------------- audit


@click.command()
@click.argument("archive", type=click.Path(path_type=Path))
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Audit at most N bags (least recently verified first).",
)
@click.option("--budget", help="Stop starting new bags after this long, e.g. 30m or 2h.")
@click.option(
    "--workers", type=click.IntRange(min=1), help="Parallel processes [default: one per core]."
)
@click.option(
    "--status",
    "show_status",
    is_flag=True,
    help="Show when each bag was last verified; audit nothing.",
)
@click.option(
    "--max-age", default="90d", show_default=True, help="With --status: older results are overdue."
)
@click.option("--no-record", is_flag=True, help="Do not record the results in the ledger.")
@click.option(
    "--replicas",
    "check_replicas",
    is_flag=True,
    help="Check every copy (primary and replica targets) against the ledger's chain.",
)
@click.option(
    "--repair",
    is_flag=True,
    help="With or without --replicas: replace damaged or missing copies from a good one.",
)
@scheduler_options
@limit_options
@click.option(
    "--jsonl",
    "jsonl_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every bag's result to FILE, one JSON object a line, as it is judged.",
)
@click.option(
    "--all",
    "all_bags",
    is_flag=True,
    help="List every bag in the report, valid ones too [default: failing bags, counts].",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --limit/--budget on a read-only archive: keep the slice's place in FILE "
    "(outside the archive), so each slice goes on where the last stopped "
    "[default: a window chosen by the clock, one an hour].",
)
@json_option
@handles_errors
def audit(
    archive: Path,
    limit: int | None,
    budget: str | None,
    workers: int | None,
    show_status: bool,
    max_age: str,
    no_record: bool,
    check_replicas: bool,
    repair: bool,
    scheduler: str | None,
    path_map: str | None,
    batch_size: int | None,
    jsonl_file: Path | None,
    all_bags: bool,
    state_file: Path | None,
    as_json: bool,
    **given_limits: Any,
) -> None:
    """Verify every bag of an archive and compare the archive with its ledger.

    Finds corrupt, missing and planted bags, and bags rewritten consistently
    after ingest (payload and manifests edited together). Records each result in
    the ledger, the only thing it writes. Exit 0 all good, 1 problems found.
    """
    import json

    from preserve.audit import audit as run_audit
    from preserve.audit import parse_duration

    try:
        age = parse_duration(max_age)
        seconds = parse_duration(budget).total_seconds() if budget else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if check_replicas or repair:
        _audit_replicas(archive, repair, as_json)
    if show_status:
        bad = _show_status(archive, age, max_age, as_json)
        sys.exit(int(ExitCode.bad if bad else ExitCode.ok))
    with contextlib.ExitStack() as stack:
        executor = stack.enter_context(open_executor(scheduler, path_map, batch_size))
        advance = stack.enter_context(progress_bar("Auditing", enabled=not as_json))
        lines: IO[str] | None = None
        if jsonl_file is not None:
            try:
                lines = stack.enter_context(jsonl_file.open("w", encoding="utf-8"))
            except OSError as exc:
                raise PreserveError(f"cannot write: {exc.strerror or exc}", jsonl_file) from None

        def each(result: Any) -> None:
            if lines is not None:
                lines.write(json.dumps(result.as_dict(), ensure_ascii=False) + "\n")
            advance()

        report = run_audit(
            archive,
            limit=limit,
            budget=seconds,
            workers=workers,
            record=not no_record,
            progress=each,
            keep_valid=all_bags,
            limits=chosen_limits(archive, given_limits) if archive.is_dir() else None,
            executor=executor,
            state=state_file,
        )
    if as_json:  # the failing bags streamed from the report's spool, not held
        report.write_json(lambda text: click.echo(text, nl=False))
    else:
        summary = report.summary()  # the bags are streamed below, not held
        click.echo(
            f"{summary['checked']} bags checked: {summary['valid']} valid, "
            f"{summary['invalid']} invalid, {summary['skipped']} not reached "
            f"({summary['bytes_checked']:,} bytes in {summary['seconds']:.1f} s)"
        )
        for note in report.notes:
            click.echo(f"note: {note}")
        for problem in report.problems:
            click.echo(f"{archive}: {problem.one_line()}")
        for bag in report.bags:
            if all_bags and bag.valid:
                click.echo(f"{bag.path}: valid")
            for problem in bag.problems:
                click.echo(f"{bag.path}: {problem.one_line()}")
        if jsonl_file is not None:
            click.echo(f"every bag's result: {jsonl_file}")
    sys.exit(int(ExitCode.ok if report.ok else ExitCode.bad))


# --------------------------------------------------------------------------- verify


@click.command()
# Plain strings: click.Path would stat and access() every bag before the verifier
# looks at it (two system calls a bag, ~10 ms for 2,000), and the verifier reports
# a missing, unreadable or linked bag itself, in its own words.
@click.argument("bags", nargs=-1, required=True, type=str)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Bags checked in parallel [default: one per core].",
)
@click.option(
    "--trusted-key",
    "trusted_keys",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A signer's public key (PEM), or a folder of them; repeatable. "
    "[default: the archive's trusted-keys/ for a bag inside an archive]",
)
@click.option(
    "--tsa-ca",
    "tsa_roots",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A trusted TSA root certificate (PEM), or a folder of them; repeatable.",
)
@click.option(
    "--profile",
    "profile_name",
    metavar="NAME|FILE",
    help="Also check every bag against this BagIt profile and report every violation: "
    "preserve, preserve-0.1, btr, aptrust, or a profile file (BagIt Profiles or DART JSON).",
)
@click.option(
    "--require-signature",
    is_flag=True,
    help="A bag without signatures/ is invalid (signature.missing) "
    "[default: as the archive's [signing] required says, for a bag inside an archive].",
)
@limit_options
@json_option
@handles_errors
def verify(
    bags: tuple[str, ...],
    workers: int | None,
    trusted_keys: tuple[Path, ...],
    tsa_roots: tuple[Path, ...],
    profile_name: str | None,
    require_signature: bool,
    as_json: bool,
    **given_limits: Any,
) -> None:
    """Check BagIt bags against RFC 8493: every file, every manifest, every rule.

    BAG is a bag directory or a serialized bag (.tar, .tar.gz, .zip), read without
    extracting it. Works on any bag, not only preserve's, and never writes to it.
    A signed bag (signatures/) also has its signatures and timestamps checked.
    Prints VALID or INVALID per bag, then each problem as
    "severity code path: message". Exit 0 if all are valid, 1 if any is invalid,
    2 if a bag could not be opened at all.
    """
    from preserve.process import finish_process
    from preserve.verify_command import verify_command

    code = verify_command(
        bags,
        workers=workers,
        trusted_keys=trusted_keys,
        tsa_roots=tsa_roots,
        profile_name=profile_name,
        require_signature=require_signature,
        limits=lambda archive: chosen_limits(archive, given_limits),
        as_json=as_json,
    )
    finish_process(code)


# --------------------------------------------------------------------------- replicas


def _audit_replicas(archive: Path, repair: bool, as_json: bool) -> None:
    """``audit --replicas`` / ``--repair``: every copy against the chain; exits."""
    from preserve.replicas import audit_copies

    with progress_bar("Checking copies", enabled=not as_json) as advance:
        report = audit_copies(archive, repair=repair, progress=lambda _i: advance())
    if as_json:
        emit_json(report.as_dict())
    else:
        for bag in report.bags:
            for copy in bag.copies:
                for code, message in copy.problems:
                    click.echo(f"{copy.target}: bags/{bag.identifier}: {code}: {message}")
                if copy.action:
                    click.echo(f"{copy.target}: bags/{bag.identifier}: {copy.action}")
            if bag.lost:
                click.echo(
                    f"LOST bags/{bag.identifier}: no good copy anywhere; nothing overwritten"
                )
            elif bag.at_risk:
                click.echo(
                    f"AT RISK bags/{bag.identifier}: {bag.good_after} of {bag.required} good copies"
                )
        for stray in report.strays:
            click.echo(f"{stray.target}: bags/{stray.identifier}: {stray.code}: {stray.message}")
            if stray.action:
                click.echo(f"{stray.target}: bags/{stray.identifier}: {stray.action}")
        for note in report.notes:
            click.echo(f"note: {note}")
        summary = report.as_dict()
        click.echo(
            f"{summary['bags_checked']} bags on {len(report.targets)} copies "
            f"({', '.join(report.targets)}): {summary['at_risk']} at risk, "
            f"{len(summary['lost'])} lost, {report.repaired} copies repaired"
        )
    sys.exit(int(ExitCode.ok if report.ok else ExitCode.bad))


def _show_status(archive: Path, age: dt.timedelta, max_age: str, as_json: bool) -> bool:
    """``audit --status``, streamed: each pass reads the ledger row by row and writes
    as it goes, so a million bags take no more memory than ten. True if any bag is
    overdue or has fewer good copies than required."""
    import json

    from preserve.audit import iter_status
    from preserve.replicas import iter_copy_status, required_copies

    required = required_copies(archive)

    def copies() -> Iterator[Any]:
        primary = ((r.identifier, r.last_verified_at, r.last_result) for r in iter_status(archive))
        return iter_copy_status(archive, primary, required)

    overdue = at_risk = total = 0
    several = required > 1
    if as_json:
        out = sys.stdout
        head = {"archive": str(archive), "max_age_days": age.days, "required_copies": required}
        out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "bags": [')
        for n, row in enumerate(iter_status(archive, max_age=age)):
            out.write(("," if n else "") + json.dumps(row.as_dict(), ensure_ascii=False))
            overdue += row.overdue
        out.write('], "copies": [')
        for n, c in enumerate(copies()):
            out.write(("," if n else "") + json.dumps(c.as_dict(), ensure_ascii=False))
        out.write('], "at_risk": [')
        for c in (c for c in copies() if c.at_risk):
            out.write(("," if at_risk else "") + json.dumps(c.identifier, ensure_ascii=False))
            at_risk += 1
        out.write("]}\n")
        return bool(overdue or at_risk)
    for c in copies():
        several = several or len(c.copies) > 1
        if c.at_risk:
            at_risk += 1
            where = ", ".join(f"{t} {v or 'never'} {r or '-'}" for t, (v, r) in c.copies.items())
            click.echo(f"AT RISK {c.identifier}: {c.good} of {required} good copies ({where})")
    for row in iter_status(archive, max_age=age):
        total += 1
        overdue += row.overdue
        flag = "OVERDUE " if row.overdue else ""
        click.echo(
            f"{flag}{row.identifier}  {row.last_verified_at or 'never'}  {row.last_result or '-'}"
        )
    click.echo(f"{total} bags, {overdue} overdue (older than {max_age})")
    if several:
        click.echo(f"{at_risk} bags with fewer than {required} good copies")
    return bool(overdue or at_risk)
