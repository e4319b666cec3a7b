"""Verify one BagIt bag — ours or anyone's — and report every problem it has.

:func:`verify_bag` is a pure function of a path: it never writes, never follows a
symlink, never opens anything it did not first list inside the bag, and works on
read-only storage, so it can run on any worker. A bag is a directory or a serialized
bag (tar, tar.gz/bz2/xz, zip) read by streaming its members, never extracted.

Every problem has a stable code, the bag-relative path it concerns and a message, and
the checks go on after the first one: a corrupt file is named as corrupt (and the
Payload-Oxum problem it causes points at it). Fail closed: whatever could not be
checked (unreadable file, unknown algorithm, crashed extra check) is an error.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import lzma
import os
import stat
import struct
import tarfile
import time
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from preserve.bagit_format import (
    BAG_INFO_TXT,
    BAGIT_TXT,
    DEFAULT_LIMITS,
    FETCH_TXT,
    PAYLOAD_DIR,
    DigestAlgorithm,
    Limits,
    ManifestKind,
    ParsedFetch,
    ParsedManifest,
    Problem,
    Severity,
    is_system_file,
    nfc,
    parse_bag_info,
    parse_bagit_txt,
    parse_fetch,
    parse_manifest,
    parse_manifest_name,
    parse_oxum,
    safe_relpath,
    version_tuple,
)
from preserve.errors import UnreadableInput
from preserve.hashing import hash_file, hash_stream

__all__ = [
    "CANNOT_OPEN",
    "BagResult",
    "ExtraCheck",
    "Limits",
    "Problem",
    "Severity",
    "verify_bag",
    "verify_bags",
]

#: A check added on top of the BagIt ones (profile, metadata schema, PDF/A...). It gets
#: the bag directory and yields problems; if it raises, that is reported as an error.
ExtraCheck = Callable[[Path], Iterable[Problem]]

#: Below this much payload a bag is hashed in the calling thread: pool start-up costs
#: more than it saves, and batches of small bags are parallelised across bags instead.
PARALLEL_MIN_BYTES = 8 << 20

#: Top-level files up to this size are read ahead from a tar in one pass.
_PREFETCH_MAX = 64 << 20

#: What reading a damaged or hostile tar/zip can raise besides OSError: corrupt deflate
#: or xz streams, truncated headers, unsupported zip compression or encryption.
_ARCHIVE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    tarfile.TarError,
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    struct.error,
    NotImplementedError,
    RuntimeError,
    ValueError,
)

#: Code of the one problem of a bag that could not be opened at all (CLI exit 2).
CANNOT_OPEN = "bag.cannot-open"

_CORES = os.cpu_count() or 1
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS |= getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block open(); fstat refuses it


@dataclass(frozen=True)
class BagResult:
    """Everything :func:`verify_bag` found about one bag."""

    bag: str
    valid: bool
    problems: tuple[Problem, ...]
    files_checked: int
    bytes_checked: int
    seconds: float
    version: str | None = None
    algorithms: tuple[str, ...] = ()

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.error)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.warning)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of one bag in ``schemas/verify-report.schema.json``."""
        return {
            "bag": self.bag,
            "valid": self.valid,
            "version": self.version,
            "algorithms": list(self.algorithms),
            "files_checked": self.files_checked,
            "bytes_checked": self.bytes_checked,
            "seconds": round(self.seconds, 6),
            "problems": [p.as_dict() for p in self.problems],
        }


# =========================================================================== bag views
#
# The checks run on a _Tree: the listing of a bag (regular files with sizes, directories,
# and what must not be there) plus reading and hashing of listed files. A directory and
# an archive differ only in how those are done.


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

    def read(self, rel: str, max_bytes: int) -> bytes:
        """A file's bytes; :class:`_TooLarge` (nothing more read) when over ``max_bytes``."""
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


class _TooLarge(Exception):
    """A file the verifier would have to read whole is over its limit (nothing was read)."""

    def __init__(self, size: int | None) -> None:
        super().__init__(size)
        self.size = size


