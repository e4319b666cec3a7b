"""The periodic audit: every bag of an archive, verified, and compared with the ledger.

Checksums inside a bag cannot reveal a *consistent* rewrite (a payload file and
its manifests edited together). The ledger, outside every bag, remembers the
digest of each bag's tag manifests at ingest; the audit compares them, and finds
bags that are missing or were planted. The ledger is the only thing it writes:
each bag's result and time, and a PREMIS fixity-check event.

Rolling audits (``limit``, ``budget``) take the least recently verified bags
first, so a cron job covers a large archive in slices.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import multiprocessing
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preserve import ledger
from preserve.archive import BAGS_DIR
from preserve.bag_checks import check_our_bag
from preserve.bagit_format import DigestAlgorithm, Problem, Severity
from preserve.errors import ArchiveError, PreserveError
from preserve.hashing import hash_file
from preserve.premis import FIXITY_CHECK, software_agent
from preserve.signing import SIGNATURE_EVENT, SIGNATURES_DIR, is_signed
from preserve.verify import BagResult, verify_bag

if TYPE_CHECKING:
    from preserve.distributed import BatchExecutor

log = logging.getLogger(__name__)

#: An audit on an executor writes its results to the ledger every this many bags.
RECORD_EVERY = 1000


@dataclass(frozen=True)
class BagAudit:
    """One bag's audit: the verifier's result plus what the ledger adds."""

    identifier: str
    path: str
    problems: tuple[Problem, ...]
    seconds: float = 0.0
    bytes_checked: int = 0
    files_checked: int = 0

    @property
    def valid(self) -> bool:
        return not any(p.severity is Severity.error for p in self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "path": self.path,
            "valid": self.valid,
            "seconds": round(self.seconds, 4),
            "files_checked": self.files_checked,
            "bytes_checked": self.bytes_checked,
            "problems": [p.as_dict() for p in self.problems],
        }


@dataclass(frozen=True)
class AuditReport:
    """An archive's audit; ``ok`` only when every bag checked is valid."""

    archive: str
    started_at: str
    seconds: float
    bags: tuple[BagAudit, ...]
    #: Bags not reached this time (``limit``/``budget``), least recently verified first.
    skipped: int = 0
    #: Whether results were written to the ledger (not on a read-only archive).
    recorded: bool = True
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return all(b.valid for b in self.bags)

    @property
    def bytes_checked(self) -> int:
        return sum(b.bytes_checked for b in self.bags)

    def as_dict(self) -> dict[str, Any]:
        return {
            "archive": self.archive,
            "ok": self.ok,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 3),
            "checked": len(self.bags),
            "valid": sum(1 for b in self.bags if b.valid),
            "invalid": sum(1 for b in self.bags if not b.valid),
            "skipped": self.skipped,
            "bytes_checked": self.bytes_checked,
            "recorded": self.recorded,
            "notes": list(self.notes),
            "bags": [b.as_dict() for b in self.bags],
        }


def _verify_one(bag_dir: str, processes: int | None = 1) -> BagResult:
    """Verify one bag with the checks for our own bags; an unopenable bag is a result.

    Single-threaded by default: the pool parallelises across bags. A pure
    function of the path, so it can run on any worker (a Dask cluster later).
    """
    try:
        return verify_bag(Path(bag_dir), processes=processes, extra_checks=(check_our_bag,))
    except PreserveError as error:
        problem = Problem("bag.unreadable", "", error.message)
        return BagResult(bag_dir, False, (problem,), 0, 0, 0.0)


def _ledger_problems(bag_dir: Path, recorded: ledger.LedgerBag) -> list[Problem]:
    """What only the ledger can tell: tag manifests that changed since ingest."""
    problems = []
    for name, digest in sorted(recorded.tagmanifest_digests.items()):
        try:
            # Streamed, never through a symlink or into a FIFO: a planted bag's
            # "tag manifest" may point at /dev/zero.
            digests, _ = hash_file(bag_dir / name, [DigestAlgorithm.sha256])
            actual = digests[DigestAlgorithm.sha256]
        except OSError as exc:
            problems.append(
                Problem(
                    "ledger.tagmanifest-unreadable", name, f"cannot read: {exc.strerror or exc}"
                )
            )
            continue
        if actual != digest:
            problems.append(
                Problem(
                    "ledger.tagmanifest-changed",
                    name,
                    f"differs from the digest recorded at ingest ({recorded.ingested_at}): "
                    "the bag was rewritten after it was archived",
                )
            )
    if not recorded.tagmanifest_digests:
        problems.append(
            Problem("ledger.no-digests", "", "the ledger holds no digests for this bag")
        )
    return problems


