"""The ``preserve`` command line: a thin layer over the Python API.

Each command parses its options, calls one library function and presents the
result: text for people, one JSON document with ``--json`` for machines. Library
errors carry their exit code (:mod:`preserve.errors`); :func:`run` maps them here
and nowhere else. Exit status: 0 good, 1 checked and found bad, 2 could not run.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

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


def metadata_option(func: F) -> F:
    """``--metadata FILE``: the sidecar that completes or overrides the parsed draft."""
    return click.option(
        "--metadata",
        "metadata_file",
        type=click.Path(path_type=Path),
        help="Sidecar JSON that completes or overrides the parsed metadata "
        "(default: STATEMENT.json beside STATEMENT.txt).",
    )(func)


# --------------------------------------------------------------------------- validate


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@metadata_option
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


# --------------------------------------------------------------------------- render


def pdfa_option(func: F) -> F:
    """``--pdfa LEVEL``: the PDF/A level of the preservation copy."""
    from preserve.pdfa import PdfaLevel

    return click.option(
        "--pdfa",
        "level",
        type=click.Choice([level.value for level in PdfaLevel]),
        default=PdfaLevel.A2U.value,
        show_default=True,
        help="PDF/A level of the preservation copy; 3u and 3a also embed the statement as "
        "received and its metadata JSON; 2a and 3a are tagged (PDF/UA-1).",
    )(func)


@cli.command()
@click.argument("statement", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the PDF/A file (written atomically; nothing is left on failure).",
)
@pdfa_option
@metadata_option
@handles_errors
def render(statement: Path, output: Path, level: str, metadata_file: Path | None) -> None:
    """Render a statement as a PDF/A preservation copy.

    SOURCE_DATE_EPOCH pins the creation date, so the same input gives the same bytes.
    """
    from preserve.metadata import prepare_file
    from preserve.render import PdfaLevel, render_statement, write_pdf

    prepared = prepare_file(statement, metadata_file)
    metadata = prepared.metadata()  # raises ValidationFailed (exit 1) listing the problems
    assert prepared.statement is not None
    rendering = render_statement(prepared.statement, metadata, PdfaLevel.parse(level))
    write_pdf(rendering, output)
    click.echo(
        f"{output}: PDF/A-{rendering.level.value}, {rendering.page_count} page(s), "
        f"fonts {', '.join(rendering.fonts)}"
    )


# --------------------------------------------------------------------------- keys


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


@cli.group()
def keys() -> None:
    """Ed25519 signing keys: create one, export its public half, trust it in an archive."""


@keys.command("init")
@click.argument("key_file", type=click.Path(path_type=Path))
@click.option(
    "--passphrase/--no-passphrase",
    "protect",
    default=False,
    show_default=True,
    help="Encrypt the key with a passphrase (asked for, or from --passphrase-file / "
    "PRESERVE_KEY_PASSPHRASE).",
)
@passphrase_option
@click.option(
    "--archive",
    "archive",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also add the public key to ARCHIVE/trusted-keys/.",
)
@json_option
@handles_errors
def keys_init(
    key_file: Path,
    protect: bool,
    passphrase_file: Path | None,
    archive: Path | None,
    as_json: bool,
) -> None:
    """Create a new Ed25519 signing key KEY_FILE (mode 0600) and KEY.pub.pem beside it.

    Never overwrites a key. Keep the private key outside the archive (and
    backed up); give the .pub.pem file to whoever verifies your bags.
    """
    from preserve.errors import KeyFileError
    from preserve.keys import generate_key, trust_key

    passphrase = None
    if protect or passphrase_file is not None:
        passphrase = read_passphrase(passphrase_file, confirm=True)
        if not passphrase:
            raise KeyFileError(
                "--passphrase needs a passphrase: a terminal to type it, --passphrase-file "
                "or PRESERVE_KEY_PASSPHRASE"
            )
    key, public = generate_key(key_file, passphrase=passphrase, archive=archive)
    trusted = trust_key(archive, key.public) if archive is not None else None
    document = {
        "key": str(key_file),
        "public_key": str(public),
        "fingerprint": key.fingerprint,
        "encrypted": passphrase is not None,
        "trusted_in": None if trusted is None else str(trusted),
    }
    if as_json:
        emit_json(document)
    else:
        click.echo(f"{key_file}: new Ed25519 key {key.fingerprint}")
        click.echo(f"{public}: its public key")
        if trusted is not None:
            click.echo(f"{trusted}: trusted by the archive")


@keys.command("export")
@click.argument("key_file", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write it here."
)
@passphrase_option
@handles_errors
def keys_export(key_file: Path, output: Path | None, passphrase_file: Path | None) -> None:
    """Print the public key (PEM) of a private key file, or of a public key file."""
    from preserve.errors import KeyFileError
    from preserve.keys import load_public_key, public_pem

    try:
        pem = public_pem(load_public_key(key_file))
    except KeyFileError:
        pem = public_pem(load_signing_key(key_file, passphrase_file).public)
    if output is None:
        click.echo(pem.decode("ascii"), nl=False)
        return
    try:
        output.write_bytes(pem)
    except OSError as exc:
        raise KeyFileError(f"cannot write: {exc.strerror or exc}", output) from None


@keys.command("trust")
@click.argument("archive", type=click.Path(file_okay=False, path_type=Path))
@click.argument("public_keys", nargs=-1, required=True, type=click.Path(path_type=Path))
@handles_errors
def keys_trust(archive: Path, public_keys: tuple[Path, ...]) -> None:
    """Add signers' public keys (PEM) to ARCHIVE/trusted-keys/."""
    from preserve.keys import fingerprint, load_public_key, trust_key

    loaded = [load_public_key(p) for p in public_keys]  # all checked before any is added
    for path, key in zip(public_keys, loaded, strict=True):
        click.echo(f"{path}: trusted as {trust_key(archive, key)} ({fingerprint(key)})")


