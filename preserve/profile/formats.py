"""BagIt profiles as they are published, read into the shape of BagIt Profiles 1.4.0.

Real profiles do not all follow the specification to the letter: the official
Beyond the Repository profile marks fields ``"recommended"``, Duraspace's APTrust
profile puts aptrust-info.txt's fields under ``"Other-Info"``, and APTrust's own
profiles (in APTrust/dart and APTrust/preservation-services) are DART documents:
camelCase keys and a flat list of ``tags``, each naming its tag file. This module
turns each into a specification-shaped document plus the tag rules of other tag
files, and lists, as warnings, whatever it reads but does not enforce, so a
profile from the field loads and judges bags instead of being refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: DART's BagItProfileInfo keys -> the specification's.
_DART_INFO = {
    "bagItProfileIdentifier": "BagIt-Profile-Identifier",
    "bagItProfileVersion": "BagIt-Profile-Version",
    "contactEmail": "Contact-Email",
    "contactName": "Contact-Name",
    "contactPhone": "Contact-Phone",
    "externalDescription": "External-Description",
    "sourceOrganization": "Source-Organization",
    "version": "Version",
}
#: DART's top-level keys -> the specification's (same meaning, same value shape).
_DART_KEYS = {
    "acceptBagItVersion": "Accept-BagIt-Version",
    "acceptSerialization": "Accept-Serialization",
    "allowFetchTxt": "Allow-Fetch.txt",
    "manifestsRequired": "Manifests-Required",
    "manifestsAllowed": "Manifests-Allowed",
    "tagManifestsRequired": "Tag-Manifests-Required",
    "tagManifestsAllowed": "Tag-Manifests-Allowed",
    "tagFilesRequired": "Tag-Files-Required",
    "tagFilesAllowed": "Tag-Files-Allowed",
    "payloadFilesRequired": "Payload-Files-Required",
    "payloadFilesAllowed": "Payload-Files-Allowed",
    "serialization": "Serialization",
}
#: DART keys about the editor, not about bags: dropped without a word.
_DART_EDITOR_KEYS = frozenset(
    {
        "id",
        "name",
        "description",
        "errors",
        "userCanDelete",
        "isBuiltIn",
        "required",
        "baseProfileId",
    }
)


@dataclass
class Converted:
    """A profile document in the specification's shape, and what was read but not kept."""

    doc: dict[str, Any]
    #: (tag file, label, rule document) for tag files other than bag-info.txt.
    other_tags: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: DART's ``tarDirMustMatchName``: a serialized bag's top folder is named as its file.
    tar_dir_must_match_name: bool = False


def is_dart(doc: Mapping[str, Any]) -> bool:
    """Whether ``doc`` is a DART-format profile (``bagItProfileInfo`` and ``tags``)."""
    return "bagItProfileInfo" in doc and "BagIt-Profile-Info" not in doc


def convert(doc: Mapping[str, Any]) -> Converted:
    """The specification-shaped form of any profile we can read (a copy; ``doc`` is kept)."""
    if is_dart(doc):
        return _from_dart(doc)
    out = Converted(dict(doc))
    other = out.doc.pop("Other-Info", None)
    if other is not None:
        _other_info(other, out)
    return out


def _other_info(other: object, out: Converted) -> None:
    """Duraspace's ``Other-Info``: ``[{"APTrust-Info": {label: rule}}]`` -> aptrust-info.txt."""
    groups = other if isinstance(other, list) else [other]
    for group in groups:
        if not isinstance(group, dict):
            out.warnings.append("Other-Info: an entry that is not an object was ignored")
            continue
        for name, rules in group.items():
            tag_file = f"{str(name).lower()}.txt"
            if not isinstance(rules, dict):
                out.warnings.append(f"Other-Info: {name} is not an object; ignored")
                continue
            for label, rule in rules.items():
                out.other_tags.append(
                    (tag_file, str(label), rule if isinstance(rule, dict) else {})
                )
            out.warnings.append(
                f"Other-Info: read as the fields of {tag_file} (a Duraspace extension)"
            )


def _from_dart(doc: Mapping[str, Any]) -> Converted:
    info = {
        _DART_INFO[k]: v
        for k, v in (doc.get("bagItProfileInfo") or {}).items()
        if k in _DART_INFO and isinstance(v, str) and v.strip()
    }
    spec: dict[str, Any] = {"BagIt-Profile-Info": info}
    out = Converted(spec, warnings=["a DART-format profile, converted to BagIt Profiles 1.4.0"])
    for key, value in doc.items():
        if key in _DART_KEYS:
            if isinstance(value, list):
                value = [v for v in value if v != ""]  # DART lists hold "" placeholders
            if value == "" or value is None:
                continue
            spec[_DART_KEYS[key]] = value
        elif key == "tarDirMustMatchName":
            out.tar_dir_must_match_name = value is True
        elif key not in _DART_EDITOR_KEYS and key not in ("bagItProfileInfo", "tags"):
            out.warnings.append(f"unknown DART key {key!r}: not enforced")
    bag_info: dict[str, Any] = {}
    for tag in doc.get("tags") or []:
        if not isinstance(tag, dict) or not tag.get("tagName"):
            out.warnings.append("a tag without tagName was ignored")
            continue
        tag_file = str(tag.get("tagFile") or "bag-info.txt")
        label = str(tag["tagName"])
        rule: dict[str, Any] = {"required": bool(tag.get("required", False))}
        values = tag.get("values") or []
        if isinstance(values, list) and values:
            rule["values"] = [str(v) for v in values]
        if isinstance(tag.get("help"), str):
            rule["description"] = tag["help"]
        if tag_file == "bag-info.txt":
            bag_info[label] = rule
        elif tag_file == "bagit.txt":
            continue  # BagIt-Version is Accept-BagIt-Version; the encoding is RFC 8493's
        else:
            out.other_tags.append((tag_file, label, rule))
    spec["Bag-Info"] = bag_info
    return out
