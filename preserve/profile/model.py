"""A loaded BagIt profile's records, and the names of our own and the field's profiles."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

#: A BagIt profile is a few KB of JSON; a larger file is refused unread.
_MAX_PROFILE_BYTES = 4 << 20


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
