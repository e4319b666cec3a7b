"""Read an archived bag and write a rewritten copy of it: the one path every profile takes.

A profile export never touches the bag in the archive. It reads the bag (after
checking it is valid: an invalid bag is not handed on), builds the new bag in
memory as a :class:`Staged` (payload and tag files by path, ``bag-info.txt``
fields, and every change made, for the report), then writes it with fresh
manifests and tag manifests in the algorithms the repository takes, inside a
temporary folder beside the target, and only then serializes or renames it
into place. Rewriting tag files makes an existing signature stale: the copy is
re-signed with a key when one is given, otherwise the signature is dropped and
a PREMIS event in the copy says so and why.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preserve.bagging import human_size
from preserve.bagit_format import (
    BAG_INFO_TXT,
    BAGIT_TXT,
    ManifestKind,
    format_bag_info,
    format_bagit_txt,
    format_manifest,
    parse_bag_info,
    parse_manifest,
    parse_manifest_name,
)
from preserve.errors import ArchiveError, InputError, UnreadableInput
from preserve.fsio import FILE_MODE, RefusedFile, read_limited
from preserve.premis import PREMIS_NS, XSI_NS
from preserve.xmltext import xml_text

__all__ = [
    "SIGNATURES_DIR",
    "Change",
    "SourceBag",
    "Staged",
    "read_source",
    "write_staged",
]

SIGNATURES_DIR = "signatures"
#: A bag file larger than this is not read into memory (statements and their copies are small).
MAX_FILE_BYTES = 512 << 20
_PREMIS = f"{{{PREMIS_NS}}}"


@dataclass(frozen=True)
class Change:
    """One thing the export did that the archived bag does not show."""

    #: ``added``, ``renamed``, ``rewritten``, ``dropped`` or ``signed``.
    kind: str
    path: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "path": self.path, "detail": self.detail}

    def one_line(self) -> str:
        return f"{self.kind} {self.path}: {self.detail}"


@dataclass
class SourceBag:
    """An archived bag as read: its files (no manifests), bag-info fields and record."""

    path: Path
    identifier: str
    files: dict[str, bytes]
    bag_info: list[tuple[str, str]]
    record: dict[str, Any]
    #: The payload manifest algorithms the bag uses (``sha256``, ``sha512``…).
    algorithms: list[str]
    signed: bool

    def payload(self, folder: str) -> list[str]:
        """Payload paths under ``data/<folder>/``, sorted."""
        return sorted(p for p in self.files if p.startswith(f"data/{folder}/"))


@dataclass
class Staged:
    """The bag to write: files by bag-relative path, bag-info fields, and the changes."""

    files: dict[str, bytes]
    bag_info: list[tuple[str, str]]
    changes: list[Change] = field(default_factory=list)

    def set_info(self, label: str, value: str | None) -> None:
        """Set (or with None, remove) a bag-info field, keeping its place if it exists."""
        old = [v for k, v in self.bag_info if k.lower() == label.lower()]
        if value is None:
            if old:
                self.bag_info = [(k, v) for k, v in self.bag_info if k.lower() != label.lower()]
                self.changes.append(Change("dropped", f"{BAG_INFO_TXT}:{label}", old[0]))
            return
        value = " ".join(value.split())
        if old == [value]:
            return
        if old:
            self.bag_info = [
                (k, value if k.lower() == label.lower() else v) for k, v in self.bag_info
            ]
        else:
            self.bag_info.append((label, value))
        self.changes.append(
            Change("rewritten" if old else "added", f"{BAG_INFO_TXT}:{label}", value)
        )

    def move(self, old: str, new: str, why: str) -> None:
        self.files[new] = self.files.pop(old)
        self.changes.append(Change("renamed", old, f"to {new} ({why})"))

    def add(self, path: str, content: bytes, why: str) -> None:
        kind = "rewritten" if path in self.files else "added"
        self.files[path] = content
        self.changes.append(Change(kind, path, why))


def read_source(bag_dir: Path) -> SourceBag:
    """Read a bag for export, after checking it: an invalid bag is refused (exit 1)."""
    from preserve.verify import CANNOT_OPEN, verify_bag

    bag_dir = Path(bag_dir)
    try:
        st = os.lstat(bag_dir)
    except OSError as exc:
        raise UnreadableInput(f"cannot read the bag ({exc.strerror})", bag_dir) from None
    if not stat.S_ISDIR(st.st_mode):
        raise InputError("not a bag directory (export takes ARCHIVE/bags/ID)", bag_dir)
    result = verify_bag(bag_dir, threads=1)
    if not result.valid:
        first = result.errors[0]
        if first.code == CANNOT_OPEN:
            raise UnreadableInput(first.message, bag_dir)
        more = f" (and {len(result.errors) - 1} more)" if len(result.errors) > 1 else ""
        raise InputError(
            f"not a valid bag, not exported: {first.code} {first.path or '.'}: "
            f"{first.message}{more}",
            bag_dir,
        )
    files: dict[str, bytes] = {}
    manifests: dict[str, bytes] = {}
    signed = False
    for rel, path in _walk(bag_dir, ""):
        if rel.split("/", 1)[0] == SIGNATURES_DIR:
            signed = True
            continue
        parsed = parse_manifest_name(rel) if "/" not in rel else None
        if parsed is not None and parsed[0] is ManifestKind.tag:
            continue
        try:
            content = read_limited(path, MAX_FILE_BYTES)
        except RefusedFile as exc:
            raise InputError(f"cannot export: {exc}", path) from None
        except OSError as exc:
            raise UnreadableInput(f"cannot read ({exc.strerror})", path) from None
        if parsed is not None:
            manifests[parsed[1]] = content
        else:
            files[rel] = content
    _recheck(bag_dir, files, manifests)
    info = parse_bag_info(files.pop(BAG_INFO_TXT, b""), encoding="utf-8")
    files.pop(BAGIT_TXT, None)
    try:
        record = json.loads(files["data/metadata/statement.json"])
    except (KeyError, ValueError):
        raise InputError(
            "not a preserve bag (no readable data/metadata/statement.json); "
            "profile exports need the statement's record",
            bag_dir,
        ) from None
    if not isinstance(record, dict) or not isinstance(record.get("identifier"), str):
        raise InputError("data/metadata/statement.json has no identifier", bag_dir)
    return SourceBag(
        path=bag_dir,
        identifier=record["identifier"],
        files=files,
        bag_info=list(info.fields),
        record=record,
        algorithms=sorted(manifests),
        signed=signed,
    )


def _recheck(bag_dir: Path, files: dict[str, bytes], manifests: dict[str, bytes]) -> None:
    """The payload as read must still be what the manifests list (it was verified before)."""
    payload = {p for p in files if p.startswith("data/")}
    for alg, data in manifests.items():
        listed = {
            e.path: e.digest.lower() for e in parse_manifest(data, f"manifest-{alg}.txt").entries
        }
        if set(listed) != payload:
            raise InputError("the bag changed while being exported; nothing written", bag_dir)
        for rel in payload:
            if _digest(alg, files[rel]) != listed[rel]:
                raise InputError(f"{rel} changed while being exported; nothing written", bag_dir)


def _walk(root: Path, prefix: str) -> Iterator[tuple[str, Path]]:
    """Every regular file, sorted; a symlink or special file is refused, never followed."""
    try:
        with os.scandir(root / prefix if prefix else root) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        raise UnreadableInput(f"cannot list ({exc.strerror})", root / prefix) from None
    for entry in entries:
        rel = f"{prefix}/{entry.name}" if prefix else entry.name
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError as exc:
            raise UnreadableInput(f"cannot read ({exc.strerror})", entry.path) from None
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(root, rel)
        elif stat.S_ISREG(st.st_mode):
            yield rel, Path(entry.path)
        else:
            raise InputError("not a regular file or folder; export never follows it", entry.path)


def staged_from(source: SourceBag) -> Staged:
    """A copy of the source to rewrite; bag-info's Payload-Oxum and Bag-Size are recomputed."""
    fields = [(k, v) for k, v in source.bag_info if k.lower() not in ("payload-oxum", "bag-size")]
    return Staged(files=dict(source.files), bag_info=fields)


