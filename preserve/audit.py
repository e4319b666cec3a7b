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
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preserve import ledger, ledger_check
from preserve.archive import BAGS_DIR, publisher_alive
from preserve.bag_checks import PreserveChecks, check_our_bag
from preserve.bagit_format import DigestAlgorithm, Problem, Severity
from preserve.errors import ArchiveError, PreserveError
from preserve.hashing import hash_file
from preserve.keys import TRUSTED_KEYS_DIR
from preserve.premis import FIXITY_CHECK, software_agent
from preserve.signing import SIGNATURE_EVENT, SIGNATURES_DIR, Trust, is_signed, removed_signers
from preserve.timestamps import TRUSTED_TSA_DIR
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
    #: Problems of the archive as a whole: the ledger's chain, its trusted keys.
    problems: tuple[Problem, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return all(b.valid for b in self.bags) and not any(
            p.severity is Severity.error for p in self.problems
        )

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
            "problems": [p.as_dict() for p in self.problems],
            "bags": [b.as_dict() for b in self.bags],
        }


def _verify_one(
    bag_dir: str, processes: int | None = 1, checks: PreserveChecks | None = None
) -> BagResult:
    """Verify one bag with the checks for our own bags; an unopenable bag is a result.

    Single-threaded by default: the pool parallelises across bags. A pure
    function of the path (and of the trust the chain vouches for), so it can run
    on any worker (a Dask cluster later).
    """
    try:
        return verify_bag(
            Path(bag_dir), processes=processes, extra_checks=(checks or check_our_bag,)
        )
    except PreserveError as error:
        problem = Problem("bag.unreadable", "", error.message)
        return BagResult(bag_dir, False, (problem,), 0, 0, 0.0)


def _ledger_problems(bag_dir: Path, expected: Mapping[str, str], ingested_at: str) -> list[Problem]:
    """What only the ledger can tell: tag manifests that changed since ingest.

    ``expected`` are the digests the chain recorded at ingest (the table's only
    for a bag whose publication was interrupted, before the chain held it).
    """
    problems = []
    for name, digest in sorted(expected.items()):
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
                    f"differs from the digest recorded at ingest ({ingested_at}): "
                    "the bag was rewritten after it was archived",
                )
            )
    if not expected:
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
    if row is None:
        return []
    if is_signed(bag_dir):  # each signer the ledger recorded must still be in it
        return removed_signers(db, bag_dir, identifier)
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
        with ledger.reading(archive):
            results, queue, found = _plan(archive, db, notes)
            checks = _checks(archive, found, notes) if found.bound else None
            skipped = 0
            if limit is not None and len(queue) > limit:
                skipped, queue = len(queue) - limit, queue[:limit]
            checked: list[BagAudit] = []
            written = 0  # results of ``checked`` in the ledger (an executor's: as they come)

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
                    found,
                    checks,
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
        results = _with_version_links(db, results)
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
        found.problems,
    )


def _plan(
    archive: Path, db: sqlite3.Connection, notes: list[str]
) -> tuple[list[BagAudit], list[ledger.BagRow], ledger_check.LedgerCheck]:
    """What to audit, from one snapshot of the ledger checked against its chain.

    Returns the bags already judged (missing, planted), the bags to verify (least
    recently verified first) and what the chain says of the tables.
    """
    # List the disk before reading the ledger: a bag published in between has
    # its ledger row already (rows are written before the rename).
    bags_root = archive / BAGS_DIR
    on_disk = (
        {p.name for p in bags_root.iterdir() if p.is_dir() or p.is_symlink()}
        if bags_root.is_dir()
        else set()
    )
    db.execute("BEGIN")  # one snapshot: the chain and the tables it is compared with
    try:
        found = ledger_check.check(db, archive)
        rows = ledger.bag_rows(db)
    finally:
        if db.in_transaction:
            db.execute("COMMIT")
    if not found.bound:
        notes.append(
            "the ledger predates version 4: its tables are not yet bound to its chain "
            "(any audit or ingest with write access binds them)"
        )
    known = {b.identifier: b for b in rows}
    results: list[BagAudit] = []
    # Withdrawn bags (preserve withdraw: a chained tombstone) are expected gone.
    results += _withdrawn(db, known, found, on_disk)
    for name in sorted(on_disk - set(known) - set(found.rows_missing)):
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
    # Bags the chain records but whose row was deleted: audited all the same.
    for identifier, at in found.rows_missing.items():
        known[identifier] = ledger.BagRow(
            identifier, f"{BAGS_DIR}/{identifier}", "published", at, None
        )
    queue: list[ledger.BagRow] = []
    # Bags whose rows disagree with the chain first (a rolling audit reaches them at
    # once), then the least recently verified.
    for bag in sorted(
        known.values(),
        key=lambda b: (
            b.identifier not in found.bag_problems,
            b.last_verified_at or "",
            b.identifier,
        ),
    ):
        if found.bound and bag.path != f"{BAGS_DIR}/{bag.identifier}":
            bag = bag._replace(path=f"{BAGS_DIR}/{bag.identifier}")  # ledger.path-changed
        present = Path(bag.path).name in on_disk or (archive / bag.path).is_dir()
        if bag.state == "publishing" and bag.identifier not in found.published_per_chain:
            if publisher_alive(bag.publisher_pid) or not present:
                notes.append(f"{bag.identifier}: being published (or interrupted); not audited")
                continue
            # Its ingest died between the rename and the mark: the bag is in bags/, so it
            # is audited (against the digests recorded at staging) until an ingest completes it.
            notes.append(
                f"{bag.identifier}: being published (or interrupted): its ingest died before "
                "marking it published; audited; the next ingest completes it"
            )
        # Not listed, but there now: published between the listing and the ledger read.
        if not present:
            problems = (
                *found.bag_problems.get(bag.identifier, ()),
                Problem(
                    "ledger.bag-missing",
                    "",
                    f"bag recorded at ingest ({bag.ingested_at}) is not in the archive",
                ),
            )
            results.append(BagAudit(bag.identifier, bag.path, problems))
            continue
        queue.append(bag)
    return results, queue, found


