"""Opening a bag as the right tree, and the entry points :func:`verify_bag` and
:func:`verify_bags`.

:func:`_verify_batch` and :func:`_start_worker` stay module-level functions:
:func:`verify_bags` sends them to a process pool, which pickles them by name.
"""

from __future__ import annotations

import functools
import os
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from preserve.bagit_format import DEFAULT_LIMITS, Limits, Problem, Severity
from preserve.errors import PreserveError, UnreadableInput
from preserve.verify.quick import QuickResult, quick_check
from preserve.verify.result import CANNOT_OPEN, BagResult, ExtraCheck, _printable, _show
from preserve.verify.tree import OverLimit, _Tree, archive_errors
from preserve.verify.tree_dir import _DirTree

# The tar and zip readers (gzip, bz2, lzma, zipfile) and the process pool
# (multiprocessing) are imported where they are used: a bag directory needs neither,
# and one ``preserve verify BAG`` should not pay for them at start-up.

#: Codes that say a file's content is not what the manifests promise.
_UNSOUND = frozenset({"manifest.digest-mismatch", "file.changed", "file.unreadable"})

_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


def _open_tree(
    path: Path, threads: int | None, processes: int | None, limits: Limits = DEFAULT_LIMITS
) -> _Tree:
    try:
        st = path.lstat()
    except OSError as exc:
        raise UnreadableInput(f"cannot open: {exc.strerror}", path) from exc
    if stat.S_ISLNK(st.st_mode):
        raise UnreadableInput("is a symbolic link (never followed); name the bag itself", path)
    if stat.S_ISDIR(st.st_mode):
        return _DirTree(path, threads, processes, limits)
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableInput("not a directory or a serialized bag", path)
    import zipfile

    from preserve.verify.tar_reader import is_tar
    from preserve.verify.tree_archive import _TarTree, _ZipTree

    try:
        if zipfile.is_zipfile(path):
            return _ZipTree(path, limits)
        if is_tar(path):
            return _TarTree(path, limits)
    except archive_errors() as exc:
        raise UnreadableInput(f"cannot read archive: {exc}", path) from exc
    raise UnreadableInput("not a directory, tar or zip archive", path)


def verify_bag(
    path: Path | str,
    *,
    processes: int | None = None,
    threads: int | None = None,
    extra_checks: Sequence[ExtraCheck] = (),
    limits: Limits = DEFAULT_LIMITS,
) -> BagResult:
    """Check one bag (directory or tar/zip) against every MUST of RFC 8493.

    Files are hashed once each, computing every algorithm the manifests use. A bag
    with at least ``PARALLEL_MIN_BYTES`` of files to hash is spread over ``threads``
    threads (default: one per core); ``processes=N`` (N > 1) uses N processes
    instead, and ``processes=1`` keeps all hashing in the calling thread (for callers
    that already run one bag per core). A bag that could not be opened at all raises
    :class:`UnreadableInput`; everything else wrong is a :class:`Problem` in the result.
    ``limits`` bounds what a hostile bag can make it read (``limit.*`` problems).
    """
    started = time.perf_counter()
    path = Path(path)
    if processes == 1 and threads is None:
        threads = 1
    quick = _quick(path, threads, processes, limits)
    if quick is not None:  # a clean bag: what the checker would have found (verify/quick.py)
        tree: _Tree = quick.tree
        problems: list[Problem] = []
        version: str | None = quick.version
        algorithms = quick.algorithms
        files_checked, bytes_checked = quick.files_checked, quick.bytes_checked
    else:
        from preserve.verify.checker import _Checker  # only for a bag not plainly clean

        tree = _open_tree(path, threads, processes, limits)
        checker = _Checker(tree)
        try:
            checker.run()
        except archive_errors() as exc:
            checker.error("bag.unreadable", "", f"checking stopped: {exc}")
        except OverLimit as exc:  # a compression bomb met while hashing: stop there
            checker.problems.append(exc.problem)
            tree.over_limit = True
        except BaseException:
            _close(tree)
            raise
        problems = checker.problems
        version, algorithms = checker.version, checker.algorithms
        files_checked, bytes_checked = checker.files_checked, checker.bytes_checked
    try:
        if extra_checks and not tree.over_limit:
            _run_extra_checks(tree, problems, extra_checks)
    finally:
        _close(tree)
    return BagResult(
        bag=str(path),
        valid=not any(p.severity is Severity.error for p in problems),
        problems=_shown(problems) if problems else (),
        files_checked=files_checked,
        bytes_checked=bytes_checked,
        seconds=time.perf_counter() - started,
        version=version,
        algorithms=tuple(algorithms),
    )


