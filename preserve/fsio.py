"""Durable file writes: the one place that knows how to make bytes survive a crash.

A bag, a PDF, an export or a key is either complete on disk or absent: new files
are written in full and fsynced before anyone can see them, replacements go
through a temporary file in the same folder and one rename, and the folder is
fsynced after, so the rename itself is durable (pikepdf's ``_io.py`` pattern,
plus the fsyncs it leaves out).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

FILE_MODE = 0o644


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (new files, renames) durable; a no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_new(path: Path, content: bytes, mode: int = FILE_MODE) -> None:
    """Create ``path`` (never an existing file, never through a symlink) and fsync it.

    The file has ``mode`` from its creation, so a private key is never readable by
    others even for an instant. On failure the partial file is removed and the
    ``OSError`` propagates (``FileExistsError`` when the path exists).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags | getattr(os, "O_BINARY", 0), mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed it; never wider than mode
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        Path(path).unlink(missing_ok=True)
        raise
    os.close(fd)


@contextmanager
def atomic_file(target: Path, mode: int = FILE_MODE) -> Iterator[IO[bytes]]:
    """A temporary file beside ``target`` that replaces it only if the block succeeds.

    Yields a binary file open for reading and writing (so a caller can hash what
    it wrote); on any exception the temporary file is removed and ``target`` is
    left as it was.
    """
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w+b") as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def atomic_write(target: Path, content: bytes, mode: int = FILE_MODE) -> None:
    """Replace ``target`` with ``content`` atomically and durably."""
    with atomic_file(target, mode) as handle:
        handle.write(content)


def read_regular(path: Path, limit: int) -> bytes | None:
    """A regular file's bytes, never through a symlink and never over ``limit``; else None.

    For readers of bags from elsewhere: a link, a device, a FIFO or an oversized
    file is not read at all (the verifier reports it), so a hostile bag cannot
    redirect a read or exhaust memory.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
        return data if len(data) <= limit else None
    except OSError:
        return None
    finally:
        os.close(fd)


class NotARegularFile(OSError):
    """An input path names a FIFO, a device or a socket, which is never read."""


def read_input(path: Path, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of an input file (so a caller can tell "over the limit").

    Opened with ``O_NONBLOCK`` and checked to be a regular file first: a FIFO named
    like a statement or sidecar must not hang an ingest.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotARegularFile(f"{path} is not a regular file")
        return handle.read(limit + 1)
