"""The periodic audit: every bag of an archive, verified, and compared with the ledger.

Checksums inside a bag cannot reveal a *consistent* rewrite (a payload file and
its manifests edited together). The ledger, outside every bag, remembers the
digest of each bag's tag manifests at ingest; the audit compares them, and finds
bags that are missing or were planted. The ledger is the only thing it writes:
each bag's result and time, and a PREMIS fixity-check event.

Rolling audits (``limit``, ``budget``) take the least recently verified bags
first, so a cron job covers a large archive in slices; a slice that cannot record
(a read-only replica) takes its place from a state file or the clock instead
(:mod:`preserve.rotation`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import multiprocessing
import os
import sqlite3
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, overload

from preserve import ledger, ledger_check, rotation
from preserve.bag_checks import PreserveChecks, check_our_bag
from preserve.bagit_format import DEFAULT_LIMITS, DigestAlgorithm, Limits, Problem, Severity
from preserve.errors import ArchiveError, PreserveError
from preserve.fsio import BAGS_DIR, publisher_alive
from preserve.hashing import hash_file
from preserve.keys import TRUSTED_KEYS_DIR
from preserve.premis import FIXITY_CHECK, INGESTION, software_agent
from preserve.settings import load_settings
from preserve.signing import SIGNATURE_EVENT, SIGNATURES_DIR, Trust, is_signed, removed_signers
from preserve.timestamps import TRUSTED_TSA_DIR
from preserve.verify import BagResult, verify_bag

if TYPE_CHECKING:
    from preserve.distributed import BatchExecutor

log = logging.getLogger(__name__)


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

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> BagAudit:
        """The bag back from :meth:`as_dict` (its seconds rounded as there)."""
        problems = tuple(
            Problem(p["code"], p["path"], p["message"], Severity(p["severity"]))
            for p in doc["problems"]
        )
        return cls(
            doc["identifier"],
            doc["path"],
            problems,
            doc["seconds"],
            doc["bytes_checked"],
            doc["files_checked"],
        )


class SpooledBags(Sequence[BagAudit]):
    """The bags a report lists, kept in a temporary file (JSON Lines) as they come,
    not in memory: if every bag of a million fails, the report still needs only a
    file offset a bag (8 bytes) and one bag at a time. Read back in order; every
    read says where (unbuffered, seek then read), so readings may interleave."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile("w+b", buffering=0, prefix="preserve-audit-bags-")  # noqa: SIM115
        self._offsets = array("q")
        self._end = 0

    def append(self, bag: BagAudit) -> None:
        line = json.dumps(bag.as_dict(), ensure_ascii=False).encode("utf-8") + b"\n"
        self._offsets.append(self._end)
        self._write_at(self._end, line)
        self._end += len(line)

    def _write_at(self, offset: int, data: bytes) -> None:
        self._file.seek(offset)
        view = memoryview(data)
        while view:
            view = view[self._file.write(view) or 0 :]

    def _read_at(self, offset: int, size: int) -> bytes:
        self._file.seek(offset)
        chunks = []
        while size > 0:
            chunk = self._file.read(size)
            if not chunk:
                break
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def __len__(self) -> int:
        return len(self._offsets)

    @overload
    def __getitem__(self, index: int) -> BagAudit: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[BagAudit]: ...

    def __getitem__(self, index: int | slice) -> BagAudit | Sequence[BagAudit]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        index = range(len(self))[index]  # negative indexes; IndexError past the end
        start = self._offsets[index]
        end = self._offsets[index + 1] if index + 1 < len(self) else self._end
        return BagAudit.from_dict(json.loads(self._read_at(start, end - start)))

    def __iter__(self) -> Iterator[BagAudit]:
        for line in self.lines():
            yield BagAudit.from_dict(json.loads(line))

    def lines(self) -> Iterator[bytes]:
        """Each bag as its JSON line (UTF-8), in order, read 64 KiB at a time."""
        position, rest = 0, b""
        while position < self._end:
            chunk = self._read_at(position, min(1 << 16, self._end - position))
            if not chunk:
                return
            position += len(chunk)
            *complete, rest = (rest + chunk).split(b"\n")
            for line in complete:
                yield line + b"\n"

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True)
class AuditReport:
    """An archive's audit; ``ok`` only when every bag checked is valid.

    Streaming: ``bags`` holds the failing bags in full (and the valid ones only
    when asked, ``keep_valid``), spooled to a temporary file as they come
    (:class:`SpooledBags`) and read back when the report is written
    (:meth:`write_json`); the counts cover every bag, so memory stays flat in the
    size of the archive and in how many fail. The full per-bag list goes to
    ``each`` (JSON Lines).
    """

    archive: str
    started_at: str
    seconds: float
    bags: Sequence[BagAudit]
    #: Bags not reached this time (``limit``/``budget``), least recently verified first.
    skipped: int = 0
    #: Whether results were written to the ledger (not on a read-only archive).
    recorded: bool = True
    notes: tuple[str, ...] = field(default=())
    #: Problems of the archive as a whole: the ledger's chain, its trusted keys.
    problems: tuple[Problem, ...] = field(default=())
    #: Bags judged (verified, missing or planted), valid or not (None: ``len(bags)``).
    checked: int | None = None
    #: Of those, the invalid ones (None: counted in ``bags``).
    invalid: int | None = None
    #: Payload and tag bytes read (None: summed over ``bags``).
    bytes_total: int | None = None

    @property
    def checked_count(self) -> int:
        return len(self.bags) if self.checked is None else self.checked

    @property
    def invalid_count(self) -> int:
        if self.invalid is None:
            return sum(1 for b in self.bags if not b.valid)
        return self.invalid

    @property
    def ok(self) -> bool:
        return (
            self.invalid_count == 0
            and (self.invalid is not None or all(b.valid for b in self.bags))
            and not any(p.severity is Severity.error for p in self.problems)
        )

    @property
    def bytes_checked(self) -> int:
        if self.bytes_total is None:
            return sum(b.bytes_checked for b in self.bags)
        return self.bytes_total

    def as_dict(self) -> dict[str, Any]:
        return {**self.summary(), "bags": [b.as_dict() for b in self.bags]}

    def summary(self) -> dict[str, Any]:
        """:meth:`as_dict` without the bags."""
        return {
            "archive": self.archive,
            "ok": self.ok,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 3),
            "checked": self.checked_count,
            "valid": self.checked_count - self.invalid_count,
            "invalid": self.invalid_count,
            "skipped": self.skipped,
            "bytes_checked": self.bytes_checked,
            "recorded": self.recorded,
            "notes": list(self.notes),
            "problems": [p.as_dict() for p in self.problems],
        }

    def write_json(self, write: Callable[[str], Any]) -> None:
        """:meth:`as_dict` as ``json.dumps(..., indent=2)`` writes it, byte for byte
        (then a new line), to ``write`` a piece at a time, with the bags streamed from
        their spool one at a time (``as_dict`` holds them all: gigabytes if a
        million bags fail)."""
        text = json.dumps({**self.summary(), "bags": []}, ensure_ascii=False, indent=2)
        if not len(self.bags):
            write(text + "\n")
            return
        write(text[: text.rindex("[]")] + "[")
        docs: Iterator[Any] = (
            (json.loads(line) for line in self.bags.lines())
            if isinstance(self.bags, SpooledBags)
            else (b.as_dict() for b in self.bags)
        )
        for index, doc in enumerate(docs):
            item = json.dumps(doc, ensure_ascii=False, indent=2).replace("\n", "\n    ")
            write(("," if index else "") + "\n    " + item)
        write("\n  ]\n}\n")