def _run_extra_checks(
    tree: _Tree, problems: list[Problem], extra_checks: Sequence[ExtraCheck]
) -> None:
    """The checks beyond RFC 8493, their problems added to ``problems``."""
    root = tree.root_path()
    # Files whose content is known wrong: extra checks need not parse them (a PDF
    # swapped for a decompression bomb is reported by its digest, not inflated).
    unsound = frozenset(p.path for p in problems if p.code in _UNSOUND)
    for check in extra_checks:
        # A check that reads through BagFiles gets the listed tree (directory, tar or
        # zip alike, streamed); an older one gets the directory, and cannot run on
        # a serialized bag.
        reads_tree = getattr(check, "reads_bag_files", False)
        if root is None and not reads_tree:
            problems.append(_failed("check.skipped", f"{_name(check)} needs a bag directory"))
            continue
        narrow = getattr(check, "with_unsound", None)
        if unsound and narrow is not None:
            check = narrow(unsound)
        try:
            problems.extend(check(tree if reads_tree else root))  # type: ignore[arg-type]
        except PreserveError as exc:
            problems.append(_failed("check.failed", f"{_name(check)} failed: {exc.message}"))
        except Exception as exc:  # fail closed: a check that crashed did not pass
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            problems.append(_failed("check.failed", f"{_name(check)} failed: {reason}"))


def _failed(code: str, message: str) -> Problem:
    """An error about the bag as a whole (a check that could not run)."""
    return Problem(code, "", message, Severity.error)


def _shown(problems: list[Problem]) -> tuple[Problem, ...]:
    """Problems in report order, once each; names read from disk may hold undecodable
    bytes, escaped so that reports always print."""
    shown = {
        p if _printable(p) else Problem(p.code, _show(p.path), _show(p.message), p.severity)
        for p in problems
    }
    return tuple(sorted(shown, key=lambda p: (p.severity.value, p.path, p.code, p.message)))


def _close(tree: _Tree) -> None:
    close = getattr(tree, "close", None)
    if close is not None:
        close()


def _quick(
    path: Path, threads: int | None, processes: int | None, limits: Limits
) -> QuickResult | None:
    """The quick path's result for a clean bag directory (None: the general checker).

    Not for a bag that would be hashed over several threads or processes (the quick
    path reads in this thread).
    """
    if processes not in (None, 1) or threads not in (None, 1):
        return None
    return quick_check(path, limits)  # None for a link or a file (never followed)


def _name(check: ExtraCheck) -> str:
    return getattr(check, "__name__", repr(check))


