"""Commands on keys, signatures and the ledger: keys, sign, ledger."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from preserve.cli.options import (
    emit_json,
    handles_errors,
    json_option,
    load_signing_key,
    passphrase_option,
    read_passphrase,
    signing_options,
)
from preserve.errors import ExitCode, PreserveError

# --------------------------------------------------------------------------- keys


@click.group()
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


@click.command()
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


@click.group("ledger")
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
