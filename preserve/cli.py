"""The ``preserve`` command line: a thin layer over the Python API.

Each command parses its options, calls one library function and presents the
result: text for people, one JSON document with ``--json`` for machines. Library
errors carry their exit code (:mod:`preserve.errors`); :func:`run` maps them here
and nowhere else. Exit status: 0 good, 1 checked and found bad, 2 could not run.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from preserve import __version__
from preserve.errors import ExitCode, PreserveError

if TYPE_CHECKING:
    from preserve.export.spec import Options

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


def encoding_option(func: F) -> F:
    """``--encoding NAME``: a statement's encoding, when it is not UTF-8 and detection
    is not sure (or not wanted)."""
    return click.option(
        "--encoding",
        metavar="NAME",
        help="The statement's encoding when it is not UTF-8 (e.g. windows-1251, koi8-r, "
        "gb18030); decoded strictly, without detection.",
    )(func)


# --------------------------------------------------------------------------- validate


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@metadata_option
@encoding_option
@json_option
@handles_errors
def validate(
    files: tuple[Path, ...], metadata_file: Path | None, encoding: str | None, as_json: bool
) -> None:
    """Check a statement's metadata (or a metadata JSON file) against the schema.

    A .txt statement is parsed into a draft (title, signer, role, date, language)
    and completed by its sidecar; a .json file is checked on its own. Prints the
    merged record, or every problem with its field path.
    """
    from preserve.metadata import validate_files

    report = validate_files(list(files), metadata_file, encoding)
    if as_json:
        emit_json(report.as_dict())
    else:
        for result in report.results:
            click.echo(result.as_text())
    sys.exit(int(report.exit_code))


# --------------------------------------------------------------------------- render


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
@encoding_option
@handles_errors
def render(
    statement: Path, output: Path, level: str, metadata_file: Path | None, encoding: str | None
) -> None:
    """Render a statement as a PDF/A preservation copy.

    SOURCE_DATE_EPOCH pins the creation date, so the same input gives the same bytes.
    """
    from preserve.metadata import prepare_file
    from preserve.render import PdfaLevel, render_statement, write_pdf

    prepared = prepare_file(statement, metadata_file, encoding)
    metadata = prepared.metadata()  # raises ValidationFailed (exit 1) listing the problems
    assert prepared.statement is not None
    rendering = render_statement(prepared.statement, metadata, PdfaLevel.parse(level))
    write_pdf(rendering, output)
    click.echo(
        f"{output}: PDF/A-{rendering.level.value}, {rendering.page_count} page(s), "
        f"fonts {', '.join(rendering.fonts)}; read back: {rendering.selfcheck.words} words, "
        "identical to the text"
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
@click.option(
    "--signer",
    help="Who signs (an archivist, an institution), recorded with the signature and as "
    "its PREMIS agent.",
)
@json_option
@handles_errors
def sign(
    bags: tuple[Path, ...],
    key_file: Path,
    tsa_url: str | None,
    passphrase_file: Path | None,
    signer: str | None,
    as_json: bool,
) -> None:
    """Sign bags: an Ed25519 signature over each tag manifest, in BAG/signatures/.

    The bag is verified first and refused if invalid (or, inside an archive, if
    it differs from the ledger's record). On a signed bag another key adds a
    countersignature (BAG/signatures/signers/KEY/), each signer checked on its own;
    the same key replaces its own signature, and a signature that no longer
    verifies is replaced (and named). A failure leaves the bag as it was. Inside
    an archive each signer is recorded in the ledger. Exit 0 all signed, 1 a bag
    was refused, 2 cannot run.
    """
    from preserve.signing import sign_archived_bag

    key = load_signing_key(key_file, passphrase_file)
    done: list[dict[str, Any]] = []
    failed: list[PreserveError] = []
    for bag in bags:
        try:
            info = sign_archived_bag(bag, key, tsa_url=tsa_url, signer=signer)
        except PreserveError as error:
            failed.append(error)
            if not as_json:
                click.echo(f"preserve: error: {error.one_line()}", err=True)
            continue
        done.append(
            {"bag": str(bag), "folder": info.folder, "replaced": info.replaced, **info.as_dict()}
        )
        if not as_json:
            stamped = [f.timestamp_time for f in info.files if f.timestamp_time]
            when = f", timestamped {stamped[0]}" if stamped else ""
            who = f" ({info.signer})" if info.signer else ""
            if info.countersignature:
                beside = ", ".join(info.countersigns)
                click.echo(
                    f"{bag}: countersigned by {info.key_fingerprint}{who}{when}, beside {beside}"
                )
            else:
                click.echo(f"{bag}: signed by {info.key_fingerprint}{who}{when}")
            for why in info.replaced:
                click.echo(f"{bag}: replaced a signature that no longer verified: {why}")
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
@encoding_option
@signing_options(required=False)
@scheduler_options
@json_option
@handles_errors
def ingest(
    inputs: tuple[Path, ...],
    archive: Path,
    metadata_file: Path | None,
    encoding: str | None,
    level: str,
    algorithms: tuple[str, ...],
    workers: int | None,
    fail_fast: bool,
    key_file: Path | None,
    tsa_url: str | None,
    passphrase_file: Path | None,
    scheduler: str | None,
    path_map: str | None,
    batch_size: int | None,
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
        encoding=encoding,
        workers=workers,
        fail_fast=fail_fast,
        signing_key=signing_key,
        tsa_url=tsa_url,
    )
    with (
        open_executor(scheduler, path_map, batch_size) as executor,
        progress_bar("Ingesting", enabled=not as_json) as advance,
    ):

        def on_result(result: IngestResult) -> None:
            advance()

        if executor is not None:
            options = dataclasses.replace(options, executor=executor)
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


@cli.command()
@click.argument("urls", nargs=-1, required=True)
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
    "--rate-limit",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Seconds between two requests to one host (0: no pause).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds a connection or a whole answer may take.",
)
@click.option(
    "--max-page-bytes",
    type=click.IntRange(min=1),
    default=10 * 1024 * 1024,
    show_default=True,
    help="A larger page is refused.",
)
@click.option(
    "--max-requisites",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="Stylesheets and images fetched with the page, at most.",
)
@click.option(
    "--metadata",
    "metadata_file",
    type=click.Path(path_type=Path),
    help="Sidecar JSON for a single page (creator, date… the page does not state).",
)
@pdfa_option
@json_option
@handles_errors
def capture(
    urls: tuple[str, ...],
    archive: Path,
    rate_limit: float,
    timeout: float,
    max_page_bytes: int,
    max_requisites: int,
    metadata_file: Path | None,
    level: str,
    as_json: bool,
) -> None:
    """Capture web pages to WARC 1.1 and ingest each as a statement.

    Each URL is fetched with the stylesheets and images it needs (redirects
    followed and recorded) into a WARC with request, response and metadata
    records; the bag holds the WARC, the page's HTML as served and the text
    extracted from it, with the address and retrieval time in the record.
    A 4xx/5xx answer, an answer that is not HTML or a page over the limit: exit 1;
    a timeout or an unreachable host: exit 2; nothing of that page is ingested.
    """
    from preserve.archive import IngestOptions, Status
    from preserve.inputs.capture import CaptureOptions, capture_into_archive
    from preserve.render import PdfaLevel

    if metadata_file is not None and len(urls) != 1:
        raise click.UsageError("--metadata applies to a single page")
    options = CaptureOptions(
        rate_limit=rate_limit,
        timeout=timeout,
        max_page_bytes=max_page_bytes,
        max_requisites=max_requisites,
    )
    ingest_options = IngestOptions(level=PdfaLevel(level), metadata_file=metadata_file)
    report = capture_into_archive(list(urls), archive, options, ingest_options)
    if as_json:
        emit_json(report.as_dict())
    else:
        for result in report.results:
            if result.status is Status.failed:
                click.echo(f"preserve: error: {result.source}: {result.message}", err=True)
            else:
                click.echo(f"{result.source}: {result.message}")
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
            if hit.versions:
                click.echo(f"    versions: {', '.join(hit.versions)}")
        if not hits:
            click.echo(f"no statement matches {text!r}", err=True)
    sys.exit(int(ExitCode.ok if hits else ExitCode.bad))


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
    as_json: bool,
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
    if check_replicas or repair:
        _audit_replicas(archive, repair, as_json)
    if show_status:
        rows = status(archive, max_age=age)
        from preserve.replicas import copy_status

        required, copies = copy_status(
            archive, {r.identifier: (r.last_verified_at, r.last_result) for r in rows}
        )
        at_risk = [c for c in copies if c.at_risk]
        if as_json:
            emit_json(
                {
                    "archive": str(archive),
                    "max_age_days": age.days,
                    "bags": [r.as_dict() for r in rows],
                    "required_copies": required,
                    "copies": [c.as_dict() for c in copies],
                    "at_risk": [c.identifier for c in at_risk],
                }
            )
        else:
            for c in at_risk:
                where = ", ".join(
                    f"{t} {v or 'never'} {r or '-'}" for t, (v, r) in c.copies.items()
                )
                click.echo(f"AT RISK {c.identifier}: {c.good} of {required} good copies ({where})")
            for row in rows:
                flag = "OVERDUE " if row.overdue else ""
                click.echo(
                    f"{flag}{row.identifier}  {row.last_verified_at or 'never'}  "
                    f"{row.last_result or '-'}"
                )
            overdue = sum(1 for r in rows if r.overdue)
            click.echo(f"{len(rows)} bags, {overdue} overdue (older than {max_age})")
            if required > 1 or any(len(c.copies) > 1 for c in copies):
                click.echo(f"{len(at_risk)} bags with fewer than {required} good copies")
        bad = any(r.overdue for r in rows) or bool(at_risk)
        sys.exit(int(ExitCode.bad if bad else ExitCode.ok))
    with (
        open_executor(scheduler, path_map, batch_size) as executor,
        progress_bar("Auditing", enabled=not as_json) as advance,
    ):
        report = run_audit(
            archive,
            limit=limit,
            budget=seconds,
            workers=workers,
            record=not no_record,
            progress=lambda _r: advance(),
            executor=executor,
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
            for problem in bag.problems:
                click.echo(f"{bag.path}: {problem.one_line()}")
    sys.exit(int(ExitCode.ok if report.ok else ExitCode.bad))


# --------------------------------------------------------------------------- export


@cli.command()
@click.argument("bags", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["tar", "tar.gz", "zip"]),
    help="Serialization without --profile [default: from OUTPUT's name: .tar, .tar.gz/.tgz "
    "or .zip; tar in --out-dir].",
)
@click.option(
    "--profile",
    help="Rewrite for a repository: aptrust, btr, archivematica, dspace-saf or chronopolis "
    "(see `preserve profiles`).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="The file to write (for dspace-saf and chronopolis: the folder to create).",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write each BAG here, named by the profile's rule (the bag's identifier).",
)
@click.option(
    "--archive",
    type=click.Path(file_okay=False, path_type=Path),
    help="The archive whose settings give the institution [default: the one BAG is in].",
)
@click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path),
    help="Re-sign an export that rewrites tag files (a profile, or a renamed folder) with this "
    "Ed25519 key (else the stale signature is dropped, and the copy says why).",
)
@passphrase_option
@click.option(
    "--access",
    default="Institution",
    show_default=True,
    help="APTrust Access: Restricted, Institution (Consortia is deprecated).",
)
@click.option(
    "--storage-option", default="Standard", show_default=True, help="APTrust Storage-Option."
)
@click.option(
    "--collection",
    "collections",
    multiple=True,
    help="DSpace collection handle for the item's collections file; repeatable.",
)
@click.option("--handle", help="DSpace handle to keep for the item (the handle file).")
@json_option
@handles_errors
def export(
    bags: tuple[Path, ...],
    fmt: str | None,
    profile: str | None,
    output: Path | None,
    out_dir: Path | None,
    archive: Path | None,
    key_file: Path | None,
    passphrase_file: Path | None,
    access: str,
    storage_option: str,
    collections: tuple[str, ...],
    handle: str | None,
    as_json: bool,
) -> None:
    """Serialize BAG for another archive, as it is or rewritten for a repository's profile.

    Without --profile: one tar, tar.gz or zip file holding the bag's folder as it
    is, depending on the bag alone (exporting twice gives the same bytes; OUTPUT is
    replaced atomically); the folder is named as OUTPUT is, and a name other than
    the bag's is declared in bag-info (Internal-Sender-Identifier), which re-signs
    the copy with --key or drops its signature, saying why. With --profile: what
    that repository takes (manifests, tag files, layout, the folder named as the
    file); institution details come
    from the archive's settings; an existing output is refused. The bag in the
    archive is never modified. Every file the export added, renamed, rewrote or
    dropped is listed. Exit 0 all written, 1 a
    bag or option was refused, 2 cannot run (missing setting, unwritable output).
    """
    from preserve.errors import InputError
    from preserve.export import ExportFormat

    if (output is None) == (out_dir is None):
        raise InputError("give either -o OUTPUT (one bag) or --out-dir DIR")
    if output is not None and len(bags) > 1:
        raise InputError("-o takes one bag; use --out-dir DIR for several")
    if profile is None:
        from preserve.export.plain import export_plain

        key = load_signing_key(key_file, passphrase_file) if key_file is not None else None
        done: list[dict[str, Any]] = []
        for bag in bags:
            target = output or Path(out_dir or ".") / (bag.name + f".{fmt or 'tar'}")
            plain = export_plain(bag, target, ExportFormat(fmt) if fmt else None, key=key)
            result = plain.result
            done.append(plain.as_dict())
            if not as_json:
                click.echo(
                    f"{result.path}: {result.format.value}, {result.files} files, "
                    f"{result.size:,} bytes, sha256 {result.sha256}"
                    + (f"; signature {plain.signature}" if plain.renamed_from else "")
                )
                for change in plain.changes:
                    click.echo(f"  {change.one_line()}")
        if as_json:
            emit_json(done[0] if output is not None else {"exports": done, "errors": []})
        return
    from preserve.export.profiles import get_profile
    from preserve.export.spec import Options

    get_profile(profile)  # an unknown name is refused before a key is asked for
    key = load_signing_key(key_file, passphrase_file) if key_file is not None else None
    options = Options(
        access=access,
        storage_option=storage_option,
        collections=collections,
        handle=handle,
        key=key,
    )
    _export_profiles(bags, profile, output, out_dir, archive, options, as_json)


def _export_profiles(
    bags: tuple[Path, ...],
    profile: str,
    output: Path | None,
    out_dir: Path | None,
    archive: Path | None,
    options: Options,
    as_json: bool,
) -> None:
    """``export --profile``: each bag in turn; one line per failure, the rest still written."""
    import dataclasses

    from preserve.export.profiles import default_name, export_profile, get_profile
    from preserve.settings import Institution, load_settings
    from preserve.signing import archive_of

    spec = get_profile(profile)
    done: list[dict[str, Any]] = []
    failed: list[PreserveError] = []
    for bag in bags:
        try:
            home = archive or archive_of(bag)
            institution = load_settings(home).institution if home else Institution()
            target = output or Path(out_dir or ".") / default_name(spec, bag.name)
            result = export_profile(
                bag,
                profile,
                target,
                dataclasses.replace(options, institution=institution),
                archive=home,
            )
        except PreserveError as error:
            failed.append(error)
            if not as_json:
                click.echo(f"preserve: error: {error.one_line()}", err=True)
            continue
        done.append({"bag": str(bag), **result.as_dict()})
        if not as_json:
            digest = f", sha256 {result.sha256}" if result.sha256 else ""
            click.echo(
                f"{result.path}: {result.profile} {result.format}, {result.files} files, "
                f"{result.size:,} bytes{digest}; signature {result.signature}"
            )
            for change in result.changes:
                click.echo(f"  {change.one_line()}")
    if as_json:
        emit_json({"exports": done, "errors": [e.one_line() for e in failed]})
    sys.exit(int(max((e.exit_code for e in failed), default=ExitCode.ok)))


@cli.command("profiles")
@json_option
@handles_errors
def profiles_command(as_json: bool) -> None:
    """List the repository profiles `export --profile` writes, and what each needs."""
    from preserve.export.profiles import PROFILES

    if as_json:
        emit_json({"profiles": [spec.as_dict() for spec in PROFILES.values()]})
        return
    for spec in PROFILES.values():
        needs = ", ".join(f"institution.{n}" for n in spec.needs) or "nothing"
        click.echo(f"{spec.name}: {spec.repository}")
        click.echo(f"  writes: {spec.summary}")
        click.echo(f"  needs:  {needs}")


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
    "--profile",
    "profile_name",
    metavar="NAME|FILE",
    help="Also check every bag against this BagIt profile and report every violation: "
    "preserve, preserve-0.1, btr, aptrust, or a profile file (BagIt Profiles or DART JSON).",
)
@json_option
@handles_errors
def verify(
    bags: tuple[Path, ...],
    workers: int | None,
    trusted_keys: tuple[Path, ...],
    tsa_roots: tuple[Path, ...],
    profile_name: str | None,
    as_json: bool,
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
    from preserve.verify import CANNOT_OPEN, ExtraCheck, verify_bags

    trust = None
    if trusted_keys or tsa_roots:
        from preserve.signing import Trust  # cryptography: only when keys are given

        trust = Trust.from_files(trusted_keys, tsa_roots)
    checks: tuple[ExtraCheck, ...] = (PreserveChecks(trust),)
    if profile_name is not None:
        from preserve.bag_checks import ProfileCheck
        from preserve.profile import load_profile

        profile = load_profile(profile_name)
        for warning in profile.warnings:
            log.warning("%s: %s", profile.source, warning)
        checks += (ProfileCheck(profile),)
    results = list(verify_bags(bags, workers=workers, extra_checks=checks))
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


# --------------------------------------------------------------------------- serve


@cli.command("serve")
@click.argument("archive", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--token", envvar="PRESERVE_SERVE_TOKEN", help="Require 'Authorization: Bearer TOKEN'."
)
@click.option(
    "--basic", envvar="PRESERVE_SERVE_BASIC", help="Require HTTP basic auth USER:PASSWORD."
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes (one per core).",
)
@handles_errors
def serve_command(
    archive: Path, host: str, port: int, token: str | None, basic: str | None, workers: int
) -> None:
    """The reading room: browse, search, read and download ARCHIVE's statements (read-only).

    Listens on 127.0.0.1 unless --host says otherwise; another address needs
    --token or --basic. Also serves OAI-PMH 2.0 at /oai.
    """
    from preserve.serve import ServeConfig, create_app, run

    config = ServeConfig(archive, host=host, port=port, token=token, basic=basic)
    app = create_app(config)  # checks first: one line and exit 2 when it cannot serve
    click.echo(f"reading room for {archive} on http://{host}:{port}/ (Ctrl-C to stop)", err=True)
    run(config, app, workers=workers)


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
        for note in report.notes:
            click.echo(f"note: {note}")
        summary = report.as_dict()
        click.echo(
            f"{summary['bags_checked']} bags on {len(report.targets)} copies "
            f"({', '.join(report.targets)}): {summary['at_risk']} at risk, "
            f"{len(summary['lost'])} lost, {report.repaired} copies repaired"
        )
    sys.exit(int(ExitCode.ok if report.ok else ExitCode.bad))


@cli.command()
@click.argument("archive", type=click.Path(path_type=Path))
@click.option(
    "--to",
    "target",
    required=True,
    help="A folder, ssh://user@host[:port]/path, or a target named in settings.toml.",
)
@json_option
@handles_errors
def replicate(archive: Path, target: str, as_json: bool) -> None:
    """Copy every published bag of ARCHIVE to a replica target, verified where it lands.

    Idempotent and resumable: copies already there and good are left alone; each new
    copy goes through the target's staging/ and one rename, after it matches the
    ledger's chained record. A damaged copy there is reported (audit --repair mends it).
    Exit 0 all copied, 1 some bag could not be, 2 the target cannot be used.
    """
    from preserve.replicas import replicate as run

    with progress_bar("Replicating", enabled=not as_json) as advance:
        report = run(archive, target, progress=lambda _i: advance())
    if as_json:
        emit_json(report.as_dict())
    else:
        for identifier, reason in report.failed:
            click.echo(f"{report.target}: bags/{identifier}: {reason}")
        click.echo(
            f"{report.target}: {len(report.copied)} bags copied, {len(report.already)} "
            f"already there, {len(report.failed)} failed"
        )
    sys.exit(int(ExitCode.ok if report.ok else ExitCode.bad))


@cli.command()
@click.argument("archive", type=click.Path(path_type=Path))
@click.argument("identifier")
@click.option("--reason", required=True, help="Why (a legal takedown, a duplicate); kept.")
@json_option
@handles_errors
def withdraw(archive: Path, identifier: str, reason: str, as_json: bool) -> None:
    """Withdraw a bag from every copy: each is moved to quarantine/ (never deleted) and a
    chained tombstone keeps the reason, so audits expect the bag gone."""
    from preserve.replicas import withdraw as run

    report = run(archive, identifier, reason)
    if as_json:
        emit_json(report.as_dict())
    else:
        for target, aside in report.quarantined.items():
            click.echo(f"{target}: {aside or '(held no copy)'}")
        click.echo(f"{identifier}: withdrawn at {report.at} ({report.reason})")
