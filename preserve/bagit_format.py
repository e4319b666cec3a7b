"""BagIt (RFC 8493) syntax, in one place: writing and reading tag files, paths and names.

The bag writer and the verifier both use this module, so what one writes the other
reads by the same rules. Readers never raise on bad *content*: they return what they
could parse plus a list of :class:`Problem` records, so a verifier can report every
defect of a bag rather than the first one. Writers refuse (``ValueError``) anything
they could not write unambiguously.
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from hashlib import _Hash

BAGIT_VERSION = "1.0"
#: Versions whose rules this module knows (the LoC conformance suite covers all of them).
KNOWN_VERSIONS = frozenset({"0.93", "0.94", "0.95", "0.96", "0.97", "1.0"})
PAYLOAD_DIR = "data"
BAGIT_TXT = "bagit.txt"
BAG_INFO_TXT = "bag-info.txt"
FETCH_TXT = "fetch.txt"


def _lazy(pattern: str, flags: int = 0) -> Callable[[], re.Pattern[str]]:
    """The compiled ``pattern``, compiled on the first call.

    For the patterns a clean bag never needs (writing, full manifest and fetch.txt
    parsing, bagit.txt's strict form): compiling them all at import cost ~1.5 ms of
    every ``preserve verify``. Those a clean bag uses are compiled at import, so the
    verifier's forked workers inherit them compiled.
    """
    return functools.cache(lambda: re.compile(pattern, flags))


class Severity(Enum):
    """An error makes a bag invalid; a warning is worth a look but the bag is valid."""

    error = "error"
    warning = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a bag: a stable code, the bag-relative path, a message."""

    #: Stable, dotted identifier (``manifest.digest-mismatch``); never reworded.
    code: str
    #: Bag-relative path (``/``-separated) the problem is about; ``""`` for the bag itself.
    path: str
    message: str
    severity: Severity = Severity.error

    def as_dict(self) -> dict[str, str]:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "path": self.path,
            "message": self.message,
        }

    def one_line(self) -> str:
        return f"{self.severity.value} {self.code} {self.path or '.'}: {self.message}"


# --------------------------------------------------------------------------- limits


@dataclass(frozen=True)
class Limits:
    """How much of a bag the verifier reads before refusing it: a hostile bag cannot
    exhaust memory or time. Every limit is reported as an error with a stable
    ``limit.*`` code (see docs/limits.md); nothing over a limit is read into memory.

    The defaults are far above any real statement bag (4-6 files, a few KB of tag
    files) and above most bags of other institutions; pass other values to
    ``verify_bag(limits=...)`` for unusual collections.
    """

    #: Files, directories and other entries in one bag (directory or archive), and
    #: entries in one manifest or fetch.txt (``limit.files``).
    max_files: int = 100_000
    #: Levels of directories below the bag root (``limit.depth``).
    max_depth: int = 64
    #: UTF-8 bytes of one bag-relative path (``limit.path-length``).
    max_path_bytes: int = 4096
    #: Characters of one manifest or fetch.txt line (``limit.manifest-line``,
    #: ``limit.fetch-line``): room for the longest digest and path, percent-encoded.
    max_line_chars: int = 16_384
    #: Bytes of one manifest, tag manifest or fetch.txt (``limit.tag-file-size``).
    max_manifest_bytes: int = 64 << 20
    #: Bytes of bag-info.txt (``limit.bag-info-size``).
    max_bag_info_bytes: int = 1 << 20
    #: Bytes of any other tag file read whole (bagit.txt) (``limit.tag-file-size``).
    max_tag_file_bytes: int = 1 << 20
    #: Bytes a serialized bag may make us read after decompression, listing and
    #: hashing together (``limit.bytes``): a tar.gz bomb stops here, in bounded time.
    max_bytes: int = 4 << 30
    #: The largest compression ratio of a zip member, or of a compressed tar's stream
    #: once past its first MiB (``limit.ratio``): deflate of zeros is ~1,000:1.
    max_ratio: int = 200

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            if getattr(self, name) < 1:
                raise ValueError(f"Limits.{name} must be at least 1")
        if self.max_depth > 512:  # the directory walk recurses once per level
            raise ValueError("Limits.max_depth must be at most 512")

    def path_problem(self, relpath: str) -> Problem | None:
        """A ``limit.path-length`` or ``limit.depth`` error for a too long/deep path."""
        size = len(relpath.encode("utf-8", "surrogateescape"))
        if size > self.max_path_bytes:
            return _error(
                "limit.path-length",
                relpath[:200] + ("..." if len(relpath) > 200 else ""),
                f"path is {size:,} bytes; the limit is {self.max_path_bytes:,}",
            )
        depth = relpath.count("/")
        if depth > self.max_depth:
            return _error(
                "limit.depth",
                relpath[:200] + ("..." if len(relpath) > 200 else ""),
                f"path is {depth} directories deep; the limit is {self.max_depth}",
            )
        return None

    def file_limit(self, name: str) -> tuple[int, str]:
        """(maximum bytes, problem code) for a tag file the verifier reads whole."""
        if name == BAG_INFO_TXT:
            return self.max_bag_info_bytes, "limit.bag-info-size"
        if name == FETCH_TXT or parse_manifest_name(name) is not None:
            return self.max_manifest_bytes, "limit.tag-file-size"
        return self.max_tag_file_bytes, "limit.tag-file-size"