#: Results written to the ledger per transaction: a crash (or a lost executor)
#: loses at most this many, and no list of results grows with the archive.
RECORD_BATCH = 1000
#: The same, by the name the executor's tests know it.
RECORD_EVERY = RECORD_BATCH


@dataclass
class _Tally:
    """Counts every bag, keeps the failing ones, streams each and records in batches."""

    keep_valid: bool
    each: Callable[[BagAudit], None] | None
    record: Callable[[list[BagAudit]], None] | None
    checked: int = 0
    invalid: int = 0
    bytes: int = 0
    kept: SpooledBags = field(default_factory=SpooledBags)
    batch: list[BagAudit] = field(default_factory=list)
    #: Problems the report adds to a bag's result but its fixity event does not
    #: record (a language version the archive lacks is no fault of the bag's files).
    links: dict[str, list[Problem]] = field(default_factory=dict)
    #: A slice that records no checkpoint: where its queue got to.
    rotated: _Rotated | None = None

    def add(self, result: BagAudit, *, verified: bool) -> None:
        # Recorded first: a consumer that stops the run (Ctrl-C in ``each``) has seen
        # only recorded bags once the batch is flushed.
        if verified and self.record is not None:
            self.batch.append(result)
            if len(self.batch) >= RECORD_BATCH:
                self.flush()
        if verified and self.rotated is not None:
            self.rotated.done(result.identifier)
        extra = self.links.pop(result.identifier, None)
        if extra:
            result = replace(result, problems=(*result.problems, *extra))
        self.checked += 1
        self.bytes += result.bytes_checked
        if not result.valid:
            self.invalid += 1
        if self.keep_valid or not result.valid:
            self.kept.append(result)
        if self.each is not None:
            self.each(result)

    def flush(self) -> None:
        if self.batch and self.record is not None:
            batch, self.batch = self.batch, []
            self.record(batch)


@dataclass
class _Rotated:
    """Where a slice that records no checkpoint got to in its queue (identifier order,
    from after ``start``, round to it): the last bag verified, in that order (bags
    the plan flagged, verified first, out of order, do not count)."""

    start: str
    flagged: Set[str]
    last: str | None = None

    def _key(self, identifier: str) -> tuple[bool, str]:
        return (bool(self.start) and identifier <= self.start, identifier)

    def done(self, identifier: str) -> None:
        if identifier in self.flagged:
            return
        if self.last is None or self._key(identifier) > self._key(self.last):
            self.last = identifier

    @property
    def after(self) -> str:
        return self.start if self.last is None else self.last


