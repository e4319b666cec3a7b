"""What the checks see of a bag, however it is stored.

The checks run on a _Tree: the listing of a bag (regular files with sizes, directories,
and what must not be there) plus reading and hashing of listed files. A directory and
an archive differ only in how those are done: :mod:`~preserve.verify.tree_dir` reads
a directory, :mod:`~preserve.verify.tree_archive` a tar or zip.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from preserve.bagit_format import DEFAULT_LIMITS, DigestAlgorithm, Limits, Problem
from preserve.verify.result import _show


@functools.cache
def archive_errors() -> tuple[type[BaseException], ...]:
    """What reading a damaged or hostile tar/zip can raise besides OSError: corrupt
    deflate or xz streams, truncated headers, unsupported zip compression or encryption.

    Asked for when an ``except`` needs it, not built at import: zipfile and lzma (with
    the shutil and bz2 that zipfile imports, ~2.5 ms) are for tar and zip bags, and a
    bag directory never raises their errors.
    """
    import lzma
    import struct
    import zipfile
    import zlib

    return (
        OSError,
        EOFError,
        zipfile.BadZipFile,
        zlib.error,
        lzma.LZMAError,
        struct.error,
        NotImplementedError,
        RuntimeError,
        ValueError,
    )


@dataclass
class _Tree:
    label: str
    #: Regular files: bag-relative path -> size (-1: top-level file, size read later).
    files: dict[str, int] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)
    #: Paths present but not regular files or directories (symlinks, devices...).
    others: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    limits: Limits = DEFAULT_LIMITS
    #: Set when the listing stopped at ``limits.max_files``: the bag is not checked further.
    over_limit: bool = False
    #: Set when a path over a limit was left out of the listing (no Payload-Oxum check).
    incomplete: bool = False
    #: Top-level (tag) files already read whole: the tag manifests hash them, and the
    #: checks beyond RFC 8493 read ``bag-info.txt`` again, without another read.
    cache: dict[str, bytes] = field(default_factory=dict)

    def read(self, rel: str, max_bytes: int) -> bytes:
        """A file's bytes; :class:`_TooLarge` (nothing more read) when over ``max_bytes``.

        A top-level file is read once and kept (tag files are bounded by the limits);
        a payload file is read each time it is asked for, and never kept.
        """
        data = self.cache.get(rel)
        if data is None:
            data = self._read(rel, max_bytes)
            if "/" not in rel:
                self.cache[rel] = data
        elif len(data) > max_bytes:
            raise _TooLarge(len(data))
        return data

    def _read(self, rel: str, max_bytes: int) -> bytes:
        """:meth:`read` without the cache: what each kind of tree implements."""
        raise NotImplementedError

    def count_entry(self) -> bool:
        """Count one more listed entry; False (and one ``limit.files``) once over the limit."""
        if self.over_limit:
            return False
        if len(self.files) + len(self.dirs) + len(self.others) >= self.limits.max_files:
            self.refuse_count()
            return False
        return True

    def refuse_count(self) -> None:
        """The listing is over ``limits.max_files``: one ``limit.files``, and stop."""
        if not self.over_limit:
            self.over_limit = True
            self.problems.append(
                Problem(
                    "limit.files",
                    "",
                    f"the bag has more than {self.limits.max_files:,} files and directories; "
                    "not checked further",
                )
            )

    def path_ok(self, rel: str) -> bool:
        """False (with a ``limit.path-length``/``limit.depth`` problem) for a path over a limit."""
        problem = self.limits.path_problem(rel)
        if problem is None:
            return True
        self.problems.append(Problem(problem.code, _show(problem.path), problem.message))
        self.incomplete = True
        return False

    def hash_files(
        self, wanted: dict[str, set[DigestAlgorithm]]
    ) -> Iterator[tuple[str, dict[DigestAlgorithm, str] | str, int]]:
        """(path, digests or an error message, bytes read) for every wanted file."""
        raise NotImplementedError

    def root_path(self) -> Path | None:
        return None

    def bag_name(self) -> str:
        """The bag's name: its folder's, or a serialized bag's top folder (else file stem)."""
        return Path(self.label).name


class OverLimit(Exception):
    """A serialized bag made us decompress more than ``Limits.max_bytes``, or at a
    ratio over ``Limits.max_ratio``: the bag is not read further."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class _TooLarge(Exception):
    """A file the verifier would have to read whole is over its limit (nothing was read)."""

    def __init__(self, size: int | None) -> None:
        super().__init__(size)
        self.size = size
