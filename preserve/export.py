"""Serialize a bag as one tar, tar.gz or zip file to hand to another archive.

APTrust and Archivematica expect a serialized bag to hold a single top-level
folder named after the bag, so that is what we write. The file is a function of
the bag alone, so exporting twice gives the same bytes and a recipient can compare
digests: members in sorted order, owner 0:0 without names, modes 0644/0755, and
every timestamp set to midnight UTC of the bag's ``Bagging-Date`` (the day the
content was fixed; 1980-01-01, the earliest date zip can hold, if it has none).

The bag is only read: a symlink or special file anywhere in it is refused, never
followed. The output appears atomically (temporary file in the target folder,
fsync, rename, fsync of the folder) and nothing is left behind on failure.
"""

from __future__ import annotations

import calendar
import datetime as dt
import gzip
import hashlib
import os
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import IO, Any, BinaryIO

from preserve.bagit_format import BAG_INFO_TXT, BAGIT_TXT, parse_bag_info, parse_bagit_txt
from preserve.errors import ArchiveError, InputError, UnreadableInput
from preserve.fsio import NotARegularFile, atomic_file, open_regular, refuse_non_regular

__all__ = ["EARLIEST", "ExportFormat", "ExportResult", "export_bag"]

#: The earliest time a zip file can record, used when a bag has no usable Bagging-Date.
EARLIEST = dt.date(1980, 1, 1)
_CHUNK = 1 << 20
_FILE_MODE = 0o644
_DIR_MODE = 0o755


class ExportFormat(Enum):
    """A serialization, named as on the command line."""

    tar = "tar"
    tar_gz = "tar.gz"
    zip = "zip"

    @property
    def mime(self) -> str:
        """The MIME type a BagIt profile's Accept-Serialization lists for it."""
        return _MIME[self]

    @property
    def suffix(self) -> str:
        return f".{self.value}"

    @classmethod
    def from_path(cls, path: Path) -> ExportFormat | None:
        """The format a file name implies (``.tar``, ``.tar.gz``/``.tgz``, ``.zip``), or None."""
        name = path.name.lower()
        if name.endswith((".tar.gz", ".tgz")):
            return cls.tar_gz
        if name.endswith(".tar"):
            return cls.tar
        if name.endswith(".zip"):
            return cls.zip
        return None


_MIME = {
    ExportFormat.tar: "application/x-tar",
    ExportFormat.tar_gz: "application/gzip",
    ExportFormat.zip: "application/zip",
}


@dataclass(frozen=True)
class ExportResult:
    """What was written: enough to record it, or to check the copy that arrives."""

    path: Path
    format: ExportFormat
    #: Name of the single top-level folder (the bag's directory name).
    top: str
    files: int
    directories: int
    #: Size of the serialized file in bytes.
    size: int
    sha256: str
    #: The timestamp given to every member (seconds since the epoch, UTC).
    mtime: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format.value,
            "mime": self.format.mime,
            "top": self.top,
            "files": self.files,
            "directories": self.directories,
            "size": self.size,
            "sha256": self.sha256,
            "mtime": self.mtime,
        }


@dataclass(frozen=True)
class _Member:
    #: Path inside the archive, ``top/...``, ``/``-separated, no trailing slash.
    name: str
    source: Path
    is_dir: bool
    size: int


