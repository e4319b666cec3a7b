"""Copies that heal: replicas of every published bag, audited against the chain, repaired.

A replica target is a folder (local or mounted) or ``ssh://user@host[:port]/path``
laid out like an archive, marked by a small file so that no other folder is ever
written into::

    TARGET/.preserve-replica     "preserve-replica/1"
    TARGET/bags/<identifier>/    a copy of the bag, byte for byte
    TARGET/staging/              copies on their way in (then one rename)
    TARGET/quarantine/           damaged or withdrawn copies, kept for investigation

A copy is never trusted on its own word. What a bag must hold is derived from the
ledger's chain: its chained tag-manifest digests pin ``tagmanifest-*.txt``, whose
lines pin every tag file (``manifest-*.txt`` among them), whose lines pin every
payload file. So every copy, the primary included, is judged by one listing of
its files with their SHA-256 (computed on the target: ``sha256sum`` over ssh),
compared with that expected inventory: a flipped byte, a deleted file, a planted
file or a consistent rewrite (payload and manifests edited together) all show.
Unlisted files under ``signatures/`` are allowed (signatures are unlisted tag
files by design; ``preserve audit`` checks the primary's cryptographically).

Every copy, repair and withdrawal is a chained event (PREMIS ``replication``,
``recovery``, ``deaccession``); the ``replica_copies`` and ``withdrawals`` tables
(ledger version 5) are what the status and the reading room ask.

The package, one module per job: ``base`` (constants, errors, the target interface),
``inventory`` (a copy's files and what the chain says they must be), ``local`` and
``ssh`` (the two kinds of target; ``ssh_url``), ``targets`` (by name or URL), ``records`` (the
chain's record of copies), ``reports``, ``replicating``, ``crosscheck``, ``repairing``,
``withdrawal``, ``status``. Import from here: these names are the public face.
"""

from __future__ import annotations

from preserve.replicas.base import (
    DEACCESSION,
    MARKER,
    MARKER_TEXT,
    MAX_MANIFEST_BYTES,
    ODD,
    PRIMARY,
    QUARANTINE,
    QUARANTINE_DIR,
    RECOVERY,
    REPLICATION,
    SIGNATURES_PREFIX,
    SSH_BATCH,
    Inventory,
    ReplicaError,
    Target,
    UnknownBag,
)
from preserve.replicas.crosscheck import audit_copies
from preserve.replicas.inventory import compare, expected_inventory, local_inventory
from preserve.replicas.local import LocalTarget
from preserve.replicas.records import published_ids, software_agent, withdrawn_ids
from preserve.replicas.replicating import replicate
from preserve.replicas.reports import BagCopies, CopyCheck, ReplicaReport, ReplicateReport, Stray
from preserve.replicas.ssh import SshTarget
from preserve.replicas.ssh_url import SshUrl, parse_ssh_url
from preserve.replicas.status import CopyStatus, copy_status, iter_copy_status, required_copies
from preserve.replicas.targets import make_target, registered_targets, resolve_target
from preserve.replicas.withdrawal import WithdrawReport, withdraw

__all__ = [
    "DEACCESSION",
    "MARKER",
    "MARKER_TEXT",
    "MAX_MANIFEST_BYTES",
    "ODD",
    "PRIMARY",
    "QUARANTINE",
    "QUARANTINE_DIR",
    "RECOVERY",
    "REPLICATION",
    "SIGNATURES_PREFIX",
    "SSH_BATCH",
    "BagCopies",
    "CopyCheck",
    "CopyStatus",
    "Inventory",
    "LocalTarget",
    "ReplicaError",
    "ReplicaReport",
    "ReplicateReport",
    "SshTarget",
    "SshUrl",
    "Stray",
    "Target",
    "UnknownBag",
    "WithdrawReport",
    "audit_copies",
    "compare",
    "copy_status",
    "expected_inventory",
    "iter_copy_status",
    "local_inventory",
    "make_target",
    "parse_ssh_url",
    "published_ids",
    "registered_targets",
    "replicate",
    "required_copies",
    "resolve_target",
    "software_agent",
    "withdraw",
    "withdrawn_ids",
]
