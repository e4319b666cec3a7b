"""Stage one statement as a BagIt 1.0 bag (RFC 8493) in a directory.

This module decides *what* goes into a bag (payload, bag-info, PREMIS history,
Archivematica metadata) and writes it with fsync; the syntax of every BagIt file
comes from :mod:`preserve.bagit_format`, the one place that knows RFC 8493, so
the writer and the verifier follow the same rules. Publishing the staged bag
into an archive is :mod:`preserve.archive`'s job.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from preserve import __version__
from preserve.bagit_format import (
    DigestAlgorithm,
    format_bag_info,
    format_bagit_txt,
    format_manifest,
    manifest_name,
    tag_value,
    tagmanifest_name,
)
from preserve.errors import PreserveError
from preserve.fsio import fsync_dir, write_new
from preserve.metadata import Metadata, dublin_core
from preserve.premis import Event, FileRecord, premis_xml
from preserve.safe_names import portable_name
from preserve.settings import Institution

#: What a bag declares it conforms to; the profile itself ships in ``schemas/``
#: (``bagit-profile.json``; earlier versions beside it, see ``profile.OUR_PROFILES``).
PROFILE_IDENTIFIER = "https://preserve.invalid/schemas/bagit-profile-0.2.0.json"
SOFTWARE_AGENT = f"preserve {__version__}"
DEFAULT_ALGORITHMS: tuple[DigestAlgorithm, ...] = (DigestAlgorithm.sha256, DigestAlgorithm.sha512)

#: PRONOM identifiers of the payload formats we write (the PDF's comes from its level).
PRONOM_TEXT = "x-fmt/111"
PRONOM_JSON = "fmt/817"
PRONOM_CSV = "x-fmt/18"


@dataclass(frozen=True)
class PayloadFile:
    """One file under ``data/``: where, what bytes, and what format."""

    #: Path relative to the bag root, always starting with ``data/``, with ``/``.
    path: str
    content: bytes
    mime: str
    pronom: str
    #: The name the file had when it was received, where it differs.
    original_name: str | None = None


@dataclass(frozen=True)
class BagContents:
    """Everything one bag will hold, decided before anything is written."""

    identifier: str
    payload: tuple[PayloadFile, ...]
    bag_info: tuple[tuple[str, str], ...]
    events: tuple[Event, ...]
    #: Extra tag files (path relative to the bag root → bytes), e.g. signatures.
    tag_files: Mapping[str, bytes] = field(default_factory=dict)
    #: Links to other statements for PREMIS: (relationship subtype, identifier).
    relations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class WrittenBag:
    """What staging produced: the facts the ledger records and the audit compares."""

    path: Path
    identifier: str
    payload_oxum: str
    #: Digest of each tag manifest file, by file name (``tagmanifest-sha256.txt``).
    tagmanifest_digests: Mapping[str, str]
    payload_bytes: int
    payload_files: int


def check_algorithms(algorithms: Iterable[DigestAlgorithm]) -> None:
    """Refuse manifest algorithms that would make bags our own profile rejects.

    The profile (``schemas/bagit-profile.json``) is the one source of the rule: every
    algorithm it requires must be chosen, and none it does not allow. Raises
    :class:`PreserveError` (exit 2, "could not run") before anything is written.
    """
    from preserve.profile import load_profile

    profile = load_profile()
    chosen = [a.value for a in dict.fromkeys(algorithms)]
    required = list(dict.fromkeys([*profile.manifests_required, *profile.tag_manifests_required]))
    allowed = set(profile.manifests_allowed or chosen) & set(
        profile.tag_manifests_allowed or chosen
    )
    missing = [a for a in required if a not in chosen]
    refused = [a for a in chosen if a not in allowed]
    if not chosen or missing or refused:
        shown = " ".join(f"--algorithm {a}" for a in chosen) or "no algorithm"
        why = (
            f"it requires {' and '.join(missing)}"
            if missing
            else f"it does not allow {', '.join(refused)}"
        )
        add = " ".join(f"--algorithm {a}" for a in required)
        raise PreserveError(
            f"{shown} makes bags our BagIt profile rejects ({why}): use {add}, "
            "plus md5 or sha1 if a repository needs them"
        )


def safe_original_name(name: str | None) -> str:
    """The original's name inside the bag: :func:`preserve.safe_names.portable_name`."""
    return portable_name(name)


