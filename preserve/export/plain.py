"""A plain export (no profile) whose file name differs from the bag's folder name.

Archivematica, APTrust and most tools that take a serialized bag expect its single
top-level folder to be named as the file. ``preserve export BAG -o renamed.tar``
therefore writes ``renamed/``, and so that the copy still says what it is, its
bag-info gains ``Internal-Sender-Identifier: renamed`` (RFC 8493: "an alternate
sender-specific identifier for the content and/or bag"; ``preserve verify`` accepts
a folder so declared in place of the statement's identifier). That changes a tag
file, so the tag manifests are re-hashed, and a signature over the old ones would
no longer verify: the copy is re-signed with a key when one is given, otherwise
the signature is left out and the copy's PREMIS (and the command's output) says so
and why. An export under the bag's own name is :func:`~.serialize.export_bag` as it
is, byte for byte. The bag in the archive is only read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preserve.bagit_format import (
    BAG_INFO_TXT,
    BAGIT_TXT,
    ManifestKind,
    format_manifest,
    parse_bagit_txt,
    parse_manifest_name,
)
from preserve.errors import InputError, UnreadableInput
from preserve.export.serialize import (
    ExportFormat,
    ExportResult,
    _check_bag_dir,
    _check_target,
    export_bag,
    top_name,
)
from preserve.export.staging import (
    SIGNATURES_DIR,
    Change,
    Staged,
    Workspace,
    _walk,
    add_premis_event,
)

__all__ = ["RENAME_FIELD", "PlainExport", "export_plain"]

#: The bag-info field that names the folder a renamed export unpacks to.
RENAME_FIELD = "Internal-Sender-Identifier"
PREMIS_NAME = "premis.xml"


@dataclass(frozen=True)
class PlainExport:
    """What a plain export wrote, and what it had to change to rename the folder."""

    result: ExportResult
    #: The bag's own folder name, when the export's folder is named otherwise.
    renamed_from: str | None
    #: ``kept`` (as in the bag), ``re-signed``, ``dropped`` or ``unsigned``.
    signature: str
    changes: tuple[Change, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.result.as_dict(),
            "renamed_from": self.renamed_from,
            "signature": self.signature,
            "changes": [c.as_dict() for c in self.changes],
        }


def export_plain(
    bag_dir: Path, out: Path, fmt: ExportFormat | None = None, *, key: Any = None
) -> PlainExport:
    """Serialize ``bag_dir`` to ``out`` with its top folder named as ``out`` is.

    ``key`` (a :class:`preserve.keys.SigningKey`) re-signs a copy whose tag files
    changed. Raises what :func:`~.serialize.export_bag` raises, and
    :class:`InputError` for an invalid bag asked to be renamed (nothing written).
    """
    bag_dir = Path(bag_dir)
    fmt = fmt or ExportFormat.from_path(out)
    if fmt is None:
        raise InputError("cannot tell the format from the name; use .tar, .tar.gz or .zip", out)
    own = _check_bag_dir(bag_dir)
    top = top_name(out)
    signed = (bag_dir / SIGNATURES_DIR).exists() or (bag_dir / SIGNATURES_DIR).is_symlink()
    if top == own:
        result = export_bag(bag_dir, out, fmt)
        return PlainExport(result, None, "kept" if signed else "unsigned")
    _check_target(bag_dir, out)
    if not top.isprintable() or top.strip() != top:
        raise InputError(
            "the file's name, which names the bag's folder, must be printable on one line "
            "without leading or trailing spaces",
            out,
        )
    _check_valid(bag_dir)
    changes: list[Change] = [Change("renamed", ".", f"top folder {own}/ exported as {top}/")]
    with Workspace(out) as work:
        built = work / top
        built.mkdir()
        for rel, path in _walk(bag_dir, ""):
            if rel.split("/", 1)[0] == SIGNATURES_DIR:
                continue
            target = built.joinpath(*rel.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(path, target, follow_symlinks=False)
            except OSError as exc:
                raise UnreadableInput(f"cannot read ({exc.strerror})", path) from None
        changes.append(_declare_name(built, top, out))
        signature = "unsigned"
        if signed and key is None:
            signature = "dropped"
            why = (
                f"the bag's signature ({SIGNATURES_DIR}/) signs tag manifests this export "
                f"rewrites (bag-info.txt names the folder {top}/), so it would no longer "
                "verify; it was left out. The archived bag keeps it; export with --key to "
                "sign the copy"
            )
            changes.append(Change("dropped", f"{SIGNATURES_DIR}/", why))
            changes += _premis_event(built, f"Digital signature dropped: {why}.")
        _rehash_tag_manifests(built)
        if key is not None:
            from preserve.signing import sign_bag

            info = sign_bag(built, key)
            signature = "re-signed"
            left = " (the bag's own signatures sign the old tag manifests: left out)"
            changes.append(
                Change(
                    "signed",
                    f"{SIGNATURES_DIR}/",
                    f"signed by {info.key_fingerprint}{left if signed else ''}",
                )
            )
        _check_valid(built, copy=True)
        result = export_bag(built, out, fmt, top=top)
    return PlainExport(result, own, signature, tuple(changes))


def _check_valid(bag_dir: Path, *, copy: bool = False) -> None:
    """An invalid bag is not renamed: its tag manifests would be re-hashed over the damage."""
    from preserve.verify import CANNOT_OPEN, verify_bag

    result = verify_bag(bag_dir, threads=1)
    if result.valid:
        return
    first = result.errors[0]
    if first.code == CANNOT_OPEN:
        raise UnreadableInput(first.message, bag_dir)
    what = "the bag changed while being exported" if copy else "not a valid bag"
    raise InputError(
        f"{what}, not exported: {first.code} {first.path or '.'}: {first.message}", bag_dir
    )


def _declare_name(built: Path, top: str, out: Path) -> Change:
    """Add ``Internal-Sender-Identifier: <top>`` to the copy's bag-info (other lines kept),
    in the tag files' declared encoding."""
    _, encoding, _ = parse_bagit_txt((built / BAGIT_TXT).read_bytes())
    path = built / BAG_INFO_TXT
    data = path.read_bytes() if path.is_file() else b""
    newline = b"\r\n" if data.endswith(b"\r\n") else b"\n"
    if data and not data.endswith(newline):
        data += newline
    try:
        line = f"{RENAME_FIELD}: {top}".encode(encoding or "utf-8") + newline
    except (LookupError, UnicodeEncodeError):
        raise InputError(
            f"the name {top!r} cannot be written in the bag's tag file encoding {encoding}", out
        ) from None
    path.write_bytes(data + line)
    return Change("added", f"{BAG_INFO_TXT}:{RENAME_FIELD}", top)


def _premis_event(built: Path, detail: str) -> list[Change]:
    """One PREMIS event in the copy's ``premis.xml``, when the bag has one."""
    path = built / PREMIS_NAME
    if not path.is_file():
        return []
    staged = Staged(files={PREMIS_NAME: path.read_bytes()}, bag_info=[])
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    add_premis_event(staged, PREMIS_NAME, "metadata modification", detail, now)
    path.write_bytes(staged.files[PREMIS_NAME])
    return staged.changes


def _rehash_tag_manifests(built: Path) -> None:
    """Every tag manifest lists the same files as before, with their digests now."""
    from preserve.bagit_format import parse_manifest

    for manifest in sorted(built.iterdir()):
        parsed = parse_manifest_name(manifest.name)
        if parsed is None or parsed[0] is not ManifestKind.tag:
            continue
        alg = parsed[1]
        entries = parse_manifest(manifest.read_bytes(), manifest.name).entries
        rows = []
        for entry in entries:
            listed = built.joinpath(*entry.path.split("/"))
            digest = hashlib.new(alg, listed.read_bytes()).hexdigest()
            rows.append((digest, entry.path))
        manifest.write_bytes(format_manifest(rows))
