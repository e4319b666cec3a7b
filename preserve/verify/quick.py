"""The common case in one pass: a small bag directory that is exactly what it says.

Most bags an archive verifies are regular: a ``bagit.txt`` as tools write it, plain
manifests that list exactly the files on disk, ASCII names, a ``Payload-Oxum`` that
adds up. For such a bag the general checker (:mod:`~preserve.verify.checker`) does
a great deal of work that finds nothing: it indexes names by Unicode normalization
and case, looks for twins of every listed path, keeps sizes and identities of every
file from a second system call, and builds a record per manifest line. At ~45 KB a
bag that work costs more than reading and hashing the files.

:func:`quick_check` checks such a bag directly: it lists the tree, reads every file
once, and compares digests, file sets and the Payload-Oxum. It returns a result
only when the bag is *clean*, when the general checker would report no problem at
all; at the first thing that is not plainly in order (a symbolic link, a blank
manifest line, a missing or unlisted file, a digest that differs, a non-ASCII name,
a fetch.txt, a file over 1 MiB, a tag folder...) it returns None, and the general
checker checks the bag from the start and says what is wrong. So a bag with any
problem is always reported by the one checker that knows every rule, and the quick
path needs to know only what a clean bag looks like. tests/test_verify_quick.py
runs both on every bag the tests have (the Library of Congress conformance suite,
hostile bags, generated damage) and requires the same result whenever the quick
path answers.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
import stat
from collections.abc import Collection
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

from preserve.bagit_format import (
    BAG_INFO_TXT,
    BAGIT_TXT,
    FETCH_TXT,
    PAYLOAD_DIR,
    SYSTEM_FILE_NAMES,
    DigestAlgorithm,
    Limits,
    ManifestKind,
    is_system_file,
    parse_bag_info,
    parse_bagit_txt,
    parse_manifest_name,
    parse_oxum,
    plain_manifest,
    safe_relpath,
)
from preserve.hashing import NEW
from preserve.verify.tree_dir import PARALLEL_MIN_BYTES, _DirTree

#: The calling convention of ``preserve._quickbag.check`` this module speaks (API_VERSION
#: in _quickbag.c): an extension built from other sources is not used.
_QUICKBAG_API = 2


def _speaking(module: ModuleType | None) -> ModuleType | None:
    """``module`` if its ``check`` takes the arguments this module passes, else None
    (absent, or stale: an editable install not rebuilt after an update)."""
    return module if getattr(module, "API", None) == _QUICKBAG_API else None


_quickbag: ModuleType | None
try:  # built from preserve/_quickbag.c where a C compiler was at hand; else Python
    _quickbag = _speaking(importlib.import_module("preserve._quickbag"))
except ImportError:
    _quickbag = None

#: Larger files go to the general checker, which reads them in chunks.
QUICK_MAX_FILE = 1 << 20

#: The hashlib constructor of each algorithm, by manifest name (for _quickbag).
_CONSTRUCTORS = {alg.value: NEW[alg] for alg in DigestAlgorithm}
#: Manifest names of the algorithms RFC 8493 deems too weak to rely on alone.
_WEAK = frozenset(alg.value for alg in DigestAlgorithm if alg.weak)

_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PAYLOAD_PREFIX = PAYLOAD_DIR + "/"


class QuickResult(NamedTuple):
    """A clean bag's counts, as the general checker would have reported them (a
    NamedTuple: cheaper to define at start-up than a dataclass)."""

    tree: _DirTree
    version: str
    algorithms: list[str]
    files_checked: int
    bytes_checked: int


class _NotPlain(Exception):
    """Something the quick path does not judge: the general checker takes the bag."""


def quick_check(root: Path, limits: Limits) -> QuickResult | None:
    """The result of a clean bag directory, or None (the general checker decides)."""
    if _quickbag is not None:
        try:
            return _compiled(root, limits)
        except (_NotPlain, ValueError):
            return None
    try:
        at = os.open(root, _DIR_FLAGS)
    except OSError:
        return None
    try:
        return _finish(root, limits, _check(at, root, limits))
    except (_NotPlain, OSError, UnicodeError, ValueError):
        return None
    finally:
        os.close(at)


def _check(at: int, root: Path, limits: Limits) -> _Read:
    """``at``: the bag folder, open: files are opened relative to it (shorter lookups)."""
    top, payload, dirs = _list(str(root), limits)
    if FETCH_TXT in top or BAGIT_TXT not in top:
        raise _NotPlain
    cache: dict[str, bytes] = {}

    def tag(name: str) -> bytes:
        data = cache.get(name)
        if data is None:
            data = cache[name] = _read(at, name, limits.file_limit(name)[0])
        return data

    version, encoding = _bagit(tag(BAGIT_TXT))
    payload_m: dict[DigestAlgorithm, dict[str, str]] = {}
    tag_m: dict[DigestAlgorithm, dict[str, str]] = {}
    for name in sorted(top):
        named = parse_manifest_name(name)
        if named is None:
            continue
        alg = DigestAlgorithm.from_name(named[1])
        if alg is None:
            raise _NotPlain
        rows = plain_manifest(tag(name), encoding, alg, limits)
        if rows is None:
            raise _NotPlain
        listed = dict(rows)
        if len(listed) != len(rows):
            raise _NotPlain  # a path listed twice
        (payload_m if named[0] is ManifestKind.payload else tag_m)[alg] = listed
    if not payload_m:
        raise _NotPlain
    # Every payload manifest lists exactly the files on disk, by the same names.
    on_disk = set(payload)
    for listed in payload_m.values():
        if listed.keys() != on_disk:
            raise _NotPlain
    tag_paths = None
    for listed in tag_m.values():
        if tag_paths is None:
            tag_paths = listed.keys()
        elif listed.keys() != tag_paths:
            raise _NotPlain
    for path in tag_paths or ():
        named = parse_manifest_name(path)
        if path not in top or (named is not None and named[0] is ManifestKind.tag):
            raise _NotPlain  # a tag file missing, in a folder, or a tag manifest

    sizes = _hash_payload(at, payload, payload_m)
    for alg, listed in tag_m.items():
        new = NEW[alg]
        for path, digest in listed.items():
            if new(tag(path)).hexdigest() != digest:
                raise _NotPlain
    tag_bytes = sum(len(tag(p)) for p in tag_paths or ())

    if BAG_INFO_TXT in top:
        tag(BAG_INFO_TXT)
    return _Read(
        version,
        top,
        payload,
        sizes,
        dirs,
        cache,
        [a.value for a in payload_m],
        [a.value for a in tag_m],
        list(tag_paths or ()),
        tag_bytes,
        False,
    )


class _Read(NamedTuple):
    """What both implementations read of a bag (``preserve._quickbag.check`` returns
    this tuple): the listing, the files read whole, the digests already compared."""

    version: str
    top: list[str]
    payload: list[str]
    sizes: list[int]
    dirs: list[str]
    cache: dict[str, bytes]
    payload_algorithms: list[str]
    tag_algorithms: list[str]
    tag_paths: list[str]
    tag_bytes: int
    #: True when the names and bag-info.txt need no further look (plain names, a
    #: bag-info of plain lines whose Payload-Oxum agrees: only _quickbag says so).
    plain: bool


def _finish(root: Path, limits: Limits, read: _Read) -> QuickResult:
    """The rules left once the digests agree (weak algorithms, names, bag-info.txt and
    its Payload-Oxum), then the tree the further checks read."""
    version, top, payload, sizes, dirs, cache, payload_algs, tag_algs, tag_paths, _, plain = read
    if all(a in _WEAK for a in payload_algs):
        raise _NotPlain
    if not plain and not _plain_names(payload, tag_paths):
        _check_names(payload, tag_paths, limits)
    octets = sum(sizes)
    info = None if plain else cache.get(BAG_INFO_TXT)
    if info is not None:
        oxums = _plain_oxums(info)
        if oxums is None:  # not all plain lines: the parser decides
            parsed = parse_bag_info(info, encoding="UTF-8")
            if parsed.problems:
                raise _NotPlain
            oxums = parsed.get_all("Payload-Oxum")
        if oxums and (len(set(oxums)) > 1 or parse_oxum(oxums[0]) != (octets, len(payload))):
            raise _NotPlain
    files = dict.fromkeys(top, -1)
    files.update(zip(payload, sizes, strict=True))
    folders = set(dirs)
    folders.add(PAYLOAD_DIR)
    tree = _DirTree(root, 1, None, limits, walk=False, files=files, dirs=folders, cache=cache)
    return QuickResult(
        tree=tree,
        version=version,
        algorithms=sorted({*payload_algs, *tag_algs}),
        files_checked=len(payload) + len(tag_paths),
        bytes_checked=octets + read.tag_bytes,
    )


# Names most bags have: ASCII letters, digits and a few marks, no component starting
# with "." (no "..", no "._x", no ".DS_Store"), nothing safe_relpath refuses (no "\",
# ":", "%", "~", controls). Length and depth are already within the limits (the
# listing bails on longer or deeper ones), and ASCII has one case fold and one
# normalization: what is left of the name rules is case twins and system files.
_NAME = r"[A-Za-z0-9_(+,=@-][A-Za-z0-9_.()+,=@ -]*"
_PLAIN_PAYLOAD = re.compile(rf"data/(?:{_NAME}/)*{_NAME}(?:\ndata/(?:{_NAME}/)*{_NAME})*")
_PLAIN_TAGS = re.compile(rf"(?:{_NAME}(?:\n{_NAME})*)?")
_SYSTEM_NAME = re.compile(
    "/(?:" + "|".join(map(re.escape, sorted(SYSTEM_FILE_NAMES))) + ")(?:\n|$)"
)


def _plain_names(payload: list[str], tag_paths: Collection[str]) -> bool:
    """True when the names need none of :func:`_check_names`' per-name rules (the
    common case, in three regular-expression passes); False: that function decides."""
    joined = "\n".join(payload)
    if (
        _PLAIN_PAYLOAD.fullmatch(joined) is None
        or _PLAIN_TAGS.fullmatch("\n".join(tag_paths)) is None
    ):
        return False
    lowered = joined.lower()
    if _SYSTEM_NAME.search(lowered) is not None:
        raise _NotPlain
    if len(set(lowered.split("\n"))) != len(payload):
        raise _NotPlain  # names that differ only in case
    return True


# A bag-info.txt of plain lines only: "Label: value" in printable ASCII (a tab may be
# in a value), every line ended by LF. parse_bag_info finds nothing wrong in such a
# file (no blank line, no continuation, no control or hidden line break), so only the
# Payload-Oxum values need reading, as it reads them (label in any case, value stripped).
_PLAIN_INFO = re.compile(rb"(?:[!-9;-~]+:[\t -~]*\n)*")
_OXUM_LINE = re.compile(rb"^payload-oxum:[\t ]*(.*?)[\t ]*$", re.IGNORECASE | re.MULTILINE)


def _plain_oxums(info: bytes) -> list[str] | None:
    """The Payload-Oxum values of a plain bag-info.txt; None if it is not plain."""
    if _PLAIN_INFO.fullmatch(info) is None:
        return None
    return [value.decode("ascii") for value in _OXUM_LINE.findall(info)]


def _compiled(root: Path, limits: Limits) -> QuickResult:
    """The same path through preserve._quickbag: one call lists, reads, parses the
    manifests and compares every digest; the rest is :func:`_finish`, as in Python."""
    assert _quickbag is not None
    got = _quickbag.check(str(root), *_compiled_limits(limits))
    if got is None:
        raise _NotPlain
    return _finish(root, limits, _Read(*got))


@functools.lru_cache(maxsize=8)
def _compiled_limits(limits: Limits) -> tuple[object, ...]:
    """``preserve._quickbag.check``'s arguments after the path (one run has one Limits)."""
    return (
        _CONSTRUCTORS,
        limits.max_files,
        limits.max_depth,
        limits.max_path_bytes // 4,
        limits.max_line_chars,
        limits.max_files,
        limits.max_tag_file_bytes,
        limits.max_manifest_bytes,
        limits.max_bag_info_bytes,
        QUICK_MAX_FILE,
        PARALLEL_MIN_BYTES,
        SYSTEM_FILE_NAMES,
    )