def metadata_csv(metadata: Metadata, files: Sequence[str]) -> bytes:
    """Archivematica's ``metadata.csv``: a ``filename`` column, then Dublin Core.

    Archivematica names payload files ``objects/...`` (the bag's ``data/``
    becomes the transfer's ``objects/``). Repeated elements (subjects, places)
    become repeated columns, as Archivematica expects.
    """
    pairs = dublin_core(metadata)
    columns: list[str] = []
    for name in dict.fromkeys(name for name, _ in pairs):
        columns += [name] * sum(1 for n, _ in pairs if n == name)
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        values.setdefault(name, []).append(value)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["filename", *columns])
    for path in files:
        row = ["objects/" + path.removeprefix("data/")]
        seen: dict[str, int] = {}
        for name in columns:
            row.append(values[name][seen.get(name, 0)])
            seen[name] = seen.get(name, 0) + 1
        writer.writerow(row)
    return buffer.getvalue().encode("utf-8")


def received_files(
    original: bytes, original_name: str | None, originals: Sequence[PayloadFile] = ()
) -> tuple[PayloadFile, ...]:
    """The statement's files as received, as the bag holds them: ``originals`` (a page
    and its folder, a WARC, an e-mail), or the text file under a portable name."""
    stored_name = safe_original_name(original_name)
    return tuple(originals) or (
        PayloadFile(
            f"data/original/{stored_name}",
            original,
            "text/plain; charset=utf-8",
            PRONOM_TEXT,
            original_name if original_name and original_name != stored_name else None,
        ),
    )


def with_received_name(metadata: Metadata, received: Sequence[PayloadFile]) -> Metadata:
    """The record with the statement's name as received (``source.original_name``,
    beside PREMIS originalName) when the bag stores it under a portable name. The
    archive applies it before rendering too, so the record the PDF/A copy embeds is
    the bag's ``statement.json``, byte for byte."""
    renamed = next((p.original_name for p in received if p.original_name), None)
    if not renamed:
        return metadata
    source = {**metadata.record.get("source", {}), "original_name": renamed}
    return Metadata(record={**metadata.record, "source": source})


def plan_bag(
    *,
    metadata: Metadata,
    original: bytes,
    original_name: str | None,
    pdf: bytes,
    pdf_pronom: str,
    events: Sequence[Event],
    bagging_date: dt.date,
    extra_bag_info: Sequence[tuple[str, str]] = (),
    originals: Sequence[PayloadFile] = (),
    relations: Sequence[tuple[str, str]] = (),
    institution: Institution | None = None,
) -> BagContents:
    """Decide a statement's bag: payload files, bag-info and history.

    ``originals`` are the files as received when the statement came in another form
    than plain text (:mod:`preserve.inputs`: a page and its folder, a WARC, an
    e-mail); without them ``original`` is the text file, stored as before.
    ``institution`` (the archive's settings) fills Source-Organization and its
    contact fields: in BagIt they name who transfers the bag, not who issued the
    statement; the issuer is in External-Description and the record. Unset, the
    fields are left out (the profile makes them optional) rather than guessed.
    """
    identifier = metadata.identifier
    received = received_files(original, original_name, originals)
    metadata = with_received_name(metadata, received)
    json_file = PayloadFile(
        "data/metadata/statement.json", metadata.to_json(), "application/json", PRONOM_JSON
    )
    pdf_file = PayloadFile(f"data/pdfa/{identifier}.pdf", pdf, "application/pdf", pdf_pronom)
    described = [*(p.path for p in received), pdf_file.path]
    csv_file = PayloadFile(
        "data/metadata/metadata.csv", metadata_csv(metadata, described), "text/csv", PRONOM_CSV
    )
    payload = (*received, json_file, csv_file, pdf_file)
    size = sum(len(p.content) for p in payload)
    issuer = metadata.organization or metadata.creator_name
    bag_info: list[tuple[str, str]] = [
        *institution_bag_info(institution or Institution()),
        ("External-Identifier", identifier),
        ("External-Description", _one_line(f"{metadata.title} ({issuer})")),
        ("Internal-Sender-Description", _one_line(_sender_description(metadata))),
        ("Bagging-Date", bagging_date.isoformat()),
        ("Bag-Software-Agent", SOFTWARE_AGENT),
        ("BagIt-Profile-Identifier", PROFILE_IDENTIFIER),
        ("Payload-Oxum", f"{size}.{len(payload)}"),
        ("Bag-Size", human_size(size)),
        *extra_bag_info,
    ]
    # bagit_format's one rule for tag values: no line or control character gets through.
    bag_info = [(label, tag_value(value)) for label, value in bag_info]
    return BagContents(
        identifier, payload, tuple(bag_info), tuple(events), relations=tuple(relations)
    )


