"""Checks that only apply to bags preserve wrote (on top of the BagIt checks).

A bag that declares our profile promises more than RFC 8493 asks: it conforms to
``schemas/bagit-profile.json``, its metadata passes the statement schema and
agrees with bag-info and the folder name, and its PDF meets the PDF/A level it
claims. A foreign bag (no claim of our profile) gets none of these checks.

Every check is read-only and never follows a symbolic link; together they cost
a few milliseconds a bag (one small JSON file and one PDF parsed), so
``verify`` and ``audit`` run them by default.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from preserve.bagit_format import BAG_INFO_TXT, Problem, Severity, parse_bag_info
from preserve.errors import PreserveError
from preserve.fsio import archive_of, read_regular
from preserve.verify.access import BagFiles, open_bag_files, read_listed

if TYPE_CHECKING:
    from preserve.profile import Profile
    from preserve.signing import Trust

# The profile, metadata (jsonschema), PDF/A (pikepdf) and signature (cryptography)
# checks are imported where they run: a foreign, unsigned bag needs none of them, and
# importing them cost ``preserve verify`` about 0.3 s of start-up.

#: ``signing.SIGNATURES_DIR``, repeated so that telling an unsigned bag does not import
#: the signature code (tests/test_startup.py keeps the two equal).
SIGNATURES_DIR = "signatures"

#: Larger metadata or PDF files are reported rather than parsed (a hostile bag).
MAX_METADATA_BYTES = 1024 * 1024
MAX_PDF_BYTES = 512 * 1024 * 1024


def claims_our_profile(bag: Path | BagFiles) -> bool:
    """Whether the bag's bag-info declares a version of our profile (any we published)."""
    if isinstance(bag, (str, Path)):
        data = read_regular(Path(bag) / BAG_INFO_TXT, MAX_METADATA_BYTES)
    else:
        data = read_listed(bag, BAG_INFO_TXT, MAX_METADATA_BYTES)
    return _claimed(data) is not None


#: The claim's label, lower-cased, as bytes: see :func:`_claimed`.
_CLAIM_LABEL = b"bagit-profile-identifier"


def _claimed(info: bytes | None) -> str | None:
    """The profile file a ``bag-info.txt`` (bytes as read) claims, or None.

    Most bags checked are foreign and name no profile: a bag-info whose lower-cased
    bytes do not hold the label cannot have it (labels compare case-insensitively,
    and no non-ASCII character lower-cases to this ASCII label), so such a bag is
    told apart without parsing its bag-info a second time or importing the
    profile code (~10 ms of ``preserve verify``'s start-up).
    """
    if info is None or _CLAIM_LABEL not in info.lower():
        return None
    from preserve.profile import claimed_profile

    return claimed_profile(parse_bag_info(info).get_all("BagIt-Profile-Identifier"))


@dataclass(frozen=True)
class PreserveChecks:
    """The checks beyond RFC 8493, as one picklable ``ExtraCheck`` for ``verify_bag``.

    A bag that claims our profile gets the profile (the version it claims), metadata
    and PDF/A checks, on a directory or a serialized bag alike (read through
    :class:`~preserve.verify.access.BagFiles`); any signed bag (ours or not) gets its
    signatures and timestamps checked, against ``trust`` or, when None, the trust of
    the archive the bag sits in.
    """

    trust: Trust | None = None
    #: Bag-relative paths whose content the BagIt checks already found wrong (digest
    #: mismatch): their content is not parsed (``check.skipped``), so a file swapped
    #: for a decompression bomb costs nothing beyond its digest.
    unsound: frozenset[str] = frozenset()
    #: ``verify_bag`` hands this check the listed bag (directory or tar/zip), not a path.
    reads_bag_files: bool = True
    #: Whether the bag must be signed (``signature.missing`` if it has no
    #: ``signatures/``); None: as the settings of the archive the bag sits in say
    #: (``[signing] required``), not required for a bag in no archive.
    require_signature: bool | None = None

    def __call__(self, bag: Path | BagFiles) -> Iterator[Problem]:
        if isinstance(bag, (str, Path)):
            with open_bag_files(Path(bag)) as files:
                yield from list(self(files))
            return
        claimed = _claimed(read_listed(bag, BAG_INFO_TXT, MAX_METADATA_BYTES))
        if claimed is not None:
            from preserve.profile import check_profile, load_profile

            yield from check_profile(bag, load_profile(claimed))
            yield from _check_metadata(bag, self.unsound)
            yield from _check_xml(bag, self.unsound)
            yield from _check_pdfs(bag, self.unsound)
        # ``signing.is_signed``'s test, made before importing the signature code (a tar
        # may list a folder's files without the folder itself).
        if any(SIGNATURES_DIR in group for group in (bag.dirs, bag.others, bag.files)) or (
            bag.root_path() is None
            and any(p.startswith(f"{SIGNATURES_DIR}/") for p in bag.files.keys() | bag.others)
        ):
            from preserve.signing import check_signatures

            yield from check_signatures(bag, self.trust)  # directory, tar or zip alike
        yield from _check_required_signature(bag, self.require_signature)

    def with_unsound(self, paths: frozenset[str]) -> PreserveChecks:
        """These checks, skipping the content of ``paths`` (called by ``verify_bag``)."""
        return replace(self, unsound=paths)

    @property
    def __name__(self) -> str:
        return "preserve checks"


