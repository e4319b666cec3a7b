"""BagIt Profiles 1.4.0: load a profile and check a bag against every key it defines.

The profile says what *our* bags must look like beyond RFC 8493 (which fields in
bag-info.txt, which manifests, which tag and payload files). The ``bagit-profile``
package skips Data-Empty, Fetch.txt-Required and Payload-Files-*, so this module
checks all of them itself. The specification publishes no JSON Schema for profiles,
so the profile document is checked here, key by key, when it is loaded: a typo such
as ``Tag-File-Allowed`` must not silently switch a constraint off.

Reading the bag is read-only and never follows a symlink; BagIt syntax comes from
:mod:`preserve.bagit_format`. Structural faults that are not the profile's business
(bad digests, missing payload listed in a manifest) are :mod:`preserve.verify`'s.

Glob semantics: the specification defines only ``*``, "zero or more characters"
(glob(7)), and says an absent ``*-Allowed`` list means ``["*"]``, i.e. *every* tag
or payload file, including those in subfolders. So ``*`` here also matches ``/``
(as in the reference validator, which uses ``fnmatch``); every other character,
``?`` and ``[`` included, is literal.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any

from preserve.bagit_format import (
    BAG_INFO_TXT,
    BAGIT_TXT,
    DEFAULT_LIMITS,
    FETCH_TXT,
    PAYLOAD_DIR,
    DigestAlgorithm,
    ManifestKind,
    ParsedBagInfo,
    Problem,
    Severity,
    manifest_name,
    parse_bag_info,
    parse_bagit_txt,
    parse_manifest_name,
    safe_relpath,
    tagmanifest_name,
)
from preserve.errors import InputError, UnreadableInput
from preserve.fsio import RefusedFile, read_limited
from preserve.profile_formats import convert
from preserve.verify.access import READ_ERRORS, BagFiles, open_bag_files

#: A BagIt profile is a few KB of JSON; a larger file is refused unread.
_MAX_PROFILE_BYTES = 4 << 20

__all__ = [
    "DEFAULT_PROFILE",
    "NAMED_PROFILES",
    "OUR_PROFILES",
    "SPEC_VERSION",
    "Problem",
    "Profile",
    "Serialization",
    "Severity",
    "TagRule",
    "check_profile",
    "check_serialization",
    "claimed_profile",
    "load_profile",
    "profile_document_problems",
]

#: Our profile, as shipped in ``schemas/`` (installed as ``preserve.schemas``).
DEFAULT_PROFILE = "bagit-profile.json"
#: Every version of our own profile, by the identifier its bags declare: a bag is
#: judged by the version it claims, so bags made before a new version stay valid.
OUR_PROFILES: dict[str, str] = {
    # 0.1.0: Source-Organization held the statement's issuer.
    "https://preserve.invalid/schemas/bagit-profile.json": "bagit-profile-0.1.json",
    # 0.2.0: Source-Organization is the archive's institution (optional: unset in settings);
    # new payload folders for web captures, extracted text and other forms of input.
    "https://preserve.invalid/schemas/bagit-profile-0.2.0.json": DEFAULT_PROFILE,
}
#: Profiles from the field, by short name (``preserve verify --profile NAME``), as
#: published (see tests/profiles/README.md for where each comes from).
NAMED_PROFILES: dict[str, str] = {
    "preserve": DEFAULT_PROFILE,
    "preserve-0.1": "bagit-profile-0.1.json",
    "btr": "profile-btr-1.0.json",
    "aptrust": "profile-aptrust-2.3.json",
}


#: Other identifiers bags in the wild declare for the same published profile. BTR's
#: own sample bags name the master branch's raw file; APTrust's user guide names the
#: blob page of tag 1.0; the profile names its release download.
ALIASES: dict[str, tuple[str, ...]] = {
    "https://github.com/dpscollaborative/btr_bagit_profile/releases/download/1.0/"
    "btr-bagit-profile.json": (
        "https://raw.githubusercontent.com/dpscollaborative/btr_bagit_profile/master/"
        "btr-bagit-profile.json",
        "https://github.com/dpscollaborative/btr_bagit_profile/blob/1.0/btr-bagit-profile.json",
    ),
}


def claimed_profile(identifiers: Iterable[str]) -> str | None:
    """The file of our profile version a bag claims (its BagIt-Profile-Identifier), or None."""
    return next((OUR_PROFILES[i] for i in identifiers if i in OUR_PROFILES), None)


#: The version of the BagIt Profiles specification this module implements.
SPEC_VERSION = "1.4.0"
#: What a profile without ``BagIt-Profile-Version`` conforms to (the specification says so).
_UNVERSIONED_SPEC = "1.1.0"

#: MIME types that name the same serialization (profiles in the wild use all of them).
_MIME_ALIASES: tuple[frozenset[str], ...] = (
    frozenset({"application/x-tar", "application/tar"}),
    frozenset({"application/gzip", "application/x-gzip", "application/tar+gzip"}),
    frozenset({"application/zip", "application/x-zip-compressed", "application/x-zip"}),
    frozenset({"application/x-7z-compressed"}),
)
#: File-name endings of serialized bags and their MIME types, longest ending first.
_SERIALIZED_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".tar.gz", "application/gzip"),
    (".tgz", "application/gzip"),
    (".tar", "application/x-tar"),
    (".zip", "application/zip"),
    (".7z", "application/x-7z-compressed"),
)


class Serialization(Enum):
    """Whether a bag must, may or must not arrive as a single archive file."""

    forbidden = "forbidden"
    required = "required"
    optional = "optional"


@dataclass(frozen=True)
class TagRule:
    """What a profile says about one bag-info.txt label."""

    required: bool = False
    #: Acceptable values; empty means any value.
    values: tuple[str, ...] = ()
    repeatable: bool = True
    description: str = ""
    #: ``"recommended": true`` (BTR's extension): absent, it is a warning, not an error.
    recommended: bool = False


@dataclass(frozen=True)
class Profile:
    """A loaded, checked BagIt profile with the specification's defaults filled in."""

    #: ``BagIt-Profile-Info`` → ``BagIt-Profile-Identifier``: what bags must declare.
    identifier: str
    #: ``BagIt-Profile-Version``: the version of the specification the profile follows.
    spec_version: str
    #: All of ``BagIt-Profile-Info``, in document order.
    info: tuple[tuple[str, str], ...]
    #: ``Bag-Info``, in document order.
    bag_info: tuple[tuple[str, TagRule], ...]
    manifests_required: tuple[str, ...]
    #: None: any manifest algorithm is allowed.
    manifests_allowed: tuple[str, ...] | None
    tag_manifests_required: tuple[str, ...]
    tag_manifests_allowed: tuple[str, ...] | None
    allow_fetch: bool
    fetch_required: bool
    data_empty: bool
    serialization: Serialization
    accept_serialization: tuple[str, ...]
    accept_bagit_version: tuple[str, ...]
    tag_files_required: tuple[str, ...]
    tag_files_allowed: tuple[str, ...]
    payload_files_required: tuple[str, ...]
    payload_files_allowed: tuple[str, ...]
    #: Where the profile was read from, for messages.
    source: str = ""
    #: Fields of tag files other than bag-info.txt: (tag file, label, rule), e.g.
    #: APTrust's aptrust-info.txt (from a DART profile or Duraspace's ``Other-Info``).
    other_tags: tuple[tuple[str, str, TagRule], ...] = ()
    #: What the profile says that is not enforced (unknown keys, ``recommended``...).
    warnings: tuple[str, ...] = ()
    #: DART's ``tarDirMustMatchName`` (APTrust): ``my_bag.tar`` must hold ``my_bag/``.
    tar_dir_must_match_name: bool = False

    def rule(self, label: str) -> TagRule | None:
        low = label.lower()
        return next((r for name, r in self.bag_info if name.lower() == low), None)