def _verify_one(
    bag_dir: str,
    processes: int | None = 1,
    checks: PreserveChecks | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> BagResult:
    """Verify one bag with the checks for our own bags; an unopenable bag is a result.

    Single-threaded by default: the pool parallelises across bags. A pure
    function of the path (and of the trust the chain vouches for), so it can run
    on any worker (a Dask cluster later).
    """
    try:
        return verify_bag(
            Path(bag_dir),
            processes=processes,
            extra_checks=(checks or check_our_bag,),
            limits=limits,
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
    keep_valid: bool = True,
    limits: Limits | None = None,
    state: Path | None = None,
) -> AuditReport:
    """Verify every bag (or the ``limit``/``budget`` least recently verified) against the ledger.

    ``progress`` receives every bag's result as it is judged (the per-bag list,
    streamed); with ``keep_valid=False`` the report keeps only the failing bags,
    so an audit of a million bags needs no more memory than one of a thousand.
    ``limits``: the verifier's (default: the archive's ``[limits]`` settings).

    With an ``executor`` (:mod:`preserve.distributed`) the bags are verified there,
    in batches drawn from the same stream; the plan and every ledger write stay
    here. Results are recorded every :data:`RECORD_BATCH` bags, and if the executor
    is lost (or on Ctrl-C) what was verified so far is recorded before the error goes on.

    A slice (``limit``/``budget``) that records no checkpoint (a read-only archive, a
    locked ledger; or ``record=False`` with a ``state``) takes its bags in identifier
    order and sweeps its window from where the ``state`` file says the last such
    slice stopped, and writes the file back; without one, from the clock's window
    (:mod:`preserve.rotation`). A note says which window it swept.
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
    recording = record and writable
    written = 0
    bounded = limit is not None or budget is not None
    # A slice that records no checkpoint keeps its place elsewhere (preserve.rotation).
    rotate = bounded and (not writable or (state is not None and not recording))
    try:
        position = rotation.load(state) if rotate and state is not None else None
    except PreserveError:
        db.close()
        raise
    placed: rotation.Plan | None = None

    def write_batch(batch: list[BagAudit]) -> None:
        nonlocal recording, written
        if not recording:
            return
        try:
            _record(db, batch, started_at)
            written += len(batch)
        except ArchiveError as exc:  # disk full, ledger locked: the checks still count
            recording = False
            before = f" (the first {written} were)" if written else ""
            notes.append(f"{exc.message}: results were not recorded in the ledger{before}")

    tally = _Tally(keep_valid, progress, write_batch)
    snapshot: sqlite3.Connection | None = None
    stack = contextlib.ExitStack()
    try:
        with ledger.reading(archive):
            # One read snapshot for the plan: the chain, the tables compared with it,
            # and the queue drawn from them, while results are written elsewhere.
            snapshot = ledger.connect(archive, readonly=True)
            snapshot.execute("BEGIN")
            # The chain is replayed from its latest checkpoint (a chained event), not
            # from its first event: at a million bags that replay is most of a slice.
            # A rolling slice compares the events since then and the sweep's window
            # here, and its own bags as it takes them (_Pages): its plan follows the
            # slice, not the archive.
            share = limit or 0
            if rotate:
                if not share and position is not None:
                    share = position.checked  # a budget: the share the last one checked
                placed = rotation.plan(snapshot, position, state, share=share)
            found = ledger_check.check(
                snapshot,
                archive,
                incremental=True,
                rolling=share if bounded else None,
                cursor=placed.cursor if placed is not None else None,
            )
            if not found.bound:
                notes.append(
                    "the ledger predates version 4: its tables are not yet bound to its chain "
                    "(any audit or ingest with write access binds them)"
                )
            checks = _checks(archive, found, notes) if found.bound else None
            if limits is None:
                try:
                    limits = load_settings(archive).limits
                except PreserveError as exc:
                    notes.append(f"settings unreadable, default limits used: {exc.one_line()}")
                    limits = DEFAULT_LIMITS
            # Language versions the archive does not hold: added to their bags' results
            # (a rolling slice: the window's bags here, its own bags page by page).
            window_scope = found.window.rows() if found.window is not None else None
            tally.links = _version_problems(snapshot, window_scope)
            # Withdrawn bags (preserve withdraw: a chained tombstone) are expected gone.
            withdrawn = _withdrawn(archive, snapshot, found, tally)
            # The queue, in its order, spooled to a temporary file; then the snapshot
            # ends. A read transaction held for the whole audit would keep SQLite from
            # checkpointing its write-ahead log: 3 GB of WAL by the end of 1M bags.
            spool = stack.enter_context(
                tempfile.TemporaryFile("w+", encoding="utf-8", prefix="preserve-audit-")  # noqa: SIM115
            )
            pages: _Pages | None = None
            after = placed.queue_after if placed is not None else None
            if found.window is None:
                total = _spool_queue(spool, snapshot, found, withdrawn, after=after)
                flagged: Set[str] = set(found.bag_problems) | set(found.rows_missing)
            else:
                # Only the bags the sweep flagged are spooled; the rest of the queue is
                # read a page at a time, as far as the slice goes, by the index.
                first = _swept_first(archive, snapshot, found.window, withdrawn)
                _spool_queue(spool, snapshot, found, withdrawn, rest=False, extra=first)
                skip = withdrawn | set(first) | set(found.bag_problems)
                flagged = skip
                pages = _Pages(db, found, started_at, skip, notes, after=after, links=tally.links)
                # Counted by the index (and the rows missing, spooled), not read.
                total = _rows_to_audit(snapshot, withdrawn) + len(
                    set(found.rows_missing) - withdrawn
                )
            snapshot.close()
            snapshot = None
            if placed is not None:
                tally.rotated = _Rotated(placed.queue_after, frozenset(flagged))
            queue: Iterator[ledger.BagRow] = _queue(archive, spool, found, notes, tally, pages)
            planned = total
            if limit is not None:
                queue = _Limited(queue, limit, drain=pages is None)
                total = min(total, limit)
            try:
                skipped = _verify_all(
                    archive,
                    db,
                    queue,
                    workers,
                    started,
                    budget,
                    found,
                    checks,
                    tally,
                    limits,
                    executor,
                    total,
                    drain=pages is None,
                )
            except (PreserveError, KeyboardInterrupt):
                tally.flush()  # what was verified before the executor went (or Ctrl-C)
                raise
            skipped += getattr(queue, "rest", 0)
            if pages is not None:  # the rest of the queue was not read: counted by the index
                skipped += max(0, planned - pages.drawn)
            for result in _unknown(archive, db, found, withdrawn):
                tally.add(result, verified=False)
            for identifier, problems in sorted(tally.links.items()):
                # Linked bags this audit did not reach (a rolling slice, or withdrawn).
                linked = BagAudit(identifier, f"{BAGS_DIR}/{identifier}", tuple(problems))
                tally.add(linked, verified=False)
            tally.links = {}
        tally.flush()
        if placed is not None:
            _keep_place(archive, placed, found, tally, position, state, notes)
        if recording and found.checkpoint is not None:
            # How many bags this audit checked: a next slice with a budget and no limit
            # sweeps as large a share.
            checkpoint = replace(found.checkpoint, checked=tally.checked)
            try:  # past this audit's own events (a read, no lock held while it replays)
                db.execute("BEGIN")
                try:
                    checkpoint = ledger_check.extend(db, checkpoint)
                finally:
                    db.execute("COMMIT")
            except sqlite3.Error:
                pass  # the checkpoint as planned: the next audit replays a little more
            try:
                with ledger.write(db):
                    ledger_check.record_checkpoint(db, checkpoint, software_agent())
            except ArchiveError as exc:  # the next audit replays a little more
                notes.append(f"{exc.message}: the chain's checkpoint was not recorded")
    finally:
        if snapshot is not None:
            snapshot.close()
        stack.close()
        db.close()
    return AuditReport(
        str(archive),
        started_at,
        time.monotonic() - started,
        tally.kept,
        skipped,
        recording,
        tuple(notes),
        found.problems,
        tally.checked,
        tally.invalid,
        tally.bytes,
    )


def _keep_place(
    archive: Path,
    placed: rotation.Plan,
    found: ledger_check.LedgerCheck,
    tally: _Tally,
    position: rotation.Position | None,
    state: Path | None,
    notes: list[str],
) -> None:
    """Say where a slice that records no checkpoint swept, and keep its place in the
    state file (if any) for the next one."""
    window = found.window
    queue_after = tally.rotated.after if tally.rotated is not None else placed.queue_after
    if window is None:
        swept = (
            "compared every row and event (no checkpoint to start from, or the chain "
            "did not verify from it)"
        )
        bags_to, events_to = placed.cursor.bags_swept_to, placed.cursor.swept_to
    else:
        upto = f"up to {window.upto!r}" if window.upto is not None else "to the last"
        stretches = ", ".join(f"{a}-{b}" for a, b in window.events if a <= b)
        swept = f"swept the rows after {window.after!r} {upto} and events {stretches or 'none'}"
        bags_to = window.upto or ""
        checkpoint = found.checkpoint
        events_to = checkpoint.swept_to if checkpoint is not None else placed.cursor.swept_to
    begin = f"after {placed.queue_after!r}" if placed.queue_after else "the first"
    notes.append(
        f"no checkpoint recorded: this slice {swept}, its bags in identifier order "
        f"from {begin}; its place from {placed.source}"
    )
    if state is None:
        return
    here = rotation.Position(
        placed.chain,
        queue_after,
        bags_to,
        events_to,
        (position.runs if position is not None else 0) + 1,
        tally.checked,
    )
    try:
        rotation.save(state, archive, here)
    except PreserveError as exc:  # the results stand; the next slice repeats this place
        notes.append(f"{exc.one_line()}: the next slice starts where this one did")


class _Limited(Iterator[ledger.BagRow]):
    """The first ``limit`` bags of a queue. With ``drain`` (a spooled queue) the rest
    are counted (``rest``) and drawn all the same, so a missing bag past the limit is
    still reported; a rolling slice's pages are not read past the limit (the sweep
    finds a missing bag within its cycle)."""

    def __init__(self, queue: Iterator[ledger.BagRow], limit: int, *, drain: bool = True) -> None:
        self.queue, self.limit, self.rest, self.drain = queue, limit, 0, drain

    def __next__(self) -> ledger.BagRow:
        if self.limit > 0:
            self.limit -= 1
            return next(self.queue)
        if self.drain:
            for _ in self.queue:
                self.rest += 1
        raise StopIteration


#: The queue's order: bags never verified first, then the least recently verified
#: (the index ``bags_by_last_verified``, ledger version 8, serves it).
QUEUE_QUERY = (
    "SELECT identifier, path, state, ingested_at, last_verified_at, publisher_pid"
    " FROM bags ORDER BY last_verified_at, identifier"
)

_ONE_ROW = QUEUE_QUERY.replace(" ORDER BY last_verified_at, identifier", " WHERE identifier = ?")
#: A slice that records no checkpoint (a read-only replica): the ledger's times of
#: verification do not move, so it goes round in identifier order from where the last
#: stopped (preserve.rotation), then from the first row round to there.
QUEUE_AFTER = QUEUE_QUERY.replace(
    " ORDER BY last_verified_at, identifier", " WHERE identifier > ? ORDER BY identifier"
)
QUEUE_ROUND = QUEUE_QUERY.replace(
    " ORDER BY last_verified_at, identifier", " WHERE identifier <= ? ORDER BY identifier"
)


def _present(archive: Path, path: str) -> bool:
    """Whether the bag is in ``bags/`` (a symlink counts: the verifier refuses it)."""
    bag = archive / path
    return bag.is_symlink() or bag.is_dir()


def _spool_queue(
    spool: IO[str],
    snapshot: sqlite3.Connection,
    found: ledger_check.LedgerCheck,
    withdrawn: Set[str] = frozenset(),
    *,
    rest: bool = True,
    extra: Sequence[str] = (),
    after: str | None = None,
) -> int:
    """The bags to verify, in order, from the snapshot into ``spool`` (one JSON array a
    line; ~150 bytes a bag): bags whose rows disagree with the chain first (a rolling
    audit reaches them at once), and ``extra`` ones, then (``rest``) the least
    recently verified (``after``: in identifier order from after it, round to it, for a
    slice that records no checkpoint); withdrawn bags not at all. Leaves the file at
    its start; returns how many bags it holds."""
    count = 0
    first = sorted((set(found.bag_problems) | set(found.rows_missing) | set(extra)) - withdrawn)
    for identifier in first:
        row = snapshot.execute(_ONE_ROW, (identifier,)).fetchone()
        if row is None:  # the chain records the bag but its row was deleted: audited all the same
            at = found.rows_missing.get(identifier, "")
            row = (identifier, f"{BAGS_DIR}/{identifier}", "published", at, None, None)
        spool.write(json.dumps(list(row)) + "\n")
        count += 1
    skip = set(first) | withdrawn
    if not rest:
        queries: list[tuple[str, tuple[str, ...]]] = []
    elif after is None:
        queries = [(QUEUE_QUERY, ())]
    else:
        queries = [(QUEUE_AFTER, (after,)), (QUEUE_ROUND, (after,))]
    for query, params in queries:
        for row in snapshot.execute(query, params):
            if row[0] not in skip:
                spool.write(json.dumps(list(row)) + "\n")
                count += 1
    spool.seek(0)
    return count


def _queue(
    archive: Path,
    spool: IO[str],
    found: ledger_check.LedgerCheck,
    notes: list[str],
    tally: _Tally,
    pages: _Pages | None = None,
) -> Iterator[ledger.BagRow]:
    """The spooled queue, then the pages (a rolling slice), a bag at a time; missing
    bags go straight to the tally."""
    for line in spool:
        if pages is not None:
            pages.drawn += 1
        yield from _admit(archive, ledger.BagRow(*json.loads(line)), found, notes, tally)
    for bag in pages or ():
        yield from _admit(archive, bag, found, notes, tally)


#: A rolling slice's queue, a page at a time by the index ``bags_by_last_verified``:
#: bags never verified (by identifier), then the least recently verified. Two more
#: columns: the bag's chained ingestion (a bag published after the plan is left for
#: the next audit: its events were not replayed), and whether this audit already
#: verified it (its time, and a fixity event after the plan's last: skipped; a bag
#: verified in the same second by an earlier audit is not).
_QUEUE_COLUMNS = (
    "SELECT identifier, path, state, ingested_at, last_verified_at, publisher_pid,"
    " (SELECT min(e.id) FROM events e WHERE e.identifier = bags.identifier"
    f" AND e.type = '{INGESTION}' AND e.outcome = 'success'),"
    " last_verified_at = :at AND EXISTS (SELECT 1 FROM events e"
    f" WHERE e.identifier = bags.identifier AND e.type = '{FIXITY_CHECK}' AND e.id > :mark)"
    " FROM bags"
)
PAGE_NEVER = (
    f"{_QUEUE_COLUMNS} WHERE last_verified_at IS NULL AND identifier > :id"
    " ORDER BY last_verified_at, identifier LIMIT :rows"
)
PAGE_SINCE = (
    f"{_QUEUE_COLUMNS} WHERE last_verified_at IS NOT NULL"
    " AND (last_verified_at, identifier) > (:lv, :id)"
    " ORDER BY last_verified_at, identifier LIMIT :rows"
)
#: A slice that records no checkpoint: in identifier order, after ``:id`` (up to
#: ``:stop``, the second time round).
PAGE_BY_ID = (
    f"{_QUEUE_COLUMNS} WHERE identifier > :id AND (:stop IS NULL OR identifier <= :stop)"
    " ORDER BY identifier LIMIT :rows"
)
#: Rows per page (one short read transaction each, the rows compared with the chain).
PAGE_ROWS = 500


class _Pages:
    """A rolling slice's queue past the spooled bags, read as far as the slice goes.

    Each page is one short read transaction (no snapshot outlives it: the log keeps
    being checkpointed) in which its rows are also compared with the chain
    (:func:`ledger_check.compare_bags`), so every bag the slice checks is compared
    in full, whatever the sweep's window."""

    def __init__(
        self,
        db: sqlite3.Connection,
        found: ledger_check.LedgerCheck,
        started_at: str,
        skip: Set[str],
        notes: list[str],
        *,
        after: str | None = None,
        links: dict[str, list[Problem]] | None = None,
    ) -> None:
        self.db, self.found, self.started_at, self.skip, self.notes = (
            db,
            found,
            started_at,
            skip,
            notes,
        )
        #: In identifier order from after this one, round to it (None: least recently
        #: verified first, the order of slices that record their results).
        self.after = after
        #: Where the links to versions the archive lacks go, for each page's bags.
        self.links = links
        #: Bags taken so far (the spooled ones, flagged by the plan, first: _queue counts
        #: them), and those left because they were published after the plan.
        self.drawn = 0
        self.late = 0

    def __iter__(self) -> Iterator[ledger.BagRow]:
        replayed = self.found.chain.last_id or 0
        args: dict[str, Any] = {"at": self.started_at, "mark": replayed, "rows": PAGE_ROWS}
        query, args["id"] = PAGE_NEVER, ""
        if self.after is not None:
            query, args["id"], args["stop"] = PAGE_BY_ID, self.after, None
        while True:
            self.db.execute("BEGIN")
            try:
                rows = self.db.execute(query, args).fetchall()
                if not rows and query is PAGE_NEVER:  # then the others, least recent first
                    query, args["lv"], args["id"] = PAGE_SINCE, "", ""
                    rows = self.db.execute(query, args).fetchall()
                elif not rows and query is PAGE_BY_ID and self.after and args["stop"] is None:
                    args["id"], args["stop"] = "", self.after  # round from the first row
                    rows = self.db.execute(query, args).fetchall()
                taken = [r for r in rows if r[0] not in self.skip and not r[7]]
                ledger_check.compare_bags(self.db, self.found, [r[0] for r in taken])
                if self.links is not None and taken:
                    page = (ledger_check.LISTED, (json.dumps([r[0] for r in taken]),))
                    for identifier, extra in _version_problems(self.db, page).items():
                        self.links.setdefault(identifier, extra)
            finally:
                self.db.execute("COMMIT")
            if not rows:
                return
            args["lv"], args["id"] = rows[-1][4], rows[-1][0]
            for row in taken:
                if row[6] is not None and row[6] > replayed:
                    self.late += 1
                    if self.late == 1:
                        self.notes.append(
                            "bags published after this audit began are left for the next one"
                        )
                    continue
                self.drawn += 1
                yield ledger.BagRow(*row[:6])