def export_bag(bag_dir: Path, out: Path, fmt: ExportFormat | None = None) -> ExportResult:
    """Write the bag in ``bag_dir`` to ``out`` as ``fmt`` (by default, as ``out``'s name says).

    Raises :class:`InputError` for a bag that cannot be exported as it is (not a bag,
    holds a symlink, ``out`` inside it), :class:`UnreadableInput` if it cannot be
    read and :class:`ArchiveError` if ``out`` cannot be written. An existing ``out``
    is replaced atomically.
    """
    if fmt is None:
        fmt = ExportFormat.from_path(out)
        if fmt is None:
            raise InputError("cannot tell the format from the name; use .tar, .tar.gz or .zip", out)
    top = _check_bag_dir(bag_dir)
    target = _check_target(bag_dir, out)
    members = list(_members(bag_dir, top))
    mtime = _stamp(bag_dir)
    try:
        with atomic_file(target, _FILE_MODE) as handle:
            _write(handle, fmt, members, mtime)
            handle.flush()
            handle.seek(0)
            digest, size = _sha256(handle)
    except _ReadError as exc:
        raise UnreadableInput(f"cannot read ({exc.strerror})", exc.filename) from None
    except OSError as exc:
        raise ArchiveError(f"cannot write ({exc.strerror})", target) from None
    return ExportResult(
        path=target,
        format=fmt,
        top=top,
        files=sum(not m.is_dir for m in members),
        directories=sum(m.is_dir for m in members),
        size=size,
        sha256=digest,
        mtime=mtime,
    )


class _ReadError(OSError):
    """An OSError while reading the bag, as opposed to writing the output."""


def _check_bag_dir(bag_dir: Path) -> str:
    """The name of the top-level folder, after making sure ``bag_dir`` is a real bag."""
    try:
        st = os.lstat(bag_dir)
    except FileNotFoundError:
        raise UnreadableInput("no such bag", bag_dir) from None
    except OSError as exc:
        raise UnreadableInput(f"cannot read bag ({exc.strerror})", bag_dir) from None
    if stat.S_ISLNK(st.st_mode):
        raise InputError("is a symlink; export never follows symlinks", bag_dir)
    if not stat.S_ISDIR(st.st_mode):
        raise InputError("not a bag directory", bag_dir)
    try:
        bagit_st = os.lstat(bag_dir / BAGIT_TXT)
    except OSError:
        raise InputError(f"not a BagIt bag (no {BAGIT_TXT})", bag_dir) from None
    if not stat.S_ISREG(bagit_st.st_mode):
        raise InputError(f"not a BagIt bag ({BAGIT_TXT} is not a regular file)", bag_dir)
    top = Path(os.path.abspath(bag_dir)).name
    if not top:
        raise InputError("the file system root is not a bag", bag_dir)
    return top


def _check_target(bag_dir: Path, out: Path) -> Path:
    """Where to write: ``out`` with its folder resolved; never inside the bag itself."""
    if not out.name or out.name in (".", ".."):
        raise InputError("not a file name", out)
    try:
        parent = out.parent.resolve(strict=True)
    except OSError:
        raise ArchiveError("the output folder does not exist", out.parent) from None
    if not parent.is_dir():
        raise ArchiveError("the output folder is not a directory", out.parent)
    target = parent / out.name
    bag_real = bag_dir.resolve()
    if target == bag_real or bag_real in target.parents:
        raise InputError("refusing to write the export inside the bag it serializes", out)
    try:
        refuse_non_regular(target)  # fsio's rule: never turn a FIFO or device into a file
    except NotARegularFile as exc:
        raise ArchiveError(exc.reason, out) from None
    return target


def _members(bag_dir: Path, top: str) -> Iterator[_Member]:
    """The top folder, then everything in it depth first, names sorted within each folder."""
    yield _Member(top, bag_dir, True, 0)
    yield from _walk(bag_dir, top)


def _walk(folder: Path, prefix: str) -> Iterator[_Member]:
    """Refuses symlinks and special files instead of following or skipping them."""
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        raise UnreadableInput(f"cannot list ({exc.strerror})", folder) from None
    for entry in entries:
        path = Path(entry.path)
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError as exc:
            raise UnreadableInput(f"cannot read ({exc.strerror})", path) from None
        name = f"{prefix}/{entry.name}"
        if stat.S_ISLNK(st.st_mode):
            raise InputError("symlink in the bag; export never follows symlinks", path)
        if stat.S_ISDIR(st.st_mode):
            yield _Member(name, path, True, 0)
            yield from _walk(path, name)
        elif stat.S_ISREG(st.st_mode):
            yield _Member(name, path, False, st.st_size)
        else:
            raise InputError("not a regular file or folder; cannot export it", path)