def _signature_problems(db: sqlite3.Connection, bag_dir: Path, identifier: str) -> list[Problem]:
    """A bag the ledger says was signed must still carry its signature.

    Deleting ``signatures/`` makes a bag look merely unsigned to any check inside
    it; only the ledger remembers that it was signed, by which key and when.
    """
    row = db.execute(
        "SELECT at, detail FROM events WHERE identifier = ? AND type = ? ORDER BY id DESC LIMIT 1",
        (identifier, SIGNATURE_EVENT),
    ).fetchone()
    if row is None or is_signed(bag_dir):
        return []
    try:
        key = json.loads(row["detail"]).get("key_fingerprint", "an unknown key")
    except (ValueError, AttributeError):
        key = "an unknown key"
    return [
        Problem(
            "ledger.signature-missing",
            SIGNATURES_DIR,
            f"the ledger records a signature by {key} at {row['at']}, "
            "but the bag has no signatures/ folder: it was removed",
        )
    ]


def _open(archive: Path) -> tuple[sqlite3.Connection, str | None]:
    """A writable ledger where possible; read-only otherwise, with the reason why
    results will not be recorded (read-only archive, or the ledger locked)."""
    if not (archive / ledger.LEDGER_NAME).is_file():
        raise ArchiveError("not a preserve archive (no ledger.sqlite)", archive)
    reason = "archive is read-only: results were not recorded in the ledger"
    if os.access(archive, os.W_OK) and os.access(archive / ledger.LEDGER_NAME, os.W_OK):
        try:
            return ledger.connect(archive), None
        except ArchiveError as exc:
            reason = f"{exc.message}: results were not recorded in the ledger"
        except sqlite3.Error as exc:
            reason = f"{ledger.ledger_error(exc).message}: results were not recorded"
    return ledger.connect(archive, readonly=True), reason


def audit(
    archive: Path,
    *,
    limit: int | None = None,
    budget: float | None = None,
    workers: int | None = None,
    record: bool = True,
    progress: Callable[[BagAudit], None] | None = None,
    executor: BatchExecutor | None = None,
) -> AuditReport:
    """Verify every bag (or the ``limit``/``budget`` least recently verified) against the ledger.

    With an ``executor`` (:mod:`preserve.distributed`) the bags are verified there,
    in batches; the plan and every ledger write stay here. If the executor is lost
    (or on Ctrl-C) what was verified so far is recorded before the error goes on.
    """
    started = time.monotonic()
    started_at = ledger.now()
    archive = archive.absolute()
    if not archive.is_dir():
        raise ArchiveError("no archive here (not a directory)", archive)
    db, not_recorded = _open(archive)
    writable = not_recorded is None
    notes: list[str] = []
    if record and not_recorded is not None:
        notes.append(not_recorded)
    try:
        # List the disk before reading the ledger: a bag published in between has
        # its ledger row already (rows are written before the rename).
        bags_root = archive / BAGS_DIR
        on_disk = (
            {p.name for p in bags_root.iterdir() if p.is_dir() or p.is_symlink()}
            if bags_root.is_dir()
            else set()
        )
        known = {b.identifier: b for b in ledger.bag_rows(db)}
        results: list[BagAudit] = []
        for name in sorted(on_disk - set(known)):
            results.append(
                BagAudit(
                    name,
                    f"{BAGS_DIR}/{name}",
                    (
                        Problem(
                            "ledger.bag-unknown",
                            "",
                            "bag is in the archive but was never ingested (not in the ledger)",
                        ),
                    ),
                )
            )
        queue: list[ledger.BagRow] = []
        for bag in sorted(known.values(), key=lambda b: (b.last_verified_at or "", b.identifier)):
            if bag.state == "publishing":
                notes.append(f"{bag.identifier}: being published (or interrupted); not audited")
                continue
            # Not listed, but there now: published between the listing and the ledger read.
            if Path(bag.path).name not in on_disk and not (archive / bag.path).is_dir():
                results.append(
                    BagAudit(
                        bag.identifier,
                        bag.path,
                        (
                            Problem(
                                "ledger.bag-missing",
                                "",
                                f"bag recorded at ingest ({bag.ingested_at}) is not in the archive",
                            ),
                        ),
                    )
                )
                continue
            queue.append(bag)
        skipped = 0
        if limit is not None and len(queue) > limit:
            skipped, queue = len(queue) - limit, queue[:limit]
        checked: list[BagAudit] = []
        written = 0  # results of ``checked`` in the ledger (an executor's are written as they come)

        def write_results() -> None:
            nonlocal written, writable
            if not (record and writable) or written == len(checked):
                return
            try:
                _record(db, checked[written:], started_at)
                written = len(checked)
            except ArchiveError as exc:  # disk full, ledger locked: the checks still count
                writable = False
                before = f" (the first {written} were)" if written else ""
                notes.append(f"{exc.message}: results were not recorded in the ledger{before}")

        try:
            budget_skipped = _verify_all(
                archive,
                db,
                queue,
                workers,
                started,
                budget,
                progress,
                checked,
                executor,
                write_results,
            )
        except (PreserveError, KeyboardInterrupt):
            if executor is not None:
                write_results()  # what was verified before the executor went (or Ctrl-C)
            raise
        results += checked
        skipped += budget_skipped
        write_results()
    finally:
        db.close()
    return AuditReport(
        str(archive),
        started_at,
        time.monotonic() - started,
        tuple(results),
        skipped,
        record and writable,
        tuple(notes),
    )