def _rows_to_audit(snapshot: sqlite3.Connection, withdrawn: Set[str]) -> int:
    """How many rows the queue holds: counted by the index, less withdrawn bags' rows."""
    count = int(snapshot.execute("SELECT count(*) FROM bags").fetchone()[0])
    if withdrawn:
        listed = json.dumps(sorted(withdrawn))
        count -= int(
            snapshot.execute(
                "SELECT count(*) FROM bags WHERE identifier IN (SELECT value FROM json_each(?))",
                (listed,),
            ).fetchone()[0]
        )
    return count


def _swept_first(
    archive: Path, snapshot: sqlite3.Connection, window: ledger_check.Window, withdrawn: Set[str]
) -> list[str]:
    """The bags of the sweep's window that are not in ``bags/`` (the queue then reports
    them missing): a missing bag is found within one cycle of slices."""
    scope, params = window.rows()
    rows = snapshot.execute(f"SELECT b.identifier FROM bags b WHERE {scope}", params)
    return [
        identifier
        for (identifier,) in rows
        if identifier not in withdrawn and not _present(archive, f"{BAGS_DIR}/{identifier}")
    ]


def _admit(
    archive: Path,
    bag: ledger.BagRow,
    found: ledger_check.LedgerCheck,
    notes: list[str],
    tally: _Tally,
) -> Iterator[ledger.BagRow]:
    """The bag if it is to be verified; a missing bag is judged here."""
    if found.bound and bag.path != f"{BAGS_DIR}/{bag.identifier}":
        bag = bag._replace(path=f"{BAGS_DIR}/{bag.identifier}")  # ledger.path-changed
    present = _present(archive, bag.path)
    if bag.state == "publishing" and bag.identifier not in found.published_per_chain:
        if publisher_alive(bag.publisher_pid) or not present:
            notes.append(f"{bag.identifier}: being published (or interrupted); not audited")
            return
        # Its ingest died between the rename and the mark: the bag is in bags/, so it
        # is audited (against the digests recorded at staging) until an ingest completes it.
        notes.append(
            f"{bag.identifier}: being published (or interrupted): its ingest died before "
            "marking it published; audited; the next ingest completes it"
        )
    if not present:
        problems = (
            *found.bag_problems.get(bag.identifier, ()),
            Problem(
                "ledger.bag-missing",
                "",
                f"bag recorded at ingest ({bag.ingested_at}) is not in the archive",
            ),
        )
        tally.add(BagAudit(bag.identifier, bag.path, problems), verified=False)
        return
    yield bag


