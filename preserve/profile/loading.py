"""Load a profile (ours, a named one, a file, DART's format); check the document key by key."""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from preserve.bagit_format import (
    PAYLOAD_DIR,
    safe_relpath,
)
from preserve.errors import InputError, UnreadableInput
from preserve.fsio import RefusedFile, read_limited
from preserve.profile.formats import convert
from preserve.profile.globs import _covers_any, _matches_any
from preserve.profile.model import (
    _MAX_PROFILE_BYTES,
    _UNVERSIONED_SPEC,
    DEFAULT_PROFILE,
    NAMED_PROFILES,
    Profile,
    Serialization,
    TagRule,
)


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