def _stamp(bag_dir: Path) -> int:
    """Midnight UTC of the bag's Bagging-Date (not before 1980), as epoch seconds."""
    day = EARLIEST
    try:
        _, encoding, _ = parse_bagit_txt(_read_small(bag_dir / BAGIT_TXT))
        info = parse_bag_info(_read_small(bag_dir / BAG_INFO_TXT), encoding=encoding or "utf-8")
        dates = info.get_all("Bagging-Date")
        if dates:
            day = max(dt.date.fromisoformat(dates[0]), EARLIEST)
    except (OSError, ValueError):
        pass  # no or odd Bagging-Date: the fixed fallback keeps the export deterministic
    return calendar.timegm(day.timetuple())


def _read_small(path: Path) -> bytes:
    fd = open_regular(path)  # fsio's one rule: a FIFO swapped in cannot hang the export
    try:
        return os.read(fd, 1 << 20)
    finally:
        os.close(fd)


def _open_member(member: _Member) -> BinaryIO:
    """Open a file without following a symlink; it must still be the size it was listed at."""
    try:
        fd = open_regular(member.source)  # no link, no FIFO, no device: fsio's one rule
    except OSError as exc:
        raise _ReadError(exc.errno, exc.strerror, str(member.source)) from None
    st = os.fstat(fd)
    if st.st_size != member.size:
        os.close(fd)
        raise _ReadError(0, "changed while exporting", str(member.source))
    return os.fdopen(fd, "rb")


def _write(raw: IO[bytes], fmt: ExportFormat, members: list[_Member], mtime: int) -> None:
    if fmt is ExportFormat.zip:
        _write_zip(raw, members, mtime)
    elif fmt is ExportFormat.tar_gz:
        # No file name and a fixed mtime in the gzip header: the bytes depend on the bag only.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime, compresslevel=9) as gz:
            _write_tar(gz, members, mtime)
    else:
        _write_tar(raw, members, mtime)


def _write_tar(raw: IO[bytes] | gzip.GzipFile, members: list[_Member], mtime: int) -> None:
    # PAX keeps long and non-ASCII names exactly (UTF-8), which ustar cannot.
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        for member in members:
            info = tarfile.TarInfo(member.name)
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if member.is_dir:
                info.type = tarfile.DIRTYPE
                info.mode = _DIR_MODE
                tar.addfile(info)
                continue
            info.type = tarfile.REGTYPE
            info.mode = _FILE_MODE
            info.size = member.size
            with _open_member(member) as fh:
                tar.addfile(info, fh)


def _write_zip(raw: IO[bytes], members: list[_Member], mtime: int) -> None:
    date_time = dt.datetime.fromtimestamp(mtime, dt.UTC).timetuple()[:6]
    with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for member in members:
            if member.is_dir:
                info = zipfile.ZipInfo(member.name + "/", date_time)
                info.create_system = 3  # Unix, so the mode bits below mean what they say
                info.external_attr = ((stat.S_IFDIR | _DIR_MODE) << 16) | 0x10  # MS-DOS dir bit
                zf.writestr(info, b"")
                continue
            info = zipfile.ZipInfo(member.name, date_time)
            info.create_system = 3
            info.external_attr = (stat.S_IFREG | _FILE_MODE) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.file_size = member.size  # lets zipfile decide on ZIP64 up front
            with _open_member(member) as fh, zf.open(info, "w") as dest:
                while chunk := fh.read(_CHUNK):
                    dest.write(chunk)


def _sha256(fh: IO[bytes]) -> tuple[str, int]:
    hasher = hashlib.sha256()
    size = 0
    while chunk := fh.read(_CHUNK):
        hasher.update(chunk)
        size += len(chunk)
    return hasher.hexdigest(), size
