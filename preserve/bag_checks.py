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

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from preserve.bagging import PROFILE_IDENTIFIER
from preserve.bagit_format import BAG_INFO_TXT, Problem, Severity, parse_bag_info
from preserve.errors import PreserveError
from preserve.fsio import read_regular
from preserve.metadata import check_record
from preserve.pdfa import check_pdfa
from preserve.profile import check_profile, load_profile
from preserve.signing import SIGNATURES_DIR, Trust, archive_of, check_signatures, is_signed

#: Larger metadata or PDF files are reported rather than parsed (a hostile bag).
MAX_METADATA_BYTES = 1024 * 1024
MAX_PDF_BYTES = 512 * 1024 * 1024


def claims_our_profile(bag_dir: Path) -> bool:
    data = read_regular(bag_dir / BAG_INFO_TXT, MAX_METADATA_BYTES)
    if data is None:
        return False
    info = parse_bag_info(data)
    return PROFILE_IDENTIFIER in info.get_all("BagIt-Profile-Identifier")


@dataclass(frozen=True)
class PreserveChecks:
    """The checks beyond RFC 8493, as one picklable ``ExtraCheck`` for ``verify_bag``.

    A bag that claims our profile gets the profile, metadata and PDF/A checks;
    any signed bag (ours or not) gets its signatures and timestamps checked,
    against ``trust`` or, when None, the trust of the archive the bag sits in.
    """

    trust: Trust | None = None
    #: Bag-relative paths whose content the BagIt checks already found wrong (digest
    #: mismatch): their content is not parsed (``check.skipped``), so a file swapped
    #: for a decompression bomb costs nothing beyond its digest.
    unsound: frozenset[str] = frozenset()
    #: Whether the bag must be signed (``signature.missing`` if it has no
    #: ``signatures/``); None: as the settings of the archive the bag sits in say
    #: (``[signing] required``), not required for a bag in no archive.
    require_signature: bool | None = None

    def __call__(self, bag_dir: Path) -> Iterator[Problem]:
        bag_dir = Path(bag_dir)
        if claims_our_profile(bag_dir):
            yield from check_profile(bag_dir, load_profile())
            yield from _check_metadata(bag_dir, self.unsound)
            yield from _check_pdfs(bag_dir, self.unsound)
        yield from check_signatures(bag_dir, self.trust)
        yield from _check_required_signature(bag_dir, self.require_signature)

    def with_unsound(self, paths: frozenset[str]) -> PreserveChecks:
        """These checks, skipping the content of ``paths`` (called by ``verify_bag``)."""
        return replace(self, unsound=paths)

    @property
    def __name__(self) -> str:
        return "preserve checks"


#: :class:`PreserveChecks` with the archive's own trust (what ``audit`` uses).
check_our_bag = PreserveChecks()


def bag_name(bag_dir: Path) -> str:
    """The bag's folder name, also for ``.`` or ``..`` (``Path('.').name`` is '')."""
    return Path(os.path.realpath(bag_dir)).name


def _check_required_signature(bag_dir: Path, required: bool | None) -> Iterator[Problem]:
    """``signature.missing``: a bag that must be signed has no ``signatures/``.

    Deleting the whole folder otherwise makes a signed bag look merely unsigned;
    the ledger catches that for bags it saw signed (``ledger.signature-missing``),
    this catches it wherever signing is required, ledger or not.
    """
    if required is None:
        archive = archive_of(bag_dir)
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
    if required and not is_signed(bag_dir):
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


def _check_metadata(bag_dir: Path, unsound: frozenset[str] = frozenset()) -> Iterator[Problem]:
    rel = "data/metadata/statement.json"
    if rel in unsound:
        yield _skipped(rel)
        return
    data = read_regular(bag_dir / rel, MAX_METADATA_BYTES)
    if data is None:
        return  # the profile check reports a missing or odd file
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
    for problem in check_record(record):
        yield Problem("metadata.invalid", rel, problem.one_line())
    identifier = record.get("identifier")
    name = bag_name(bag_dir)
    if identifier != name:
        yield Problem(
            "metadata.identifier-mismatch",
            rel,
            f"identifier {identifier!r} differs from the bag's folder name {name!r}",
        )
    info_data = read_regular(bag_dir / BAG_INFO_TXT, MAX_METADATA_BYTES) or b""
    external = parse_bag_info(info_data).get_all("External-Identifier")
    if external and identifier not in external:
        yield Problem(
            "metadata.identifier-mismatch",
            BAG_INFO_TXT,
            f"External-Identifier {external[0]!r} differs from the metadata's {identifier!r}",
        )


def _check_pdfs(bag_dir: Path, unsound: frozenset[str] = frozenset()) -> Iterator[Problem]:
    folder = bag_dir / "data" / "pdfa"
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        rel = f"data/pdfa/{entry.name}"
        if rel in unsound:
            yield _skipped(rel)
            continue
        data = read_regular(entry, MAX_PDF_BYTES)
        if data is None:
            continue
        for problem in check_pdfa(data):
            yield Problem(problem.code, rel, problem.message)