# --------------------------------------------------------------------------- sign


@cli.command()
@click.argument("bags", nargs=-1, required=True, type=click.Path(path_type=Path))
@signing_options(required=True)
@json_option
@handles_errors
def sign(
    bags: tuple[Path, ...],
    key_file: Path,
    tsa_url: str | None,
    passphrase_file: Path | None,
    as_json: bool,
) -> None:
    """Sign bags: an Ed25519 signature over each tag manifest, in BAG/signatures/.

    The bag is verified first and refused if invalid (or, inside an archive, if
    it differs from the ledger's record). Re-signing replaces the old signature;
    a failure leaves the bag as it was. Inside an archive the signature is
    recorded in the ledger. Exit 0 all signed, 1 a bag was refused, 2 cannot run.
    """
    from preserve.signing import sign_archived_bag

    key = load_signing_key(key_file, passphrase_file)
    done: list[dict[str, Any]] = []
    failed: list[PreserveError] = []
    for bag in bags:
        try:
            info = sign_archived_bag(bag, key, tsa_url=tsa_url)
        except PreserveError as error:
            failed.append(error)
            if not as_json:
                click.echo(f"preserve: error: {error.one_line()}", err=True)
            continue
        done.append({"bag": str(bag), **info.as_dict()})
        if not as_json:
            stamped = [f.timestamp_time for f in info.files if f.timestamp_time]
            when = f", timestamped {stamped[0]}" if stamped else ""
            click.echo(f"{bag}: signed by {info.key_fingerprint}{when}")
    if as_json:
        emit_json({"signed": done, "errors": [e.one_line() for e in failed]})
    sys.exit(int(max((e.exit_code for e in failed), default=ExitCode.ok)))


# --------------------------------------------------------------------------- ledger


@cli.group("ledger")
def ledger_group() -> None:
    """The archive's ledger: check its hash chain, publish its head."""


