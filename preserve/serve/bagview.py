"""A bag's contents for the statement page, read safely.

Paths come from the ledger (the bag) and the bag's own manifests (its files),
each checked with :func:`preserve.bagit_format.resolve_inside` and opened with
``O_NOFOLLOW`` as a regular file of bounded size: a link, a FIFO or a device in
a bag is shown as a problem, never followed or opened.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree  # type: ignore[import-untyped]  # lxml comes with pikepdf

from preserve.bagit_format import parse_manifest, resolve_inside
from preserve.fsio import read_regular

MAX_TAG_BYTES = 4 << 20
MAX_ORIGINAL_BYTES = 8 << 20
MANIFESTS = ("manifest-sha256.txt", "manifest-sha512.txt", "manifest-md5.txt")
TAGMANIFESTS = ("tagmanifest-sha256.txt", "tagmanifest-sha512.txt", "tagmanifest-md5.txt")
PREMIS = "{http://www.loc.gov/premis/v3}"
CHUNK = 1 << 16


@dataclass(frozen=True)
class BagFile:
    """A file the manifests list, with its size on disk and its digests."""

    path: str
    size: int | None
    digests: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PremisEvent:
    type: str
    at: str
    outcome: str
    detail: str


def bag_dir(archive: Path, relative: str) -> Path | None:
    """The bag folder the ledger names, if it is a real folder inside the archive."""
    target = resolve_inside(archive, relative)
    if target is None:
        return None
    try:
        st = os.lstat(target)
    except OSError:
        return None
    return target if stat.S_ISDIR(st.st_mode) else None


def read_file(bag: Path, relative: str, limit: int = MAX_TAG_BYTES) -> bytes | None:
    path = resolve_inside(bag, relative)
    return None if path is None else read_regular(path, limit)


def open_file(bag: Path, relative: str) -> tuple[int, int] | None:
    """A file descriptor and size of a regular file in the bag (never through a link)."""
    path = resolve_inside(bag, relative)
    if path is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK)
    except OSError:
        return None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        return None
    return fd, st.st_size


def stream_fd(fd: int) -> Iterator[bytes]:
    """The file's bytes in chunks, closing it at the end (or when the client leaves)."""
    with os.fdopen(fd, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def record(bag: Path) -> dict[str, Any] | None:
    raw = read_file(bag, "data/metadata/statement.json")
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def files(bag: Path) -> list[BagFile]:
    """Payload and tag files as the manifests list them, with every digest and the size."""
    digests: dict[str, dict[str, str]] = {}
    for name in (*MANIFESTS, *TAGMANIFESTS):
        raw = read_file(bag, name)
        if raw is None:
            continue
        algorithm = name.split("-", 1)[1].removesuffix(".txt")
        for entry in parse_manifest(raw, name).entries:
            digests.setdefault(entry.path, {})[algorithm] = entry.digest
    out = []
    for path in sorted(digests, key=lambda p: (not p.startswith("data/"), p)):
        target = resolve_inside(bag, path)
        size = None
        if target is not None:
            try:
                st = os.lstat(target)
                size = st.st_size if stat.S_ISREG(st.st_mode) else None
            except OSError:
                size = None
        out.append(BagFile(path, size, digests[path]))
    return out


def payload(bag_files: list[BagFile], folder: str) -> str | None:
    """The first payload file in ``data/<folder>/``."""
    prefix = f"data/{folder}/"
    return next((f.path for f in bag_files if f.path.startswith(prefix)), None)


def premis_events(bag: Path) -> list[PremisEvent]:
    """The events of the bag's premis.xml, oldest first (no network, no entities)."""
    raw = read_file(bag, "premis.xml")
    if raw is None:
        return []
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError:
        return []
    events = []
    for ev in root.iter(f"{PREMIS}event"):
        events.append(
            PremisEvent(
                ev.findtext(f"{PREMIS}eventType") or "",
                ev.findtext(f"{PREMIS}eventDateTime") or "",
                ev.findtext(f".//{PREMIS}eventOutcome") or "",
                ev.findtext(f".//{PREMIS}eventDetail") or "",
            )
        )
    return sorted(events, key=lambda e: e.at)


@dataclass(frozen=True)
class Signatures:
    """Who signed the bag and when, and what the check found."""

    signed: bool
    fingerprint: str = ""
    signed_at: str = ""
    timestamps: tuple[tuple[str, str | None], ...] = ()
    problems: tuple[tuple[str, str], ...] = ()

    @property
    def trusted(self) -> bool:
        return self.signed and not self.problems


def signatures(bag: Path) -> Signatures:
    from preserve.errors import PreserveError
    from preserve.signing import check_signatures, is_signed, read_signature

    if not is_signed(bag):
        return Signatures(False)
    problems = tuple((p.code, p.message) for p in check_signatures(bag))
    try:
        info = read_signature(bag)
    except PreserveError:
        return Signatures(True, problems=problems)
    stamps = tuple((f.file, f.timestamp_time) for f in info.files)
    return Signatures(True, info.key_fingerprint, info.signed_at, stamps, problems)