def institution_bag_info(institution: Institution) -> list[tuple[str, str]]:
    """Source-Organization, Organization-Address, Contact-Name, Contact-Email: those set."""
    fields = (
        ("Source-Organization", institution.name),
        ("Organization-Address", institution.address),
        ("Contact-Name", institution.contact_name),
        ("Contact-Email", institution.contact_email),
    )
    return [(label, value) for label, value in fields if value and value.strip()]


def _sender_description(metadata: Metadata) -> str:
    who = metadata.creator_name
    if metadata.creator_role:
        who = f"{who}, {metadata.creator_role}"
    return f"Statement by {who}, issued {metadata.date_issued.isoformat()} ({metadata.language})"


def _one_line(text: str) -> str:
    """bag-info values are single logical lines; white space runs become one space."""
    return tag_value(text)


def human_size(size: int) -> str:
    """Bag-Size as people read it (RFC 8493 §2.2.2 leaves the form open)."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def write_bag(
    directory: Path,
    contents: BagContents,
    *,
    algorithms: Iterable[DigestAlgorithm] = DEFAULT_ALGORITHMS,
    ingested_at: dt.datetime | None = None,
) -> WrittenBag:
    """Write a complete bag into ``directory`` (which must not exist), fsyncing everything.

    The directory is a staging area: a crash leaves an incomplete directory
    there, never in the archive, and the archive publishes it with one rename.
    """
    algorithms = tuple(dict.fromkeys(algorithms))
    directory.mkdir(parents=False)
    written_dirs: set[Path] = {directory}

    def put(relpath: str, content: bytes) -> None:
        target = directory / relpath
        parent = target.parent
        if parent not in written_dirs:
            parent.mkdir(parents=True, exist_ok=True)
            written_dirs.update([parent, *parent.parents])
        write_new(target, content)

    payload_digests: dict[DigestAlgorithm, list[tuple[str, str]]] = {a: [] for a in algorithms}
    for item in contents.payload:
        put(item.path, item.content)
        for algorithm in algorithms:
            payload_digests[algorithm].append((_digest(algorithm, item.content), item.path))

    premis = premis_xml(
        identifier=contents.identifier,
        files=[
            FileRecord(
                path=p.path,
                size=len(p.content),
                sha256=_digest(DigestAlgorithm.sha256, p.content),
                pronom=p.pronom,
                mime=p.mime,
                original_name=p.original_name,
            )
            for p in contents.payload
        ],
        events=contents.events,
        relations=contents.relations,
    )
    tag_files: dict[str, bytes] = {
        "bagit.txt": format_bagit_txt(),
        "bag-info.txt": format_bag_info(list(contents.bag_info)),
        "premis.xml": premis,
        **contents.tag_files,
    }
    for algorithm in algorithms:
        tag_files[manifest_name(algorithm)] = format_manifest(payload_digests[algorithm])
    for relpath, content in tag_files.items():
        put(relpath, content)
    tagmanifest_digests: dict[str, str] = {}
    for algorithm in algorithms:
        entries = [(_digest(algorithm, c), p) for p, c in sorted(tag_files.items())]
        content = format_manifest(entries)
        name = tagmanifest_name(algorithm)
        put(name, content)
        tagmanifest_digests[name] = _digest(DigestAlgorithm.sha256, content)
    for path in sorted(written_dirs, key=lambda p: len(p.parts), reverse=True):
        fsync_dir(path)
    size = sum(len(p.content) for p in contents.payload)
    return WrittenBag(
        path=directory,
        identifier=contents.identifier,
        payload_oxum=f"{size}.{len(contents.payload)}",
        tagmanifest_digests=tagmanifest_digests,
        payload_bytes=size,
        payload_files=len(contents.payload),
    )


def _digest(algorithm: DigestAlgorithm, content: bytes) -> str:
    hasher = algorithm.new()
    hasher.update(content)
    return hasher.hexdigest()
