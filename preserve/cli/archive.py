"""Commands on an archive as a whole: search, settings, serve, replicate, withdraw."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from preserve.cli.options import (
    emit_json,
    handles_errors,
    json_option,
    log,
    progress_bar,
)
from preserve.errors import ExitCode

# --------------------------------------------------------------------------- search


@click.command()
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


# --------------------------------------------------------------------------- settings


@click.command("settings")
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


@click.command("serve")
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


@click.command()
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
        for stray in report.strays:
            done = f" ({stray.action})" if stray.action else ""
            click.echo(f"{report.target}: bags/{stray.identifier}: {stray.message}{done}")
        click.echo(
            f"{report.target}: {len(report.copied)} bags copied, {len(report.already)} "
            f"already there, {len(report.failed)} failed"
        )
    sys.exit(int(ExitCode.ok if report.ok else ExitCode.bad))


@click.command()
@click.argument("archive", type=click.Path(path_type=Path))
@click.argument("identifier")
@click.option("--reason", required=True, help="Why (a legal takedown, a duplicate); kept.")
@json_option
@handles_errors
def withdraw(archive: Path, identifier: str, reason: str, as_json: bool) -> None:
    """Withdraw a bag from every copy: each is moved to quarantine/ (never deleted) and a
    chained tombstone keeps the reason, so audits expect the bag gone.

    Exit 1 when a target could not be reached: the withdrawal is recorded, and the next
    replicate (or audit --repair) to that target puts its copy aside."""
    from preserve.replicas import withdraw as run

    report = run(archive, identifier, reason)
    if as_json:
        emit_json(report.as_dict())
    else:
        for target, aside in report.quarantined.items():
            click.echo(f"{target}: {aside or '(held no copy)'}")
        click.echo(f"{identifier}: withdrawn at {report.at} ({report.reason})")
        for target, why in report.pending.items():
            click.echo(
                f"{target}: not reached ({why}); the next replicate to it puts its copy aside"
            )
    if report.pending:
        sys.exit(int(ExitCode.bad))
