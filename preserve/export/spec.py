"""What a repository profile is: its name, what it needs, and how it rewrites a bag.

Each repository module (aptrust, btr, archivematica, dspace_saf, chronopolis)
defines one :class:`ProfileSpec`; :mod:`preserve.export.profiles` runs them all
the same way, so reading, signing and serializing are written once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from preserve.errors import ExitCode, PreserveError
from preserve.export.serialize import ExportFormat
from preserve.export.staging import SourceBag, Staged
from preserve.settings import Institution

__all__ = ["MissingSetting", "Options", "ProfileSpec"]


class MissingSetting(PreserveError):
    """A profile needs an institution setting the archive lacks: nothing can be written."""

    exit_code = ExitCode.cannot_run


@dataclass(frozen=True)
class Options:
    """Everything a profile may take besides the bag: settings and command-line choices."""

    institution: Institution = field(default_factory=Institution)
    #: APTrust's Access (Restricted, Institution; Consortia is deprecated).
    access: str = "Institution"
    #: APTrust's Storage-Option (Standard, Glacier-OH, …).
    storage_option: str = "Standard"
    #: DSpace collection handles for the ``collections`` file (none: given at import).
    collections: tuple[str, ...] = ()
    #: A DSpace handle to keep for the item (only if given).
    handle: str | None = None
    #: A loaded signing key (:class:`preserve.keys.SigningKey`) to re-sign with.
    key: Any = None


@dataclass(frozen=True)
class ProfileSpec:
    """One repository's rules, as the exporter applies them."""

    name: str
    repository: str
    #: One line: what the output is and what it needs.
    summary: str
    #: Institution settings (``Institution`` attribute names) the profile cannot do without.
    needs: tuple[str, ...]
    #: Serializations accepted; empty means an unpacked folder.
    formats: tuple[ExportFormat, ...]
    #: Payload manifest algorithms; None keeps the source bag's.
    manifests: tuple[str, ...] | None
    #: Tag manifest algorithms; None keeps the payload manifests' algorithms.
    tagmanifests: tuple[str, ...] | None
    #: Where the copy's PREMIS document is (for the signature-dropped event).
    premis_path: str
    build: Callable[[SourceBag, Options], Staged]
    #: False for a non-BagIt output (DSpace's Simple Archive Format).
    bagit: bool = True
    #: The profile the copy claims in bag-info (BagIt-Profile-Identifier), if any.
    profile_identifier: str | None = None
    #: Why the repository would refuse this top-level folder name, or None (no rule: None).
    name_rule: Callable[[str], str | None] | None = None

    @property
    def default_suffix(self) -> str:
        return self.formats[0].suffix if self.formats else ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "repository": self.repository,
            "summary": self.summary,
            "needs": [f"institution.{n}" for n in self.needs],
            "serializations": [f.value for f in self.formats] or ["folder"],
            "manifests": list(self.manifests) if self.manifests else "as the bag",
            "tag_manifests": list(self.tagmanifests or self.manifests or ()) or "as the bag",
            "bagit": self.bagit,
            "profile_identifier": self.profile_identifier,
        }
