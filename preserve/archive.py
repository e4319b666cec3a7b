"""The archive on disk: ingest statements as bags, atomically, with a ledger.

```
ARCHIVE/
  bags/<identifier>/   one BagIt bag per statement, published by one rename
  staging/             bags under construction (same file system as bags/)
  ledger.sqlite        what was ingested, tag-manifest digests, events, search index
```

A crash at any instant leaves either no bag or a complete one in ``bags/``: a bag
is written and fsynced in ``staging/``, recorded in the ledger as 'publishing',
renamed into ``bags/``, then marked 'published'. The next run finishes or undoes
whatever a dead process left half-done (:func:`recover`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preserve import ledger
from preserve.bagging import (
    DEFAULT_ALGORITHMS,
    PayloadFile,
    WrittenBag,
    check_algorithms,
    plan_bag,
    received_files,
    with_received_name,
    write_bag,
)
from preserve.bagit_format import DigestAlgorithm
from preserve.errors import ArchiveError, ExitCode, PreserveError
from preserve.fsio import BAGS_DIR, STAGING_DIR, fsync_dir, publisher_alive, read_regular
from preserve.inputs import Received
from preserve.inputs.prepare import prepare_input
from preserve.keys import SigningKey
from preserve.metadata import Metadata
from preserve.premis import (
    DIGEST_CALCULATION,
    INGESTION,
    NORMALIZATION,
    VALIDATION,
    Event,
    software_agent,
)
from preserve.render import PdfaLevel, associated_files, render_statement
from preserve.render.fonts import font_files_used
from preserve.settings import Institution, load_settings
from preserve.statement import Statement
from preserve.versions import premis_relations, publish_links, stage_links, unstage_links
from preserve.versions import propose as propose_versions
from preserve.workers import die_with_parent

if TYPE_CHECKING:
    from preserve.distributed import BatchExecutor
    from preserve.signing import SignatureInfo

log = logging.getLogger(__name__)


class Status(Enum):
    """How one input ended."""

    ingested = "ingested"
    already_archived = "already-archived"
    failed = "failed"


@dataclass(frozen=True)
class IngestResult:
    """The outcome for one input statement."""

    source: str
    status: Status
    message: str
    identifier: str | None = None
    #: The bag, relative to the archive root, when there is one.
    bag: str | None = None
    exit_code: ExitCode = ExitCode.ok

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "status": self.status.value,
            "identifier": self.identifier,
            "bag": self.bag,
            "message": self.message,
        }


@dataclass(frozen=True)
class IngestReport:
    """Every input's outcome; the worst decides the exit status."""

    archive: str
    results: tuple[IngestResult, ...]
    recovered: tuple[str, ...] = ()

    @property
    def exit_code(self) -> ExitCode:
        return max((r.exit_code for r in self.results), default=ExitCode.ok)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    def as_dict(self) -> dict[str, Any]:
        return {
            "archive": self.archive,
            "ok": self.exit_code == ExitCode.ok,
            "ingested": self.count(Status.ingested),
            "already_archived": self.count(Status.already_archived),
            "failed": self.count(Status.failed),
            "recovered": list(self.recovered),
            "results": [r.as_dict() for r in self.results],
        }


@dataclass(frozen=True)
class IngestOptions:
    """Choices that apply to every statement of one ingest."""

    level: PdfaLevel = PdfaLevel.A2A
    algorithms: tuple[DigestAlgorithm, ...] = DEFAULT_ALGORITHMS
    metadata_file: Path | None = None
    #: The statements' encoding when it is not UTF-8 and not to be detected (--encoding).
    encoding: str | None = None
    #: Parallel render/stage processes; None = one per core.
    workers: int | None = None
    fail_fast: bool = False
    #: The moment recorded as rendering time; None = SOURCE_DATE_EPOCH or now.
    created: dt.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Sign each bag with this key before it is published (preserve.signing).
    signing_key: SigningKey | None = None
    #: With a signing key: have each signature timestamped by this RFC 3161 TSA.
    tsa_url: str | None = None
    #: Render and stage on this executor (a Dask cluster: preserve.distributed)
    #: instead of local processes; publishing stays in this process.
    executor: BatchExecutor | None = None


# --------------------------------------------------------------------------- archive