@dataclass(frozen=True)
class ProfileCheck:
    """Any bag against any BagIt profile (``preserve verify --profile``), as an ``ExtraCheck``.

    Every violation is reported, not only the first; the bag is read through
    :class:`~preserve.verify.access.BagFiles`, so a tar or zip is checked streamed.
    """

    profile: Profile
    reads_bag_files: bool = True

    def __call__(self, bag: Path | BagFiles) -> list[Problem]:
        from preserve.profile import check_profile

        return check_profile(bag, self.profile)

    @property
    def __name__(self) -> str:
        return f"profile {self.profile.identifier}"


#: :class:`PreserveChecks` with the archive's own trust (what ``audit`` uses).
check_our_bag = PreserveChecks()


def bag_name(bag_dir: Path) -> str:
    """The bag's folder name, also for ``.`` or ``..`` (``Path('.').name`` is '')."""
    return Path(os.path.realpath(bag_dir)).name


def _check_required_signature(bag: BagFiles, required: bool | None) -> Iterator[Problem]:
    """``signature.missing``: a bag that must be signed has no ``signatures/``.

    Deleting the whole folder otherwise makes a signed bag look merely unsigned;
    the ledger catches that for bags it saw signed (``ledger.signature-missing``),
    this catches it wherever signing is required, ledger or not.
    """
    root = bag.root_path()
    if required is None:
        archive = archive_of(root) if root is not None else None
        if archive is None:
            return
        from preserve.settings import load_settings

        try:
            required = load_settings(archive).signing_required
        except PreserveError as exc:
            yield Problem(
                "signature.requirement-unknown",
                SIGNATURES_DIR,
                f"the archive's settings cannot be read ({exc.one_line()}): "
                "whether this bag must be signed is unknown",
            )
            return
    if not required:
        return  # nothing to look at (the common case: no lstat per bag)
    signed = (
        os.path.lexists(root / SIGNATURES_DIR)
        if root is not None
        else any(p.startswith(f"{SIGNATURES_DIR}/") for p in bag.files.keys() | bag.others)
    )
    if not signed:
        yield Problem(
            "signature.missing",
            SIGNATURES_DIR,
            "every bag must be signed ([signing] required, or --require-signature), "
            "but this bag has no signatures/ folder: it was never signed, or it was removed",
        )


def _skipped(rel: str) -> Problem:
    return Problem(
        "check.skipped",
        rel,
        "content not checked: it differs from the manifest (reported above)",
        Severity.warning,
    )


def _check_metadata(
    bag: Path | BagFiles, unsound: frozenset[str] = frozenset()
) -> Iterator[Problem]:
    if isinstance(bag, (str, Path)):
        with open_bag_files(Path(bag)) as files:
            yield from list(_check_metadata(files, unsound))
        return
    rel = "data/metadata/statement.json"
    if rel in unsound:
        yield _skipped(rel)
        return
    data = read_listed(bag, rel, MAX_METADATA_BYTES)
    if data is None:
        return  # the profile check reports a missing or odd file
    import json  # only for a bag that claims our profile

    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        yield Problem("metadata.unreadable", rel, f"not valid UTF-8 JSON: {exc}")
        return
    except RecursionError:
        yield Problem("metadata.unreadable", rel, "JSON nested too deeply to be a metadata record")
        return
    if not isinstance(record, dict):
        yield Problem("metadata.invalid", rel, "not a JSON object")
        return
    from preserve.metadata import check_record

    for problem in check_record(record):
        yield Problem("metadata.invalid", rel, problem.one_line())
    identifier = record.get("identifier")
    name = bag.bag_name()
    info_data = read_listed(bag, BAG_INFO_TXT, MAX_METADATA_BYTES) or b""
    # An export named for its file declares that name (preserve.export.plain).
    if identifier != name and name not in parse_bag_info(info_data).get_all(
        "Internal-Sender-Identifier"
    ):
        yield Problem(
            "metadata.identifier-mismatch",
            rel,
            f"identifier {identifier!r} differs from the bag's folder name {name!r}",
        )
    external = parse_bag_info(info_data).get_all("External-Identifier")
    if external and identifier not in external:
        yield Problem(
            "metadata.identifier-mismatch",
            BAG_INFO_TXT,
            f"External-Identifier {external[0]!r} differs from the metadata's {identifier!r}",
        )