def _list(base: str, limits: Limits) -> tuple[list[str], list[str], list[str]]:
    """(top-level files, payload files, payload folders): regular files and folders only
    (told by d_type: no ``stat`` a file), only ``data/`` at the top, within the limits."""
    top: list[str] = []
    has_data = False
    with os.scandir(base) as it:
        for entry in it:
            if entry.is_file(follow_symlinks=False):
                top.append(entry.name)
            elif entry.name == PAYLOAD_DIR and entry.is_dir(follow_symlinks=False):
                has_data = True
            else:
                raise _NotPlain  # a tag folder (signatures/...), a link, a FIFO...
    if not has_data:
        raise _NotPlain
    payload: list[str] = []
    dirs: list[str] = []
    longest = limits.max_path_bytes // 4  # longer: the checker measures the bytes
    left = limits.max_files - len(top) - 1
    pending = [(_PAYLOAD_PREFIX, os.path.join(base, PAYLOAD_DIR))]
    while pending:
        prefix, path = pending.pop()
        if prefix.count("/") > limits.max_depth:
            raise _NotPlain
        with os.scandir(path) as it:
            for entry in it:
                rel = prefix + entry.name
                left -= 1
                if left <= 0 or len(rel) > longest:
                    raise _NotPlain
                if entry.is_file(follow_symlinks=False):
                    payload.append(rel)
                elif entry.is_dir(follow_symlinks=False):
                    dirs.append(rel)
                    pending.append((rel + "/", entry.path))
                else:
                    raise _NotPlain  # a symbolic link, FIFO, device...
    if any(len(name) > longest for name in top):
        raise _NotPlain
    return top, payload, dirs


