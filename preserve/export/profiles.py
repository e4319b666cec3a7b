"""Run a repository profile: read the bag, rewrite it, sign or say why not, write it.

:func:`export_profile` is the one path every profile takes, so checks happen in
one order: the profile and target first (an unknown profile, an existing
target or a missing institution setting writes nothing), then the bag (an
invalid bag is refused), then the copy is built in a temporary folder beside the
target and only a finished copy is moved or serialized into place. The bag in
the archive is only read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preserve.errors import ArchiveError, InputError
from preserve.export import aptrust, archivematica, btr, chronopolis, dspace_saf
from preserve.export.serialize import ExportFormat, export_bag, top_name
from preserve.export.spec import MissingSetting, Options, ProfileSpec
from preserve.export.staging import (
    SIGNATURES_DIR,
    Change,
    Workspace,
    add_premis_event,
    place,
    read_source,
    write_staged,
)

__all__ = ["PROFILES", "ProfileExport", "default_name", "export_profile", "get_profile"]

PROFILES: dict[str, ProfileSpec] = {
    spec.name: spec
    for spec in (aptrust.SPEC, btr.SPEC, archivematica.SPEC, dspace_saf.SPEC, chronopolis.SPEC)
}


@dataclass(frozen=True)
class ProfileExport:
    """What an export wrote and everything it changed, for the report."""

    path: Path
    profile: str
    #: ``tar``/``tar.gz``/``zip``, or ``folder``.
    format: str
    top: str
    files: int
    size: int
    #: SHA-256 of the serialized file; None for a folder.
    sha256: str | None
    #: ``re-signed``, ``dropped`` (a stale signature left out) or ``unsigned``.
    signature: str
    changes: tuple[Change, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "profile": self.profile,
            "format": self.format,
            "top": self.top,
            "files": self.files,
            "size": self.size,
            "sha256": self.sha256,
            "signature": self.signature,
            "changes": [c.as_dict() for c in self.changes],
        }


def get_profile(name: str) -> ProfileSpec:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        raise InputError(f"unknown profile {name!r}; known: {known}") from None


def default_name(spec: ProfileSpec, identifier: str) -> str:
    """The file or folder name a profile's export takes in ``--out-dir``: the bag's id."""
    return identifier + spec.default_suffix


def check_institution(spec: ProfileSpec, options: Options, archive: Path | None) -> None:
    """Every institution setting the profile needs, or one line naming the command that sets it."""
    for need in spec.needs:
        if not getattr(options.institution, need):
            where = str(archive) if archive else "ARCHIVE"
            raise MissingSetting(
                f"the {spec.name} profile needs institution.{need}; set it with "
                f"`preserve settings {where} institution.{need} VALUE`; nothing written"
            )


def _check_target(spec: ProfileSpec, out: Path) -> ExportFormat | None:
    if out.exists() or out.is_symlink():
        raise ArchiveError("already exists; nothing written", out)
    if not out.parent.is_dir():
        raise ArchiveError("the output folder does not exist", out.parent)
    if not spec.formats:
        if ExportFormat.from_path(out) is not None:
            raise InputError(f"the {spec.name} profile writes a folder, not a file", out)
        return None
    fmt = ExportFormat.from_path(out)
    if fmt not in spec.formats:
        allowed = " or ".join(f.suffix for f in spec.formats)
        raise InputError(f"the {spec.name} profile takes {allowed} only", out)
    problem = spec.name_rule(top_name(out)) if spec.name_rule else None
    if problem:
        raise InputError(f"{spec.repository} refuses this bag name ({problem})", out)
    return fmt


def export_profile(
    bag_dir: Path,
    profile: str,
    out: Path,
    options: Options,
    *,
    archive: Path | None = None,
) -> ProfileExport:
    """Write ``bag_dir`` to ``out`` as ``profile`` requires; the archived bag is only read."""
    spec = get_profile(profile)
    fmt = _check_target(spec, out)
    check_institution(spec, options, archive)
    source = read_source(bag_dir)
    staged = spec.build(source, options)
    signature = "unsigned"
    if source.signed and options.key is None:
        signature = "dropped"
        why = (
            f"the archived bag's signature ({SIGNATURES_DIR}/) signs tag manifests this "
            f"{spec.name} export rewrites, so it would no longer verify; it was left out. "
            "The archived bag keeps it; export with --key to sign the copy"
        )
        staged.changes.append(Change("dropped", f"{SIGNATURES_DIR}/", why))
        if spec.premis_path in staged.files:
            now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            add_premis_event(
                staged,
                spec.premis_path,
                "metadata modification",
                f"Digital signature dropped: {why}.",
                now,
            )
    top = top_name(out)
    with Workspace(out) as work:
        built = work / top
        built.mkdir()
        if spec.bagit:
            manifests = spec.manifests or tuple(source.algorithms)
            write_staged(staged, built, manifests, spec.tagmanifests or manifests)
            if options.key is not None:
                from preserve.signing import sign_bag

                info = sign_bag(built, options.key)
                signature = "re-signed"
                staged.changes.append(
                    Change("signed", f"{SIGNATURES_DIR}/", f"re-signed by {info.key_fingerprint}")
                )
        else:
            _write_plain(staged.files, built)
        files = sum(1 for p in built.rglob("*") if p.is_file())
        if fmt is None:
            size = sum(p.stat().st_size for p in built.rglob("*") if p.is_file())
            place(built, out)
            return ProfileExport(
                out, spec.name, "folder", top, files, size, None, signature, tuple(staged.changes)
            )
        result = export_bag(built, out, fmt, replace=False, top=top)
        return ProfileExport(
            result.path,
            spec.name,
            fmt.value,
            top,
            files,
            result.size,
            result.sha256,
            signature,
            tuple(staged.changes),
        )


def _write_plain(files: dict[str, bytes], dest: Path) -> None:
    for rel, content in sorted(files.items()):
        target = dest.joinpath(*rel.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