def _printable(p: Problem) -> bool:
    return (p.path.isascii() and p.message.isascii()) or not _has_surrogates(p.path + p.message)


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _show(rel: str) -> str:
    """A listed name as text that can always be printed (undecodable bytes escaped)."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class _DirTree(_Tree):
    def __init__(
        self,
        root: Path,
        threads: int | None,
        processes: int | None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(str(root), limits=limits)
        self.root = root
        self.threads = threads
        self.processes = processes
        self.identity: dict[str, tuple[int, int]] = {}
        self._prefix = os.path.join(root, "")
        self._walk("", str(root))

    def root_path(self) -> Path | None:
        return self.root

    def _walk(self, prefix: str, directory: str) -> None:
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as exc:
            self.problems.append(
                Problem("file.unreadable", prefix.rstrip("/"), f"cannot list: {exc.strerror}")
            )
            return
        for entry in entries:
            rel = prefix + entry.name
            if not self.count_entry():
                return
            if not self.path_ok(rel):
                continue
            try:
                # d_type answers these without a system call on most file systems.
                if entry.is_dir(follow_symlinks=False):
                    self.dirs.add(rel)
                    self._walk(rel + "/", entry.path)
                    continue
                if not prefix and entry.is_file(follow_symlinks=False):
                    # A top-level tag file: read whole later, so no stat (size unknown).
                    self.files[rel] = -1
                    continue
            except OSError:
                pass  # fall through to lstat, which reports the error
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                self.problems.append(Problem("file.unreadable", _show(rel), str(exc.strerror)))
                self.others.add(rel)
                continue
            if stat.S_ISLNK(st.st_mode):
                self.others.add(rel)
                self.problems.append(
                    Problem("symlink", _show(rel), "symbolic link (never followed)")
                )
            elif stat.S_ISDIR(st.st_mode):
                self.dirs.add(rel)
                self._walk(rel + "/", entry.path)
            elif stat.S_ISREG(st.st_mode):
                self.files[rel] = st.st_size
                self.identity[rel] = (st.st_dev, st.st_ino)
            else:
                self.others.add(rel)
                self.problems.append(
                    Problem("file.special", _show(rel), "not a regular file (device, FIFO...)")
                )

    def read(self, rel: str, max_bytes: int) -> bytes:
        fd = os.open(self._abs(rel), _READ_FLAGS)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise OSError(f"{rel} is not a regular file")
            if st.st_size > max_bytes:
                raise _TooLarge(st.st_size)
            # One byte more than the size: a short read is the end (see hash_file).
            want = st.st_size + 1
            chunks = []
            total = 0
            while block := os.read(fd, want):
                chunks.append(block)
                total += len(block)
                if total > max_bytes:
                    raise _TooLarge(None)  # it grew while being read
                if len(block) < want:
                    break
                want = min(1 << 20, max_bytes + 1 - total)
            return b"".join(chunks)
        finally:
            os.close(fd)

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
            if self.processes and self.processes > 1:
                executor = ProcessPoolExecutor(self.processes)
            elif self.threads is None or self.threads > 1:
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


def _hash_bytes(data: bytes, exps: list[_Expect]) -> tuple[dict[DigestAlgorithm, str], int]:
    digests: dict[DigestAlgorithm, str] = {}
    for e in exps:
        if e.alg not in digests:
            digests[e.alg] = _CONSTRUCTORS[e.alg](data).hexdigest()
    return digests, len(data)


_CONSTRUCTORS = {
    alg: getattr(hashlib, alg.value, functools.partial(hashlib.new, alg.value))
    for alg in DigestAlgorithm
}


def _hash_job(
    job: tuple[str, list[DigestAlgorithm], tuple[int, int] | None, bool],
) -> tuple[dict[DigestAlgorithm, str] | str, int]:
    path, algs, identity, split = job
    try:
        return hash_file(path, algs, identity=identity, split_algorithms=split)
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}", 0


class _ArchiveTree(_Tree):
    """A serialized bag: members are listed and streamed, nothing touches the disk."""

    def __init__(self, archive: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__(str(archive), limits=limits)
        self.prefix = ""
        self._members: dict[str, Any] = {}

    def _place(self, names: list[str]) -> None:
        """Find the bag's base directory: the single top-level folder, or the root."""
        tops = {n.split("/", 1)[0] for n in names if n}
        if len(tops) == 1:
            (top,) = tops
            if f"{top}/{BAGIT_TXT}" in names or BAGIT_TXT not in names:
                self.prefix = top + "/"

    def _add(self, name: str, kind: str, size: int, member: Any) -> None:
        raw = name
        name = name.rstrip("/") if kind == "dir" else name
        if name in ("", ".", "./"):
            return
        safe = safe_relpath(name)
        if safe is None:
            self.problems.append(
                Problem("path.unsafe", _show(raw), "archive member would land outside the bag")
            )
            return
        if self.prefix and not (safe + "/").startswith(self.prefix):
            self.problems.append(
                Problem(
                    "archive.outside-bag",
                    _show(safe),
                    f"member is not inside the bag's base directory {self.prefix!r}",
                )
            )
            return
        rel = safe[len(self.prefix) :]
        if not rel:
            return
        if not self.count_entry() or not self.path_ok(rel):
            return
        if rel in self.files or rel in self._members or rel in self.others:
            self.problems.append(
                Problem("archive.duplicate-member", _show(rel), "member appears more than once")
            )
            self.files.pop(rel, None)
            self.others.add(rel)
            return
        if kind == "dir":
            self.dirs.add(rel)
            parts = rel.split("/")
            for i in range(1, len(parts)):
                self.dirs.add("/".join(parts[:i]))
            return
        parts = rel.split("/")
        for i in range(1, len(parts)):
            self.dirs.add("/".join(parts[:i]))
        if kind == "file":
            self.files[rel] = size
            self._members[rel] = member
        elif kind == "symlink":
            self.others.add(rel)
            self.problems.append(Problem("symlink", _show(rel), "symbolic or hard link member"))
        else:
            self.others.add(rel)
            self.problems.append(Problem("file.special", _show(rel), "not a regular file"))


