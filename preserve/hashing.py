"""One read per file, every digest at once.

Each chunk is fed to every hasher before the next is read, so a file costs one pass
however many manifests a bag has, and memory stays at one chunk whatever the file
size. hashlib releases the GIL while hashing buffers this large, so a thread pool over
files spreads the work across cores without pickling anything.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
from collections.abc import Callable, Iterable
from typing import IO, Any

from preserve.bagit_format import DigestAlgorithm

CHUNK_SIZE = 1 << 20
#: Files at least this large may have their algorithms hashed on separate threads.
SPLIT_MIN_BYTES = 16 << 20

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_OPEN_FLAGS |= getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
# A FIFO swapped in for a file must not block open(); fstat then refuses it.
_OPEN_FLAGS |= getattr(os, "O_NONBLOCK", 0)


#: Each algorithm's hashlib constructor, taking the first bytes (the named ones are
#: faster than ``hashlib.new(name)``, which looks the name up on every call).
NEW: dict[DigestAlgorithm, Callable[..., Any]] = {
    alg: getattr(hashlib, alg.value, functools.partial(hashlib.new, alg.value))
    for alg in DigestAlgorithm
}


class FileChanged(OSError):
    """The file at a path is not the regular file that was listed (replaced, or a link)."""


def hash_stream(
    stream: IO[bytes], algorithms: Iterable[DigestAlgorithm], chunk_size: int = CHUNK_SIZE
) -> tuple[dict[DigestAlgorithm, str], int]:
    """Hex digests of everything ``stream`` yields, and its length, in one pass."""
    hashers = [(alg, alg.new()) for alg in algorithms]
    size = 0
    while True:
        block = stream.read(chunk_size)
        if not block:
            break
        size += len(block)
        for _, h in hashers:
            h.update(block)
    return {alg: h.hexdigest() for alg, h in hashers}, size


def hash_file(
    path: str | os.PathLike[str],
    algorithms: Iterable[DigestAlgorithm],
    *,
    identity: tuple[int, int] | None = None,
    chunk_size: int = CHUNK_SIZE,
    split_algorithms: bool = False,
) -> tuple[dict[DigestAlgorithm, str], int]:
    """Hex digests and length of a regular file, never following a symlink.

    ``identity`` is the (st_dev, st_ino) seen when the file was listed: if the path
    now names something else, :class:`FileChanged` is raised rather than hashing it.
    ``split_algorithms`` gives each algorithm its own thread for a large file, so a
    lone big file still uses several cores (still one read).
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileChanged(f"{os.fspath(path)} is not a regular file")
        if identity is not None and (st.st_dev, st.st_ino) != identity:
            raise FileChanged(f"{os.fspath(path)} was replaced while being checked")
        if st.st_size < chunk_size:
            # Small files (most bags are many of them): one read, each digest computed
            # over the whole bytes at once. Ask for one byte more than fstat reports: a
            # short read is then the end of a regular file; a file that grew since is
            # read on to its end.
            data = os.read(fd, st.st_size + 1)
            if len(data) <= st.st_size:
                return {alg: NEW[alg](data).hexdigest() for alg in algorithms}, len(data)
            hashers = [(alg, NEW[alg](data)) for alg in algorithms]
            size = len(data)
            while block := os.read(fd, chunk_size):
                size += len(block)
                for _, h in hashers:
                    h.update(block)
            return {alg: h.hexdigest() for alg, h in hashers}, size
        hashers = [(alg, alg.new()) for alg in algorithms]
        size = 0
        if split_algorithms and len(hashers) > 1 and st.st_size >= SPLIT_MIN_BYTES:
            size = _hash_fd_split(fd, [h for _, h in hashers], chunk_size)
        else:
            buf = bytearray(chunk_size)
            view = memoryview(buf)
            while True:
                n = os.readv(fd, [buf]) if hasattr(os, "readv") else _readinto(fd, buf)
                if n <= 0:
                    break
                size += n
                chunk = view[:n]
                for _, h in hashers:
                    h.update(chunk)
        return {alg: h.hexdigest() for alg, h in hashers}, size
    finally:
        os.close(fd)


def _hash_fd_split(fd: int, hashers: list[Any], chunk_size: int) -> int:
    """Read once; every hasher consumes the chunks in its own thread (bounded queues)."""
    import queue  # here: only files of 16 MiB and more (queue and threading, ~1 ms)
    import threading

    queues: list[queue.Queue[bytes | None]] = [queue.Queue(maxsize=8) for _ in hashers]

    def consume(h: Any, q: queue.Queue[bytes | None]) -> None:
        while (block := q.get()) is not None:
            h.update(block)

    threads = [
        threading.Thread(target=consume, args=(h, q), daemon=True)
        for h, q in zip(hashers, queues, strict=True)
    ]
    for t in threads:
        t.start()
    size = 0
    try:
        while block := os.read(fd, chunk_size):
            size += len(block)
            for q in queues:
                q.put(block)
    finally:
        for q in queues:
            q.put(None)
        for t in threads:
            t.join()
    return size


def _readinto(fd: int, buf: bytearray) -> int:
    data = os.read(fd, len(buf))
    buf[: len(data)] = data
    return len(data)