#: Names of ``bags/`` looked up in the ledger at once (their indexes back: the names).
_UNKNOWN = (
    "SELECT key FROM json_each(?) WHERE NOT EXISTS"
    " (SELECT 1 FROM bags WHERE identifier = json_each.value)"
)
LOOKUP_BATCH = 10_000


def _unknown(
    archive: Path,
    db: sqlite3.Connection,
    found: ledger_check.LedgerCheck,
    withdrawn: Set[str] = frozenset(),
) -> Iterator[BagAudit]:
    """Bags in ``bags/`` the ledger never heard of (planted), streamed from the disk.

    Each name is looked up in the ledger as it is now, after the plan: a bag
    published since has its row by then (rows are written before the rename), and
    is no planted bag. A withdrawn bag back on disk is reported by
    :func:`_withdrawn`, not here.

    A rolling slice lists ``bags/`` only when its window of rows reaches the last
    row (once a lap of the sweep, within the cycle of slices), then looks up every
    name: a folder cannot be listed in part, and listing a million names on every
    slice cost more than the rest of its plan (docs/tamper-evidence.md).
    """
    if found.window is not None and found.window.upto is not None:
        return
    bags_root = archive / BAGS_DIR
    if not bags_root.is_dir():
        return
    names: list[str] = []
    batch: list[str] = []

    def look_up() -> None:
        # A batch of names at once: the lookups run inside SQLite, not a call a name.
        for (index,) in db.execute(_UNKNOWN, (json.dumps(batch),)):
            names.append(batch[int(index)])  # planted bags only: none in good order
        batch.clear()

    with os.scandir(bags_root) as entries:
        for entry in entries:
            if not (entry.is_dir(follow_symlinks=False) or entry.is_symlink()):
                continue
            name = entry.name
            if name in found.rows_missing or name in withdrawn:
                continue
            batch.append(name)
            if len(batch) >= LOOKUP_BATCH:
                look_up()
    if batch:
        look_up()
    for name in sorted(names):
        # A name that is not UTF-8 (a planted folder may have any bytes) is shown with
        # its bytes escaped (\xff): a report must be writable whatever was planted.
        shown = os.fsencode(name).decode("utf-8", "backslashreplace")
        yield BagAudit(
            shown,
            f"{BAGS_DIR}/{shown}",
            (
                Problem(
                    "ledger.bag-unknown",
                    "",
                    "bag is in the archive but was never ingested (not in the ledger)",
                ),
            ),
        )