def _error(code: str, path: str, message: str) -> Problem:
    return Problem(code, path, message, Severity.error)


def _warning(code: str, path: str, message: str) -> Problem:
    return Problem(code, path, message, Severity.warning)


# --------------------------------------------------------------------------- algorithms


class DigestAlgorithm(Enum):
    """Checksum algorithms, named as in manifest file names (RFC 8493 §2.4)."""

    md5 = "md5"
    sha1 = "sha1"
    sha224 = "sha224"
    sha256 = "sha256"
    sha384 = "sha384"
    sha512 = "sha512"

    # Members are singletons: identity hashing is correct and much cheaper than Enum's.
    __hash__ = object.__hash__

    def new(self) -> _Hash:
        return _CONSTRUCTORS[self]()

    @property
    def weak(self) -> bool:
        """Broken for collision resistance: fine against accidents, not against tampering."""
        return self in _WEAK

    @property
    def hex_length(self) -> int:
        return _HEX_LENGTH[self]

    @classmethod
    def from_name(cls, name: str) -> DigestAlgorithm | None:
        """The algorithm a manifest name uses, or None for one this module does not know."""
        return _BY_NAME.get(name)


_WEAK = frozenset({DigestAlgorithm.md5, DigestAlgorithm.sha1})
_BY_NAME = {a.value: a for a in DigestAlgorithm}
# hashlib.sha256() and friends are several times cheaper to call than hashlib.new(name).
_CONSTRUCTORS: dict[DigestAlgorithm, Callable[[], _Hash]] = {
    a: getattr(hashlib, a.value) for a in DigestAlgorithm
}
_HEX_LENGTH = {
    DigestAlgorithm.md5: 32,
    DigestAlgorithm.sha1: 40,
    DigestAlgorithm.sha224: 56,
    DigestAlgorithm.sha256: 64,
    DigestAlgorithm.sha384: 96,
    DigestAlgorithm.sha512: 128,
}


class ManifestKind(Enum):
    payload = "manifest"
    tag = "tagmanifest"


def manifest_name(alg: DigestAlgorithm) -> str:
    return f"manifest-{alg.value}.txt"


def tagmanifest_name(alg: DigestAlgorithm) -> str:
    return f"tagmanifest-{alg.value}.txt"


_MANIFEST_NAME = _lazy(r"(tagmanifest|manifest)-([A-Za-z0-9_.-]+)\.txt")


@functools.lru_cache(maxsize=256)
def parse_manifest_name(name: str) -> tuple[ManifestKind, str] | None:
    """``manifest-sha256.txt`` → (payload, "sha256"); None if not a manifest name.

    The algorithm comes back as written so an unknown one can be reported by name.
    """
    m = _MANIFEST_NAME().fullmatch(name)
    if m is None:
        return None
    return ManifestKind(m.group(1)), m.group(2)


