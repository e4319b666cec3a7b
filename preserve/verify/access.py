"""The file-access interface the profile and our own bag checks read a bag through.

A bag directory and a serialized bag (tar, tar.gz, zip) answer the same questions:
what regular files there are (with sizes), which directories, what else (links,
devices), and the bytes of one listed file, never more than a bound. The verifier's
trees (:mod:`~preserve.verify.tree_dir`, :mod:`~preserve.verify.tree_archive`)
implement it, so every check that runs on a directory runs on a tar or zip streamed,
without extracting it, under the same read limits (docs/limits.md).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from preserve.bagit_format import DEFAULT_LIMITS, Limits
from preserve.verify.tree import _TooLarge, archive_errors


@functools.cache
def read_errors() -> tuple[type[BaseException], ...]:
    """What :meth:`BagFiles.read` raises: over the bound, unreadable, or a damaged archive."""
    return (_TooLarge, *archive_errors())


class BagFiles(Protocol):
    """A bag as listed, however it is stored; paths are bag-relative with ``/``."""

    label: str
    #: Regular files: path -> size (-1 for a top-level file whose size is read later).
    files: dict[str, int]
    dirs: set[str]
    #: Present but neither regular file nor directory (links, devices, FIFOs).
    others: set[str]

    def read(self, rel: str, max_bytes: int) -> bytes:
        """A listed file's bytes; raises one of :func:`read_errors` (never reads past the bound)."""
        ...

    def root_path(self) -> Path | None:
        """The bag directory, or None for a serialized bag."""
        ...

    def bag_name(self) -> str:
        """The bag's name: its folder's, or a serialized bag's single top folder."""
        ...


def read_listed(bag: BagFiles, rel: str, max_bytes: int) -> bytes | None:
    """A listed regular file's bytes, or None when absent, over the bound or unreadable."""
    if rel not in bag.files:
        return None
    try:
        return bag.read(rel, max_bytes)
    except read_errors():
        return None


@contextlib.contextmanager
def open_bag_files(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[BagFiles]:
    """A bag directory or serialized bag, listed (never followed, never extracted).

    Raises :class:`~preserve.errors.UnreadableInput` when ``path`` is neither.
    """
    from preserve.verify.run import _open_tree

    tree = _open_tree(path, 1, None, limits)
    try:
        yield tree
    finally:
        close = getattr(tree, "close", None)
        if close is not None:
            close()
