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

import functools
import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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

#: A BagIt profile is a few KB of JSON; a larger file is refused unread.
_MAX_PROFILE_BYTES = 4 << 20

__all__ = [
    "DEFAULT_PROFILE",
    "SPEC_VERSION",
    "Problem",
    "Profile",
    "Serialization",
    "Severity",
    "TagRule",
    "check_profile",
    "check_serialization",
    "load_profile",
    "profile_document_problems",
]

#: Our profile, as shipped in ``schemas/`` (installed as ``preserve.schemas``).
DEFAULT_PROFILE = "bagit-profile.json"
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

    def rule(self, label: str) -> TagRule | None:
        low = label.lower()
        return next((r for name, r in self.bag_info if name.lower() == low), None)


# --------------------------------------------------------------------------- loading


def load_profile(path_or_name: Path | str | None = None) -> Profile:
    """Read and check a profile: ours by default, a file name in ``preserve.schemas``, or a path.

    Raises :class:`UnreadableInput` if it cannot be read and :class:`InputError` if
    it is not a valid BagIt profile (every fault counted in the message).
    """
    name = DEFAULT_PROFILE if path_or_name is None else path_or_name
    text: str
    if isinstance(name, str) and "/" not in name and os.sep not in name:
        resource = resources.files("preserve.schemas").joinpath(name)
        if resource.is_file():
            text = resource.read_text(encoding="utf-8")
            return parse_profile(text, source=f"preserve.schemas/{name}")
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
    problems = profile_document_problems(doc)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError(f"not a valid BagIt profile: {problems[0]}{more}", source or None)
    return _build(doc, source)


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
    out: list[str] = [f"unknown key {k!r}" for k in doc if k not in _KNOWN_KEYS]
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
        if not isinstance(rule, dict):
            out.append(f"Bag-Info: {label} must be an object")
            continue
        out += [f"Bag-Info: {label}: unknown key {k!r}" for k in rule if k not in _RULE_KEYS]
        out += [
            f"Bag-Info: {label}: {k} must be true or false"
            for k in ("required", "repeatable")
            if k in rule and not isinstance(rule[k], bool)
        ]
        values = rule.get("values", [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            out.append(f"Bag-Info: {label}: values must be a list of strings")
        if not isinstance(rule.get("description", ""), str):
            out.append(f"Bag-Info: {label}: description must be a string")
    return out


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
    rules = tuple(
        (
            label,
            TagRule(
                required=rule.get("required", False),
                values=tuple(rule.get("values", ())),
                repeatable=rule.get("repeatable", True),
                description=rule.get("description", ""),
            ),
        )
        for label, rule in doc.get("Bag-Info", {}).items()
    )

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
    """What is in the bag, by bag-relative ``/`` path, found without following symlinks."""

    #: Every entry that is not a directory (regular files, symlinks, anything else).
    files: dict[str, os.stat_result]
    #: Real directories (never symlinks), excluding the bag root itself.
    dirs: frozenset[str]
    problems: tuple[Problem, ...]


def _inventory(root: Path) -> _Inventory:
    files: dict[str, os.stat_result] = {}
    dirs: set[str] = set()
    problems: list[Problem] = []
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            problems.append(
                _problem("profile.unreadable", prefix.rstrip("/"), f"cannot list ({exc.strerror})")
            )
            continue
        for entry in entries:
            rel = prefix + entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                problems.append(
                    _problem("profile.unreadable", rel, f"cannot stat ({exc.strerror})")
                )
                continue
            if stat.S_ISDIR(st.st_mode):
                dirs.add(rel)
                stack.append((Path(entry.path), rel + "/"))
            else:
                files[rel] = st
    return _Inventory(files, frozenset(dirs), tuple(problems))


def _read_nofollow(path: Path) -> bytes:
    """A tag file's bytes by fsio's one rule (no link, no FIFO, bounded); else OSError."""
    return read_limited(path, DEFAULT_LIMITS.file_limit(path.name)[0])


def _is_regular(inv: _Inventory, rel: str) -> bool:
    st = inv.files.get(rel)
    return st is not None and stat.S_ISREG(st.st_mode)


def check_profile(bag_dir: Path, profile: Profile | None = None) -> list[Problem]:
    """Every way the bag in ``bag_dir`` departs from ``profile`` (ours by default).

    Never writes and never follows a symlink. Raises :class:`UnreadableInput` only
    when ``bag_dir`` is not a directory at all; anything else is a Problem.
    """
    profile = load_profile() if profile is None else profile
    try:
        st = os.lstat(bag_dir)
    except OSError as exc:
        raise UnreadableInput(f"cannot read bag ({exc.strerror})", bag_dir) from None
    if not stat.S_ISDIR(st.st_mode):
        raise UnreadableInput("not a bag directory", bag_dir)
    inv = _inventory(bag_dir)
    problems = list(inv.problems)
    problems += check_serialization(bag_dir, profile)
    version_problems, encoding = _check_version(bag_dir, inv, profile)
    problems += version_problems
    problems += _check_bag_info(bag_dir, inv, profile, encoding or "utf-8")
    problems += _check_manifests(inv, profile)
    problems += _check_fetch(inv, profile)
    problems += _check_data_empty(inv, profile)
    problems += _check_tag_files(inv, profile)
    problems += _check_payload_files(inv, profile)
    return problems


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
    mime = serialization_mime(path.name)
    if mime is None or not _mime_accepted(mime, profile.accept_serialization):
        kind = mime or "an unknown type"
        accepted = ", ".join(profile.accept_serialization) or "nothing"
        return [
            _problem(
                "profile.serialization-not-accepted",
                "",
                f"{path.name} is {kind}; the profile accepts {accepted}",
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


def _check_version(
    root: Path, inv: _Inventory, profile: Profile
) -> tuple[list[Problem], str | None]:
    accepted = ", ".join(profile.accept_bagit_version)
    if not _is_regular(inv, BAGIT_TXT):
        message = f"{BAGIT_TXT} is missing, so the BagIt version is unknown (accepted: {accepted})"
        return [_problem("profile.bagit-version", BAGIT_TXT, message)], None
    try:
        version, encoding, _ = parse_bagit_txt(_read_nofollow(root / BAGIT_TXT))
    except OSError as exc:
        return [_problem("profile.unreadable", BAGIT_TXT, f"cannot read ({exc.strerror})")], None
    if version is None:
        message = f"no readable BagIt-Version (accepted: {accepted})"
        return [_problem("profile.bagit-version", BAGIT_TXT, message)], encoding
    if version not in profile.accept_bagit_version:
        message = f"BagIt-Version {version} is not accepted (accepted: {accepted})"
        return [_problem("profile.bagit-version", BAGIT_TXT, message)], encoding
    return [], encoding


def _check_bag_info(root: Path, inv: _Inventory, profile: Profile, encoding: str) -> list[Problem]:
    if not _is_regular(inv, BAG_INFO_TXT):
        return [
            _problem(
                "profile.bag-info-missing",
                BAG_INFO_TXT,
                f"{BAG_INFO_TXT} is missing; the profile requires it",
            )
        ]
    try:
        parsed = parse_bag_info(_read_nofollow(root / BAG_INFO_TXT), encoding=encoding)
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
    elif profile.identifier not in declared:
        out.append(
            _problem(
                "profile.identifier-mismatch",
                BAG_INFO_TXT,
                f"BagIt-Profile-Identifier is {', '.join(declared)}, "
                f"not this profile's {profile.identifier}",
            )
        )
    for label, rule in profile.bag_info:
        values = parsed.get_all(label)
        if rule.required and not values:
            out.append(
                _problem(
                    "profile.bag-info-missing", BAG_INFO_TXT, f"required field {label} is missing"
                )
            )
        if rule.values:
            out += [
                _problem(
                    "profile.bag-info-value",
                    BAG_INFO_TXT,
                    f"{label} is {value!r}, not one of {', '.join(rule.values)}",
                )
                for value in values
                if value not in rule.values
            ]
        if not rule.repeatable and len(values) > 1:
            out.append(
                _problem(
                    "profile.bag-info-repeated",
                    BAG_INFO_TXT,
                    f"{label} appears {len(values)} times but may appear once",
                )
            )
    return out


def _check_manifests(inv: _Inventory, profile: Profile) -> list[Problem]:
    present: dict[ManifestKind, dict[str, str]] = {kind: {} for kind in ManifestKind}
    for name in inv.files:
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
    present = FETCH_TXT in inv.files
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


def _payload(inv: _Inventory) -> dict[str, os.stat_result]:
    return {p: st for p, st in inv.files.items() if p.startswith(f"{PAYLOAD_DIR}/")}


def _check_data_empty(inv: _Inventory, profile: Profile) -> list[Problem]:
    """Data-Empty true: no payload, or one zero-byte placeholder. False constrains nothing."""
    if not profile.data_empty:
        return []
    payload = _payload(inv)
    if not payload:
        return []
    if len(payload) == 1:
        ((_, st),) = payload.items()
        if stat.S_ISREG(st.st_mode) and st.st_size == 0:
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
        for path in sorted(inv.files)
        if _is_tag_file(path) and not _matches_any(path, profile.tag_files_allowed)
    ]
    return out


def _check_payload_files(inv: _Inventory, profile: Profile) -> list[Problem]:
    payload = _payload(inv)
    out: list[Problem] = []
    for entry in profile.payload_files_required:
        if entry.endswith("/"):
            folder = entry.rstrip("/")
            present = folder in inv.dirs and any(p.startswith(entry) for p in [*payload, *inv.dirs])
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
