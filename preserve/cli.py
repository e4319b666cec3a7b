"""The ``preserve`` command line: a thin layer over the Python API.

Each command parses its options, calls one library function and presents the
result: text for people, one JSON document with ``--json`` for machines. Library
errors carry their exit code (:mod:`preserve.errors`); :func:`run` maps them here
and nowhere else. Exit status: 0 good, 1 checked and found bad, 2 could not run.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from preserve import __version__
from preserve.errors import ExitCode, PreserveError

log = logging.getLogger("preserve")

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    """``--json``: one JSON document on stdout instead of text."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print one machine-readable JSON document."
    )(func)


def emit_json(document: Any) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False))


def fail(error: PreserveError) -> None:
    """Print a library error as one line on stderr and exit with its code."""
    click.echo(f"preserve: error: {error.one_line()}", err=True)
    sys.exit(int(error.exit_code))


def handles_errors(func: F) -> F:
    """Turn any PreserveError raised by a command into its one line and exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PreserveError as error:
            fail(error)
        except KeyboardInterrupt:
            click.echo("preserve: interrupted", err=True)
            sys.exit(int(ExitCode.cannot_run))

    return wrapper  # type: ignore[return-value]


def show_progress() -> bool:
    """Progress bars only for a person watching a terminal."""
    return sys.stderr.isatty()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="preserve")
@click.option("-v", "--verbose", count=True, help="More log messages on stderr (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
def cli(verbose: int, quiet: bool) -> None:
    """Keep public statements safe for the long run.

    Parse a statement as received, validate its metadata, render a PDF/A
    preservation copy, package everything as a BagIt bag in an archive, and
    verify and audit that archive.

    Exit status: 0 good, 1 checked and found bad, 2 could not run.
    """
    level = (
        logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    )
    logging.basicConfig(
        level=level, stream=sys.stderr, format="preserve: %(levelname)s: %(message)s"
    )


# --------------------------------------------------------------------------- validate


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--metadata",
    "metadata_file",
    type=click.Path(path_type=Path),
    help="Sidecar JSON that completes or overrides the parsed metadata "
    "(default: STATEMENT.json beside STATEMENT.txt).",
)
@json_option
@handles_errors
def validate(files: tuple[Path, ...], metadata_file: Path | None, as_json: bool) -> None:
    """Check a statement's metadata (or a metadata JSON file) against the schema.

    A .txt statement is parsed into a draft (title, signer, role, date, language)
    and completed by its sidecar; a .json file is checked on its own. Prints the
    merged record, or every problem with its field path.
    """
    from preserve.metadata import validate_files

    report = validate_files(list(files), metadata_file)
    if as_json:
        emit_json(report.as_dict())
    else:
        for result in report.results:
            click.echo(result.as_text())
    sys.exit(int(report.exit_code))
