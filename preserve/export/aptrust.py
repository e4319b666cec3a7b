"""APTrust: a tarred bag with an md5 manifest and ``aptrust-info.txt``.

APTrust's ingest (preservation-services, profile v2.2/v2.3, and its user guide)
takes only ``.tar`` files that untar to one folder named as the file; payload
and tag manifests in md5 (required) and sha256 (v2.2 allows only these two;
v2.3 also sha1 and sha512, so md5 + sha256 is what both take); an
``aptrust-info.txt`` with a non-empty Title, an Access of Restricted,
Institution or Consortia and a Storage-Option from its list (Standard when
absent); and file names that hold no control character, do not begin with a
dash and are at most 255 characters long.
"""

from __future__ import annotations

import re

from preserve.bagit_format import format_bag_info
from preserve.errors import InputError
from preserve.export.serialize import ExportFormat
from preserve.export.spec import Options, ProfileSpec
from preserve.export.staging import SourceBag, Staged, staged_from

PROFILE_IDENTIFIER = "https://raw.githubusercontent.com/APTrust/preservation-services/master/profiles/aptrust-v2.3.json"
ACCESS_VALUES = ("Consortia", "Institution", "Restricted")
STORAGE_OPTIONS = (
    "Glacier-Deep-OH",
    "Glacier-Deep-OR",
    "Glacier-Deep-VA",
    "Glacier-OH",
    "Glacier-OR",
    "Glacier-VA",
    "Standard",
    "Wasabi-OR",
    "Wasabi-TX",
    "Wasabi-VA",
)
INFO_FILE = "aptrust-info.txt"
MAX_NAME = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def name_problem(name: str) -> str | None:
    """Why one file or folder name breaks APTrust's rule, or None if it is legal."""
    if not name:
        return "empty"
    if len(name) > MAX_NAME:
        return f"longer than {MAX_NAME} characters"
    if name.startswith("-"):
        return "begins with a dash"
    if _CONTROL.search(name):
        return "holds a control character (newline, tab, bell…)"
    return None


def legal_name(name: str) -> str:
    """The name made legal: control characters become ``_``, a leading dash too."""
    fixed = _CONTROL.sub("_", name)
    if fixed.startswith("-"):
        fixed = "_" + fixed[1:]
    return fixed


def build(source: SourceBag, options: Options) -> Staged:
    if options.access not in ACCESS_VALUES:
        raise InputError(
            f"APTrust Access must be one of {', '.join(ACCESS_VALUES)}", options.access
        )
    if options.storage_option not in STORAGE_OPTIONS:
        raise InputError(
            f"APTrust Storage-Option must be one of {', '.join(STORAGE_OPTIONS)}",
            options.storage_option,
        )
    staged = staged_from(source)
    for path in sorted(staged.files):
        parts = path.split("/")
        if any(len(p) > MAX_NAME for p in parts):
            raise InputError(
                f"{path}: a name longer than {MAX_NAME} characters; APTrust refuses it"
            )
        fixed = "/".join(legal_name(p) for p in parts)
        if fixed != path:
            staged.move(path, fixed, "APTrust file-name rule")
    staged.set_info("BagIt-Profile-Identifier", PROFILE_IDENTIFIER)
    staged.set_info("Source-Organization", options.institution.name)
    title = " ".join(str(source.record.get("title", "")).split()) or source.identifier
    fields = [("Title", title)]
    description = source.record.get("description")
    if isinstance(description, str) and description.strip():
        fields.append(("Description", " ".join(description.split())))
    fields += [("Access", options.access), ("Storage-Option", options.storage_option)]
    staged.add(INFO_FILE, format_bag_info(fields), "APTrust's required tag file")
    return staged


SPEC = ProfileSpec(
    name="aptrust",
    repository="APTrust",
    summary=".tar only; md5 and sha256 manifests and tag manifests; aptrust-info.txt "
    "(Title, Access, Storage-Option); Source-Organization from institution.name",
    needs=("name",),
    formats=(ExportFormat.tar,),
    manifests=("md5", "sha256"),
    tagmanifests=("md5", "sha256"),
    premis_path="premis.xml",
    build=build,
    profile_identifier=PROFILE_IDENTIFIER,
    name_rule=name_problem,
)