def open_archive(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """Check (and create) the archive folder and open its ledger for writing."""
    if path.exists() and not path.is_dir():
        raise ArchiveError("archive path exists and is not a directory", path)
    if not path.exists():
        if not create:
            raise ArchiveError("no archive here", path)
        try:
            path.mkdir(parents=True)
        except OSError as exc:
            raise ArchiveError(f"cannot create the archive: {exc.strerror or exc}", path) from None
    for sub in (BAGS_DIR, STAGING_DIR):
        try:
            (path / sub).mkdir(exist_ok=True)
        except OSError as exc:
            raise ArchiveError(f"cannot create {sub}/: {exc.strerror or exc}", path) from None
    if not os.access(path, os.W_OK) or not os.access(path / BAGS_DIR, os.W_OK):
        raise ArchiveError("archive is not writable", path)
    return ledger.connect(path)


def recover(archive: Path, db: sqlite3.Connection) -> list[str]:
    """Finish or undo what a dead process left: 'publishing' rows and staging leftovers.

    Returns one line per thing done, for the report. Rows and staging folders of
    live processes (a concurrent ingest) are left alone, and so is a 'publishing'
    row whose ingestion the chain already records (the row was changed by hand:
    the audit reports it as ``ledger.state-changed``). A bag in ``bags/`` that
    differs from the bag staged is published all the same, with the digests of
    the bag staged in its chained ingestion event, so every audit reports it
    until it is repaired: it is never left unaudited.
    """
    from preserve import ledger_check

    done: list[str] = []
    with ledger.write(db):
        rows = db.execute(
            "SELECT identifier, path, publisher_pid FROM bags WHERE state = 'publishing'"
        ).fetchall()
        for row in rows:
            identifier = row["identifier"]
            if publisher_alive(row["publisher_pid"]) and row["publisher_pid"] != os.getpid():
                continue
            if ledger_check.is_ingested(db, identifier):
                done.append(
                    f"{identifier}: its row says 'publishing' but the chain records its "
                    "publication: left as it is (preserve audit reports it)"
                )
                continue
            bag_dir = archive / BAGS_DIR / identifier
            recorded = ledger.get_bag(db, identifier)
            if bag_dir.is_dir() and recorded:
                digests = dict(recorded.tagmanifest_digests)
                whole = _digests_match(bag_dir, digests)
                _mark_published(db, identifier)
                ledger.record_event(
                    db,
                    identifier=identifier,
                    type=INGESTION,
                    outcome="success",
                    detail={
                        "note": "publication completed after an interrupted ingest"
                        + ("" if whole else "; the bag differs from the bag staged"),
                        "payload_oxum": recorded.payload_oxum,
                        "tagmanifests": digests,
                    },
                    agent=software_agent(),
                )
                publish_links(db, row["identifier"], software_agent())
                done.append(
                    f"{identifier}: publication completed after an interrupted ingest"
                    if whole
                    else f"{identifier}: published by an interrupted ingest, but the bag "
                    "differs from the bag staged: recorded; preserve audit reports it"
                )
            elif not bag_dir.exists():
                db.execute("DELETE FROM bags WHERE identifier = ?", (identifier,))
                db.execute("DELETE FROM statements_fts WHERE identifier = ?", (identifier,))
                unstage_links(db, identifier)
                done.append(f"{identifier}: interrupted ingest undone (bag was never published)")
    staging = archive / STAGING_DIR
    for entry in sorted(staging.iterdir()) if staging.is_dir() else []:
        pid = _staging_pid(entry.name)
        if pid is not None and publisher_alive(pid) and pid != os.getpid():
            continue
        shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(
            missing_ok=True
        )
        done.append(
            f"staging/{entry.name}: removed an incomplete bag left by an interrupted ingest"
        )
    return done


def _mark_published(db: sqlite3.Connection, identifier: str) -> None:
    """Published now: harvesters see it from now on (``changed_at``, the OAI datestamp)."""
    db.execute(
        "UPDATE bags SET state = 'published', publisher_pid = NULL, changed_at = ?"
        " WHERE identifier = ?",
        (ledger.now(), identifier),
    )


def _staging_pid(name: str) -> int | None:
    parts = name.split(".")
    try:
        return int(parts[-2])
    except (IndexError, ValueError):
        return None


def _digests_match(bag_dir: Path, expected: dict[str, str] | Any) -> bool:
    for name, digest in dict(expected).items():
        try:
            actual = hashlib.sha256((bag_dir / name).read_bytes()).hexdigest()
        except OSError:
            return False
        if actual != digest:
            return False
    return bool(expected)


# --------------------------------------------------------------------------- inputs


#: What a folder given to ingest is searched for: statements in every form we read.
#: (A browser's ``page_files/`` folder is part of its page, never searched on its own.)
INPUT_SUFFIXES = frozenset(
    {".txt", ".html", ".htm", ".xhtml", ".eml", ".warc", ".pdf", ".docx", ".odt"}
    | {".tif", ".tiff", ".png", ".jpg", ".jpeg"}
)


def collect_inputs(paths: Iterable[Path]) -> Iterator[Path]:
    """Statement files named directly or found in directories, in order.

    In a directory: ``*.txt``, saved pages (``*.html``), e-mails (``*.eml``) and
    captures (``*.warc``), but not what lies in a page's ``<stem>_files/`` folder.
    Symbolic links inside a directory are not followed: what goes into a bag
    is what the archivist put there, not what a link points at.
    """
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path, followlinks=False):
                pages = {
                    Path(n).stem + "_files"
                    for n in files
                    if Path(n).suffix.lower() in {".html", ".htm", ".xhtml"}
                }
                dirs[:] = sorted(d for d in dirs if d not in pages)
                for name in sorted(files):
                    candidate = Path(root) / name
                    if candidate.suffix.lower() not in INPUT_SUFFIXES:
                        continue
                    if candidate.is_symlink():
                        log.warning("%s: symbolic link not followed", candidate)
                        continue
                    yield candidate
        else:
            yield path