def _verify_all(
    archive: Path,
    db: sqlite3.Connection,
    queue: Sequence[ledger.BagRow],
    workers: int | None,
    started: float,
    budget: float | None,
    progress: Callable[[BagAudit], None] | None,
    done: list[BagAudit],
    executor: BatchExecutor | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> int:
    """Verify bags in parallel processes (or on ``executor``), submitting only while the
    budget lasts; results go into ``done`` as they come; returns how many were not reached."""

    def finish(bag: ledger.BagRow, result: BagResult) -> None:
        bag_dir = archive / bag.path
        # The digests are read now, one bag at a time, not held for the whole archive.
        recorded = ledger.get_bag(db, bag.identifier)
        extra = _ledger_problems(bag_dir, recorded) if recorded is not None else []
        extra += _signature_problems(db, bag_dir, bag.identifier)
        problems = (*result.problems, *extra)
        audit_result = BagAudit(
            bag.identifier,
            bag.path,
            tuple(problems),
            result.seconds,
            result.bytes_checked,
            result.files_checked,
        )
        done.append(audit_result)
        if progress:
            progress(audit_result)

    def in_budget() -> bool:
        return budget is None or time.monotonic() - started < budget

    if executor is not None:
        calls = [(executor.to_remote(archive / bag.path),) for bag in queue]
        for index, result in executor.map_unordered(_verify_one, calls, in_budget):
            finish(queue[index], result)
            if checkpoint is not None and len(done) % RECORD_EVERY == 0:
                checkpoint()  # a planner that dies after hours loses minutes, not the run
        return len(queue) - len(done)
    count = min(workers or os.cpu_count() or 1, len(queue))
    if count <= 1:
        for i, bag in enumerate(queue):
            if not in_budget():
                return len(queue) - i
            finish(bag, _verify_one(str(archive / bag.path), processes=None))
        return 0
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
        pending: dict[Future[BagResult], ledger.BagRow] = {}
        items: Iterator[ledger.BagRow] = iter(queue)
        submitted = 0
        window = count * 4
        exhausted = False
        while True:
            while not exhausted and len(pending) < window and in_budget():
                upcoming = next(items, None)
                if upcoming is None:
                    exhausted = True
                    break
                pending[pool.submit(_verify_one, str(archive / upcoming.path))] = upcoming
                submitted += 1
            if not pending:
                break
            future = next(iter(_first_done(pending)))
            bag = pending.pop(future)
            finish(bag, future.result())
            if not in_budget():
                exhausted = True
    return len(queue) - submitted


def _first_done(pending: dict[Future[BagResult], Any]) -> list[Future[BagResult]]:
    from concurrent.futures import FIRST_COMPLETED, wait

    finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
    return list(finished)


def _record(db: sqlite3.Connection, results: Sequence[BagAudit], at: str) -> None:
    """Each bag's result and a PREMIS fixity-check event, in one transaction."""
    agent = software_agent()
    with ledger.write(db):
        for result in results:
            outcome = "success" if result.valid else "failure"
            db.execute(
                "UPDATE bags SET last_verified_at = ?, last_result = ? WHERE identifier = ?",
                (at, outcome, result.identifier),
            )
            ledger.record_event(
                db,
                identifier=result.identifier,
                type=FIXITY_CHECK,
                outcome=outcome,
                detail={
                    "files": result.files_checked,
                    "bytes": result.bytes_checked,
                    "problems": sorted({p.code for p in result.problems}),
                },
                agent=agent,
                at=at,
            )


# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class BagStatus:
    """When a bag was last verified and with what result."""

    identifier: str
    last_verified_at: str | None
    last_result: str | None
    overdue: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "last_verified_at": self.last_verified_at,
            "last_result": self.last_result,
            "overdue": self.overdue,
        }


def parse_duration(text: str) -> dt.timedelta:
    """``90d``, ``12h``, ``30m``, ``45s`` or ``2w`` as a timedelta."""
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in units or not text[:-1].replace(".", "", 1).isdigit():
        raise ValueError(f"{text!r} is not a duration like 90d, 12h, 30m or 45s")
    return dt.timedelta(**{units[text[-1]]: float(text[:-1])})


def status(archive: Path, *, max_age: dt.timedelta = dt.timedelta(days=90)) -> list[BagStatus]:
    """Every bag's last verification, least recent first; never verified counts as overdue."""
    db = ledger.connect(archive.absolute(), readonly=True)
    try:
        bags = ledger.all_bags(db)
    finally:
        db.close()
    now = dt.datetime.now(dt.UTC)
    rows = []
    for bag in bags:
        last = bag.last_verified_at
        when = dt.datetime.fromisoformat(last.replace("Z", "+00:00")) if last else None
        rows.append(
            BagStatus(bag.identifier, last, bag.last_result, when is None or now - when > max_age)
        )
    return sorted(rows, key=lambda r: (r.last_verified_at or "", r.identifier))
