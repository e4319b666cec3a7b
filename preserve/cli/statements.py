"""Commands on statements: validate, render, ingest, capture."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from preserve.cli.options import (
    emit_json,
    encoding_option,
    handles_errors,
    json_option,
    load_signing_key,
    metadata_option,
    open_executor,
    pdfa_option,
    progress_bar,
    scheduler_options,
    signing_options,
)

# --------------------------------------------------------------------------- validate


@click.command()
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


@click.command()
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
    from preserve.inputs.prepare import prepare_input
    from preserve.render import PdfaLevel, associated_files, render_statement, write_pdf

    received, prepared = prepare_input(statement, metadata_file, encoding)
    metadata = prepared.metadata()  # raises ValidationFailed (exit 1) listing the problems
    assert prepared.statement is not None
    rendering = render_statement(
        prepared.statement,
        metadata,
        PdfaLevel.parse(level),
        attachments=associated_files(received.files, metadata),  # PDF/A-3: what it came as
    )
    write_pdf(rendering, output)
    click.echo(
        f"{output}: PDF/A-{rendering.level.value}, {rendering.page_count} page(s), "
        f"fonts {', '.join(rendering.fonts)}; read back: {rendering.selfcheck.words} words, "
        "identical to the text"
    )


# --------------------------------------------------------------------------- ingest


@click.command()
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


@click.command()
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