# --------------------------------------------------------------------------- loading


@functools.lru_cache(maxsize=32)
def _load_shipped(name: str) -> Profile | None:
    """A profile shipped in ``preserve.schemas``, parsed once per process."""
    resource = resources.files("preserve.schemas").joinpath(name)
    if not resource.is_file():
        return None
    return parse_profile(resource.read_text(encoding="utf-8"), source=f"preserve.schemas/{name}")


def load_profile(path_or_name: Path | str | None = None) -> Profile:
    """Read and check a profile: ours by default, a name (:data:`NAMED_PROFILES`), a file
    name in ``preserve.schemas``, or a path.

    Raises :class:`UnreadableInput` if it cannot be read and :class:`InputError` if
    it is not a valid BagIt profile (every fault counted in the message).
    """
    name = DEFAULT_PROFILE if path_or_name is None else path_or_name
    if isinstance(name, str) and name in NAMED_PROFILES:
        name = NAMED_PROFILES[name]
    text: str
    if isinstance(name, str) and "/" not in name and os.sep not in name:
        shipped = _load_shipped(name)
        if shipped is not None:
            return shipped
    path = Path(name)
    try:
        text = read_limited(path, _MAX_PROFILE_BYTES, follow=True).decode("utf-8")
    except FileNotFoundError:
        raise UnreadableInput("no such BagIt profile", path) from None
    except RefusedFile as exc:
        raise UnreadableInput(f"{exc.reason}, not a BagIt profile", path) from None
    except UnicodeDecodeError:
        raise InputError("BagIt profile is not UTF-8", path) from None
    except OSError as exc:
        raise UnreadableInput(f"cannot read BagIt profile ({exc.strerror})", path) from None
    return parse_profile(text, source=str(path))


