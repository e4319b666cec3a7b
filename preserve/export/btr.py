"""Beyond the Repository (BTR) BagIt profile 1.0, which APTrust, Chronopolis and others take.

BTR requires Source-Organization, Bagging-Date and Payload-Oxum and recommends
Organization-Address, Contact-Email, Internal-Sender-Identifier,
Internal-Sender-Description, Bag-Producing-Organization and Bag-Count; the
institution's details come from the archive's settings. The payload is as it is.
"""

from __future__ import annotations

from preserve.export.serialize import ExportFormat
from preserve.export.spec import Options, ProfileSpec
from preserve.export.staging import SourceBag, Staged, staged_from

#: BTR 1.0's own identifier (its profile's BagIt-Profile-Info), which APTrust's ingest also uses.
PROFILE_IDENTIFIER = "https://github.com/dpscollaborative/btr_bagit_profile/releases/download/1.0/btr-bagit-profile.json"


def build(source: SourceBag, options: Options) -> Staged:
    inst = options.institution
    staged = staged_from(source)
    staged.set_info("BagIt-Profile-Identifier", PROFILE_IDENTIFIER)
    staged.set_info("Source-Organization", inst.name)
    staged.set_info("Organization-Address", inst.address)
    if inst.contact_name:
        staged.set_info("Contact-Name", inst.contact_name)
    staged.set_info("Contact-Email", inst.contact_email)
    staged.set_info("External-Identifier", source.identifier)
    staged.set_info("Internal-Sender-Identifier", source.identifier)
    staged.set_info("Bag-Producing-Organization", inst.name)
    staged.set_info("Bag-Count", "1 of 1")
    return staged


SPEC = ProfileSpec(
    name="btr",
    repository="Beyond the Repository (BTR 1.0)",
    summary="tar (or tar.gz, zip) bag with the BTR profile identifier and its recommended "
    "bag-info fields from the institution settings",
    needs=("name", "address", "contact_email"),
    formats=(ExportFormat.tar, ExportFormat.tar_gz, ExportFormat.zip),
    manifests=None,
    tagmanifests=None,
    premis_path="premis.xml",
    build=build,
    profile_identifier=PROFILE_IDENTIFIER,
)
