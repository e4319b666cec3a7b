"""A bag directory: listed without following symlinks, its files hashed in parallel.

:func:`_hash_job` stays a module-level function: process pools pickle it by name.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from preserve.bagit_format import DEFAULT_LIMITS, DigestAlgorithm, Limits, Problem
from preserve.fsio import FileTooLarge, read_limited
from preserve.hashing import hash_file
from preserve.verify.result import _show
from preserve.verify.tree import _TooLarge, _Tree

if TYPE_CHECKING:
    from concurrent.futures import Executor

#: Below this much payload a bag is hashed in the calling thread: pool start-up costs
#: more than it saves, and batches of small bags are parallelised across bags instead.
PARALLEL_MIN_BYTES = 8 << 20

_CORES = os.cpu_count() or 1


class _DirTree(_Tree):
    def __init__(
        self,
        root: Path,
        threads: int | None,
        processes: int | None,
        limits: Limits = DEFAULT_LIMITS,
        *,
        walk: bool = True,
        files: dict[str, int] | None = None,
        dirs: set[str] | None = None,
        cache: dict[str, bytes] | None = None,
    ) -> None:
        """``walk=False``: the listing given (``files``, ``dirs``, tag files already read
        in ``cache``) or empty, for a caller that listed the bag itself."""
        label = str(root)
        super().__init__(
            label,
            {} if files is None else files,
            set() if dirs is None else dirs,
            limits=limits,
            cache={} if cache is None else cache,
        )
        self.root = root
        self.threads = threads
        self.processes = processes
        self.identity: dict[str, tuple[int, int]] = {}
        self._prefix = label if label.endswith("/") else label + "/"
        if walk:
            self._walk("", label)

    def root_path(self) -> Path | None:
        return self.root

    def bag_name(self) -> str:
        # realpath: also for "." or ".." (Path('.').name is '').
        return Path(os.path.realpath(self.root)).name

    def _walk(self, prefix: str, directory: str) -> None:
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as exc:
            self.problems.append(
                Problem("file.unreadable", prefix.rstrip("/"), f"cannot list: {exc.strerror}")
            )
            return
        limits = self.limits
        # Every name here is as deep as the folder; a name of at most max_path_bytes / 4
        # characters is within the byte limit whatever it holds (UTF-8 is at most 4
        # bytes a character): the full path check runs only for the rare long name.
        short = limits.max_path_bytes // 4 if prefix.count("/") <= limits.max_depth else -1
        files, dirs, others, identity = self.files, self.dirs, self.others, self.identity
        for entry in entries:
            rel = prefix + entry.name
            if len(files) + len(dirs) + len(others) >= limits.max_files or self.over_limit:
                self.refuse_count()
                return
            if len(rel) > short and not self.path_ok(rel):
                continue
            try:
                # d_type answers these without a system call on most file systems.
                if entry.is_dir(follow_symlinks=False):
                    dirs.add(rel)
                    self._walk(rel + "/", entry.path)
                    continue
                if not prefix and entry.is_file(follow_symlinks=False):
                    # A top-level tag file: read whole later, so no stat (size unknown).
                    files[rel] = -1
                    continue
            except OSError:
                pass  # fall through to lstat, which reports the error
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                self.problems.append(Problem("file.unreadable", _show(rel), str(exc.strerror)))
                others.add(rel)
                continue
            mode = st.st_mode
            if stat.S_ISREG(mode):
                files[rel] = st.st_size
                identity[rel] = (st.st_dev, st.st_ino)
            elif stat.S_ISLNK(mode):
                others.add(rel)
                self.problems.append(
                    Problem("symlink", _show(rel), "symbolic link (never followed)")
                )
            elif stat.S_ISDIR(mode):
                dirs.add(rel)
                self._walk(rel + "/", entry.path)
            else:
                others.add(rel)
                self.problems.append(
                    Problem("file.special", _show(rel), "not a regular file (device, FIFO...)")
                )

    def _read(self, rel: str, max_bytes: int) -> bytes:
        try:  # fsio's one rule: no link, no FIFO, no device, never over the limit
            return read_limited(self._abs(rel), max_bytes)
        except FileTooLarge as exc:
            raise _TooLarge(exc.size) from None

    def _abs(self, rel: str) -> str:
        return self._prefix + rel if os.sep == "/" else os.path.join(self.root, *rel.split("/"))

    def hash_files(
        self, wanted: dict[str, set[DigestAlgorithm]]
    ) -> Iterator[tuple[str, dict[DigestAlgorithm, str] | str, int]]:
        rels = list(wanted)
        total = sum(max(self.files.get(rel, 0), 0) for rel in rels)
        cores = _CORES
        # Fewer files than cores: let each big file spread its algorithms over threads.
        split = self.threads != 1 and not self.processes and len(rels) < cores
        jobs = [
            (self._abs(rel), list(algs), self.identity.get(rel), split)
            for rel, algs in wanted.items()
        ]
        executor: Executor | None = None
        if len(jobs) > 1 and total >= PARALLEL_MIN_BYTES:
            # Imported here: a bag under PARALLEL_MIN_BYTES (most) needs no pool.
            if self.processes and self.processes > 1:
                from concurrent.futures import ProcessPoolExecutor

                executor = ProcessPoolExecutor(self.processes)
            elif self.threads is None or self.threads > 1:
                from concurrent.futures import ThreadPoolExecutor

                executor = ThreadPoolExecutor(self.threads or os.cpu_count() or 1)
        if executor is None:
            for rel, job in zip(rels, jobs, strict=True):
                yield (rel, *_hash_job(job))
            return
        with executor:
            # Largest first, so one big file does not start last and run alone.
            order = sorted(range(len(jobs)), key=lambda i: -self.files.get(rels[i], 0))
            # In slices, so a bag of a million files does not hold a million futures.
            for start in range(0, len(order), _SLICE):
                part = order[start : start + _SLICE]
                results = executor.map(_hash_job, [jobs[i] for i in part], chunksize=_chunks(part))
                for i, res in zip(part, results, strict=True):
                    yield (rels[i], *res)


_SLICE = 4096


def _chunks(part: list[int]) -> int:
    """Tasks per process-pool message (ignored by thread pools): amortise pickling."""
    return max(1, min(64, len(part) // (_CORES * 8)))


def _hash_job(
    job: tuple[str, list[DigestAlgorithm], tuple[int, int] | None, bool],
) -> tuple[dict[DigestAlgorithm, str] | str, int]:
    path, algs, identity, split = job
    try:
        return hash_file(path, algs, identity=identity, split_algorithms=split)
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}", 0