@ledger_group.command("verify")
@click.argument("archive", type=click.Path(path_type=Path))
@click.option("--head", "published_head", help="A head published earlier (ledger anchor).")
@json_option
@handles_errors
def ledger_verify(archive: Path, published_head: str | None, as_json: bool) -> None:
    """Recompute the ledger's hash chain and report the first broken link.

    With --head, also prove that the history up to that published head is
    unchanged. Never writes. Exit 0 intact, 1 broken, 2 cannot run.
    """
    from preserve.ledger_check import verify_ledger

    found = verify_ledger(archive, published_head=published_head)
    report = found.chain
    tables = [p for p in found.problems if p.code != "ledger.chain-broken"]
    tables += [p for problems in found.bag_problems.values() for p in problems]
    if as_json:
        emit_json(
            {"archive": str(archive), **report.as_dict(), "tables": [p.as_dict() for p in tables]}
        )
    else:
        if report.broken is not None:
            b = report.broken
            click.echo(f"BROKEN {archive}: event {b.event_id}: {b.code}: {b.message}")
        elif tables:
            click.echo(f"DISAGREES {archive}: the tables differ from the chain's record")
        else:
            click.echo(f"INTACT {archive}: {report.events} events, head {report.head}")
        for problem in tables:
            click.echo(f"  {problem.one_line()}")
        if report.unchained:
            click.echo(
                f"note: {report.unchained} events from before the chain: sealed by the next "
                "write (ledger version 4)"
            )
        if report.head_found is True:
            click.echo(f"published head {report.published_head} is in the chain")
        elif report.head_found is False:
            click.echo(
                f"MISSING published head {report.published_head}: the history up to it was "
                "rewritten, or it belongs to another ledger"
            )
    sys.exit(int(ExitCode.ok if report.ok and not tables else ExitCode.bad))


@ledger_group.command("anchor")
@click.argument("archive", type=click.Path(path_type=Path))
@click.option("--tsa", "tsa_url", help="Also timestamp the head at this RFC 3161 TSA.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --tsa: where to write the anchor line (the .tsr goes beside it) "
    "[default: ARCHIVE/anchors/head-<last event id>.txt].",
)
@json_option
@handles_errors
def ledger_anchor(archive: Path, tsa_url: str | None, output: Path | None, as_json: bool) -> None:
    """Print the chain's head, for the institution to publish or deposit elsewhere.

    A later 'preserve ledger verify ARCHIVE --head HASH' proves that no event
    before it was rewritten. With --tsa the anchor line is timestamped; check it
    with: openssl ts -verify -data head-N.txt -in head-N.txt.tsr -CAfile TSA-ROOT.pem
    """
    from preserve import ledger
    from preserve.chain import anchor
    from preserve.errors import ArchiveError
    from preserve.timestamps import gen_time, request_timestamp

    db = ledger.connect(archive.absolute(), readonly=True)
    try:
        with ledger.reading(archive):
            head, report = anchor(db)
    finally:
        db.close()
    if not report.ok:
        assert report.broken is not None
        click.echo(
            f"preserve: error: {archive}: not anchored: the chain is broken at event "
            f"{report.broken.event_id} ({report.broken.code})",
            err=True,
        )
        sys.exit(int(ExitCode.bad))
    document: dict[str, Any] = {"archive": str(archive), **head.as_dict()}
    if tsa_url:
        line = (head.line() + "\n").encode("ascii")
        stamp = request_timestamp(tsa_url, line)  # before anything is written
        text_path = output or archive / "anchors" / f"head-{head.last_id or 0}.txt"
        tsr_path = text_path.with_name(text_path.name + ".tsr")
        try:
            text_path.parent.mkdir(parents=True, exist_ok=True)
            for path, data in ((text_path, line), (tsr_path, stamp.der)):
                temporary = path.with_name(f".{path.name}.tmp")
                temporary.write_bytes(data)
                temporary.replace(path)
        except OSError as exc:
            raise ArchiveError(
                f"cannot write the anchor: {exc.strerror or exc}", text_path
            ) from None
        document.update(
            {
                "file": str(text_path),
                "timestamp": str(tsr_path),
                "timestamp_time": gen_time(stamp.der),
            }
        )
    if as_json:
        emit_json(document)
    else:
        click.echo(head.line())
        if tsa_url:
            click.echo(f"{document['file']}: timestamped {document['timestamp_time']}")