def parse_profile(text: str, *, source: str = "") -> Profile:
    """A :class:`Profile` from JSON text; :class:`InputError` if it is not a valid profile."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"BagIt profile is not JSON ({exc.msg} at line {exc.lineno})"
        raise InputError(message, source or None) from None
    except RecursionError:
        raise InputError("BagIt profile is JSON nested too deeply", source or None) from None
    converted = convert(doc) if isinstance(doc, dict) else None
    if converted is not None:
        doc = converted.doc
    problems = profile_document_problems(doc)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError(f"not a valid BagIt profile: {problems[0]}{more}", source or None)
    assert converted is not None  # a non-object has problems
    warnings = [*converted.warnings, *profile_document_warnings(doc)]
    other: list[tuple[str, str, TagRule]] = []
    for tag_file, label, rule in converted.other_tags:
        rule_problems = _rule_problems(f"{tag_file}: {label}", rule)
        if rule_problems:
            raise InputError(f"not a valid BagIt profile: {rule_problems[0]}", source or None)
        warnings += _rule_warnings(f"{tag_file}: {label}", rule)
        other.append((tag_file, label, _tag_rule(rule)))
    return replace(
        _build(doc, source),
        other_tags=tuple(other),
        warnings=tuple(warnings),
        tar_dir_must_match_name=converted.tar_dir_must_match_name,
    )


_INFO_REQUIRED = (
    "Source-Organization",
    "External-Description",
    "Version",
    "BagIt-Profile-Identifier",
)
_LIST_KEYS = (
    "Manifests-Required",
    "Manifests-Allowed",
    "Accept-Serialization",
    "Accept-BagIt-Version",
    "Tag-Manifests-Required",
    "Tag-Manifests-Allowed",
    "Tag-Files-Required",
    "Tag-Files-Allowed",
    "Payload-Files-Required",
    "Payload-Files-Allowed",
)
_BOOL_KEYS = ("Allow-Fetch.txt", "Fetch.txt-Required", "Data-Empty")
_KNOWN_KEYS = frozenset(
    {"BagIt-Profile-Info", "Bag-Info", "Serialization", *_LIST_KEYS, *_BOOL_KEYS}
)
_RULE_KEYS = frozenset({"required", "values", "repeatable", "description"})
#: Rule keys real profiles use beyond the specification, and enforced here: BTR's
#: ``recommended`` (a missing recommended field is a warning).
_RULE_EXTENSIONS = frozenset({"recommended"})
#: How alike an unknown key must be to a known one to be taken for a misspelling of it
#: (an error: it would switch a constraint off) rather than an extension (a warning).
_TYPO_CUTOFF = 0.8


def _unknown(keys: Iterable[object], known: Iterable[str]) -> tuple[list[str], list[str]]:
    """Unknown keys split into (misspellings of known keys, other keys)."""
    typos: list[str] = []
    others: list[str] = []
    known = sorted(known)
    for key in keys:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=_TYPO_CUTOFF)
        if close:
            typos.append(f"unknown key {key!r} (did you mean {close[0]!r}?)")
        else:
            others.append(f"unknown key {key!r}: not enforced")
    return typos, others


def profile_document_warnings(doc: object) -> list[str]:
    """What ``doc`` says that this validator reads past without enforcing it.

    Keys no version of the specification defines (``Other-Info``, a rule's
    ``recommended``) are extensions that real profiles use; they are listed here
    rather than refused. A key that looks like a misspelt known key is an error
    (:func:`profile_document_problems`), never a warning.
    """
    if not isinstance(doc, dict):
        return []
    out = _unknown(doc, _KNOWN_KEYS)[1]
    bag_info = doc.get("Bag-Info", {})
    if isinstance(bag_info, dict):
        for label, rule in bag_info.items():
            if isinstance(rule, dict):
                out += _rule_warnings(f"Bag-Info: {label}", rule)
        recommended = [
            label
            for label, rule in bag_info.items()
            if isinstance(rule, dict) and rule.get("recommended") is True
        ]
        if recommended:
            out.append(
                "Bag-Info: 'recommended' is an extension to BagIt Profiles (BTR's): a missing "
                f"recommended field ({', '.join(recommended)}) is reported as a warning"
            )
    return out


def _rule_warnings(where: str, rule: Mapping[str, Any]) -> list[str]:
    return [f"{where}: {w}" for w in _unknown(rule, _RULE_KEYS | _RULE_EXTENSIONS)[1]]


_VERSION = re.compile(r"[0-9]+(\.[0-9]+)*")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")
_MIME = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*")
_ALGORITHM = re.compile(r"[a-z0-9]+")


def profile_document_problems(doc: object) -> list[str]:
    """Every way ``doc`` (parsed JSON) falls short of the BagIt Profiles 1.4.0 specification.

    Stands in for a JSON Schema, which the specification does not publish. Unknown
    top-level keys are faults: a misspelt key would otherwise disable its constraint.
    """
    if not isinstance(doc, dict):
        return ["the profile must be a JSON object"]
    out: list[str] = _unknown(doc, _KNOWN_KEYS)[0]
    out += _info_problems(doc.get("BagIt-Profile-Info"))
    out += _bag_info_problems(doc.get("Bag-Info", {}))
    for key in _LIST_KEYS:
        value = doc.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            out.append(f"{key} must be a list of non-empty strings")
        elif len(set(value)) != len(value):
            out.append(f"{key} lists a value twice")
    for key in _BOOL_KEYS:
        if key in doc and not isinstance(doc[key], bool):
            out.append(f"{key} must be true or false")
    if out:  # the checks below assume the types are right
        return out
    for kind in ("Manifests", "Tag-Manifests"):
        required, allowed = doc.get(f"{kind}-Required", []), doc.get(f"{kind}-Allowed")
        for alg in [*required, *(allowed or [])]:
            if not _ALGORITHM.fullmatch(alg):
                out.append(f"{kind}: {alg!r} is not a manifest algorithm name (e.g. 'sha256')")
        if allowed is not None:
            out += [
                f"{kind}-Required {a!r} is not in {kind}-Allowed"
                for a in required
                if a not in allowed
            ]
    if doc.get("Fetch.txt-Required") is True and doc.get("Allow-Fetch.txt", True) is False:
        out.append("Fetch.txt-Required is true but Allow-Fetch.txt is false")
    serialization = doc.get("Serialization", Serialization.optional.value)
    if serialization not in {s.value for s in Serialization}:
        out.append(f"Serialization must be forbidden, required or optional, not {serialization!r}")
    accepted = doc.get("Accept-Serialization", [])
    out += [
        f"Accept-Serialization: {m!r} is not a MIME type"
        for m in accepted
        if not _MIME.fullmatch(m)
    ]
    if "Serialization" in doc and serialization != "forbidden" and not accepted:
        out.append(f"Serialization is {serialization} but Accept-Serialization is empty")
    versions = doc.get("Accept-BagIt-Version", [])
    if not versions:
        out.append("Accept-BagIt-Version must list at least one version")
    out += [
        f"Accept-BagIt-Version: {v!r} is not a version"
        for v in versions
        if not _VERSION.fullmatch(v)
    ]
    out += _file_list_problems(doc)
    return out


def _info_problems(info: object) -> list[str]:
    if not isinstance(info, dict):
        return ["BagIt-Profile-Info is missing or not an object"]
    out = [f"BagIt-Profile-Info: {k} is required" for k in _INFO_REQUIRED if k not in info]
    out += [
        f"BagIt-Profile-Info: {k} must be a non-empty string"
        for k, v in info.items()
        if not isinstance(v, str) or not v.strip()
    ]
    identifier = info.get("BagIt-Profile-Identifier")
    if isinstance(identifier, str) and not _URI.fullmatch(identifier):
        out.append(f"BagIt-Profile-Identifier must be an absolute URI, not {identifier!r}")
    spec = info.get("BagIt-Profile-Version")
    if isinstance(spec, str) and not _VERSION.fullmatch(spec):
        out.append(f"BagIt-Profile-Version must be a version such as '1.4.0', not {spec!r}")
    return out


def _bag_info_problems(bag_info: object) -> list[str]:
    if not isinstance(bag_info, dict):
        return ["Bag-Info must be an object"]
    out: list[str] = []
    for label, rule in bag_info.items():
        if not label or label != label.strip() or ":" in label:
            out.append(f"Bag-Info: {label!r} is not a bag-info label")
        out += _rule_problems(f"Bag-Info: {label}", rule)
    return out


def _rule_problems(where: str, rule: object) -> list[str]:
    if not isinstance(rule, dict):
        return [f"{where} must be an object"]
    out = [f"{where}: {typo}" for typo in _unknown(rule, _RULE_KEYS | _RULE_EXTENSIONS)[0]]
    if "recommended" in rule and not isinstance(rule["recommended"], bool):
        out.append(f"{where}: recommended must be true or false")
    out += [
        f"{where}: {k} must be true or false"
        for k in ("required", "repeatable")
        if k in rule and not isinstance(rule[k], bool)
    ]
    values = rule.get("values", [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        out.append(f"{where}: values must be a list of strings")
    if not isinstance(rule.get("description", ""), str):
        out.append(f"{where}: description must be a string")
    return out


def _tag_rule(rule: Mapping[str, Any]) -> TagRule:
    return TagRule(
        required=rule.get("required", False),
        values=tuple(rule.get("values", ())),
        repeatable=rule.get("repeatable", True),
        description=rule.get("description", ""),
        recommended=rule.get("recommended") is True,
    )


def _file_list_problems(doc: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    tag_required = doc.get("Tag-Files-Required", [])
    tag_allowed = doc.get("Tag-Files-Allowed", ["*"])
    for key, entries in (("Tag-Files-Required", tag_required), ("Tag-Files-Allowed", tag_allowed)):
        for entry in entries:
            if safe_relpath(entry) is None or entry.startswith("./"):
                out.append(f"{key}: {entry!r} is not a path relative to the bag")
            elif entry == PAYLOAD_DIR or entry.startswith(f"{PAYLOAD_DIR}/"):
                out.append(f"{key}: {entry!r} is in the payload, not a tag file")
    out += [
        f"Tag-Files-Required: {entry!r} is not covered by Tag-Files-Allowed"
        for entry in tag_required
        if not _matches_any(entry, tag_allowed)
    ]
    payload_required = doc.get("Payload-Files-Required", [])
    payload_allowed = doc.get("Payload-Files-Allowed", ["*"])
    for entry in payload_required:
        if not entry.startswith(f"{PAYLOAD_DIR}/") or safe_relpath(entry.rstrip("/")) is None:
            out.append(f"Payload-Files-Required: {entry!r} is not a path under data/")
        elif not _covers_any(entry, payload_allowed):
            out.append(f"Payload-Files-Required: {entry!r} is not covered by Payload-Files-Allowed")
    for entry in payload_allowed:
        if entry.endswith("/"):
            out.append(f"Payload-Files-Allowed: {entry!r} must end with '/*', not '/'")
        elif not (entry.startswith(f"{PAYLOAD_DIR}/") or entry.startswith("*")):
            out.append(f"Payload-Files-Allowed: {entry!r} can never match a path under data/")
    return out


def _build(doc: Mapping[str, Any], source: str) -> Profile:
    info: Mapping[str, str] = doc["BagIt-Profile-Info"]
    rules = tuple((label, _tag_rule(rule)) for label, rule in doc.get("Bag-Info", {}).items())

    def listed(key: str, default: Iterable[str] = ()) -> tuple[str, ...]:
        return tuple(doc.get(key, default))

    def optional(key: str) -> tuple[str, ...] | None:
        return tuple(doc[key]) if key in doc else None

    return Profile(
        identifier=info["BagIt-Profile-Identifier"],
        spec_version=info.get("BagIt-Profile-Version", _UNVERSIONED_SPEC),
        info=tuple(info.items()),
        bag_info=rules,
        manifests_required=listed("Manifests-Required"),
        manifests_allowed=optional("Manifests-Allowed"),
        tag_manifests_required=listed("Tag-Manifests-Required"),
        tag_manifests_allowed=optional("Tag-Manifests-Allowed"),
        allow_fetch=doc.get("Allow-Fetch.txt", True),
        fetch_required=doc.get("Fetch.txt-Required", False),
        data_empty=doc.get("Data-Empty", False),
        serialization=Serialization(doc.get("Serialization", Serialization.optional.value)),
        accept_serialization=listed("Accept-Serialization"),
        accept_bagit_version=listed("Accept-BagIt-Version"),
        tag_files_required=listed("Tag-Files-Required"),
        tag_files_allowed=listed("Tag-Files-Allowed", ["*"]),
        payload_files_required=listed("Payload-Files-Required"),
        payload_files_allowed=listed("Payload-Files-Allowed", ["*"]),
        source=source,
    )


# --------------------------------------------------------------------------- globs


@functools.lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    """``*`` is any run of characters, ``/`` included; everything else is literal."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def _matches_any(path: str, patterns: Iterable[str]) -> bool:
    return any(_glob(p).fullmatch(path) for p in patterns)