#: The limits every reader uses unless given others.
DEFAULT_LIMITS = Limits()


# --------------------------------------------------------------------------- paths

_DECODE = _lazy(r"%(25|0[dD]|0[aA])")
_DECODE_CRLF = _lazy(r"%(0[dD]|0[aA])")
_DECODED = {"25": "%", "0d": "\r", "0a": "\n"}


def encode_path(relpath: str) -> str:
    """Percent-encode ``%``, CR and LF for a manifest or fetch line (RFC 8493 §2.1.3)."""
    return relpath.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def decode_path(s: str, *, percent: bool = True) -> str:
    """Inverse of :func:`encode_path`; accepts either hex case, leaves other ``%`` alone.

    ``percent=False`` decodes only CR and LF: before BagIt 1.0 ``%`` was not escaped,
    but bagit-python already wrote ``%0D``/``%0A`` into its 0.97 bags.
    """
    pattern = _DECODE() if percent else _DECODE_CRLF()
    return pattern.sub(lambda m: _DECODED[m.group(1).lower()], s)


_DRIVE = re.compile(r"[A-Za-z]:")
_ENV_VAR = re.compile(r"%[A-Za-z0-9_()]+%")
# C0 controls and DEL, except CR and LF, which RFC 8493 lets a file name contain.
_CONTROL = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")


@functools.lru_cache(maxsize=8192)
def safe_relpath(relpath: str) -> str | None:
    """The ``/``-separated bag-relative path, or None if it could point anywhere else.

    Refused on every OS (a bag travels): absolute paths, ``..``, ``~`` shortcuts, drive
    letters, UNC and any backslash, ``%VAR%`` expansions, NUL and control characters,
    empty components. A leading ``./`` is dropped (callers warn about it).
    """
    if not relpath or "\\" in relpath or relpath.startswith("/"):
        return None
    if _CONTROL.search(relpath) or _ENV_VAR.search(relpath):
        return None
    while relpath.startswith("./"):
        relpath = relpath[2:]
    parts = relpath.split("/")
    if parts[0].startswith("~"):
        return None
    for part in parts:
        if part in ("", ".", "..") or _DRIVE.match(part):
            return None
    return relpath


def resolve_inside(root: Path, relpath: str) -> Path | None:
    """``root/relpath`` if it is safe and no existing component of it is a symlink.

    Component-wise, so ``../bag-evil/x`` can never pass a string-prefix test; nothing
    is resolved, so no symlink is ever followed.
    """
    safe = safe_relpath(relpath)
    if safe is None:
        return None
    current = root
    for part in safe.split("/"):
        current = current / part
        if current.is_symlink():
            return None
    return current


# --------------------------------------------------------------------------- tag text

