"""Check a bag (folder or serialized, read through BagFiles) against every key of a profile."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

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
    tagmanifest_name,
)
from preserve.errors import UnreadableInput
from preserve.profile.globs import _matches_any
from preserve.profile.loading import load_profile
from preserve.profile.model import (
    _MIME_ALIASES,
    _SERIALIZED_SUFFIXES,
    ALIASES,
    Profile,
    Serialization,
    TagRule,
)
from preserve.verify.access import BagFiles, open_bag_files, read_errors


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
    except read_errors() as exc:
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