# --------------------------------------------------------------------------- ingest


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--archive",
    "-a",
    "archive",
    type=click.Path(path_type=Path),
    default=Path("archive"),
    show_default=True,
    help="The archive folder (created if needed).",
)
@click.option(
    "--metadata",
    "metadata_file",
    type=click.Path(path_type=Path),
    help="Sidecar JSON for a single statement (default: STATEMENT.json beside each one).",
)
@pdfa_option
@click.option(
    "--algorithm",
    "algorithms",
    multiple=True,
    type=click.Choice(["md5", "sha1", "sha256", "sha512"]),
    help="Manifest algorithm; repeat for several. [default: sha256 and sha512]",
)
@click.option(
    "--workers", type=click.IntRange(min=1), help="Parallel processes [default: one per core]."
)
@click.option("--fail-fast", is_flag=True, help="Stop at the first statement that fails.")
@signing_options(required=False)
@json_option
@handles_errors
def ingest(
    inputs: tuple[Path, ...],
    archive: Path,
    metadata_file: Path | None,
    level: str,
    algorithms: tuple[str, ...],
    workers: int | None,
    fail_fast: bool,
    key_file: Path | None,
    tsa_url: str | None,
    passphrase_file: Path | None,
    as_json: bool,
) -> None:
    """Package statements (files, or folders of .txt files) as bags in an archive.

    Each statement is parsed, validated, rendered as PDF/A and written as a BagIt
    1.0 bag under ARCHIVE/bags/<identifier>/, published atomically and recorded in
    ARCHIVE/ledger.sqlite. Re-ingesting the same statement writes nothing; a
    different statement that would take an existing identifier is refused.
    """
    from preserve.archive import IngestOptions, IngestResult, Status, ingest
    from preserve.bagit_format import DigestAlgorithm
    from preserve.errors import UnreadableInput
    from preserve.render import PdfaLevel

    for path in inputs:
        if not path.exists():
            raise UnreadableInput("no such file or directory", path)
    if metadata_file is not None and len(inputs) != 1:
        raise click.UsageError("--metadata applies to a single statement")
    if tsa_url and key_file is None:
        raise click.UsageError("--tsa timestamps signatures: give --key too")
    signing_key = load_signing_key(key_file, passphrase_file) if key_file else None
    options = IngestOptions(
        level=PdfaLevel(level),
        algorithms=tuple(DigestAlgorithm[a] for a in algorithms) or IngestOptions().algorithms,
        metadata_file=metadata_file,
        workers=workers,
        fail_fast=fail_fast,
        signing_key=signing_key,
        tsa_url=tsa_url,
    )
    with progress_bar("Ingesting", enabled=not as_json) as advance:

        def on_result(result: IngestResult) -> None:
            advance()

        report = ingest(list(inputs), archive, options, progress=on_result)
    if as_json:
        emit_json(report.as_dict())
    else:
        for line in report.recovered:
            click.echo(f"recovered: {line}")
        for result in report.results:
            if result.status is Status.failed:
                message = result.message
                if not message.startswith(result.source):
                    message = f"{result.source}: {message}"
                click.echo(f"preserve: error: {message}", err=True)
            else:
                click.echo(f"{result.source}: {result.message}")
        click.echo(
            f"{report.count(Status.ingested)} ingested, "
            f"{report.count(Status.already_archived)} already archived, "
            f"{report.count(Status.failed)} failed — archive {report.archive}"
        )
    sys.exit(int(report.exit_code))


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


# --------------------------------------------------------------------------- search