def add_premis_event(
    staged: Staged, premis_path: str, event_type: str, detail: str, at: str
) -> None:
    """Append one event to the copy's PREMIS document (the archived bag keeps its own)."""
    ET.register_namespace("premis", PREMIS_NS)
    ET.register_namespace("xsi", XSI_NS)
    try:
        root = ET.fromstring(staged.files[premis_path])
    except (KeyError, ET.ParseError):
        root = ET.Element(f"{_PREMIS}premis", {"version": "3.0"})
    count = len(root.findall(f"{_PREMIS}event")) + 1
    event = ET.Element(f"{_PREMIS}event")
    eid = ET.SubElement(event, f"{_PREMIS}eventIdentifier")
    ET.SubElement(eid, f"{_PREMIS}eventIdentifierType").text = "local"
    ET.SubElement(eid, f"{_PREMIS}eventIdentifierValue").text = f"export/event/{count}"
    ET.SubElement(event, f"{_PREMIS}eventType").text = event_type
    ET.SubElement(event, f"{_PREMIS}eventDateTime").text = at
    info = ET.SubElement(event, f"{_PREMIS}eventDetailInformation")
    ET.SubElement(info, f"{_PREMIS}eventDetail").text = xml_text(detail)
    outcome = ET.SubElement(event, f"{_PREMIS}eventOutcomeInformation")
    ET.SubElement(outcome, f"{_PREMIS}eventOutcome").text = "success"
    link = ET.SubElement(event, f"{_PREMIS}linkingAgentIdentifier")
    ET.SubElement(link, f"{_PREMIS}linkingAgentIdentifierType").text = "local"
    ET.SubElement(link, f"{_PREMIS}linkingAgentIdentifierValue").text = "preserve"
    ET.SubElement(link, f"{_PREMIS}linkingAgentRole").text = "executing program"
    # PREMIS 3 orders object, event, agent, rights: the event goes after the last event.
    children = list(root)
    last = max(
        (i for i, c in enumerate(children) if c.tag in (f"{_PREMIS}event", f"{_PREMIS}object")),
        default=len(children) - 1,
    )
    root.insert(last + 1, event)
    ET.indent(root)
    document = ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
    staged.files[premis_path] = document
    staged.changes.append(Change("rewritten", premis_path, f"PREMIS event added: {event_type}"))


