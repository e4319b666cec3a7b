"""Chronopolis: an unpacked BagIt bag with SHA-256 manifests only.

Chronopolis ingests bags over rsync and checks them with SHA-256 (ACE audit);
it takes ``manifest-sha256.txt`` and ``tagmanifest-sha256.txt`` and nothing
else, so our sha512 manifests are left out. The bag no longer meets our own
profile (which requires sha512), so it stops claiming it.
"""

from __future__ import annotations

from preserve.export.spec import Options, ProfileSpec
from preserve.export.staging import SourceBag, Staged, staged_from


def build(source: SourceBag, options: Options) -> Staged:
    staged = staged_from(source)
    staged.set_info("BagIt-Profile-Identifier", None)
    if options.institution.name:
        staged.set_info("Source-Organization", options.institution.name)
    return staged


SPEC = ProfileSpec(
    name="chronopolis",
    repository="Chronopolis",
    summary="unpacked bag (a folder), manifest-sha256.txt and tagmanifest-sha256.txt only",
    needs=(),
    formats=(),
    manifests=("sha256",),
    tagmanifests=("sha256",),
    premis_path="premis.xml",
    build=build,
)
