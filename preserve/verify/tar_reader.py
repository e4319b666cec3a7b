"""A bounded reader of tar headers (ustar, pax, GNU long names), for bags from elsewhere.

Python's :mod:`tarfile` reads a whole pax or GNU long-name header into memory before
any limit applies (a 522 KB tar.gz with a 512 MiB pax header peaked at 1.6 GB), parses
repeated pax records in quadratic time (CVE-2024-6232: 52 s for a 413 KB tar) and
walks GNU sparse holes byte by byte. A bag needs none of this, and the format is small
and well specified (POSIX.1-2017 ``pax``, GNU tar's manual), so headers are read here:

* every extended header (pax ``x``/``g``, GNU ``L``/``K``) is at most
  :data:`MAX_EXTENDED_HEADER` bytes, or reading stops with :class:`TarFormatError`;
* pax records are parsed in one linear pass;
* sparse members (GNU ``S`` or pax ``GNU.sparse.*``) are listed as ``sparse`` and never
  read (a bag never needs one): their holes cost nothing;
* header checksums are checked, numbers are octal or GNU base-256 with a bound.

Member data are read by seeking in the (decompressed) stream, as tarfile does.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from preserve.fsio import open_regular

BLOCK = 512
#: Bytes of one pax or GNU long-name/long-link header: real ones are a few hundred.
MAX_EXTENDED_HEADER = 1 << 20
#: Largest member size accepted in a header (8 EiB): beyond it a header is nonsense.
MAX_SIZE = 1 << 63

_MAGIC = {
    b"\x1f\x8b": "gz",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
}


#: Type flags whose members have no data blocks: hard and symbolic links, character and
#: block devices, directories, FIFOs.
_NO_DATA = frozenset({b"1", b"2", b"3", b"4", b"5", b"6"})


class TarFormatError(ValueError):
    """The archive is not a tar preserve will read (damaged, or over a header bound)."""


@dataclass(frozen=True)
class TarMember:
    """One listed member: its name (UTF-8, undecodable bytes escaped), kind and data."""

    name: str
    #: "file", "dir", "link" (symbolic or hard), "sparse" or "other" (device, FIFO...).
    kind: str
    size: int
    #: Where the member's data start in the decompressed stream.
    offset_data: int


def open_stream(path: Path) -> IO[bytes]:
    """The decompressed byte stream of a tar, tar.gz, tar.bz2 or tar.xz.

    Opened by fsio's one rule (no symlink, no FIFO); compression is told by its magic
    bytes, not by the file name.
    """
    raw = os.fdopen(open_regular(path), "rb")
    try:
        head = raw.read(6)
        raw.seek(0)
        for magic, kind in _MAGIC.items():
            if head.startswith(magic):
                if kind == "gz":
                    return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
                if kind == "bz2":
                    return bz2.BZ2File(raw)
                return lzma.LZMAFile(raw)
    except BaseException:
        raw.close()
        raise
    return raw


def is_tar(path: Path) -> bool:
    """Whether ``path`` starts with a tar header with a good checksum (maybe compressed)."""
    try:
        with open_stream(path) as stream:
            block = stream.read(BLOCK)
    except (OSError, EOFError, lzma.LZMAError, ValueError):
        return False
    return len(block) == BLOCK and block != bytes(BLOCK) and _checksum_ok(block)


def iter_members(stream: IO[bytes]) -> Iterator[TarMember]:
    """Every member of the tar in ``stream``, in archive order; linear time and memory.

    Raises :class:`TarFormatError` for a damaged header, a truncated archive or an
    extended header over :data:`MAX_EXTENDED_HEADER`.
    """
    pos = 0
    global_pax: dict[bytes, bytes] = {}
    pax: dict[bytes, bytes] = {}
    long_name: bytes | None = None
    while True:
        stream.seek(pos)
        block = _read_exact(stream, BLOCK)
        if len(block) < BLOCK:
            if not block:
                return  # no end-of-archive blocks: tolerated, as tar and tarfile do
            raise TarFormatError(f"truncated header at offset {pos:,}")
        if block == bytes(BLOCK):
            return
        if not _checksum_ok(block):
            raise TarFormatError(f"bad header checksum at offset {pos:,}")
        size = _number(block[124:136], pos)
        flag = block[156:157]
        data_at = pos + BLOCK
        if flag in (b"x", b"g", b"L", b"K"):
            if size > MAX_EXTENDED_HEADER:
                raise TarFormatError(
                    f"extended header of {size:,} bytes at offset {pos:,} "
                    f"(the limit is {MAX_EXTENDED_HEADER:,})"
                )
            data = _read_exact(stream, size)
            if len(data) < size:
                raise TarFormatError(f"truncated extended header at offset {pos:,}")
            if flag == b"x":
                pax.update(_pax_records(data, pos))
            elif flag == b"g":
                global_pax.update(_pax_records(data, pos))
            elif flag == b"L":
                long_name = data.split(b"\0", 1)[0]
            # K (a link's long target) is skipped: links are refused, never followed.
            pos = data_at + _padded(size)
            continue
        fields = {**global_pax, **pax}
        name = _name(block, long_name, fields)
        if b"size" in fields:
            size = _decimal(fields[b"size"], pos)
        kind = _kind(flag, name)
        if flag == b"S" or any(k.startswith(b"GNU.sparse.") for k in fields):
            kind = "sparse"
            if flag == b"S" and block[482]:
                data_at = _skip_sparse_extensions(stream, data_at)
        long_name = None
        pax = {}
        yield TarMember(name.decode("utf-8", "surrogateescape"), kind, size, data_at)
        # Links, devices, FIFOs and directories carry no data, whatever their size field
        # says (as tarfile and GNU tar read them); every other type does.
        pos = data_at + (0 if flag in _NO_DATA else _padded(size))


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = stream.read(size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _padded(size: int) -> int:
    return (size + BLOCK - 1) // BLOCK * BLOCK


def _checksum_ok(block: bytes) -> bool:
    """The header checksum: octal sum of the block with the checksum field as spaces."""
    field = block[148:156].split(b"\0", 1)[0].strip(b" ")
    if not field or not all(48 <= c <= 55 for c in field):
        return False
    stored = int(field, 8)
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    if stored == unsigned:
        return True
    signed = sum(b - 256 if b > 127 else b for b in block[:148] + block[156:]) + 8 * 32
    return stored == signed


def _number(field: bytes, pos: int) -> int:
    """An octal header number, or GNU base-256 (high bit of the first byte set)."""
    if field and field[0] & 0x80:
        if field[0] == 0xFF:
            raise TarFormatError(f"negative size at offset {pos:,}")
        value = int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    else:
        digits = field.split(b"\0", 1)[0].strip(b" ")
        if digits and not all(48 <= c <= 55 for c in digits):
            raise TarFormatError(f"size is not an octal number at offset {pos:,}")
        value = int(digits, 8) if digits else 0
    if value > MAX_SIZE:
        raise TarFormatError(f"size over 8 EiB at offset {pos:,}")
    return value


def _decimal(value: bytes, pos: int) -> int:
    if not value or len(value) > 20 or not value.isdigit():
        raise TarFormatError(f"pax size {value[:40]!r} is not a number at offset {pos:,}")
    number = int(value)
    if number > MAX_SIZE:
        raise TarFormatError(f"size over 8 EiB at offset {pos:,}")
    return number


def _pax_records(data: bytes, pos: int) -> dict[bytes, bytes]:
    """``"%d %s=%s\\n"`` records, in one pass (each length counts its whole record)."""
    records: dict[bytes, bytes] = {}
    at = 0
    end = len(data)
    while at < end:
        if data[at] == 0:
            break  # NUL padding after the last record
        space = data.find(b" ", at, min(end, at + 21))
        digits = data[at:space] if space > at else b""
        if not digits.isdigit():
            raise TarFormatError(f"malformed pax record at offset {pos:,}")
        length = int(digits)
        stop = at + length
        if length <= len(digits) + 1 or stop > end or data[stop - 1] != 0x0A:
            raise TarFormatError(f"malformed pax record at offset {pos:,}")
        key, equals, value = data[space + 1 : stop - 1].partition(b"=")
        if not equals or not key:
            raise TarFormatError(f"malformed pax record at offset {pos:,}")
        records[key] = value
        at = stop
    return records


def _name(block: bytes, long_name: bytes | None, fields: dict[bytes, bytes]) -> bytes:
    if b"path" in fields:
        return fields[b"path"]
    if long_name is not None:
        return long_name
    name = block[0:100].split(b"\0", 1)[0]
    if block[257:263] == b"ustar\0":  # POSIX ustar: a prefix (GNU keeps times there)
        prefix = block[345:500].split(b"\0", 1)[0]
        if prefix:
            name = prefix + b"/" + name
    return name


def _kind(flag: bytes, name: bytes) -> str:
    if flag in (b"0", b"\0", b"7", b""):
        return "dir" if flag == b"\0" and name.endswith(b"/") else "file"
    if flag == b"5":
        return "dir"
    if flag in (b"1", b"2"):
        return "link"
    return "other"


def _skip_sparse_extensions(stream: IO[bytes], at: int) -> int:
    """Past the GNU sparse extension blocks that follow an ``S`` header (bounded by EOF)."""
    while True:
        stream.seek(at)
        block = _read_exact(stream, BLOCK)
        at += BLOCK
        if len(block) < BLOCK:
            raise TarFormatError("truncated sparse header")
        if not block[504]:
            return at
