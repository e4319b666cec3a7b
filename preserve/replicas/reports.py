"""What the replica operations return (and print as JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CopyCheck:
    """One copy of one bag: good, or what is wrong with it."""

    target: str
    problems: tuple[tuple[str, str], ...] = ()
    #: What was done about it (repair, quarantine), if anything.
    action: str = ""

    @property
    def good(self) -> bool:
        return not self.problems

    @property
    def repaired(self) -> bool:
        """Bad when found, replaced by a good copy since."""
        return self.action.startswith("repaired")

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "good": self.good,
            "problems": [{"code": c, "message": m} for c, m in self.problems],
            "action": self.action,
        }


#: A bag folder on a target the chain says was withdrawn / never held.
WITHDRAWN_PRESENT = "replica.withdrawn-present"
BAG_UNKNOWN = "replica.bag-unknown"


@dataclass(frozen=True)
class Stray:
    """A folder in a target's ``bags/`` that no published bag explains: a withdrawn bag
    left behind (the target was unreachable at the withdrawal) or a planted one."""

    target: str
    identifier: str
    code: str
    message: str
    #: Where it was put aside, if it was.
    action: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "identifier": self.identifier,
            "code": self.code,
            "message": self.message,
            "action": self.action,
        }


@dataclass(frozen=True)
class BagCopies:
    """Every copy of one bag, and how many are good (after any repair)."""

    identifier: str
    copies: tuple[CopyCheck, ...]
    good_after: int
    required: int
    lost: bool = False

    @property
    def at_risk(self) -> bool:
        return self.good_after < self.required

    def as_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "good_copies": self.good_after,
            "required": self.required,
            "at_risk": self.at_risk,
            "lost": self.lost,
            "copies": [c.as_dict() for c in self.copies],
        }


@dataclass(frozen=True)
class ReplicaReport:
    """A cross-copy audit (with ``repair``: and what it mended)."""

    archive: str
    targets: tuple[str, ...]
    required: int
    bags: tuple[BagCopies, ...]
    repaired: int = 0
    notes: tuple[str, ...] = ()
    strays: tuple[Stray, ...] = ()

    @property
    def ok(self) -> bool:
        """Every bag has its required good copies and every copy is good (or was repaired)."""
        return all(s.action for s in self.strays) and all(
            not b.at_risk and not b.lost and all(c.good or c.repaired for c in b.copies)
            for b in self.bags
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "archive": self.archive,
            "ok": self.ok,
            "targets": list(self.targets),
            "required_copies": self.required,
            "bags_checked": len(self.bags),
            "at_risk": sum(1 for b in self.bags if b.at_risk),
            "lost": sorted(b.identifier for b in self.bags if b.lost),
            "repaired": self.repaired,
            "notes": list(self.notes),
            "strays": [s.as_dict() for s in self.strays],
            "bags": [b.as_dict() for b in self.bags],
        }


@dataclass(frozen=True)
class ReplicateReport:
    archive: str
    target: str
    copied: tuple[str, ...] = ()
    already: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = field(default=())
    #: Withdrawn bags put aside there now (each is acted on), and planted ones (reported).
    strays: tuple[Stray, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "archive": self.archive,
            "target": self.target,
            "ok": self.ok,
            "copied": len(self.copied),
            "already_there": len(self.already),
            "failed": [{"identifier": i, "reason": r} for i, r in self.failed],
            "strays": [s.as_dict() for s in self.strays],
        }