def _decoded_from(record: Mapping[str, Any]) -> str:
    """For the validation event: the encoding a statement that was not UTF-8 was read in."""
    encoding = record.get("encoding")
    if not isinstance(encoding, Mapping):
        return ""
    return (
        f"; text decoded from {encoding['name']} (detector confidence"
        f" {encoding['confidence']}; 1 when given with --encoding)"
    )


def _left_out_and_notes(statement: Statement) -> str:
    """For the ingest event: every line left out of the text and the copy, and every
    note, one a line, so the bag's own history names them all, whatever form the
    statement came in and whatever the record's ``left_out`` could hold."""
    lines = [f"left out: {line}" for line in statement.leftovers]
    lines += [f"note: {note.code}: {' '.join(note.message.split())}" for note in statement.notes]
    if not lines:
        return ""
    head = (
        f"; {len(statement.leftovers)} line(s) left out of the text and the copy, "
        f"in reading order, and {len(statement.notes)} note(s):"
    )
    return head + "".join(f"\n{line}" for line in lines)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def rendering_time() -> dt.datetime:
    """``SOURCE_DATE_EPOCH`` when set (reproducible builds), otherwise now, in UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.UTC)
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


# --------------------------------------------------------------------------- staging


@dataclass(frozen=True)
class _Job:
    """What a worker process needs to render and stage one bag (picklable)."""

    source: str
    statement: Statement
    #: The form it arrived in and its files as received (:mod:`preserve.inputs`).
    received: Received
    record: dict[str, Any]
    staging: Path
    level: PdfaLevel
    algorithms: tuple[DigestAlgorithm, ...]
    created: dt.datetime
    #: sha256 of the original bytes and of the canonical metadata JSON: what makes
    #: a re-ingest "the same statement".
    identity: tuple[str, str]
    #: The archive's institution (settings.toml): Source-Organization and contacts.
    institution: Institution = field(default_factory=Institution)


def _stage(job: _Job) -> WrittenBag:
    """Render the PDF/A copy and write the whole bag into staging (runs in a worker)."""
    original_name = job.statement.source_path.name if job.statement.source_path else None
    originals = tuple(
        PayloadFile(f.path, f.content, f.mime, f.pronom, f.original_name)
        for f in job.received.files
    )
    # The record as the bag stores it (a name as received kept beside its portable
    # one), before rendering: the copy embeds that record.
    metadata = with_received_name(
        Metadata(record=job.record),
        received_files(job.statement.original, original_name, originals),
    )
    validated_at = dt.datetime.now(dt.UTC)
    pdf_path = f"data/pdfa/{metadata.identifier}.pdf"
    validation = Event(
        VALIDATION,
        validated_at,
        "success",
        "metadata valid against statement.schema.json" + _decoded_from(job.record),
        ("data/metadata/statement.json",),
    )
    copy = job.received.copy
    if copy is not None:
        # The form made its own copy from the file as received (an institution's PDF
        # kept or converted, a scan OCRed): its input module recorded how.
        pdf, pdf_pronom = copy.pdf, copy.pronom
        rendered_at = dt.datetime.now(dt.UTC)
        copy_events: tuple[Event, ...] = ()
    else:
        rendering = render_statement(
            job.statement,
            metadata,
            job.level,
            created=job.created,
            # PDF/A-3: the file as received (a page's .html) and the text taken out of it
            attachments=associated_files(job.received.files, metadata),
        )
        pdf, pdf_pronom = rendering.pdf, rendering.level.pronom
        rendered_at = dt.datetime.now(dt.UTC)
        copy_events = (
            Event(
                NORMALIZATION,
                rendered_at,
                "success",
                f"rendered PDF/A-{rendering.level.value} ({rendering.page_count} pages) with "
                + "; ".join(
                    f"{font.name} {font.path.name} sha256:{font.sha256} ({font.source})"
                    for font in font_files_used(rendering.fonts)
                ),
                (pdf_path,),
            ),
            # the render's self-check: a copy that does not read back never gets this far
            Event(VALIDATION, rendered_at, "pass", rendering.selfcheck.detail(), (pdf_path,)),
        )
    events = (
        validation,
        *copy_events,
        Event(
            DIGEST_CALCULATION,
            rendered_at,
            "success",
            "payload and tag manifests: " + ", ".join(a.name for a in job.algorithms),
        ),
        Event(
            INGESTION,
            rendered_at,
            "success",
            "bag staged for the archive" + _left_out_and_notes(job.statement),
        ),
    )
    contents = plan_bag(
        metadata=metadata,
        original=job.statement.original,
        original_name=original_name,
        pdf=pdf,
        pdf_pronom=pdf_pronom,
        events=(*job.received.events, *events),
        bagging_date=rendered_at.date(),
        originals=originals,
        relations=premis_relations(job.record),
        institution=job.institution,
    )
    return write_bag(job.staging, contents, algorithms=job.algorithms)


# --------------------------------------------------------------------------- ingest


def ingest(
    paths: Sequence[Path],
    archive: Path,
    options: IngestOptions | None = None,
    *,
    progress: Callable[[IngestResult], None] | None = None,
) -> IngestReport:
    """Ingest statements (files or directories) into an archive, one bag each.

    Bad statements are reported and the others still go in (unless
    ``fail_fast``). Rendering and staging run in parallel processes; publishing
    (the rename and the ledger rows) runs here, one bag at a time.
    """
    options = options or IngestOptions()
    check_algorithms(options.algorithms)  # before anything is written
    archive = archive.absolute()
    db = open_archive(archive)
    try:
        recovered = recover(archive, db)
        results = list(_ingest(paths, archive, db, options, progress))
    finally:
        db.close()
    return IngestReport(str(archive), tuple(results), tuple(recovered))


def _ingest(
    paths: Sequence[Path],
    archive: Path,
    db: sqlite3.Connection,
    options: IngestOptions,
    progress: Callable[[IngestResult], None] | None,
) -> Iterator[IngestResult]:
    created = options.created or rendering_time()
    institution = load_settings(archive).institution
    if not institution.name:
        log.warning(
            "%s: the archive names no institution, so its bags carry no Source-Organization; "
            'set it with: preserve settings %s institution.name "..."',
            archive,
            archive,
        )
    jobs: list[_Job] = []
    seen: dict[str, tuple[str, str]] = {}

    def report(result: IngestResult) -> IngestResult:
        if progress:
            progress(result)
        return result

    for path in collect_inputs(paths):
        source = str(path)
        try:
            received, prepared = prepare_input(path, options.metadata_file, options.encoding)
            metadata = prepared.metadata()
        except PreserveError as error:
            message = error.one_line() if error.path != source else error.message
            yield report(_failed(source, message, None, error.exit_code))
            if options.fail_fast:
                break  # stage what came before it, start nothing after it
            continue
        statement = prepared.statement
        assert statement is not None
        identity = (_sha256(received.original.content), _sha256(metadata.to_json()))
        known = ledger.get_bag(db, metadata.identifier)
        if known is None and metadata.identifier not in seen:
            unknown = _unknown_bag(archive, source, metadata.identifier)
            if unknown is not None:
                yield report(unknown)
                if options.fail_fast:
                    break
                continue
        if known is not None or metadata.identifier in seen:
            previous = (
                (known.statement_sha256, known.metadata_sha256)
                if known
                else seen[metadata.identifier]
            )
            present = (
                known is None
                or known.state == "publishing"
                or (archive / BAGS_DIR / metadata.identifier).is_dir()
            )
            duplicate = _duplicate(source, metadata.identifier, identity, previous, present)
            if duplicate.status is Status.failed and identity[0] == previous[0] and present:
                today = json.loads(metadata.to_json())
                duplicate = _made_earlier(archive, source, today) or duplicate
            yield report(duplicate)
            if options.fail_fast and duplicate.status is Status.failed:
                break
            continue
        seen[metadata.identifier] = identity
        staging = (
            archive / STAGING_DIR / f"{metadata.identifier}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        )
        jobs.append(
            _Job(
                source,
                statement,
                received,
                dict(metadata.record),
                staging,
                options.level,
                options.algorithms,
                created,
                identity,
                institution,
            )
        )

    # Staged bags this run does not publish (an error that ends the run: the ledger
    # locked or full) are removed, not left for the next run's recovery.
    staged = _run_jobs(jobs, options)
    try:
        for job, outcome in staged:
            if isinstance(outcome, BaseException):
                shutil.rmtree(job.staging, ignore_errors=True)
                message = (
                    outcome.one_line() if isinstance(outcome, PreserveError) else repr(outcome)
                )
                code = (
                    outcome.exit_code if isinstance(outcome, PreserveError) else ExitCode.cannot_run
                )
                if isinstance(outcome, OSError):
                    message = _os_error_message(outcome, "cannot write the bag in staging")
                yield report(_failed(job.source, message, job.record.get("identifier"), code))
                if options.fail_fast:
                    return
                continue
            signature = None
            if options.signing_key is not None:
                from preserve.signing import sign_bag

                try:
                    signature = sign_bag(outcome.path, options.signing_key, tsa_url=options.tsa_url)
                except PreserveError as error:  # nothing published; the staged bag goes
                    shutil.rmtree(job.staging, ignore_errors=True)
                    yield report(
                        _failed(
                            job.source,
                            f"cannot sign: {error.one_line()}",
                            job.record.get("identifier"),
                            error.exit_code,
                        )
                    )
                    if options.fail_fast:
                        return
                    continue
            yield report(_publish(archive, db, job, outcome, signature))
    finally:
        staged.close()
        for job in jobs:
            shutil.rmtree(job.staging, ignore_errors=True)


def _run_jobs(
    jobs: list[_Job], options: IngestOptions
) -> Generator[tuple[_Job, WrittenBag | BaseException]]:
    """Stage each job, in parallel where there is more than one, as they finish."""
    if options.executor is not None:
        yield from _run_jobs_on(options.executor, jobs)
        return
    workers = min(options.workers or os.cpu_count() or 1, len(jobs))
    if workers <= 1:
        for job in jobs:
            try:
                yield job, _stage(job)
            except Exception as exc:  # reported per statement, not fatal to the batch
                yield job, exc
        return
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    ) as pool:
        futures: dict[Future[WrittenBag], _Job] = {pool.submit(_stage, job): job for job in jobs}
        try:
            for future in as_completed(futures):
                job = futures[future]
                error = future.exception()
                yield job, (error if error is not None else future.result())
        finally:
            for future in futures:
                future.cancel()


def _stage_or_error(job: _Job) -> WrittenBag | BaseException:
    """``_stage`` on a remote worker: a statement's failure comes back as its result,
    so one bad statement is reported alone, not retried or fatal to its batch."""
    from preserve.distributed import portable_error

    try:
        # A batch is run again when its worker died: this job's staging folder (its
        # name is this job's alone) may be there, half or wholly written. Start over.
        if job.staging.exists() or job.staging.is_symlink():
            shutil.rmtree(job.staging)
        return _stage(job)
    except Exception as exc:
        return portable_error(exc)


def _run_jobs_on(
    executor: BatchExecutor, jobs: list[_Job]
) -> Iterator[tuple[_Job, WrittenBag | BaseException]]:
    """Stage on the executor's workers (staging paths as they see them), as batches finish."""
    calls = [
        (dataclasses.replace(job, staging=Path(executor.to_remote(job.staging))),) for job in jobs
    ]
    for index, outcome in executor.map_unordered(_stage_or_error, calls):
        if isinstance(outcome, WrittenBag):
            outcome = dataclasses.replace(outcome, path=Path(executor.to_local(outcome.path)))
        yield jobs[index], outcome


