"""A serialized bag (tar, tar.gz/bz2/xz, zip): members listed and streamed, never extracted."""

from __future__ import annotations

import contextlib
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

from preserve.bagit_format import (
    BAGIT_TXT,
    DEFAULT_LIMITS,
    DigestAlgorithm,
    Limits,
    Problem,
    safe_relpath,
)
from preserve.hashing import hash_stream
from preserve.verify.result import _show
from preserve.verify.tar_reader import TarFormatError, TarMember, iter_members, open_stream
from preserve.verify.tree import OverLimit, _TooLarge, _Tree, archive_errors

#: Top-level files up to this size are read ahead from a tar in one pass.
_PREFETCH_MAX = 64 << 20


#: A compressed stream's ratio is judged once this much is decompressed (headers
#: and end-of-archive padding of a small honest bag compress very well).
_RATIO_AFTER = 1 << 20


class _Metered:
    """A tar's decompressed stream that counts the bytes it makes us decompress
    (a backward seek in a compressed stream decompresses again from the start)."""

    def __init__(self, stream: IO[bytes], limits: Limits) -> None:
        self.stream = stream
        self.limits = limits
        inner = getattr(stream, "fileobj", None) or getattr(stream, "_fp", None)
        self.raw: Any = inner if stream.__class__.__name__ != "BufferedReader" else None
        self.work = 0
        self.pos = 0

    def _charge(self, count: int) -> None:
        self.work += count
        if self.work > self.limits.max_bytes:
            raise OverLimit(
                Problem(
                    "limit.bytes",
                    "",
                    f"reading the bag would decompress more than {self.limits.max_bytes:,} "
                    "bytes; not read further",
                )
            )
        if self.raw is not None and self.pos >= _RATIO_AFTER:
            consumed = max(1, self.raw.tell())
            if self.pos / consumed > self.limits.max_ratio:
                raise OverLimit(
                    Problem(
                        "limit.ratio",
                        "",
                        f"the compressed stream expands {self.pos / consumed:,.0f}-fold "
                        f"(the limit is {self.limits.max_ratio:,}): a compression bomb; "
                        "not read further",
                    )
                )

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        self.pos += len(data)
        self._charge(len(data))
        return data

    def seek(self, pos: int, whence: int = 0) -> int:
        assert whence == 0
        if self.raw is not None:  # compressed: moving costs decompression, so step
            if pos < self.pos:  # back: decompressed again from the start
                self.stream.seek(0)
                self.pos = 0
            while self.pos < pos:
                step = min(pos - self.pos, _RATIO_AFTER)
                self.stream.seek(self.pos + step)
                self.pos += step
                self._charge(step)
        else:
            self.stream.seek(pos)
            self.pos = pos
        return pos

    def tell(self) -> int:
        return self.pos

    def close(self) -> None:
        self.stream.close()