class _TarTree(_ArchiveTree):
    def __init__(self, archive: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__(archive, limits)
        self._small: dict[str, bytes] = {}
        self._prefetched = False
        self.tar = tarfile.open(archive, "r:*")  # noqa: SIM115 - closed by close()
        # Listed one by one, not getmembers(): a hostile tar of millions of members
        # stops at the limit instead of filling memory.
        members = []
        for member in self.tar:
            members.append(member)
            if len(members) > limits.max_files:
                self.refuse_count()
                break
        names = [_strip_dot(m.name) for m in members]
        self._place(names)
        for name, m in zip(names, members, strict=True):
            if m.isdir():
                kind = "dir"
            elif m.isreg():
                kind = "file"
            elif m.issym() or m.islnk():
                kind = "symlink"
            else:
                kind = "other"
            self._add(name, kind, m.size, m)

    def close(self) -> None:
        self.tar.close()

    def read(self, rel: str, max_bytes: int) -> bytes:
        if self._members[rel].size > max_bytes:
            raise _TooLarge(self._members[rel].size)
        if "/" not in rel and not self._prefetched:
            self._prefetch()
        if rel in self._small:
            return self._small[rel]
        return self._extract(rel)

    def _extract(self, rel: str) -> bytes:
        fh = self.tar.extractfile(self._members[rel])
        if fh is None:
            raise OSError(f"cannot read {rel}")
        with fh:
            return fh.read()

    def _prefetch(self) -> None:
        """Read the top-level tag files in archive order, in one forward pass.

        A compressed tar can only seek backwards by decompressing again from the
        start; reading tag files one by one in name order could do that many times.
        """
        self._prefetched = True
        top = [
            r
            for r in self._members
            if "/" not in r
            and 0 <= self.files.get(r, -1) <= min(_PREFETCH_MAX, self.limits.file_limit(r)[0])
        ]
        for rel in sorted(top, key=lambda r: self._members[r].offset_data):
            # On failure read() tries again and reports the error.
            with contextlib.suppress(*_ARCHIVE_ERRORS):
                self._small[rel] = self._extract(rel)

    def hash_files(
        self, wanted: dict[str, set[DigestAlgorithm]]
    ) -> Iterator[tuple[str, dict[DigestAlgorithm, str] | str, int]]:
        # In archive order: a compressed tar is read forward once.
        order = sorted(wanted, key=lambda r: self._members[r].offset_data)
        for rel in order:
            fh = self.tar.extractfile(self._members[rel])
            if fh is None:
                yield rel, "cannot read member", 0
                continue
            try:
                with fh:
                    digests, size = hash_stream(fh, wanted[rel])
            except _ARCHIVE_ERRORS as exc:
                yield rel, f"cannot read member: {exc}", 0
                continue
            yield rel, digests, size


class _ZipTree(_ArchiveTree):
    def __init__(self, archive: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__(archive, limits)
        self.zip = zipfile.ZipFile(archive)
        infos = self.zip.infolist()
        if len(infos) > limits.max_files:
            self.refuse_count()
            infos = infos[: limits.max_files + 1]
        names = [_strip_dot(i.filename) for i in infos]
        self._place([n.rstrip("/") for n in names])
        for name, info in zip(names, infos, strict=True):
            mode = info.external_attr >> 16
            if info.filename.endswith("/"):  # not is_dir(): it fails on an empty name
                kind = "dir"
            elif stat.S_ISLNK(mode):
                kind = "symlink"
            elif stat.S_IFMT(mode) and not stat.S_ISREG(mode):  # 0o600 alone: a plain file
                kind = "other"
            else:
                kind = "file"
            self._add(name, kind, info.file_size, info)

    def close(self) -> None:
        self.zip.close()

    def read(self, rel: str, max_bytes: int) -> bytes:
        info = self._members[rel]
        if info.file_size > max_bytes:
            raise _TooLarge(info.file_size)
        with self.zip.open(info) as fh:  # never more than the header's size
            data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise _TooLarge(None)
        return data

    def hash_files(
        self, wanted: dict[str, set[DigestAlgorithm]]
    ) -> Iterator[tuple[str, dict[DigestAlgorithm, str] | str, int]]:
        order = sorted(wanted, key=lambda r: self._members[r].header_offset)
        for rel in order:
            try:
                with self.zip.open(self._members[rel]) as fh:
                    digests, size = hash_stream(fh, wanted[rel])
            except _ARCHIVE_ERRORS as exc:
                yield rel, f"cannot read member: {exc}", 0
                continue
            yield rel, digests, size


def _strip_dot(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name


# =========================================================================== the checks


class _Expect(NamedTuple):
    """One manifest's claim about one file (a NamedTuple: built per entry, hot path)."""

    alg: DigestAlgorithm
    digest: str
    manifest: str
    listed_as: str
    #: "", "normalization" or "case": matched a differently spelled name on disk.
    twin: str = ""


class _Checker:
    def __init__(self, tree: _Tree) -> None:
        self.tree = tree
        self.problems: list[Problem] = list(tree.problems)
        self.version: str | None = None
        self.encoding = "utf-8"
        self.algorithms: list[str] = []
        self.files_checked = 0
        self.bytes_checked = 0
        self.cache: dict[str, bytes] = {}
        self._index: tuple[dict[str, list[str]], dict[str, list[str]]] | None = None

    def error(self, code: str, path: str, message: str) -> None:
        self.problems.append(Problem(code, path, message, Severity.error))

    def warn(self, code: str, path: str, message: str) -> None:
        self.problems.append(Problem(code, path, message, Severity.warning))

    def read(self, rel: str) -> bytes | None:
        """A tag file's bytes, kept: tag manifests then hash them without a second read.

        Never more than the file's limit (:meth:`Limits.file_limit`): a larger file
        is a ``limit.*`` error and is not read at all.
        """
        if rel in self.cache:
            return self.cache[rel]
        max_bytes, code = self.tree.limits.file_limit(rel)
        try:
            data = self.cache[rel] = self.tree.read(rel, max_bytes)
            return data
        except _TooLarge as exc:
            size = f"{exc.size:,} bytes" if exc.size is not None else "larger than that"
            self.error(code, rel, f"{rel} is {size}; the limit is {max_bytes:,} bytes (not read)")
            return None
        except _ARCHIVE_ERRORS as exc:
            self.error("file.unreadable", rel, f"cannot read: {exc}")
            return None

    # ------------------------------------------------------------------ run

    def run(self) -> None:
        tree = self.tree
        if tree.over_limit:
            return  # limit.files is reported; checking a partial listing would mislead
        self.check_bagit_txt()
        if PAYLOAD_DIR not in tree.dirs:
            if PAYLOAD_DIR in tree.files or PAYLOAD_DIR in tree.others:
                self.error("payload.no-data-dir", PAYLOAD_DIR, "'data' is not a directory")
            else:
                self.error("payload.no-data-dir", PAYLOAD_DIR, "payload directory missing")
        payload_m, tag_m = self.load_manifests()
        fetch = self.load_fetch()
        expect: dict[str, list[_Expect]] = defaultdict(list)
        payload = {r: s for r, s in tree.files.items() if r.startswith(PAYLOAD_DIR + "/")}
        missing: dict[str, list[str]] = defaultdict(list)
        covered = self.match_payload(payload_m, payload, expect, missing)
        self.match_tags(tag_m, expect)
        fetch_paths = {e.path for e in fetch.entries} if fetch else set()
        for rel, manifests in sorted(missing.items()):
            names = ", ".join(manifests)
            if rel in tree.others:
                continue  # already reported as a symlink / special file
            if rel in fetch_paths:
                self.error(
                    "payload.not-fetched",
                    rel,
                    f"listed in fetch.txt and {names} but not present: the bag is incomplete",
                )
            else:
                self.error("payload.missing", rel, f"listed in {names} but not in the bag")
        unlisted: list[str] = []
        for rel in sorted(payload):
            lacking = [m.name for m in payload_m.values() if rel not in covered[m.name]]
            if lacking:
                unlisted.append(rel)
                self.error("payload.not-in-manifest", rel, f"not listed in {', '.join(lacking)}")
        if BAG_INFO_TXT in tree.files:
            self.read(BAG_INFO_TXT)  # now, so the tag manifests hash it from memory
        mismatched = self.hash_and_compare(expect)
        self.check_fetch(fetch, payload_m)
        self.check_bag_info(payload, sorted(missing), unlisted, mismatched)
        self.check_names(payload)

    # ------------------------------------------------------------------ bagit.txt

    def check_bagit_txt(self) -> None:
        if BAGIT_TXT not in self.tree.files:
            self.error("bagit.missing", BAGIT_TXT, "bagit.txt is missing: not a bag")
            return
        data = self.read(BAGIT_TXT)
        if data is None:
            return
        version, encoding, problems = parse_bagit_txt(data)
        self.problems.extend(problems)
        self.version = version
        if encoding is not None:
            self.encoding = encoding

    # ------------------------------------------------------------------ manifests

    def load_manifests(
        self,
    ) -> tuple[dict[DigestAlgorithm, ParsedManifest], dict[DigestAlgorithm, ParsedManifest]]:
        payload: dict[DigestAlgorithm, ParsedManifest] = {}
        tags: dict[DigestAlgorithm, ParsedManifest] = {}
        for rel in sorted(r for r in self.tree.files if "/" not in r):
            parsed_name = parse_manifest_name(rel)
            if parsed_name is None:
                continue
            kind, alg_name = parsed_name
            alg = DigestAlgorithm.from_name(alg_name)
            if alg is None:
                self.error(
                    "manifest.unsupported-algorithm",
                    rel,
                    f"cannot check digests of algorithm {alg_name!r}",
                )
                continue
            data = self.read(rel)
            if data is None:
                continue
            parsed = parse_manifest(
                data, rel, encoding=self.encoding, version=self.version, limits=self.tree.limits
            )
            self.problems.extend(parsed.problems)
            (payload if kind is ManifestKind.payload else tags)[alg] = parsed
        if not payload:
            self.error("manifest.none", "", "no payload manifest (manifest-<algorithm>.txt)")
        elif all(alg.weak for alg in payload):
            self.warn(
                "manifest.weak-algorithm",
                "",
                "only weak algorithms ("
                + ", ".join(a.value for a in payload)
                + "): accidental damage is caught, deliberate tampering is not",
            )
        self.algorithms = sorted({a.value for a in payload} | {a.value for a in tags})
        for label, group in (("payload", payload), ("tag", tags)):
            if len(group) < 2:
                continue
            sets = {m.name: {e.path for e in m.entries} for m in group.values()}
            if len({frozenset(s) for s in sets.values()}) > 1:
                self.warn(
                    "manifest.file-sets-differ",
                    "",
                    f"{label} manifests {', '.join(sorted(sets))} do not list the same files",
                )
        return payload, tags

    def _entries(self, manifest: ParsedManifest) -> list[tuple[str, str, int]]:
        """(safe path, digest, line) of a manifest; unsafe and duplicate lines reported."""
        seen: dict[str, str] = {}
        out: list[tuple[str, str, int]] = []
        strict = version_tuple(self.version) >= (1, 0)
        limits = self.tree.limits
        for entry in manifest.entries:
            over = limits.path_problem(entry.path)
            if over is not None:
                where = f"{manifest.name} line {entry.line}"
                self.error(over.code, over.path, f"{where}: {over.message}")
                continue
            safe = safe_relpath(entry.path)
            if safe is None:
                self.error(
                    "path.unsafe",
                    entry.path,
                    f"{manifest.name} line {entry.line}: path could point outside the bag",
                )
                continue
            if safe in seen:
                where = f"{manifest.name} line {entry.line}"
                if seen[safe] != entry.digest:
                    self.error(
                        "manifest.conflicting-entry", safe, f"{where}: listed again, other digest"
                    )
                elif strict:
                    self.error("manifest.duplicate-entry", safe, f"{where}: listed twice")
                else:
                    self.warn("manifest.duplicate-entry", safe, f"{where}: listed twice")
                continue
            seen[safe] = entry.digest
            out.append((safe, entry.digest, entry.line))
        return out

    def match_payload(
        self,
        manifests: dict[DigestAlgorithm, ParsedManifest],
        payload: dict[str, int],
        expect: dict[str, list[_Expect]],
        missing: dict[str, list[str]],
    ) -> dict[str, set[str]]:
        by_nfc, by_fold = self.name_index(payload)
        covered: dict[str, set[str]] = defaultdict(set)
        for alg, manifest in manifests.items():
            for path, digest, line in self._entries(manifest):
                if not path.startswith(PAYLOAD_DIR + "/"):
                    self.error(
                        "manifest.outside-payload",
                        path,
                        f"{manifest.name} line {line}: a payload manifest lists a path "
                        "outside data/",
                    )
                    continue
                if path in self.tree.dirs:
                    self.error(
                        "manifest.lists-directory",
                        path,
                        f"{manifest.name} line {line}: a directory, not a file",
                    )
                    continue
                if path in payload:
                    target: str | None = path
                    twin = ""
                else:
                    target, twin = self._find(path, payload, by_nfc, by_fold)
                if target is None:
                    missing[path].append(manifest.name)
                    continue
                covered[manifest.name].add(target)
                expect[target].append(_Expect(alg, digest, manifest.name, path, twin))
        return covered

    @staticmethod
    def _find(
        path: str,
        payload: dict[str, int],
        by_nfc: dict[str, list[str]],
        by_fold: dict[str, list[str]],
    ) -> tuple[str | None, str]:
        if path in payload:
            return path, ""
        stripped = path.lstrip(" \t")
        if stripped != path and stripped in payload:
            # "digest   path": RFC 8493 allows any run of whitespace as the separator.
            return stripped, ""
        same = by_nfc.get(nfc(path), [])
        if len(same) == 1:
            return same[0], "normalization"
        folded = by_fold.get(nfc(path).casefold(), [])
        if len(folded) == 1:
            return folded[0], "case"
        return None, ""

    def match_tags(
        self, manifests: dict[DigestAlgorithm, ParsedManifest], expect: dict[str, list[_Expect]]
    ) -> None:
        for alg, manifest in manifests.items():
            for path, digest, line in self._entries(manifest):
                if path.startswith(PAYLOAD_DIR + "/"):
                    where = f"{manifest.name} line {line}"
                    self.error("tagmanifest.lists-payload", path, f"{where}: a payload file")
                    continue
                named = parse_manifest_name(path)
                if named is not None and named[0] is ManifestKind.tag:
                    where = f"{manifest.name} line {line}"
                    self.error("tagmanifest.lists-tagmanifest", path, f"{where}: a tag manifest")
                    continue
                if path in self.tree.dirs:
                    where = f"{manifest.name} line {line}"
                    self.error("manifest.lists-directory", path, f"{where}: a directory")
                    continue
                if path not in self.tree.files:
                    if path not in self.tree.others:
                        self.error(
                            "tag.missing", path, f"listed in {manifest.name}, not in the bag"
                        )
                    continue
                expect[path].append(_Expect(alg, digest, manifest.name, path))

    # ------------------------------------------------------------------ digests

    def hash_and_compare(self, expect: dict[str, list[_Expect]]) -> list[str]:
        wanted = {rel: {e.alg for e in exps} for rel, exps in expect.items()}
        in_memory = [(rel, self.cache[rel]) for rel in wanted if rel in self.cache]
        for rel, _ in in_memory:
            del wanted[rel]
        bad: list[str] = []
        results = itertools.chain(
            ((rel, *_hash_bytes(data, expect[rel])) for rel, data in in_memory),
            self.tree.hash_files(wanted),
        )
        for rel, digests, size in results:
            if isinstance(digests, str):
                self.error("file.unreadable", rel, digests)
                bad.append(rel)
                continue
            self.files_checked += 1
            self.bytes_checked += size
            listed = self.tree.files.get(rel, -1)
            if listed >= 0 and listed != size:
                self.error("file.changed", rel, f"size changed while checking ({listed} → {size})")
            file_bad = False
            for e in expect[rel]:
                found = digests[e.alg]
                if found != e.digest:
                    file_bad = True
                    self.error(
                        "manifest.digest-mismatch",
                        rel,
                        f"{e.manifest}: expected {e.alg.value} {e.digest}, file has {found}"
                        + (f" (listed as {e.listed_as!r})" if e.listed_as != rel else ""),
                    )
                elif e.twin:
                    code = {"normalization": "path.normalization-twin"}.get(
                        e.twin, "path.case-collision"
                    )
                    self.warn(
                        code,
                        rel,
                        f"{e.manifest} lists it as {e.listed_as!r}, which differs only in "
                        f"{'Unicode normalization' if e.twin == 'normalization' else 'case'}",
                    )
            if file_bad:
                bad.append(rel)
        return bad

    # ------------------------------------------------------------------ fetch.txt

    def load_fetch(self) -> ParsedFetch | None:
        if FETCH_TXT not in self.tree.files:
            return None
        data = self.read(FETCH_TXT)
        if data is None:
            return None
        parsed = parse_fetch(
            data, encoding=self.encoding, version=self.version, limits=self.tree.limits
        )
        self.problems.extend(parsed.problems)
        return parsed

    def check_fetch(
        self, fetch: ParsedFetch | None, manifests: dict[DigestAlgorithm, ParsedManifest]
    ) -> None:
        if fetch is None:
            return
        for entry in fetch.entries:
            where = f"fetch.txt line {entry.line}"
            safe = safe_relpath(entry.path)
            if safe is None:
                self.error("path.unsafe", entry.path, f"{where}: path could point outside the bag")
                continue
            if not safe.startswith(PAYLOAD_DIR + "/"):
                self.error("fetch.outside-payload", safe, f"{where}: not a payload path")
                continue
            lacking = [
                m.name for m in manifests.values() if safe not in {e.path for e in m.entries}
            ]
            if lacking:
                self.error("fetch.not-in-manifest", safe, f"{where}: not in {', '.join(lacking)}")
            size = self.tree.files.get(safe)
            if size is not None and entry.length is not None and size != entry.length:
                self.error(
                    "fetch.length-mismatch",
                    safe,
                    f"{where} says {entry.length} bytes, the file has {size}",
                )

    # ------------------------------------------------------------------ bag-info.txt

    def check_bag_info(
        self,
        payload: dict[str, int],
        missing: list[str],
        unlisted: list[str],
        mismatched: list[str],
    ) -> None:
        if BAG_INFO_TXT not in self.tree.files:
            return
        data = self.read(BAG_INFO_TXT)
        if data is None:
            return
        info = parse_bag_info(data, encoding=self.encoding)
        self.problems.extend(info.problems)
        oxums = info.get_all("Payload-Oxum")
        if not oxums:
            return
        if len(set(oxums)) > 1:
            self.error("oxum.repeated", BAG_INFO_TXT, f"Payload-Oxum given {len(oxums)} times")
            return
        parsed = parse_oxum(oxums[0])
        if parsed is None:
            self.error("oxum.malformed", BAG_INFO_TXT, f"Payload-Oxum {oxums[0]!r} is not N.N")
            return
        octets, count = parsed
        if self.tree.incomplete:
            return  # paths over a limit were not listed (reported): the sums cannot agree
        found_octets, found_count = sum(payload.values()), len(payload)
        if (octets, count) == (found_octets, found_count):
            return
        hints = []
        for label, paths in (
            ("missing", missing),
            ("not in manifests", unlisted),
            ("content differs", mismatched),
        ):
            if paths:
                shown = ", ".join(paths[:5]) + (" ..." if len(paths) > 5 else "")
                hints.append(f"{label}: {shown}")
        self.error(
            "oxum.mismatch",
            BAG_INFO_TXT,
            f"Payload-Oxum says {octets} bytes in {count} files; the payload has "
            f"{found_octets} bytes in {found_count} files"
            + (f" ({'; '.join(hints)})" if hints else ""),
        )

    # ------------------------------------------------------------------ names

    def name_index(
        self, payload: dict[str, int]
    ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """Payload names by NFC form and by case-folded NFC form (computed once)."""
        if self._index is None:
            by_nfc: dict[str, list[str]] = defaultdict(list)
            by_fold: dict[str, list[str]] = defaultdict(list)
            for rel in sorted(payload):
                key = nfc(rel)
                by_nfc[key].append(rel)
                by_fold[key.casefold()].append(rel)
            self._index = (by_nfc, by_fold)
        return self._index

    def check_names(self, payload: dict[str, int]) -> None:
        by_nfc, by_fold = self.name_index(payload)
        for rel in sorted(payload):
            if is_system_file(rel):
                self.warn("payload.system-file", _show(rel), "operating-system file in payload")
        for group in by_nfc.values():
            if len(group) > 1:
                self.warn(
                    "path.normalization-twin",
                    _show(group[0]),
                    "same name in another Unicode normalization: "
                    + ", ".join(map(repr, group[1:])),
                )
        for group in by_fold.values():
            if len(group) > 1 and len({nfc(g) for g in group}) > 1:
                self.warn(
                    "path.case-collision",
                    _show(group[0]),
                    "names differ only in case (collide on Windows and macOS): "
                    + ", ".join(map(repr, group[1:])),
                )


# =========================================================================== entry points

_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


def _open_tree(
    path: Path, threads: int | None, processes: int | None, limits: Limits = DEFAULT_LIMITS
) -> _Tree:
    try:
        st = path.stat()
    except OSError as exc:
        raise UnreadableInput(f"cannot open: {exc.strerror}", path) from exc
    if stat.S_ISDIR(st.st_mode):
        return _DirTree(path, threads, processes, limits)
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableInput("not a directory or a serialized bag", path)
    try:
        if zipfile.is_zipfile(path):
            return _ZipTree(path, limits)
        if tarfile.is_tarfile(path):
            return _TarTree(path, limits)
    except _ARCHIVE_ERRORS as exc:
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
    tree = _open_tree(path, threads, processes, limits)
    checker = _Checker(tree)
    try:
        try:
            checker.run()
        except _ARCHIVE_ERRORS as exc:
            checker.error("bag.unreadable", "", f"checking stopped: {exc}")
        root = tree.root_path()
        for check in () if tree.over_limit else extra_checks:
            if root is None:
                checker.error("check.skipped", "", f"{_name(check)} needs a bag directory")
                continue
            try:
                checker.problems.extend(check(root))
            except Exception as exc:  # fail closed: a check that crashed did not pass
                checker.error("check.failed", "", f"{_name(check)} failed: {exc!r}")
    finally:
        close = getattr(tree, "close", None)
        if close is not None:
            close()
    # Names read from disk may hold undecodable bytes: escape them so reports always print.
    shown = {
        p if _printable(p) else Problem(p.code, _show(p.path), _show(p.message), p.severity)
        for p in checker.problems
    }
    problems = tuple(sorted(shown, key=lambda p: (p.severity.value, p.path, p.code, p.message)))
    return BagResult(
        bag=str(path),
        valid=not any(p.severity is Severity.error for p in problems),
        problems=problems,
        files_checked=checker.files_checked,
        bytes_checked=checker.bytes_checked,
        seconds=time.perf_counter() - started,
        version=checker.version,
        algorithms=tuple(checker.algorithms),
    )


def _name(check: ExtraCheck) -> str:
    return getattr(check, "__name__", repr(check))


def verify_bags(
    paths: Iterable[Path | str],
    *,
    workers: int | None = None,
    extra_checks: Sequence[ExtraCheck] = (),
    limits: Limits = DEFAULT_LIMITS,
) -> Iterator[BagResult]:
    """Verify many bags, in order, ``workers`` bags at a time in separate processes.

    Many small bags are limited by per-file overhead in Python, which threads cannot
    share out; processes can. Each bag is then hashed single-threaded unless large.
    A bag that cannot be opened comes back as an invalid result, so one bad path does
    not hide the others.
    """
    items = [str(p) for p in paths]
    n = workers or os.cpu_count() or 1
    if n <= 1 or len(items) <= 1:
        for p in items:
            yield _safe_verify((p, None, extra_checks, limits))
        return
    jobs = [(p, 1, extra_checks, limits) for p in items]
    with ProcessPoolExecutor(n) as pool:
        yield from pool.map(_safe_verify, jobs, chunksize=_chunk(len(items), n))


def _chunk(count: int, workers: int) -> int:
    """Bags per task: enough to amortise the pipe, few enough to even out the tail."""
    return max(1, min(32, count // (workers * 16)))


def _safe_verify(args: tuple[str, int | None, Sequence[ExtraCheck], Limits]) -> BagResult:
    path, threads, extra_checks, limits = args
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