def _os_error_message(exc: OSError, doing: str) -> str:
    """One line for a failed write: a full disk said plainly, anything else named."""
    if exc.errno == errno.ENOSPC:
        return f"no space left on the archive's disk ({doing}); nothing was published"
    return f"{doing}: {exc.strerror or exc}; nothing was published"


def _failed(
    source: str, message: str, identifier: str | None, code: ExitCode = ExitCode.bad
) -> IngestResult:
    return IngestResult(source, Status.failed, message, identifier, exit_code=code)


def _unknown_bag(archive: Path, source: str, identifier: str) -> IngestResult | None:
    """A bag in ``bags/`` that the ledger does not know: planted, or the ledger replaced."""
    if not os.path.lexists(archive / BAGS_DIR / identifier):
        return None
    return _failed(
        source,
        f"{BAGS_DIR}/{identifier} is in the archive but not in its ledger (planted, or the "
        "ledger was replaced): nothing was written; run preserve audit",
        identifier,
    )


#: Record fields a newer preserve may derive differently from the same original (what
#: a form leaves out is recorded for every form since session 4); a sidecar sets none.
_DERIVED_ONLY = ("left_out",)


def _made_earlier(archive: Path, source: str, record: dict[str, Any]) -> IngestResult | None:
    """Already archived: the same original, its record made by an earlier preserve.

    The ledger's identity covers the whole record, so a statement archived before
    preserve recorded more of what a form leaves out would otherwise be refused as
    "a different statement" when ingested again. When the archived record differs
    from today's only in fields no sidecar sets, it is the same statement: already
    archived, the bag untouched, and the message says what today's record would add.
    """
    identifier = str(record.get("identifier"))
    data = read_regular(archive / BAGS_DIR / identifier / "data/metadata/statement.json", 1 << 20)
    try:
        archived = json.loads(data) if data is not None else None
    except ValueError:
        return None
    if not isinstance(archived, dict):
        return None
    strip = {k: v for k, v in record.items() if k not in _DERIVED_ONLY}
    if strip != {k: v for k, v in archived.items() if k not in _DERIVED_ONLY}:
        return None
    added = len(record.get("left_out", [])) - len(archived.get("left_out", []))
    return IngestResult(
        source,
        Status.already_archived,
        f"already archived as {identifier} (its record was made by an earlier preserve; "
        f"today's would list {added:+d} left-out line(s); the bag is unchanged)",
        identifier,
        f"{BAGS_DIR}/{identifier}",
    )


