"""Options, output and error handling shared by every command."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from preserve.errors import ExitCode, PreserveError

if TYPE_CHECKING:
    import logging

F = TypeVar("F", bound=Callable[..., Any])


def __getattr__(name: str) -> logging.Logger:
    """``log``, the commands' logger, made when first asked for: importing ``logging``
    costs ~5 ms, and a command that logs nothing (``verify`` of clean bags) never
    needs it (:func:`preserve.process.configure_logging` sets it up when imported)."""
    if name == "log":
        import logging

        return logging.getLogger("preserve")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def json_option(func: F) -> F:
    """``--json``: one JSON document on stdout instead of text."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print one machine-readable JSON document."
    )(func)


def emit_json(document: Any) -> None:
    import json  # only with --json (~1.5 ms)

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


def end_as_command(error: BaseException, prog_name: str = "preserve") -> NoReturn:
    """End the process as a command ends on ``error``: through :func:`handles_errors`
    and click's own handling (a closed pipe, an interrupt), the same lines and exit
    status. For ``preserve verify BAG...``, which runs without click
    (:mod:`preserve.__main__`) until something goes wrong."""

    @click.command()
    @handles_errors
    def failed() -> None:
        raise error

    failed.main([], prog_name=prog_name)
    raise AssertionError("click's main returned")  # standalone_mode always exits


def show_progress() -> bool:
    """Progress bars only for a person watching a terminal."""
    return sys.stderr.isatty()


def scheduler_options(func: F) -> F:
    """``--scheduler``, ``--path-map`` and ``--batch-size``: run the work on a Dask cluster."""
    func = click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        help="With --scheduler: bags per Dask task [default: ~16 batches per worker thread, ≤ 64].",
    )(func)
    func = click.option(
        "--path-map",
        metavar="LOCAL=REMOTE",
        help="With --scheduler: workers see the archive's LOCAL folder at REMOTE.",
    )(func)
    return click.option(
        "--scheduler",
        metavar="ADDRESS",
        help="Run on Dask: tcp://HOST:8786, a scheduler file (.json), or local:N "
        "(N worker processes on this machine). Needs the 'dask' extra.",
    )(func)


def open_executor(scheduler: str | None, path_map: str | None, batch_size: int | None) -> Any:
    """A Dask executor context for ``--scheduler`` (imported only then), else a no-op one;
    prints the dashboard's address on stderr when the scheduler has one."""
    import contextlib

    if scheduler is None:
        if path_map or batch_size:
            raise click.UsageError("--path-map and --batch-size apply with --scheduler")
        return contextlib.nullcontext(None)
    from preserve.distributed import DaskExecutor, PathMap

    try:
        mapping = PathMap.parse(path_map) if path_map else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--path-map") from None

    @contextlib.contextmanager
    def running() -> Any:
        with DaskExecutor(scheduler, path_map=mapping, batch_size=batch_size) as executor:
            link = executor.dashboard_link
            if link:
                click.echo(f"preserve: Dask dashboard: {link}", err=True)
            yield executor

    return running()


def metadata_option(func: F) -> F:
    """``--metadata FILE``: the sidecar that completes or overrides the parsed draft."""
    return click.option(
        "--metadata",
        "metadata_file",
        type=click.Path(path_type=Path),
        help="Sidecar JSON that completes or overrides the parsed metadata "
        "(default: STATEMENT.json beside STATEMENT.txt).",
    )(func)


def encoding_option(func: F) -> F:
    """``--encoding NAME``: a statement's encoding, when it is not UTF-8 and detection
    is not sure (or not wanted)."""
    return click.option(
        "--encoding",
        metavar="NAME",
        help="The statement's encoding when it is not UTF-8 (e.g. windows-1251, koi8-r, "
        "gb18030); decoded strictly, without detection.",
    )(func)


# ``preserve.pdfa.PdfaLevel``'s values, spelled out so that building the command line
# does not import pikepdf (0.15 s on every command); tests/test_startup.py keeps them equal.
PDFA_LEVELS = ("1b", "2b", "2u", "3u", "2a", "3a")


def pdfa_option(func: F) -> F:
    """``--pdfa LEVEL``: the PDF/A level of the preservation copy."""
    return click.option(
        "--pdfa",
        "level",
        type=click.Choice(PDFA_LEVELS),
        default="2a",
        show_default=True,
        help="PDF/A level of the preservation copy; 3u and 3a also embed the statement as "
        "received and its metadata JSON; 2a and 3a are tagged (PDF/UA-1).",
    )(func)


def passphrase_option(func: F) -> F:
    """``--passphrase-file``: where a protected key's passphrase is (first line)."""
    return click.option(
        "--passphrase-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Read the key's passphrase from this file's first line "
        "[default: PRESERVE_KEY_PASSPHRASE, else a prompt].",
    )(func)


def signing_options(*, required: bool) -> Callable[[F], F]:
    """``--key``, ``--tsa`` and ``--passphrase-file``, shared by ``sign`` and ``ingest``."""

    def decorate(func: F) -> F:
        func = passphrase_option(func)
        func = click.option(
            "--tsa",
            "tsa_url",
            help="Timestamp each signature at this RFC 3161 time-stamping authority (URL)"
            + ("." if required else "; needs --key."),
        )(func)
        return click.option(
            "--key",
            "key_file",
            required=required,
            type=click.Path(path_type=Path),
            envvar="PRESERVE_SIGNING_KEY",
            help=("The Ed25519 private key" if required else "Sign each bag with this Ed25519 key")
            + " (preserve keys init) [env PRESERVE_SIGNING_KEY].",
        )(func)

    return decorate


def read_passphrase(passphrase_file: Path | None, *, confirm: bool = False) -> bytes | None:
    """The passphrase from a file, the environment, or a prompt on a terminal; else None."""
    import os

    from preserve.errors import KeyFileError
    from preserve.keys import PASSPHRASE_ENV

    if passphrase_file is not None:
        try:
            text = passphrase_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyFileError(f"cannot read the passphrase: {exc}", passphrase_file) from None
        lines = text.splitlines()
        if not lines or not lines[0]:
            raise KeyFileError("the passphrase file is empty", passphrase_file)
        return lines[0].encode("utf-8")
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV].encode("utf-8")
    if sys.stdin.isatty():
        text = click.prompt(
            "Passphrase", hide_input=True, confirmation_prompt=confirm, err=True, type=str
        )
        return str(text).encode("utf-8")
    return None


def load_signing_key(key_file: Path, passphrase_file: Path | None) -> Any:
    """Load a private key, asking for a passphrase only when the key has one."""
    from preserve.keys import is_encrypted, load_private_key

    passphrase = read_passphrase(passphrase_file) if is_encrypted(key_file) else None
    return load_private_key(key_file, passphrase)


class progress_bar:
    """A rich progress bar on stderr when a person watches a terminal; silent otherwise."""

    def __init__(self, label: str, *, enabled: bool = True, total: int | None = None) -> None:
        self.enabled = enabled and show_progress()
        self.label = label
        self.total = total

    def __enter__(self) -> Callable[[], None]:
        if not self.enabled:
            return lambda: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.progress.start()
        task = self.progress.add_task(self.label, total=self.total)
        return lambda: self.progress.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.stop()