@cli.command()
@click.argument("archive", type=click.Path(path_type=Path))
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", type=click.IntRange(1, 50), default=20, show_default=True)
@json_option
@handles_errors
def search(archive: Path, query: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Search the archive's statements by words in any language ("Search in archive").

    Every word must match (as a prefix from three letters on); best matches first.
    Exit status 0 when something was found, 1 when nothing was.
    """
    from preserve.search import search as run_search

    text = " ".join(query)
    hits = run_search(archive, text, limit=limit)
    if as_json:
        emit_json({"query": text, "hits": [h.as_dict() for h in hits]})
    else:
        for hit in hits:
            snippet = " ".join(hit.snippet.split())
            click.echo(f"{hit.identifier}  {hit.date_issued}  {hit.title}\n    {snippet}")
        if not hits:
            click.echo(f"no statement matches {text!r}", err=True)
    sys.exit(int(ExitCode.ok if hits else ExitCode.bad))


#: ``--max-files`` ... ``--max-ratio``: one option for each field of Limits.
_LIMIT_HELP = {
    "max_files": "Files and directories in one bag.",
    "max_depth": "Directory levels below the bag root.",
    "max_path_bytes": "UTF-8 bytes of one path.",
    "max_line_chars": "Characters of one manifest or fetch.txt line.",
    "max_manifest_bytes": "Bytes of one manifest or fetch.txt (SIZE).",
    "max_bag_info_bytes": "Bytes of bag-info.txt (SIZE).",
    "max_tag_file_bytes": "Bytes of any other tag file read whole (SIZE).",
    "max_bytes": "Bytes a serialized bag may make us decompress (SIZE: 100M, 2G, bytes).",
    "max_ratio": "The largest compression ratio of a member.",
}
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """``100M``, ``2G``, ``512K`` or plain bytes (binary units), at least 1."""
    value = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = value[-1:] if value[-1:] in _SIZE_UNITS and value[-1:] else ""
    number = value[: len(value) - len(unit)]
    if not number.isascii() or not number.isdigit() or len(number) > 18 or int(number) < 1:
        raise click.BadParameter(f"{text!r} is not a size like 100M, 2G or 4096")
    return int(number) * _SIZE_UNITS[unit]


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

    from preserve.bagit_format import Limits
    from preserve.settings import load_settings

    base = load_settings(archive).limits if archive is not None else Limits()
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


@cli.command()
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
    jsonl_file: Path | None,
    all_bags: bool,
    as_json: bool,
    **given_limits: Any,
) -> None:
    """Verify every bag of an archive and compare the archive with its ledger.

    Finds corrupt, missing and planted bags, and bags rewritten consistently
    after ingest (payload and manifests edited together). Records each result in
    the ledger, the only thing it writes. Exit 0 all good, 1 problems found.
    """
    from preserve.audit import audit as run_audit
    from preserve.audit import parse_duration, status

    try:
        age = parse_duration(max_age)
        seconds = parse_duration(budget).total_seconds() if budget else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if show_status:
        rows = status(archive, max_age=age)
        if as_json:
            emit_json(
                {
                    "archive": str(archive),
                    "max_age_days": age.days,
                    "bags": [r.as_dict() for r in rows],
                }
            )
        else:
            for row in rows:
                flag = "OVERDUE " if row.overdue else ""
                click.echo(
                    f"{flag}{row.identifier}  {row.last_verified_at or 'never'}  "
                    f"{row.last_result or '-'}"
                )
            overdue = sum(1 for r in rows if r.overdue)
            click.echo(f"{len(rows)} bags, {overdue} overdue (older than {max_age})")
        sys.exit(int(ExitCode.bad if any(r.overdue for r in rows) else ExitCode.ok))
    with contextlib.ExitStack() as stack:
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
        )
    if as_json:
        emit_json(report.as_dict())
    else:
        summary = report.as_dict()
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


# --------------------------------------------------------------------------- export


@cli.command()
@click.argument("bag", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["tar", "tar.gz", "zip"]),
    help="Serialization [default: from OUTPUT's name: .tar, .tar.gz/.tgz or .zip].",
)
@click.option(
    "-o", "--output", required=True, type=click.Path(path_type=Path), help="The file to write."
)
@json_option
@handles_errors
def export(bag: Path, fmt: str | None, output: Path, as_json: bool) -> None:
    """Serialize BAG as one tar, tar.gz or zip file to hand to another archive.

    The file holds a single folder named after the bag, as APTrust and
    Archivematica expect, and depends on the bag alone: exporting twice gives the
    same bytes. OUTPUT is replaced atomically; a symlink in the bag is refused.
    """
    from preserve.export import ExportFormat, export_bag

    result = export_bag(bag, output, ExportFormat(fmt) if fmt else None)
    if as_json:
        emit_json(result.as_dict())
    else:
        click.echo(
            f"{result.path}: {result.format.value}, {result.files} files, "
            f"{result.size:,} bytes, sha256 {result.sha256}"
        )


# --------------------------------------------------------------------------- verify


@cli.command()
@click.argument("bags", nargs=-1, required=True, type=click.Path(path_type=Path))
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
    "--require-signature",
    is_flag=True,
    help="A bag without signatures/ is invalid (signature.missing) "
    "[default: as the archive's [signing] required says, for a bag inside an archive].",
)
@limit_options
@json_option
@handles_errors
def verify(
    bags: tuple[Path, ...],
    workers: int | None,
    trusted_keys: tuple[Path, ...],
    tsa_roots: tuple[Path, ...],
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
    from preserve.bag_checks import PreserveChecks
    from preserve.signing import Trust
    from preserve.verify import CANNOT_OPEN, verify_bags

    trust = Trust.from_files(trusted_keys, tsa_roots) if trusted_keys or tsa_roots else None
    checks = (PreserveChecks(trust, require_signature=True if require_signature else None),)
    from preserve.signing import archive_of

    # One set of limits for the run: the options, else the [limits] of the archive
    # the (first) bag sits in, else the defaults.
    limits = chosen_limits(archive_of(bags[0].absolute()), given_limits)
    results = list(verify_bags(bags, workers=workers, extra_checks=checks, limits=limits))
    if as_json:
        emit_json({"valid": all(r.valid for r in results), "bags": [r.as_dict() for r in results]})
    else:
        for r in results:
            click.echo(
                f"{'VALID' if r.valid else 'INVALID'} {r.bag} "
                f"({r.files_checked} files, {r.bytes_checked:,} bytes, {r.seconds:.2f} s)"
            )
            for p in r.problems:
                click.echo(f"  {p.severity.value} {p.code} {p.path or '.'}: {p.message}")
    if any(p.code == CANNOT_OPEN for r in results for p in r.problems):
        sys.exit(int(ExitCode.cannot_run))
    sys.exit(int(ExitCode.ok if all(r.valid for r in results) else ExitCode.bad))


# --------------------------------------------------------------------------- settings


@cli.command("settings")
@click.argument("archive", type=click.Path(path_type=Path))
@click.argument("key", required=False)
@click.argument("value", required=False)
@json_option
@handles_errors
def settings_command(archive: Path, key: str | None, value: str | None, as_json: bool) -> None:
    """Show or change the archive's settings (ARCHIVE/settings.toml).

    Without KEY: every setting. With KEY (section.key, e.g. institution.name): its
    value. With KEY and VALUE: set it (typed and checked against the settings
    schema, written atomically). Known keys: institution.name, institution.address,
    institution.contact_name, institution.contact_email, institution.identifiers.SCHEME,
    limits.max_files (and every other verifier limit), signing.required,
    replicas.copies, replicas.targets.NAME.url.
    """
    from preserve import settings

    if value is not None:
        assert key is not None
        raw = settings.set_value(archive, key, value)
        log.info("set %s in %s", key, settings.settings_path(archive))
        shown: Any = settings.get_value(raw, key)
    else:
        raw = settings.read_raw(archive)
        if key is not None:
            settings.check_key(key)
        shown = raw if key is None else settings.get_value(raw, key)
    if as_json:
        emit_json(shown)
    elif isinstance(shown, dict):
        import tomli_w

        text = tomli_w.dumps(shown if key is None else {key: shown}).rstrip()
        click.echo(text or "(no settings)")
    elif shown is not None:
        click.echo(str(shown).lower() if isinstance(shown, bool) else shown)
    if shown is None:
        click.echo(f"{key} is not set", err=True)
        sys.exit(int(ExitCode.bad))