_LINE_SPLIT = _lazy(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """Lines ended by LF, CR or CRLF (all three are allowed); a final newline is optional."""
    lines = text.split("\n") if "\r" not in text else _LINE_SPLIT().split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def decode_tag_file(data: bytes, encoding: str, name: str) -> tuple[str, list[Problem]]:
    """Decode a tag file in the bag's declared encoding; a UTF-8 BOM is warned and dropped."""
    problems: list[Problem] = []
    if encoding in ("UTF-8", "utf-8") and not data.startswith(codecs.BOM_UTF8):
        try:
            return data.decode("utf-8"), problems  # the common case, without lookups
        except UnicodeDecodeError:
            pass
    codec = text_codec(encoding)
    if codec is None:
        return "", [_error("encoding.unknown", name, f"unknown tag file encoding {encoding!r}")]
    if codec.name == "utf-8" and data.startswith(codecs.BOM_UTF8):
        problems.append(_warning("encoding.bom", name, "UTF-8 byte-order mark (not allowed)"))
        data = data[len(codecs.BOM_UTF8) :]
    try:
        text = data.decode(codec.name)
    except UnicodeError as exc:  # also idna/punycode's plain UnicodeError
        at = f" at byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else ""
        problems.append(_error("encoding.invalid", name, f"not valid {encoding}{at}"))
        try:
            text = data.decode(codec.name, errors="replace")
        except UnicodeError:
            text = ""
    return text, problems


def text_codec(encoding: str) -> codecs.CodecInfo | None:
    """The text codec a tag-file encoding names, or None.

    None also for names Python cannot look up at all (a NUL inside: ValueError) and
    for codecs that are not text encodings (``base64``, ``rot13``, ``zlib``), which
    ``bytes.decode`` refuses with LookupError.
    """
    try:
        codec = codecs.lookup(encoding)
    except (LookupError, ValueError):
        return None
    return codec if getattr(codec, "_is_text_encoding", True) else None


# --------------------------------------------------------------------------- bagit.txt


def format_bagit_txt() -> bytes:
    return f"BagIt-Version: {BAGIT_VERSION}\nTag-File-Character-Encoding: UTF-8\n".encode()


_BAGIT_LINE = _lazy(r"([A-Za-z-]+): (\S(?:.*\S)?)")
_VERSION = _lazy(r"[0-9]+\.[0-9]+")


def parse_bagit_txt(data: bytes) -> tuple[str | None, str | None, tuple[Problem, ...]]:
    """(version, encoding, problems) of ``bagit.txt``: exactly two strict lines, no BOM."""
    name = BAGIT_TXT
    problems: list[Problem] = []
    if data.startswith(codecs.BOM_UTF8):
        problems.append(_error("bagit.bom", name, "starts with a byte-order mark"))
        data = data[len(codecs.BOM_UTF8) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(_error("bagit.encoding", name, "not UTF-8"))
        text = data.decode("utf-8", errors="replace")
    lines = split_lines(text)
    while lines and lines[-1].strip() == "":
        lines.pop()
        problems.append(_warning("bagit.blank-line", name, "blank line after the two fields"))
    expected = ("BagIt-Version", "Tag-File-Character-Encoding")
    values: list[str | None] = [None, None]
    for i, line in enumerate(lines):
        m = _BAGIT_LINE().fullmatch(line)
        if i >= 2:
            problems.append(_error("bagit.malformed", name, f"unexpected line {i + 1}: {line!r}"))
        elif m is None or m.group(1) != expected[i]:
            problems.append(
                _error(
                    "bagit.malformed",
                    name,
                    f"line {i + 1} must be '{expected[i]}: <value>', found {line!r}",
                )
            )
        else:
            values[i] = m.group(2)
    for i in range(len(lines), 2):
        problems.append(_error("bagit.malformed", name, f"missing line '{expected[i]}: <value>'"))
    version, encoding = values
    if version is not None and not _VERSION().fullmatch(version):
        problems.append(_error("bagit.version", name, f"malformed BagIt-Version {version!r}"))
        version = None
    elif version is not None and version not in KNOWN_VERSIONS:
        problems.append(_error("bagit.version", name, f"unknown BagIt-Version {version}"))
    if encoding is not None and text_codec(encoding) is None:
        problems.append(_error("encoding.unknown", name, f"unknown encoding {encoding!r}"))
        encoding = None
    return version, encoding, tuple(problems)


@functools.lru_cache(maxsize=64)
def version_tuple(version: str | None) -> tuple[int, int]:
    """``"0.97"`` → (0, 97); unknown or missing versions are judged by the current rules."""
    if version is None or not _VERSION().fullmatch(version) or len(version) > 20:
        return (1, 0)  # (too many digits for int(): a hostile version is judged as 1.0)
    major, minor = version.split(".")
    return int(major), int(minor)


# --------------------------------------------------------------------------- manifests


class ManifestEntry(NamedTuple):
    """One manifest line (a NamedTuple, not a dataclass: one is built per line, hot path)."""

    digest: str
    #: Decoded, bag-relative path exactly as listed (minus a md5sum ``*``).
    path: str
    line: int


class ParsedManifest(NamedTuple):
    """A manifest's entries and problems (a NamedTuple: ~0.3 ms less than a dataclass
    at import, paid by every ``preserve verify``)."""

    name: str
    entries: tuple[ManifestEntry, ...]
    problems: tuple[Problem, ...]


_HEX = _lazy(r"[0-9A-Fa-f]+")
# digest, one or more blanks (RFC 8493 §2.1.3: "One or more linear whitespace
# characters (spaces or tabs) MUST separate" them; sha256sum writes two), then md5sum's
# binary-mode "*" if any, then the path verbatim (it may end with spaces; every path
# starts with data/ or a tag file name, so none starts with one).
_MANIFEST_LINE = _lazy(r"([0-9A-Fa-f]+)[ \t]+(\*?)(.*)", re.DOTALL)


def format_manifest(entries: Iterable[tuple[str, str]]) -> bytes:
    """Manifest bytes: ``digest  path`` lines (as sha256sum writes), sorted by path, UTF-8, LF."""
    rows = sorted(entries, key=lambda e: e[1])
    seen: set[str] = set()
    out: list[str] = []
    for digest, path in rows:
        if not _HEX().fullmatch(digest):
            raise ValueError(f"not a hex digest: {digest!r}")
        if path in seen:
            raise ValueError(f"path listed twice: {path!r}")
        if not path:
            raise ValueError("empty path")
        if path[0] in " \t*":
            # A reader takes blanks and "*" after the digest as separator and md5sum mark.
            raise ValueError(f"path starts with a blank or '*': {path!r}")
        seen.add(path)
        out.append(f"{digest.lower()}  {encode_path(path)}\n")
    return "".join(out).encode("utf-8")


@functools.lru_cache(maxsize=16)
def _plain_line(hex_length: int) -> re.Pattern[str]:
    # One whole line: the digest, blanks, then a path that starts with none of the
    # characters the full parse treats specially (blank, "*", "." for "./") and holds
    # no "%" (nothing to decode) and no CR or LF.
    return re.compile(rf"^([0-9A-Fa-f]{{{hex_length}}})[ \t]+([^ \t*.%\r\n][^%\r\n]*)\n", re.M)


def _plain_rows(text: str, hex_length: int, max_files: int) -> list[tuple[str, str]] | None:
    """(path, lower-case digest) of every line of ``text``, when each is a plain line.

    The common case (every manifest a tool writes), read with one regular expression
    instead of line by line; None as soon as one line is anything else (blank, too
    long, ``*``, ``./``, percent-encoded, a digest of the wrong length...), and then
    :func:`parse_manifest` reads it line by line and says what is wrong. The two
    always agree (tests/test_verify_quick.py compares them on generated text).
    """
    if not text.endswith("\n"):
        text += "\n"
    rows = _plain_line(hex_length).findall(text)
    # Each match is exactly one line: as many matches as lines means every line matched.
    if len(rows) != text.count("\n") or len(rows) > max_files:
        return None
    return [(path, digest.lower()) for digest, path in rows]


def _lines_within(text: str, max_line: int) -> bool:
    """Whether no line of ``text`` is over ``max_line`` characters (a short text at once;
    a manifest of many lines, line by line)."""
    return len(text) <= max_line or max(map(len, text.split("\n"))) <= max_line


def plain_manifest(
    data: bytes, encoding: str, alg: DigestAlgorithm, limits: Limits = DEFAULT_LIMITS
) -> list[tuple[str, str]] | None:
    """(path, digest) of each line of a manifest that :func:`parse_manifest` would read
    with no problem and no decoding (UTF-8, LF, plain lines); None for any other."""
    if encoding not in ("UTF-8", "utf-8") or data.startswith(codecs.BOM_UTF8):
        return None
    text = data.decode("utf-8")  # UnicodeDecodeError: the caller's full parse reports it
    if "\r" in text or not _lines_within(text, limits.max_line_chars):
        return None
    return _plain_rows(text, alg.hex_length, limits.max_files)


def parse_manifest(
    data: bytes,
    name: str,
    *,
    encoding: str = "utf-8",
    version: str | None = BAGIT_VERSION,
    limits: Limits = DEFAULT_LIMITS,
) -> ParsedManifest:
    """Entries and problems of one (tag) manifest; never raises on bad content.

    A line is ``digest``, one or more spaces or tabs (RFC 8493 §2.1.3, as
    bagit-python reads it), optionally ``*`` (md5sum's binary mode, warned), then the
    path verbatim — so names with trailing spaces survive. Paths are percent-
    decoded per :func:`decode_path` (``%25`` only from BagIt 1.0 on).
    """
    text, problems = decode_tag_file(data, encoding, name)
    parsed = name.rsplit("/", 1)[-1]
    kind_alg = parse_manifest_name(parsed)
    alg = DigestAlgorithm.from_name(kind_alg[1]) if kind_alg else None
    max_line = limits.max_line_chars
    if alg is not None and not problems and _lines_within(text, max_line) and "\r" not in text:
        rows = _plain_rows(text, alg.hex_length, limits.max_files)
        if rows is not None:
            plain = tuple(
                ManifestEntry(digest, path, number)
                for number, (path, digest) in enumerate(rows, start=1)
            )
            return ParsedManifest(name, plain, ())
    decode = version_tuple(version) >= (1, 0)
    hex_length = alg.hex_length if alg is not None else 0
    entries: list[ManifestEntry] = []
    for number, line in enumerate(split_lines(text), start=1):
        if not line or line.isspace():
            problems.append(_warning("manifest.blank-line", name, f"line {number} is blank"))
            continue
        if len(line) > max_line:
            problems.append(
                _error(
                    "limit.manifest-line",
                    name,
                    f"line {number} is {len(line):,} characters; the limit is {max_line:,}",
                )
            )
            continue
        if len(entries) >= limits.max_files:
            problems.append(
                _error(
                    "limit.files",
                    name,
                    f"more than {limits.max_files:,} entries; the rest were not read",
                )
            )
            break
        m = _MANIFEST_LINE().fullmatch(line)
        if m is None:
            problems.append(
                _error("manifest.malformed", name, f"line {number} is not 'digest path': {line!r}")
            )
            continue
        digest, mode, raw = m.groups()
        if mode == "*":
            problems.append(
                _warning(
                    "manifest.md5sum-star",
                    name,
                    f"line {number}: md5sum-style '*' before the path (ignored)",
                )
            )
        if alg is not None and len(digest) != hex_length:
            problems.append(
                _error(
                    "manifest.malformed",
                    name,
                    f"line {number}: {alg.value} digest must have {alg.hex_length} hex digits",
                )
            )
            continue
        path = decode_path(raw, percent=decode) if "%" in raw else raw
        if path.startswith("./"):
            problems.append(
                _warning("path.dot-slash", name, f"line {number}: path starts with './': {path!r}")
            )
        if not path:
            problems.append(_error("manifest.malformed", name, f"line {number}: empty path"))
            continue
        entries.append(ManifestEntry(digest.lower(), path, number))
    return ParsedManifest(name, tuple(entries), tuple(problems))


# --------------------------------------------------------------------------- bag-info.txt


class ParsedBagInfo(NamedTuple):
    """A bag-info.txt's fields and problems."""

    #: In file order; a label may repeat (RFC 8493 §2.2.2).
    fields: tuple[tuple[str, str], ...]
    problems: tuple[Problem, ...]

    def get_all(self, label: str) -> list[str]:
        """Every value of ``label`` (labels compare case-insensitively)."""
        low = label.lower()
        return [v for k, v in self.fields if k.lower() == low]


_LABEL_BAD = _lazy(r"[:\x00-\x1f\x7f]")
#: Never in a tag value: every C0 and C1 control (CR, LF, tab, NEL U+0085...), DEL, and
#: the Unicode line and paragraph separators. Readers disagree on which of them end a
#: line (Python's ``str.splitlines`` breaks at U+0085, U+2028, U+2029, FF, VT, FS-RS),
#: so one could smuggle a second ``Payload-Oxum`` past one reader and not another.
_TAG_VALUE_BAD = _lazy(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: What :func:`parse_bag_info` flags inside a value: the line breaks some reader sees.
_HIDDEN_BREAK = re.compile(r"[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def tag_value(text: str) -> str:
    """``text`` as one tag-file value: runs of white space, line breaks and control
    characters become one space, the ends are stripped. The one rule every writer of
    tag values applies (what it returns always passes :func:`format_bag_info`)."""
    return " ".join(_TAG_VALUE_BAD().sub(" ", text).split())


#: Line width RFC 8493 recommends, for ``format_bag_info(fold_width=...)``.
FOLD_WIDTH = 79


def format_bag_info(fields: Sequence[tuple[str, str]], *, fold_width: int | None = None) -> bytes:
    """``Label: value`` lines, UTF-8, LF; folded at spaces only if ``fold_width`` is set.

    Not folded by default: RFC 8493 only RECOMMENDS 79-column lines, and bagit-python
    (the reference reader) keeps a line break inside any value folded more than once.
    When folding, a break is inserted *before* a space, which becomes the continuation
    line's indentation, so unfolding (dropping the break) restores the value exactly.
    Refuses (ValueError) any line break or control character in a value (CR, LF, NEL,
    U+2028...: :func:`tag_value`'s rule) — that would inject fields in some reader —
    and values with leading/trailing whitespace, which every reader strips.
    """
    out: list[str] = []
    for label, value in fields:
        if not label or label != label.strip() or _LABEL_BAD().search(label):
            raise ValueError(f"bad bag-info label: {label!r}")
        if _TAG_VALUE_BAD().search(value):
            raise ValueError(f"bag-info value for {label} contains a line break or control")
        if value != value.strip():
            raise ValueError(f"bag-info value for {label} has leading or trailing whitespace")
        line = f"{label}: {value}"
        out.append((_fold(line, len(label) + 2, fold_width) if fold_width else line) + "\n")
    return "".join(out).encode("utf-8")


def _fold(line: str, value_start: int, width: int) -> str:
    pieces: list[str] = []
    start = value_start
    while len(line) > width:
        # The last space within the width that starts a run of spaces (so no line ends
        # in whitespace) and leaves something on the line before it.
        cut = next(
            (i for i in range(width, start, -1) if line[i] == " " and line[i - 1] != " "),
            -1,
        )
        if cut < 0:
            break
        pieces.append(line[:cut])
        line = line[cut:]
        start = 1
    pieces.append(line)
    return "\n".join(pieces)


def parse_bag_info(
    data: bytes, *, encoding: str = "utf-8", name: str = BAG_INFO_TXT
) -> ParsedBagInfo:
    """Fields of a ``bag-info.txt``-style file: repeated labels kept, continuations unfolded.

    A continuation line (leading space or tab) is unfolded as RFC 5322 does and as
    bagit-python reads it: the line break is dropped, the whitespace kept. Whitespace
    around the label and around the whole value is not significant.
    """
    text, problems = decode_tag_file(data, encoding, name)
    fields: list[list[str]] = []
    for number, line in enumerate(split_lines(text), start=1):
        if line.strip() == "":
            problems.append(_warning("baginfo.blank-line", name, f"line {number} is blank"))
            continue
        if line[0] in " \t":
            if not fields:
                problems.append(
                    _error("baginfo.malformed", name, f"line {number}: continuation with no label")
                )
                continue
            fields[-1][1] += line
            continue
        label, sep, value = line.partition(":")
        if not sep or not label.strip():
            problems.append(
                _error("baginfo.malformed", name, f"line {number} is not 'Label: value': {line!r}")
            )
            continue
        fields.append([label.strip(), value.strip()])
    for label, value in fields:
        if _HIDDEN_BREAK.search(value):
            problems.append(
                _error(
                    "baginfo.hidden-line-break",
                    name,
                    f"the value of {label} holds a character some readers take for a line "
                    "break (U+0085, U+2028, U+2029, FF, VT...): they read other fields",
                )
            )
    return ParsedBagInfo(tuple((k, v.strip()) for k, v in fields), tuple(problems))


# At most 20 digits each: int() refuses 4,300 and more, and no payload is that large.
_OXUM = re.compile(r"([0-9]{1,20})\.([0-9]{1,20})")


def parse_oxum(value: str) -> tuple[int, int] | None:
    """``Payload-Oxum`` ``octets.files`` → (octets, files), or None if malformed."""
    m = _OXUM.fullmatch(value.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


# --------------------------------------------------------------------------- fetch.txt


class FetchEntry(NamedTuple):
    """One fetch.txt line."""

    url: str
    #: Octets, or None for ``-`` (unknown).
    length: int | None
    path: str
    line: int


class ParsedFetch(NamedTuple):
    """A fetch.txt's entries and problems."""

    entries: tuple[FetchEntry, ...]
    problems: tuple[Problem, ...]


_FETCH_LINE = _lazy(r"(\S+)[ \t]+(\S+)[ \t]+(.+)")
_URL = _lazy(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")
_LENGTH = _lazy(r"[0-9]{1,20}")


def parse_fetch(
    data: bytes,
    *,
    encoding: str = "utf-8",
    version: str | None = BAGIT_VERSION,
    limits: Limits = DEFAULT_LIMITS,
) -> ParsedFetch:
    """``URL LENGTH PATH`` lines of ``fetch.txt`` (RFC 8493 §2.2.3)."""
    text, problems = decode_tag_file(data, encoding, FETCH_TXT)
    decode = version_tuple(version) >= (1, 0)
    entries: list[FetchEntry] = []
    max_line = limits.max_line_chars
    for number, line in enumerate(split_lines(text), start=1):
        if line.strip() == "":
            problems.append(_warning("fetch.blank-line", FETCH_TXT, f"line {number} is blank"))
            continue
        if len(line) > max_line:
            problems.append(
                _error(
                    "limit.fetch-line",
                    FETCH_TXT,
                    f"line {number} is {len(line):,} characters; the limit is {max_line:,}",
                )
            )
            continue
        if len(entries) >= limits.max_files:
            problems.append(
                _error(
                    "limit.files",
                    FETCH_TXT,
                    f"more than {limits.max_files:,} entries; the rest were not read",
                )
            )
            break
        m = _FETCH_LINE().fullmatch(line)
        if m is None:
            problems.append(
                _error("fetch.malformed", FETCH_TXT, f"line {number} is not 'URL LENGTH PATH'")
            )
            continue
        url, length_s, raw = m.groups()
        if not _URL().fullmatch(url) or (not url.lower().startswith("file:") and "://" not in url):
            problems.append(_error("fetch.bad-url", FETCH_TXT, f"line {number}: bad URL {url!r}"))
        length: int | None = None
        if length_s != "-":
            # ASCII digits only ("²".isdigit() is true, int("²") fails), at most 20.
            if not _LENGTH().fullmatch(length_s):
                problems.append(
                    _error("fetch.malformed", FETCH_TXT, f"line {number}: bad length {length_s!r}")
                )
            else:
                length = int(length_s)
        entries.append(FetchEntry(url, length, decode_path(raw, percent=decode), number))
    return ParsedFetch(tuple(entries), tuple(problems))


def format_fetch(entries: Iterable[tuple[str, int | None, str]]) -> bytes:
    """``URL LENGTH PATH`` lines; URLs must already be percent-encoded (no whitespace)."""
    out: list[str] = []
    for url, length, path in entries:
        if not _URL().fullmatch(url):
            raise ValueError(f"bad fetch URL: {url!r}")
        out.append(f"{url} {'-' if length is None else length} {encode_path(path)}\n")
    return "".join(out).encode("utf-8")


# --------------------------------------------------------------------------- names

#: Files operating systems drop into folders by themselves; never meant as payload.
SYSTEM_FILE_NAMES = frozenset(
    {
        ".ds_store",
        "thumbs.db",
        "desktop.ini",
        "ehthumbs.db",
        ".spotlight-v100",
        ".trashes",
        ".fseventsd",
        ".apdisk",
        ".directory",
        "icon\r",
    }
)


def is_system_file(relpath: str) -> bool:
    base = relpath.rsplit("/", 1)[-1]
    return base.lower() in SYSTEM_FILE_NAMES or base.startswith("._")


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)