#: The XML tag files preserve writes: a repository ingesting the bag parses them.
XML_TAG_FILES = ("premis.xml", f"{SIGNATURES_DIR}/premis.xml")
MAX_XML_BYTES = 64 * 1024 * 1024


def _check_xml(bag: BagFiles, unsound: frozenset[str] = frozenset()) -> Iterator[Problem]:
    """``xml.malformed``: an XML tag file of ours that no XML parser reads (a control
    character written raw, say); its digest may still match, so only parsing tells."""
    import xml.etree.ElementTree as ET

    for rel in XML_TAG_FILES:
        if rel not in bag.files or rel in unsound:
            continue
        data = read_listed(bag, rel, MAX_XML_BYTES)
        if data is None:
            continue
        try:
            ET.fromstring(data)
        except ET.ParseError as exc:
            yield Problem("xml.malformed", rel, f"not well-formed XML: {exc}")


def _check_pdfs(bag: Path | BagFiles, unsound: frozenset[str] = frozenset()) -> Iterator[Problem]:
    if isinstance(bag, (str, Path)):
        with open_bag_files(Path(bag)) as files:
            yield from list(_check_pdfs(files, unsound))
        return
    from preserve.pdfa import check_pdfa

    for rel in sorted(p for p in bag.files if p.startswith("data/pdfa/") and p.count("/") == 2):
        if rel in unsound:
            yield _skipped(rel)
            continue
        data = read_listed(bag, rel, MAX_PDF_BYTES)
        if data is None:
            continue
        for problem in check_pdfa(data):
            yield Problem(problem.code, rel, problem.message)
        yield from _check_associated(bag, rel, data)


#: Where the copy's associated files must be, by their relationship: the statement as
#: received (Source) and the text taken out of it (Data), by name (preserve.render's
#: associated_files); statement.json is the record, checked as such.
_ASSOCIATED_DIRS = {"Source": "data/original/", "Data": "data/extracted/"}
#: The metadata record a copy embeds (Data), and the bag's file it must be.
_RECORD_NAME = "statement.json"
_RECORD = "data/metadata/statement.json"
#: The largest file a copy embeds as received (a DOCX or an ODT, 64 MiB): decoded no further.
MAX_ASSOCIATED_BYTES = 64 * 1024 * 1024


def _check_associated(bag: BagFiles, rel: str, pdf: bytes) -> Iterator[Problem]:
    """``pdfa.associated-file-differs`` (a warning: the bag is whole, its copy says
    something untrue): a file the PDF/A-3 copy embeds as the statement as received
    (AFRelationship Source) or as its extracted text (Data) that is not, byte for byte,
    the bag's file of that name (``data/original/x.html``, ``data/extracted/x.txt``; a
    name as received that the bag made portable is found under the portable name; the
    embedded ``statement.json``, the bag's ``data/metadata/statement.json``).
    Copies made before preserve embedded each file as what it is held a page's text
    under the page's name (``x.html``, text/plain, Source): they are told here, and
    the message names the bag file the embedded bytes are."""
    from preserve.pdfa import embedded_files
    from preserve.safe_names import portable_name

    def read(path: str) -> bytes | None:
        return read_listed(bag, path, MAX_ASSOCIATED_BYTES)

    for found in embedded_files(pdf, MAX_ASSOCIATED_BYTES):
        folder = _ASSOCIATED_DIRS.get(found.relationship)
        if folder is None:
            continue
        if found.relationship == "Data" and found.filename == _RECORD_NAME:
            names = {_RECORD: None}  # the metadata record: the bag's own
        else:
            names = dict.fromkeys(
                folder + n for n in (found.filename, portable_name(found.filename))
            )
        held = [path for path in names if path in bag.files]
        if found.data is not None and any(read(path) == found.data for path in held):
            continue
        where = next(iter(held or names))
        if not held:
            why = f"the bag has no {where}"
        elif found.data is None:
            why = f"cannot be compared with {where} (a filter preserve does not decode)"
        else:
            same = next(
                (
                    p
                    for p in sorted(bag.files)
                    if p.startswith(tuple(_ASSOCIATED_DIRS.values()))
                    and bag.files[p] == len(found.data)
                    and read(p) == found.data
                ),
                None,
            )
            why = f"is not {where}" + (f": its bytes are {same}" if same else "")
        yield Problem(
            "pdfa.associated-file-differs",
            rel,
            f"embedded {found.filename!r} ({found.relationship}, {found.mime_type or 'no type'})"
            f" {why}: the copy does not carry the file it names",
            Severity.warning,
        )