def _covers_any(entry: str, patterns: Iterable[str]) -> bool:
    """Whether the patterns allow ``entry``, or, for a folder (``data/src/``), a file in it."""
    if not entry.endswith("/"):
        return _matches_any(entry, patterns)
    for pattern in patterns:
        head, star, _ = pattern.partition("*")
        # Without a star the pattern is one path; with one, whatever follows the literal
        # head can be absorbed by the star, so only the head has to agree with the folder.
        if (star and (head.startswith(entry) or entry.startswith(head))) or (
            not star and pattern.startswith(entry) and len(pattern) > len(entry)
        ):
            return True
    return False


# --------------------------------------------------------------------------- checking


def _problem(code: str, path: str, message: str) -> Problem:
    return Problem(code, path, message, Severity.error)


@dataclass(frozen=True)
class _Inventory:
    """What is in the bag, by bag-relative ``/`` path, as its tree listed it."""

    bag: BagFiles
    #: Every entry that is not a directory (regular files, symlinks, anything else).
    entries: frozenset[str]


def _inventory(bag: BagFiles) -> _Inventory:
    return _Inventory(bag, frozenset(bag.files.keys() | bag.others))


def _read(inv: _Inventory, rel: str) -> bytes:
    """A tag file's bytes, within the verifier's limit for it; else OSError."""
    try:
        return inv.bag.read(rel, DEFAULT_LIMITS.file_limit(rel)[0])
    except READ_ERRORS as exc:
        if isinstance(exc, OSError):
            raise
        raise OSError(str(exc) or "over the size limit") from None