def _check_names(payload: list[str], tag_paths: Collection[str], limits: Limits) -> None:
    """ASCII, safe, distinct in case, no system files: else the checker looks closer."""
    lowered = set()
    for rel in payload:
        if (
            not rel.isascii()
            or not rel.startswith(_PAYLOAD_PREFIX)
            or safe_relpath(rel) != rel
            or is_system_file(rel)
            or limits.path_problem(rel) is not None
        ):
            raise _NotPlain
        lowered.add(rel.lower())
    if len(lowered) != len(payload):
        raise _NotPlain  # names that differ only in case
    for rel in tag_paths:
        if safe_relpath(rel) != rel or rel.startswith(_PAYLOAD_PREFIX):
            raise _NotPlain


def _hash_payload(
    at: int, payload: list[str], manifests: dict[DigestAlgorithm, dict[str, str]]
) -> list[int]:
    """Each file read once (never through a link, never a FIFO), every digest compared."""
    checks = [(NEW[alg], listed) for alg, listed in manifests.items()]
    sizes: list[int] = []
    total = 0
    for rel in payload:
        data = _read(at, rel, QUICK_MAX_FILE)
        total += len(data)
        if total > PARALLEL_MIN_BYTES:
            raise _NotPlain  # a bag this large is hashed over several threads
        for new, listed in checks:
            if new(data).hexdigest() != listed[rel]:
                raise _NotPlain
        sizes.append(len(data))
    return sizes


def _read(at: int, rel: str, limit: int) -> bytes:
    fd = os.open(rel, _FLAGS, dir_fd=at)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            raise _NotPlain
        data = os.read(fd, st.st_size + 1)
    finally:
        os.close(fd)
    if len(data) > st.st_size:
        raise _NotPlain  # it grew while being read
    return data


@functools.lru_cache(maxsize=16)
def _bagit_small(data: bytes) -> tuple[str, str]:
    version, encoding, problems = parse_bagit_txt(data)
    if problems or version is None or encoding is None or encoding.upper() != "UTF-8":
        raise _NotPlain
    return version, encoding


def _bagit(data: bytes) -> tuple[str, str]:
    """(version, encoding) of a ``bagit.txt`` with no problem (almost all are identical)."""
    if len(data) > 128:
        raise _NotPlain
    return _bagit_small(data)
