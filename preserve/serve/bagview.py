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
class Signer:
    """One signer of the bag: the first (``signatures/``) or a countersigner
    (``signatures/signers/<fingerprint>/``), with what the check found in its folder."""

    folder: str
    fingerprint: str = ""
    name: str = ""
    signed_at: str = ""
    timestamps: tuple[tuple[str, str | None], ...] = ()
    problems: tuple[tuple[str, str], ...] = ()

    @property
    def trusted(self) -> bool:
        """Its key is among the archive's trusted keys and all its signatures verify
        (the check reports ``signature.no-trust`` or ``untrusted-signer`` otherwise)."""
        return bool(self.fingerprint) and not self.problems

    @property
    def countersignature(self) -> bool:
        return "/" in self.folder


@dataclass(frozen=True)
class Signatures:
    """Who signed the bag and when (every signer), and what the check found."""

    signed: bool
    signers: tuple[Signer, ...] = ()
    #: Problems of the bag's signatures as a whole (not inside one signer's folder):
    #: a stale or unsigned tag manifest, too many signers; they count against every signer.
    problems: tuple[tuple[str, str], ...] = ()

    @property
    def trusted(self) -> bool:
        return self.signed and bool(self.signers) and all(s.trusted for s in self.signers)


def signatures(bag: Path) -> Signatures:
    """Every signer of the bag (first signer first), each judged on its own: a problem
    the check names inside a signer's folder is that signer's; one outside every folder
    (a tag manifest changed since signing) is held against all of them, since a wrong
    "trusted" is worse than a cautious "no"."""
    from preserve.signing import MAX_SIGNERS, check_signatures, is_signed, read_signers

    if not is_signed(bag):
        return Signatures(False)
    problems = [(p.code, p.path, p.message) for p in check_signatures(bag)]
    infos = {i.folder: i for i in read_signers(bag)}
    folders = sorted(set(infos) | {_signer_folder(path) for _, path, _ in problems} - {""})
    folders.sort(key=lambda f: (f != "signatures", f))
    general = tuple((code, message) for code, path, message in problems if not _signer_folder(path))
    signers = []
    for folder in folders[:MAX_SIGNERS]:
        own = tuple((c, m) for c, path, m in problems if _signer_folder(path) == folder)
        info = infos.get(folder)
        if info is None:  # a folder whose signature.json does not parse: shown, never trusted
            signers.append(Signer(folder, problems=own or (("signature.malformed", folder),)))
            continue
        signers.append(
            Signer(
                folder,
                info.key_fingerprint,
                info.signer or "",
                info.signed_at,
                tuple((f.file, f.timestamp_time) for f in info.files),
                own + general,
            )
        )
    return Signatures(True, tuple(signers), general)


def _signer_folder(path: str) -> str:
    """The signer folder a problem's path lies in (``signatures`` or
    ``signatures/signers/<name>``), or "" when it names no signer's file."""
    parts = path.split("/")
    if parts[0] != "signatures" or len(parts) < 2:
        return ""
    if parts[1] == "signers":
        return "/".join(parts[:3]) if len(parts) >= 3 else ""
    return "" if parts[1] == "premis.xml" else "signatures"