def verify_bags(
    paths: Iterable[Path | str],
    *,
    workers: int | None = None,
    extra_checks: Sequence[ExtraCheck] = (),
    limits: Limits = DEFAULT_LIMITS,
) -> Iterator[BagResult]:
    """Verify many bags, in order, spread over ``workers`` processes in batches.

    Many small bags are limited by per-file overhead in Python, which threads cannot
    share out; processes can. Each worker gets the checks and limits once (when it
    starts) and then batches of bag paths, so a bag costs no process round trip of
    its own; batches are small enough that every worker stays busy to the end. A
    bag is hashed in its worker's thread (a bag verified alone gives a large file's
    digests a thread each). A bag that cannot be opened comes back as an invalid
    result, so one bad path does not hide the others.
    """
    items = [str(p) for p in paths]
    n = min(workers or os.cpu_count() or 1, len(items))
    checks = tuple(extra_checks)
    if n <= 1:
        for p in items:
            yield _safe_verify(p, None, checks, limits)
        return
    from preserve.verify import forked

    if forked.usable():
        batches = _batches(items, n, forked.MAX_BATCHES)
        work = functools.partial(_verify_list, checks=checks, limits=limits)
        for results in forked.run_batches(batches, work, n, _unchecked):
            yield from results
        return
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    batches = _batches(items, n)
    reported = 0
    try:
        with ProcessPoolExecutor(
            n, initializer=_start_worker, initargs=(os.getpid(), checks, limits)
        ) as pool:
            for results in pool.map(_verify_batch, batches):
                yield from results
                reported += 1
    except BrokenProcessPool:  # a worker died: what it had not reported was not checked
        for batch in batches[reported:]:
            yield from (_unchecked(p, "the process pool checking it broke") for p in batch)


def _batches(items: list[str], workers: int, most: int | None = None) -> list[list[str]]:
    """Bags per task: enough to amortise the pipe, few enough to even out the tail.

    Up to ``_BATCH`` bags, and always at least ``_TASKS_PER_WORKER`` tasks per
    worker left: batches shrink towards the end (guided scheduling), so the workers
    finish together rather than one running on alone with a last full batch; a
    large bag's batch is usually that bag alone. At most about ``most`` batches.
    """
    least = 1 if most is None else -(-len(items) // most)
    batches = []
    start = 0
    while start < len(items):
        left = len(items) - start
        size = max(least, min(_BATCH, left // (workers * _TASKS_PER_WORKER)), 1)
        batches.append(items[start : start + size])
        start += size
    return batches


def _unchecked(path: str, why: str) -> BagResult:
    """The result of a bag whose worker process died before reporting it: not valid."""
    return BagResult(path, False, (_failed("check.failed", f"not checked: {why}"),), 0, 0, 0.0)


_BATCH = 32
_TASKS_PER_WORKER = 8

#: What every bag of a :func:`verify_bags` worker is checked with (set once per worker).
_WORKER_CONFIG: tuple[tuple[ExtraCheck, ...], Limits] = ((), DEFAULT_LIMITS)


def _start_worker(parent: int, checks: tuple[ExtraCheck, ...], limits: Limits) -> None:
    """Pool initializer: keep the checks and limits, and die with the parent."""
    global _WORKER_CONFIG
    _WORKER_CONFIG = (checks, limits)
    from preserve.workers import die_with_parent

    die_with_parent(parent)


def _verify_batch(paths: list[str]) -> list[BagResult]:
    """A pool worker's batch, with the checks and limits it was started with."""
    checks, limits = _WORKER_CONFIG
    return _verify_list(paths, checks=checks, limits=limits)


def _verify_list(
    paths: Sequence[str], *, checks: Sequence[ExtraCheck], limits: Limits
) -> list[BagResult]:
    # One thread per bag: every core already has a worker. Giving each digest of a
    # large file its own thread here too cost 7% more CPU on 4 x 256 MiB over two
    # workers (threads contending for two cores), and gained nothing (docs/verify.md).
    return [_safe_verify(p, 1, checks, limits) for p in paths]


def _safe_verify(
    path: str, threads: int | None, extra_checks: Sequence[ExtraCheck], limits: Limits
) -> BagResult:
    try:
        return verify_bag(path, threads=threads, extra_checks=extra_checks, limits=limits)
    except UnreadableInput as exc:
        return BagResult(
            bag=path,
            valid=False,
            problems=(Problem(CANNOT_OPEN, "", exc.message),),
            files_checked=0,
            bytes_checked=0,
            seconds=0.0,
        )