def _duplicate(
    source: str,
    identifier: str,
    identity: tuple[str, str],
    previous: tuple[str, str],
    present: bool = True,
) -> IngestResult:
    if identity == previous and not present:
        return _failed(
            source,
            f"already archived as {identifier}, but {BAGS_DIR}/{identifier} is missing from "
            "the archive: nothing was written; run preserve audit and restore the bag from a "
            "copy",
            identifier,
        )
    if identity == previous:
        return IngestResult(
            source,
            Status.already_archived,
            f"already archived as {identifier}",
            identifier,
            f"{BAGS_DIR}/{identifier}",
        )
    what = "text" if identity[0] != previous[0] else "metadata"
    return _failed(
        source,
        f"identifier '{identifier}' is taken by a different statement (its {what} differs); "
        "give this one its own identifier in its sidecar JSON",
        identifier,
    )


def _publish(
    archive: Path,
    db: sqlite3.Connection,
    job: _Job,
    written: WrittenBag,
    signature: SignatureInfo | None = None,
) -> IngestResult:
    """Move a staged bag into ``bags/`` with one rename, recorded before and after."""
    metadata = Metadata(record=job.record)
    identifier = metadata.identifier
    relative = f"{BAGS_DIR}/{identifier}"
    target = archive / relative
    identity = job.identity
    with ledger.write(db):
        known = ledger.get_bag(db, identifier)
        if known is None and os.path.lexists(target):
            shutil.rmtree(job.staging, ignore_errors=True)
            unknown = _unknown_bag(archive, job.source, identifier)
            assert unknown is not None
            return unknown
        if known is not None:
            shutil.rmtree(job.staging, ignore_errors=True)
            previous = (known.statement_sha256, known.metadata_sha256)
            return _duplicate(job.source, identifier, identity, previous)
        db.execute(
            "INSERT INTO bags (identifier, path, state, publisher_pid, ingested_at, payload_oxum,"
            " statement_sha256, metadata_sha256, software, date_issued, title)"
            " VALUES (?, ?, 'publishing', ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                identifier,
                relative,
                os.getpid(),
                ledger.now(),
                written.payload_oxum,
                *identity,
                software_agent(),
                metadata.record["date_issued"],
                metadata.title,
            ),
        )
        db.executemany(
            "INSERT INTO bag_digests (identifier, file, sha256) VALUES (?, ?, ?)",
            [(identifier, name, digest) for name, digest in written.tagmanifest_digests.items()],
        )
        _index(db, job.statement, metadata)
        # The reading room's catalog (its triggers keep the facet counts).
        db.execute(ledger.CATALOG_INSERT, ledger.catalog_values(metadata.record))
        stage_links(db, job.record, job.statement)
    try:
        os.rename(job.staging, target)
        fsync_dir(target.parent)
    except OSError as exc:
        with ledger.write(db):
            db.execute("DELETE FROM bags WHERE identifier = ?", (identifier,))
            db.execute("DELETE FROM statements_fts WHERE identifier = ?", (identifier,))
            unstage_links(db, identifier)
        shutil.rmtree(job.staging, ignore_errors=True)
        return _failed(
            job.source,
            _os_error_message(exc, "cannot publish the bag"),
            identifier,
            ExitCode.cannot_run,
        )
    with ledger.write(db):
        _mark_published(db, identifier)
        # Links are recorded with the publication, so an undone one leaves no link events.
        proposed = propose_versions(db, job.record, job.statement)
        notes = publish_links(db, identifier, software_agent())
        ledger.record_event(
            db,
            identifier=identifier,
            type=INGESTION,
            outcome="success",
            detail={
                "source": job.source,
                "payload_oxum": written.payload_oxum,
                "pdfa": job.level.value,
                "tagmanifests": dict(written.tagmanifest_digests),
            },
            agent=software_agent(),
        )
        if signature is not None:
            from preserve.signing import record_signature

            record_signature(db, identifier, signature)
    message = f"ingested as {identifier}"
    notes += [
        f"looks like a version of {other} (same issuer, date and shape, another language): "
        "declare it with translation_of or versions in the sidecar"
        for other in proposed
    ]
    if notes:
        message += "; " + "; ".join(notes)
    return IngestResult(job.source, Status.ingested, message, identifier, relative)


def _index(db: sqlite3.Connection, statement: Statement, metadata: Metadata) -> None:
    """Add the statement to the full-text index (inside the publishing transaction)."""
    creator = metadata.record["creator"]
    signer = " ".join(
        filter(None, [creator.get("name"), creator.get("role"), creator.get("organization")])
    )
    db.execute(
        "INSERT INTO statements_fts (identifier, date_issued, title, body, signer, subjects)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            metadata.identifier,
            metadata.record["date_issued"],
            metadata.title,
            "\n\n".join(statement.paragraphs),
            signer,
            " ".join([*metadata.record.get("subjects", []), *metadata.record.get("places", [])]),
        ),
    )
    from preserve.search import unspaced_text

    runs = unspaced_text(metadata.title, "\n\n".join(statement.paragraphs), signer)
    if runs:  # words of scripts written without spaces, for the trigram index
        db.execute(
            "INSERT INTO statements_unspaced (identifier, text) VALUES (?, ?)",
            (metadata.identifier, runs),
        )
