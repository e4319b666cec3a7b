"""Commands that write bags for other repositories: export, profiles."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from preserve.cli.options import (
    emit_json,
    handles_errors,
    json_option,
    load_signing_key,
    passphrase_option,
)
from preserve.errors import ExitCode, PreserveError

if TYPE_CHECKING:
    from preserve.export.spec import Options

# --------------------------------------------------------------------------- export


@click.command()
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
    if out_dir is not None:
        _make_out_dir(out_dir)
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


@click.command("profiles")
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


def _make_out_dir(out_dir: Path) -> None:
    """``--out-dir`` is created when absent (with its parents), as a user expects of an
    output folder; an existing non-folder is refused before anything is written."""
    from preserve.errors import ArchiveError

    if out_dir.is_dir():
        return
    if out_dir.exists() or out_dir.is_symlink():
        raise ArchiveError("exists and is not a folder; nothing written", out_dir)
    try:
        out_dir.mkdir(parents=True)
    except OSError as exc:
        raise ArchiveError(
            f"cannot create the output folder: {exc.strerror or exc}", out_dir
        ) from None