def _withdrawn(
    archive: Path,
    snapshot: sqlite3.Connection,
    found: ledger_check.LedgerCheck,
    tally: _Tally,
) -> frozenset[str]:
    """The withdrawn bags, left out of the audit; one still in ``bags/`` is reported."""
    from preserve.replicas import withdrawn_ids

    identifiers = frozenset(withdrawn_ids(snapshot))
    for identifier in sorted(identifiers):
        found.rows_missing.pop(identifier, None)
        if _present(archive, f"{BAGS_DIR}/{identifier}"):
            problem = Problem(
                "replica.withdrawn-present",
                "",
                "the bag was withdrawn (its tombstone is in the chain) but is in the archive again",
            )
            tally.add(BagAudit(identifier, f"{BAGS_DIR}/{identifier}", (problem,)), verified=False)
    return identifiers


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
    required: bool | None = None  # unreadable settings: each bag reports it
    try:
        required = load_settings(archive).signing_required
    except PreserveError as exc:
        notes.append(f"settings unreadable: {exc.one_line()}")
    return PreserveChecks(Trust(found.trusted_pems, roots, judge), require_signature=required)


def _version_problems(
    db: sqlite3.Connection, scope: tuple[str, tuple[Any, ...]] | None = None
) -> dict[str, list[Problem]]:
    """A problem for each bag linked to a language version the archive does not hold
    (few: the links of an archive in good order all resolve). ``scope``: the bags
    whose links are looked at (an SQL condition on their row ``b``; None: all)."""
    from preserve.versions import missing_links

    by_bag: dict[str, list[Problem]] = {}
    for link in missing_links(db, scope) if scope is not None else missing_links(db):
        by_bag.setdefault(link.identifier, []).append(
            Problem(
                "ledger.version-missing",
                "",
                f"linked as {link.relation} to {link.other}, which is not in the archive",
            )
        )
    return by_bag