class _ArchiveTree(_Tree):
    """A serialized bag: members are listed and streamed, nothing touches the disk."""

    def __init__(self, archive: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__(str(archive), limits=limits)
        self.prefix = ""
        self._members: dict[str, Any] = {}

    def bag_name(self) -> str:
        if self.prefix:
            return self.prefix.rstrip("/")
        name = Path(self.label).name
        low = name.lower()
        for suffix in (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tbz2", ".txz", ".tar", ".zip"):
            if low.endswith(suffix):
                return name[: -len(suffix)]
        return name

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
        elif kind in ("symlink", "link"):
            self.others.add(rel)
            self.problems.append(Problem("symlink", _show(rel), "symbolic or hard link member"))
        elif kind == "sparse":
            self.others.add(rel)
            self.problems.append(
                Problem("archive.sparse-member", _show(rel), "sparse member (never read)")
            )
        else:
            self.others.add(rel)
            self.problems.append(Problem("file.special", _show(rel), "not a regular file"))

    def _conflicts(self) -> None:
        """A name that is both a file and a directory: ``tar xf`` cannot extract both."""
        for rel in sorted((self.files.keys() | self.others) & self.dirs):
            self.problems.append(
                Problem(
                    "archive.file-and-directory",
                    _show(rel),
                    "a file and also the directory of other members (cannot be extracted)",
                )
            )
            self.files.pop(rel, None)
            self.others.add(rel)


class _TarTree(_ArchiveTree):
    """A tar (maybe compressed), its headers read by the bounded :mod:`.tar_reader`."""

    def __init__(self, archive: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__(archive, limits)
        self._small: dict[str, bytes] = {}
        self._prefetched = False
        self.stream = cast(IO[bytes], _Metered(open_stream(archive), limits))
        # Listed one by one: a hostile tar of millions of members stops at the limit
        # instead of filling memory.
        members: list[TarMember] = []
        try:
            for member in iter_members(self.stream):
                members.append(member)
                if len(members) > limits.max_files:
                    self.refuse_count()
                    break
        except OverLimit as exc:  # a compression bomb: nothing more is read
            self.problems.append(exc.problem)
            self.over_limit = True
            members = []
        except TarFormatError as exc:
            self.problems.append(Problem("archive.damaged", "", f"listing stopped: {exc}"))
            self.incomplete = True
        except BaseException:  # a corrupt gzip/xz stream: the caller reports it
            self.stream.close()
            raise
        names = [_strip_dot(m.name) for m in members]
        self._place(names)
        for name, m in zip(names, members, strict=True):
            self._add(name, m.kind, m.size, m)
        self._conflicts()

    def close(self) -> None:
        self.stream.close()

    def _read(self, rel: str, max_bytes: int) -> bytes:
        if self._members[rel].size > max_bytes:
            raise _TooLarge(self._members[rel].size)
        if "/" not in rel and not self._prefetched:
            self._prefetch()
        if rel in self._small:
            return self._small[rel]
        return self._extract(rel)

    def _extract(self, rel: str) -> bytes:
        member: TarMember = self._members[rel]
        self.stream.seek(member.offset_data)
        data = self.stream.read(member.size)
        if len(data) != member.size:
            raise OSError(f"{rel}: the archive ends inside the member")
        return data

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
            with contextlib.suppress(*archive_errors()):
                self._small[rel] = self._extract(rel)

    def hash_files(
        self, wanted: dict[str, set[DigestAlgorithm]]
    ) -> Iterator[tuple[str, dict[DigestAlgorithm, str] | str, int]]:
        # In archive order: a compressed tar is read forward once.
        order = sorted(wanted, key=lambda r: self._members[r].offset_data)
        for rel in order:
            member: TarMember = self._members[rel]
            try:
                self.stream.seek(member.offset_data)
                digests, size = hash_stream(
                    cast(IO[bytes], _Bounded(self.stream, member.size)), wanted[rel]
                )
            except archive_errors() as exc:
                yield rel, f"cannot read member: {exc}", 0
                continue
            if size != member.size:
                yield rel, "cannot read member: the archive ends inside it", size
                continue
            yield rel, digests, size


class _Bounded:
    """The next ``size`` bytes of a stream, as a readable file for :func:`hash_stream`."""

    def __init__(self, stream: IO[bytes], size: int) -> None:
        self.stream = stream
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.stream.read(n) if n else b""
        self.left -= len(data)
        return data


class _ZipTree(_ArchiveTree):
    def __init__(self, archive: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__(archive, limits)
        self.zip = zipfile.ZipFile(archive)
        infos = self.zip.infolist()
        if len(infos) > limits.max_files:
            self.refuse_count()
            infos = infos[: limits.max_files + 1]
        self._judge_sizes(infos)
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
        self._conflicts()

    def _judge_sizes(self, infos: list[zipfile.ZipInfo]) -> None:
        """``limit.bytes``/``limit.ratio`` from the central directory: zipfile never
        inflates a member past the size its header gives, so the headers bound it."""
        limits = self.limits
        total = sum(i.file_size for i in infos)
        problem: Problem | None = None
        if total > limits.max_bytes:
            problem = Problem(
                "limit.bytes",
                "",
                f"the members hold {total:,} bytes decompressed; the limit is "
                f"{limits.max_bytes:,}; not read further",
            )
        else:
            for info in infos:
                ratio = info.file_size / max(1, info.compress_size)
                if info.file_size >= _RATIO_AFTER and ratio > limits.max_ratio:
                    problem = Problem(
                        "limit.ratio",
                        _show(info.filename),
                        f"member expands {ratio:,.0f}-fold (the limit is {limits.max_ratio:,}): "
                        "a compression bomb; not read further",
                    )
                    break
        if problem is not None:
            self.problems.append(problem)
            self.over_limit = True

    def close(self) -> None:
        self.zip.close()

    def _read(self, rel: str, max_bytes: int) -> bytes:
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
            except archive_errors() as exc:
                yield rel, f"cannot read member: {exc}", 0
                continue
            yield rel, digests, size


def _strip_dot(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name