def _is_regular(inv: _Inventory, rel: str) -> bool:
    return rel in inv.bag.files


def check_profile(bag: Path | BagFiles, profile: Profile | None = None) -> list[Problem]:
    """Every way ``bag`` departs from ``profile`` (ours by default).

    ``bag`` is a bag directory, a serialized bag (tar, tar.gz, zip: members streamed,
    never extracted) or an already listed :class:`~preserve.verify.access.BagFiles`.
    Never writes and never follows a symlink. Raises :class:`UnreadableInput` only
    when a path is neither a bag directory nor a serialized bag; anything else is a
    Problem.
    """
    profile = load_profile() if profile is None else profile
    if isinstance(bag, (str, Path)):
        path = Path(bag)
        try:
            st = os.lstat(path)
        except OSError as exc:
            raise UnreadableInput(f"cannot read bag ({exc.strerror})", path) from None
        if not stat.S_ISDIR(st.st_mode) and not _looks_serialized(path):
            raise UnreadableInput("not a bag directory or a serialized bag", path)
        with open_bag_files(path) as files:
            unreadable = [
                _problem("profile.unreadable", p.path, p.message)
                for p in getattr(files, "problems", [])
                if p.code in ("file.unreadable", "archive.damaged")
            ]
            return unreadable + check_profile(files, profile)
    inv = _inventory(bag)
    root = bag.root_path()
    problems = _serialization_problems(root is not None, Path(bag.label).name, profile)
    if root is None and profile.tar_dir_must_match_name:
        problems += _check_top_folder(bag)
    version_problems, encoding = _check_version(inv, profile)
    problems += version_problems
    problems += _check_bag_info(inv, profile, encoding or "utf-8")
    problems += _check_other_tags(inv, profile, encoding or "utf-8")
    problems += _check_manifests(inv, profile)
    problems += _check_fetch(inv, profile)
    problems += _check_data_empty(inv, profile)
    problems += _check_tag_files(inv, profile)
    problems += _check_payload_files(inv, profile)
    return problems


