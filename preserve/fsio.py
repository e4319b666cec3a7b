"""Durable file writes: the one place that knows how to make bytes survive a crash.

A bag, a PDF, an export or a key is either complete on disk or absent: new files
are written in full and fsynced before anyone can see them, replacements go
through a temporary file in the same folder and one rename, and the folder is
fsynced after, so the rename itself is durable (pikepdf's ``_io.py`` pattern,
plus the fsyncs it leaves out).
"""

from __future__ import annotations

import errno
import os
import stat
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
    left as it was. A ``target`` that exists and is not a regular file (a FIFO, a
    device, a symlink, a folder) is never replaced: :class:`NotARegularFile`, and
    nothing is written.
    """
    refuse_non_regular(target)
    import tempfile  # here: most commands only read (~4 ms of start-up)

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


def refuse_non_regular(target: Path) -> None:
    """Raise :class:`NotARegularFile` if ``target`` exists and is not a regular file.

    The rule of every writer that replaces a file: ``-o /dev/sda`` or ``-o fifo`` must
    not turn a device or a FIFO into a regular file, nor a symlink into a copy.
    """
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise NotARegularFile(target, "is a symbolic link; not replaced")
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO, device or socket"
        raise NotARegularFile(target, f"is {kind}; not replaced")


def atomic_write(target: Path, content: bytes, mode: int = FILE_MODE) -> None:
    """Replace ``target`` with ``content`` atomically and durably."""
    with atomic_file(target, mode) as handle:
        handle.write(content)


#: How every reader opens a file: never through a symlink, never blocking on a FIFO
#: (``O_NONBLOCK``: open() of a FIFO with no writer returns at once, then fstat refuses
#: it), never making a terminal the controlling one.
_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_BINARY", 0)
)


class RefusedFile(OSError):
    """A path that is not read on purpose; ``reason`` says why in a few words."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.reason = reason
        self.strerror = reason


class NotARegularFile(RefusedFile):
    """A FIFO, device, socket or directory: never read."""

    def __init__(self, path: Path | str, reason: str = "not a regular file") -> None:
        super().__init__(path, reason)


class SymlinkRefused(RefusedFile):
    """A symbolic link where a file was expected: never followed."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path, "is a symbolic link (never followed)")


class FileTooLarge(RefusedFile):
    """A file over the reader's limit: nothing of it was kept."""

    def __init__(self, path: Path | str, size: int | None, limit: int) -> None:
        shown = f"{size:,} bytes" if size is not None else "larger than that"
        super().__init__(path, f"is {shown}; the limit is {limit:,} bytes")
        self.size = size
        self.limit = limit


def open_regular(path: Path | str, *, follow: bool = False) -> int:
    """A descriptor of the regular file at ``path``: the one rule every reader uses.

    Opened with ``O_NONBLOCK`` so a FIFO cannot hang the caller, then ``fstat``-ed:
    anything but a regular file raises :class:`NotARegularFile`; a symbolic link raises
    :class:`SymlinkRefused` unless ``follow`` (only for a path the operator named).
    """
    return _open_regular(path, follow)[0]


def _open_regular(path: Path | str, follow: bool) -> tuple[int, os.stat_result]:
    flags = _READ_FLAGS if not follow else _READ_FLAGS & ~getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        # O_NOFOLLOW on a link: ELOOP (Linux, macOS), EMLINK (FreeBSD).
        if not follow and exc.errno in (errno.ELOOP, errno.EMLINK) and os.path.islink(path):
            raise SymlinkRefused(path) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO, device or socket"
            raise NotARegularFile(path, f"is {kind}, not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def read_fd(fd: int, limit: int, size: int | None = None) -> bytes | None:
    """At most ``limit`` bytes from ``fd``; None when there are more (nothing kept).

    ``size``: the file's size if the caller already has it (saves an ``fstat``).
    """
    chunks: list[bytes] = []
    total = 0
    size = os.fstat(fd).st_size if size is None else size
    want = min(size, limit) + 1  # a short read is then the end of a regular file
    while block := os.read(fd, want):
        chunks.append(block)
        total += len(block)
        if total > limit:
            return None
        if len(block) < want:
            break  # one read for a tag file, not two (this runs for every bag)
        want = min(1 << 20, limit + 1 - total)
    return b"".join(chunks)


def read_limited(path: Path | str, limit: int, *, follow: bool = False) -> bytes:
    """A regular file's bytes, at most ``limit`` of them, by :func:`open_regular`'s rule.

    Raises :class:`FileTooLarge` (nothing kept) over the limit, the other
    :class:`RefusedFile` errors for links and non-regular files, OSError otherwise.
    """
    fd, info = _open_regular(path, follow)
    try:
        size = info.st_size
        if size > limit:
            raise FileTooLarge(path, size, limit)
        data = read_fd(fd, limit, size)
        if data is None:
            raise FileTooLarge(path, None, limit)  # it grew while being read
        return data
    finally:
        os.close(fd)


def read_regular(path: Path, limit: int) -> bytes | None:
    """A regular file's bytes, never through a symlink and never over ``limit``; else None.

    For readers of bags from elsewhere: a link, a device, a FIFO or an oversized
    file is not read at all (the verifier reports it), so a hostile bag cannot
    redirect a read, hang or exhaust memory. Use :func:`read_limited` to tell why.
    """
    try:
        return read_limited(path, limit)
    except OSError:
        return None


def read_input(path: Path, limit: int, *, follow: bool = True) -> bytes:
    """At most ``limit + 1`` bytes of an input file (so a caller can tell "over the limit").

    Opened by :func:`open_regular` (``follow``: the operator named this path): a FIFO
    named like a statement or sidecar must not hang an ingest.
    """
    fd = open_regular(path, follow=follow)
    with os.fdopen(fd, "rb") as handle:
        return handle.read(limit + 1)


def archive_of(bag_dir: Path) -> Path | None:
    """The archive a bag directory sits in (``ARCHIVE/bags/<id>`` with a ledger), if any."""
    parent = bag_dir.absolute().parent
    if parent.name == "bags" and (parent.parent / "ledger.sqlite").is_file():
        return parent.parent
    return None


#: An archive's folders: published bags, and bags being staged (read by the audit and
#: the replicas without importing the ingest code, which pulls in rendering).
BAGS_DIR = "bags"
STAGING_DIR = "staging"


def publisher_alive(pid: int | None) -> bool:
    """Whether the process that recorded a 'publishing' row (or staging folder) still runs."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