def _withdrawn(
    db: sqlite3.Connection,
    known: dict[str, ledger.BagRow],
    found: ledger_check.LedgerCheck,
    on_disk: set[str],
) -> list[BagAudit]:
    """Drop withdrawn bags from the audit; one still in ``bags/`` is reported."""
    from preserve.replicas import withdrawn_ids

    results = []
    for identifier in withdrawn_ids(db):
        known.pop(identifier, None)
        found.rows_missing.pop(identifier, None)
        if identifier in on_disk:
            on_disk.discard(identifier)
            results.append(
                BagAudit(
                    identifier,
                    f"{BAGS_DIR}/{identifier}",
                    (
                        Problem(
                            "replica.withdrawn-present",
                            "",
                            "the bag was withdrawn (its tombstone is in the chain) but is "
                            "in the archive again",
                        ),
                    ),
                )
            )
    return results


def _checks(archive: Path, found: ledger_check.LedgerCheck, notes: list[str]) -> PreserveChecks:
    """Our bag checks, judging signers by the keys the chain vouches for only."""
    tsa_dir = archive / TRUSTED_TSA_DIR
    roots: tuple[bytes, ...] = ()
    if tsa_dir.is_dir():
        try:
            roots = Trust.from_files((), [tsa_dir]).tsa_roots
        except PreserveError as exc:
            notes.append(f"trusted TSA roots unreadable: {exc.one_line()}")
    judge = (archive / TRUSTED_KEYS_DIR).is_dir() or bool(found.trusted_pems)
    return PreserveChecks(Trust(found.trusted_pems, roots, judge))


def _with_version_links(db: sqlite3.Connection, results: list[BagAudit]) -> list[BagAudit]:
    """Add a problem to each bag linked to a language version the archive does not hold."""
    from dataclasses import replace

    from preserve.versions import missing_links

    by_bag: dict[str, list[Problem]] = {}
    for link in missing_links(db):
        by_bag.setdefault(link.identifier, []).append(
            Problem(
                "ledger.version-missing",
                "",
                f"linked as {link.relation} to {link.other}, which is not in the archive",
            )
        )
    if not by_bag:
        return results
    merged = []
    for result in results:
        extra = by_bag.pop(result.identifier, [])
        merged.append(replace(result, problems=(*result.problems, *extra)) if extra else result)
    for identifier, problems in sorted(by_bag.items()):
        merged.append(BagAudit(identifier, f"{BAGS_DIR}/{identifier}", tuple(problems)))
    return merged


def _verify_all(
    archive: Path,
    db: sqlite3.Connection,
    queue: Sequence[ledger.BagRow],
    workers: int | None,
    started: float,
    budget: float | None,
    progress: Callable[[BagAudit], None] | None,
    found: ledger_check.LedgerCheck,
    checks: PreserveChecks | None,
    done: list[BagAudit],
    executor: BatchExecutor | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> int:
    """Verify bags in parallel processes (or on ``executor``), submitting only while the
    budget lasts; results go into ``done`` as they come; returns how many were not reached."""

    def finish(bag: ledger.BagRow, result: BagResult) -> None:
        bag_dir = archive / bag.path
        # The digests are read now, one bag at a time, not held for the whole archive:
        # those the chain recorded at ingest (the table's only before the chain has any).
        expected = ledger_check.chain_digests(db, bag.identifier) if found.bound else None
        if expected is None:
            recorded = ledger.get_bag(db, bag.identifier)
            expected = dict(recorded.tagmanifest_digests) if recorded is not None else {}
        extra = [
            *found.bag_problems.get(bag.identifier, ()),
            *_ledger_problems(bag_dir, expected, bag.ingested_at),
            *_signature_problems(db, bag_dir, bag.identifier),
        ]
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
        calls = [(executor.to_remote(archive / bag.path), 1, checks) for bag in queue]
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
            finish(bag, _verify_one(str(archive / bag.path), None, checks))
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
                path = str(archive / upcoming.path)
                pending[pool.submit(_verify_one, path, 1, checks)] = upcoming
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


#: The longest ``--budget`` or ``--max-age`` accepted (a century): longer ones are
#: typing mistakes, and past ~2.7 million years Python cannot even represent them.
MAX_DURATION = dt.timedelta(days=36_525)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(text: str) -> dt.timedelta:
    """``90d``, ``12h``, ``30m``, ``45s`` or ``2w`` as a timedelta, at most :data:`MAX_DURATION`."""
    text = text.strip().lower()
    number = text[:-1]
    if (
        len(text) < 2
        or text[-1] not in _UNIT_SECONDS
        or not number.replace(".", "", 1).isdigit()
        or not number.isascii()
        or len(number) > 32
    ):
        raise ValueError(f"{text!r} is not a duration like 90d, 12h, 30m or 45s")
    seconds = float(number) * _UNIT_SECONDS[text[-1]]
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(
            f"{text!r} is longer than the limit of {MAX_DURATION.days:,} days (a century)"
        )
    return dt.timedelta(seconds=seconds)


def status(archive: Path, *, max_age: dt.timedelta = dt.timedelta(days=90)) -> list[BagStatus]:
    """Every bag's last verification, least recent first; never verified counts as overdue."""
    db = ledger.connect(archive.absolute(), readonly=True)
    try:
        with ledger.reading(archive):
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