def _check_top_folder(bag: BagFiles) -> list[Problem]:
    """APTrust: ``my_bag.tar`` must unpack to one folder named ``my_bag``."""
    file_name = Path(bag.label).name
    stem = next(
        (file_name[: -len(s)] for s, _ in _SERIALIZED_SUFFIXES if file_name.lower().endswith(s)),
        file_name,
    )
    folder = str(getattr(bag, "prefix", "")).rstrip("/")
    if folder == stem:
        return []
    found = f"its bag is in {folder!r}" if folder else "its bag is not in one top folder"
    message = f"{file_name} must unpack to one folder named {stem!r}; {found}"
    return [_problem("profile.top-folder-name", "", message)]


def _looks_serialized(path: Path) -> bool:
    """Whether a regular file is a tar or zip (by content, as the verifier opens it)."""
    import zipfile

    from preserve.verify.tar_reader import is_tar

    try:
        return zipfile.is_zipfile(path) or is_tar(path)
    except OSError:
        return False


def check_serialization(path: Path, profile: Profile | None = None) -> list[Problem]:
    """Serialization and Accept-Serialization: whether ``path`` may arrive as it is.

    A directory is an unserialized bag; a file is judged by its name's ending
    (``.tar``, ``.tar.gz``/``.tgz``, ``.zip``, ``.7z``). Never opens the file.
    """
    profile = load_profile() if profile is None else profile
    try:
        is_dir = stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError as exc:
        raise UnreadableInput(f"cannot read bag ({exc.strerror})", path) from None
    return _serialization_problems(is_dir, path.name, profile)


def _serialization_problems(is_dir: bool, name: str, profile: Profile) -> list[Problem]:
    if is_dir:
        if profile.serialization is Serialization.required:
            return [
                _problem(
                    "profile.serialization-required",
                    "",
                    "the profile requires a serialized bag; this is a directory",
                )
            ]
        return []
    if profile.serialization is Serialization.forbidden:
        return [
            _problem(
                "profile.serialization-forbidden",
                "",
                "the profile forbids serialized bags; this is a file",
            )
        ]
    mime = serialization_mime(name)
    if mime is None or not _mime_accepted(mime, profile.accept_serialization):
        kind = mime or "an unknown type"
        accepted = ", ".join(profile.accept_serialization) or "nothing"
        return [
            _problem(
                "profile.serialization-not-accepted",
                "",
                f"{name} is {kind}; the profile accepts {accepted}",
            )
        ]
    return []


