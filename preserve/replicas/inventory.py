"""A copy's files and what the chain says they must be: the one yardstick for every copy."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from preserve import ledger_check
from preserve.bagit_format import DigestAlgorithm, parse_manifest
from preserve.hashing import hash_file
from preserve.replicas.base import (
    ODD,
    SIGNATURES_PREFIX,
    Inventory,
    Target,
)


def local_inventory(bag_dir: Path) -> Inventory | None:
    """Every file of a bag folder with its SHA-256 (links, FIFOs and devices as
    :data:`ODD`, never followed or opened). ``os.scandir`` on strings: at 10,000 bags,
    building ``Path`` objects per file cost as much as the hashing."""
    top = os.fspath(bag_dir)
    if os.path.islink(top) or not os.path.isdir(top):
        return None
    found: Inventory = {}
    stack = [("", top)]
    while stack:
        prefix, folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append((rel + "/", entry.path))
                    continue
                if not entry.is_file(follow_symlinks=False):
                    found[rel] = ODD
                    continue
                try:
                    digests, _ = hash_file(entry.path, [DigestAlgorithm.sha256])
                    found[rel] = digests[DigestAlgorithm.sha256]
                except OSError:
                    found[rel] = ODD
    return found


def _listed(data: bytes | None, name: str) -> dict[str, str] | None:
    if data is None:
        return None
    parsed = parse_manifest(data, name)
    return {e.path: e.digest.lower() for e in parsed.entries}


def expected_inventory(
    db: sqlite3.Connection, identifier: str, sources: Sequence[Target]
) -> Inventory | None:
    """What every copy of the bag must hold, derived from the chain through any copy whose
    tag manifest matches the chained digest (None: no copy holds one that does)."""
    chained = ledger_check.chain_digests(db, identifier)
    if not chained or "tagmanifest-sha256.txt" not in chained:
        return None
    want = chained["tagmanifest-sha256.txt"]
    for source in sources:
        tag = source.read(identifier, "tagmanifest-sha256.txt")
        if tag is None or hashlib.sha256(tag).hexdigest() != want:
            continue
        tags = _listed(tag, "tagmanifest-sha256.txt") or {}
        manifest_digest = tags.get("manifest-sha256.txt")
        if manifest_digest is None:
            continue
        for inner in sources:
            manifest = inner.read(identifier, "manifest-sha256.txt")
            if manifest is None or hashlib.sha256(manifest).hexdigest() != manifest_digest:
                continue
            payload = _listed(manifest, "manifest-sha256.txt") or {}
            return {**payload, **tags, **chained}
    return None


def compare(expected: Inventory, found: Inventory | None) -> list[tuple[str, str]]:
    """(code, message) for each way a copy differs from the expected inventory."""
    if found is None:
        return [("replica.bag-missing", "the bag is not there")]
    problems: list[tuple[str, str]] = []
    for rel, digest in sorted(expected.items()):
        got = found.get(rel)
        if got is None:
            problems.append(("replica.file-missing", f"{rel} is missing"))
        elif got == ODD:
            problems.append(("replica.file-odd", f"{rel} is a link, FIFO or device"))
        elif got != digest:
            problems.append(("replica.file-changed", f"{rel} differs from the ledger's record"))
    for rel in sorted(set(found) - set(expected)):
        if rel.startswith(SIGNATURES_PREFIX) and found[rel] != ODD:
            continue
        problems.append(("replica.file-extra", f"{rel} is not in the ledger's record"))
    return problems