def _verify_all(
    archive: Path,
    db: sqlite3.Connection,
    queue: Iterator[ledger.BagRow],
    workers: int | None,
    started: float,
    budget: float | None,
    found: ledger_check.LedgerCheck,
    checks: PreserveChecks | None,
    tally: _Tally,
    limits: Limits = DEFAULT_LIMITS,
    executor: BatchExecutor | None = None,
    total: int | None = None,
    *,
    drain: bool = True,
) -> int:
    """Verify bags in parallel processes (or on ``executor``), submitting only while the
    budget lasts; results go to the tally as they come. Returns how many were not
    reached (the rest of the queue is still drawn, so missing bags are reported
    whatever the budget; a rolling slice's pages are not: ``drain`` False). ``total``:
    about how many bags the queue holds (to size pools and batches; the queue itself
    is never held whole)."""

    def finish(bag: ledger.BagRow, result: BagResult) -> None:
        bag_dir = archive / bag.path
        # The digests are read now, one bag at a time, not held for the whole archive:
        # those the chain recorded at ingest (the table's only before the chain has any).
        expected = ledger_check.chain_digests(db, bag.identifier) if found.bound else None
        if expected is None:
            recorded = ledger.get_bag(db, bag.identifier)
            expected = dict(recorded.tagmanifest_digests) if recorded is not None else {}
        extra = [
            # popped: a slice that meets a million edited rows holds none it has judged
            *found.bag_problems.pop(bag.identifier, ()),
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
        tally.add(audit_result, verified=True)

    def in_budget() -> bool:
        return budget is None or time.monotonic() - started < budget

    def rest() -> int:
        return sum(1 for _ in queue) if drain else 0

    if executor is not None:
        # Calls are drawn from the queue a batch at a time, as the executor submits
        # them; only the bags in flight are held here.
        in_flight: dict[int, ledger.BagRow] = {}

        def calls() -> Iterator[tuple[Any, ...]]:
            for index, bag in enumerate(queue):
                in_flight[index] = bag
                yield (executor.to_remote(archive / bag.path), 1, checks, limits)

        for index, result in executor.map_unordered(_verify_one, calls(), in_budget, total):
            finish(in_flight.pop(index), result)
        return rest()
    count = workers or os.cpu_count() or 1
    if total is not None:
        count = max(1, min(count, total))
    if count <= 1:
        for bag in queue:
            if not in_budget():
                return 1 + rest()
            finish(bag, _verify_one(str(archive / bag.path), None, checks, limits))
        return 0
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
        pending: dict[Future[BagResult], ledger.BagRow] = {}
        window = count * 4
        exhausted = False
        while True:
            while not exhausted and len(pending) < window and in_budget():
                upcoming = next(queue, None)
                if upcoming is None:
                    exhausted = True
                    break
                path = str(archive / upcoming.path)
                pending[pool.submit(_verify_one, path, 1, checks, limits)] = upcoming
            if not pending:
                break
            future = next(iter(_first_done(pending)))
            bag = pending.pop(future)
            finish(bag, future.result())
            if not in_budget():
                exhausted = True
    return rest()


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


#: ``--status``'s order: never verified first, then least recently verified (the index
#: ``bags_by_last_verified``, ledger version 8, serves it without a sort).
STATUS_QUERY = (
    "SELECT identifier, last_verified_at, last_result FROM bags"
    " ORDER BY last_verified_at, identifier"
)


def iter_status(
    archive: Path, *, max_age: dt.timedelta = dt.timedelta(days=90)
) -> Iterator[BagStatus]:
    """Every bag's last verification, least recent first; never verified counts as overdue.

    Streamed from the ledger row by row, so ``audit --status`` needs no more memory for
    a million bags than for ten (loading every row and its digests did not).
    """
    now = dt.datetime.now(dt.UTC)
    db = ledger.connect(archive.absolute(), readonly=True)
    try:
        with ledger.reading(archive):
            for identifier, last, result in db.execute(STATUS_QUERY):
                when = dt.datetime.fromisoformat(last.replace("Z", "+00:00")) if last else None
                yield BagStatus(identifier, last, result, when is None or now - when > max_age)
    finally:
        db.close()


def status(archive: Path, *, max_age: dt.timedelta = dt.timedelta(days=90)) -> list[BagStatus]:
    """:func:`iter_status` as a list (for callers that want them all at once)."""
    return list(iter_status(archive, max_age=max_age))