def serialization_mime(name: str) -> str | None:
    """The MIME type of a serialized bag, from its file name; None if not recognised."""
    low = name.lower()
    return next((mime for suffix, mime in _SERIALIZED_SUFFIXES if low.endswith(suffix)), None)


def _mime_accepted(mime: str, accepted: Iterable[str]) -> bool:
    names = next((group for group in _MIME_ALIASES if mime in group), frozenset({mime}))
    return any(a.lower() in names for a in accepted)


def _check_version(inv: _Inventory, profile: Profile) -> tuple[list[Problem], str | None]:
    accepted = ", ".join(profile.accept_bagit_version)
    if not _is_regular(inv, BAGIT_TXT):
        message = f"{BAGIT_TXT} is missing, so the BagIt version is unknown (accepted: {accepted})"
        return [_problem("profile.bagit-version", BAGIT_TXT, message)], None
    try:
        version, encoding, _ = parse_bagit_txt(_read(inv, BAGIT_TXT))
    except OSError as exc:
        return [_problem("profile.unreadable", BAGIT_TXT, f"cannot read ({exc.strerror})")], None
    if version is None:
        message = f"no readable BagIt-Version (accepted: {accepted})"
        return [_problem("profile.bagit-version", BAGIT_TXT, message)], encoding
    if version not in profile.accept_bagit_version:
        message = f"BagIt-Version {version} is not accepted (accepted: {accepted})"
        return [_problem("profile.bagit-version", BAGIT_TXT, message)], encoding
    return [], encoding


def _check_bag_info(inv: _Inventory, profile: Profile, encoding: str) -> list[Problem]:
    if not _is_regular(inv, BAG_INFO_TXT):
        return [
            _problem(
                "profile.bag-info-missing",
                BAG_INFO_TXT,
                f"{BAG_INFO_TXT} is missing; the profile requires it",
            )
        ]
    try:
        parsed = parse_bag_info(_read(inv, BAG_INFO_TXT), encoding=encoding)
    except OSError as exc:
        return [_problem("profile.unreadable", BAG_INFO_TXT, f"cannot read ({exc.strerror})")]
    out: list[Problem] = []
    declared = parsed.get_all("BagIt-Profile-Identifier")
    if not declared:
        out.append(
            _problem(
                "profile.bag-info-missing",
                BAG_INFO_TXT,
                "BagIt-Profile-Identifier is missing (every profiled bag needs it)",
            )
        )
    elif not {profile.identifier, *ALIASES.get(profile.identifier, ())} & set(declared):
        out.append(
            _problem(
                "profile.identifier-mismatch",
                BAG_INFO_TXT,
                f"BagIt-Profile-Identifier is {', '.join(declared)}, "
                f"not this profile's {profile.identifier}",
            )
        )
    out += _check_rules(parsed, profile.bag_info, BAG_INFO_TXT, "profile.bag-info")
    return out


def _check_rules(
    parsed: ParsedBagInfo, rules: Iterable[tuple[str, TagRule]], path: str, code: str
) -> list[Problem]:
    """One tag file's fields against the profile's rules for them."""
    out: list[Problem] = []
    for label, rule in rules:
        values = parsed.get_all(label)
        if rule.required and not values:
            out.append(_problem(f"{code}-missing", path, f"required field {label} is missing"))
        elif rule.recommended and not values:
            message = f"recommended field {label} is missing"
            out.append(Problem(f"{code}-recommended", path, message, Severity.warning))
        if rule.values:
            out += [
                _problem(
                    f"{code}-value",
                    path,
                    f"{label} is {value!r}, not one of {', '.join(rule.values)}",
                )
                for value in values
                if value not in rule.values
            ]
        if not rule.repeatable and len(values) > 1:
            out.append(
                _problem(
                    f"{code}-repeated",
                    path,
                    f"{label} appears {len(values)} times but may appear once",
                )
            )
    return out


def _check_other_tags(inv: _Inventory, profile: Profile, encoding: str) -> list[Problem]:
    """Fields of tag files beyond bag-info.txt (APTrust's aptrust-info.txt, say)."""
    by_file: dict[str, list[tuple[str, TagRule]]] = {}
    for tag_file, label, rule in profile.other_tags:
        by_file.setdefault(tag_file, []).append((label, rule))
    out: list[Problem] = []
    for tag_file, rules in by_file.items():
        if not _is_regular(inv, tag_file):
            if any(rule.required for _, rule in rules):
                needed = ", ".join(label for label, rule in rules if rule.required)
                message = f"tag file {tag_file} is missing; the profile requires {needed} in it"
                out.append(_problem("profile.tag-file-required", tag_file, message))
            continue
        try:
            parsed = parse_bag_info(_read(inv, tag_file), encoding=encoding)
        except OSError as exc:
            out.append(_problem("profile.unreadable", tag_file, f"cannot read ({exc.strerror})"))
            continue
        out += _check_rules(parsed, rules, tag_file, "profile.tag-field")
    return out