def _digest(alg: str, content: bytes) -> str:
    return hashlib.new(alg, content).hexdigest()


def write_staged(
    staged: Staged,
    dest: Path,
    manifest_algs: Sequence[str],
    tagmanifest_algs: Sequence[str],
) -> None:
    """Write the staged bag into the new folder ``dest``: payload, tags, manifests."""
    payload = {p: c for p, c in staged.files.items() if p.startswith("data/")}
    oxum = f"{sum(len(c) for c in payload.values())}.{len(payload)}"
    fields = [
        *staged.bag_info,
        ("Payload-Oxum", oxum),
        ("Bag-Size", human_size(sum(len(c) for c in payload.values()))),
    ]
    files = dict(staged.files)
    files[BAGIT_TXT] = format_bagit_txt()
    files[BAG_INFO_TXT] = format_bag_info(fields)
    for alg in manifest_algs:
        files[f"manifest-{alg}.txt"] = _manifest(payload, alg)
    tags = {p: c for p, c in files.items() if not p.startswith("data/")}
    for alg in tagmanifest_algs:
        files[f"tagmanifest-{alg}.txt"] = _manifest(tags, alg)
    for rel, content in sorted(files.items()):
        target = dest.joinpath(*rel.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)


def _manifest(files: dict[str, bytes], alg: str) -> bytes:
    return format_manifest((_digest(alg, c), p) for p, c in files.items())


class Workspace:
    """A temporary folder beside the target, removed whatever happens."""

    def __init__(self, target: Path) -> None:
        parent = target.parent
        if not parent.is_dir():
            raise ArchiveError("the output folder does not exist", parent)
        try:
            self.path = Path(tempfile.mkdtemp(prefix=".preserve-export-", dir=parent))
        except OSError as exc:
            raise ArchiveError(f"cannot write ({exc.strerror})", parent) from None

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def place(built: Path, target: Path) -> None:
    """Move a finished folder to ``target``, which must not exist (never replaced)."""
    if target.exists() or target.is_symlink():
        raise ArchiveError("already exists; nothing written", target)
    try:
        os.rename(built, target)
    except OSError as exc:
        raise ArchiveError(f"cannot write ({exc.strerror})", target) from None


SignFunc = Callable[[Path], str]