def _check_manifests(inv: _Inventory, profile: Profile) -> list[Problem]:
    present: dict[ManifestKind, dict[str, str]] = {kind: {} for kind in ManifestKind}
    for name in inv.entries:
        parsed = parse_manifest_name(name)  # a name with "/" is never a manifest
        if parsed is not None:
            present[parsed[0]][parsed[1]] = name
    out: list[Problem] = []
    for kind, required, allowed, code, naming in (
        (
            ManifestKind.payload,
            profile.manifests_required,
            profile.manifests_allowed,
            "manifest",
            manifest_name,
        ),
        (
            ManifestKind.tag,
            profile.tag_manifests_required,
            profile.tag_manifests_allowed,
            "tagmanifest",
            tagmanifest_name,
        ),
    ):
        for alg in required:
            if alg not in present[kind]:
                known = DigestAlgorithm.from_name(alg)
                name = naming(known) if known else f"{kind.value}-{alg}.txt"
                out.append(
                    _problem(
                        f"profile.{code}-required",
                        name,
                        f"{name} is missing; the profile requires it",
                    )
                )
        if allowed is not None:
            out += [
                _problem(
                    f"profile.{code}-not-allowed",
                    name,
                    f"{alg} {kind.name} manifests are not allowed "
                    f"(allowed: {', '.join(allowed) or 'none'})",
                )
                for alg, name in sorted(present[kind].items())
                if alg not in allowed
            ]
    return out


def _check_fetch(inv: _Inventory, profile: Profile) -> list[Problem]:
    present = FETCH_TXT in inv.entries
    if present and not profile.allow_fetch:
        return [
            _problem(
                "profile.fetch-not-allowed",
                FETCH_TXT,
                "the profile does not allow fetch.txt: the bag must be complete",
            )
        ]
    if not present and profile.fetch_required:
        return [_problem("profile.fetch-required", FETCH_TXT, "the profile requires fetch.txt")]
    return []


def _payload(inv: _Inventory) -> dict[str, int]:
    """Payload entries -> size (-2 for what is not a regular file)."""
    return {p: inv.bag.files.get(p, -2) for p in inv.entries if p.startswith(f"{PAYLOAD_DIR}/")}


def _check_data_empty(inv: _Inventory, profile: Profile) -> list[Problem]:
    """Data-Empty true: no payload, or one zero-byte placeholder. False constrains nothing."""
    if not profile.data_empty:
        return []
    payload = _payload(inv)
    if not payload:
        return []
    if len(payload) == 1:
        ((_, size),) = payload.items()
        if size == 0:
            return []
    return [
        _problem(
            "profile.data-empty",
            PAYLOAD_DIR,
            f"the profile requires an empty data/ (at most one zero-byte file); "
            f"it holds {len(payload)} file(s)",
        )
    ]


def _is_tag_file(path: str) -> bool:
    """Tag files are all but the payload and the files BagIt itself defines at the top."""
    if path.startswith(f"{PAYLOAD_DIR}/"):
        return False
    return path not in (BAGIT_TXT, BAG_INFO_TXT, FETCH_TXT) and parse_manifest_name(path) is None


def _check_tag_files(inv: _Inventory, profile: Profile) -> list[Problem]:
    out = [
        _problem("profile.tag-file-required", entry, f"required tag file {entry} is missing")
        for entry in profile.tag_files_required
        if not _is_regular(inv, entry)
    ]
    out += [
        _problem(
            "profile.tag-file-not-allowed", path, f"tag file {path} is not allowed by the profile"
        )
        for path in sorted(inv.entries)
        if _is_tag_file(path) and not _matches_any(path, profile.tag_files_allowed)
    ]
    return out


def _check_payload_files(inv: _Inventory, profile: Profile) -> list[Problem]:
    payload = _payload(inv)
    out: list[Problem] = []
    for entry in profile.payload_files_required:
        if entry.endswith("/"):
            folder = entry.rstrip("/")
            present = folder in inv.bag.dirs and any(
                p.startswith(entry) for p in [*payload, *inv.bag.dirs]
            )
            what = f"required folder {entry} is missing or empty"
        else:
            present = _is_regular(inv, entry)
            what = f"required payload file {entry} is missing"
        if not present:
            out.append(_problem("profile.payload-file-required", entry, what))
    out += [
        _problem(
            "profile.payload-file-not-allowed",
            path,
            f"payload file {path} is not allowed by the profile",
        )
        for path in sorted(payload)
        if not _matches_any(path, profile.payload_files_allowed)
    ]
    return out
