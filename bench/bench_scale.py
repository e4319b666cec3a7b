"""Benchmark: audit cost and peak memory as an archive grows (1,000 to 100,000 bags).

    python bench/bench_scale.py [--sizes 1000,10000,100000] [--workers N] [--dir DIR] [--keep]

For each size, builds an archive of that many real bags, then audits it in a fresh
process and prints audit seconds per bag and the peak memory (``ru_maxrss``) of the
auditing process and of its largest worker. Cost per bag should stay flat (time
linear in the number of bags) and so should worker memory; the auditing process
reads the queue from the ledger in index order (spooled to a temporary file, so no
read transaction outlives the plan) and keeps only failing bags, so its memory is
flat. Then rolling slices (two of 1,000 bags, one with a 3 s budget), each checked to
take exactly the next bags in the queue's order, and the ledger check timed alone.

``--simulate 1000000``: an archive whose ledger holds that many bags (rows, digests,
chained events, as ingest writes them) and whose bags' checks are replaced by a
recorded result (labelled so in the output): the ledger, planning, report and
recording paths are the real ones. The ledger queries' plans are printed.

Shortcut (documented, so 100,000 bags build in minutes): one statement is rendered
to PDF/A once and its PDF reused; each bag gets its own identifier, title and
metadata, and is written with ``preserve.bagging.plan_bag``/``write_bag`` straight
into ``bags/`` with fsync turned off, and recorded in the ledger with the same rows
``preserve.archive._publish`` writes (state 'published', tag-manifest digests, the
ingestion event). The audit itself is the real ``preserve.audit.audit``, with every
check (BagIt, profile, metadata schema, PDF/A, ledger digests).

``--grow 10000,100000,300000``: one archive of real bags grown to each size (two
niced builder processes; see :func:`build` for the fast path), audited whole each
time as a user runs it (``preserve audit --json`` under ``/usr/bin/time``: wall,
CPU, peak RSS, load average), then two 1,000-bag slices and a 30 s budget.

``--plan 1000000 [--baseline TREE]``: a 1,000-bag slice's cost from a checkpoint
(the plan: seconds to the first bag; the whole slice; CPU; peak RSS), simulated
bags, with another checkout's ``preserve`` in alternating rounds on a copy of the
same ledger; then the query plan of every ledger query a slice runs.

``--fail-all 200000,1000000 [--baseline TREE]``: a full audit of simulated bags
whose every recorded result is a failure, its ``--json`` report then written:
peak RSS after each.

``--listing 1000000 [--baseline TREE]``: what a rolling slice does beyond its own bags,
at that size: simulated bags whose ``bags/`` holds a real (empty) folder for each and
whose ledger links one bag in five to a language version; each slice of 1,000 (in a
fresh process, alternating with ``--baseline``) broken down into the listing of
``bags/`` (planted bags), the ``version_links`` scan, the index counts and the
window's folders stat-ed, against the whole slice.

Prints numbers; asserts only that every bag audited valid.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "en-annual-report.txt"


def build(archive: Path, count: int, start: int = 0) -> float:
    """Make an archive of ``count`` bags (see the module docstring), or add bags
    ``start``..``start + count - 1`` to one built before; returns seconds.

    Fast path (all of it leaves each bag's bytes as ``write_bag`` writes them): the
    PDF, the same bytes in every bag, is hashed once per algorithm, not once per file
    record (``software_agent()`` is cached by preserve itself); fsync is off."""
    from preserve import archive as archive_mod
    from preserve import bagging, ledger, premis
    from preserve.metadata import Metadata, prepare_file
    from preserve.premis import INGESTION, NORMALIZATION, Event
    from preserve.render import PdfaLevel, render_statement

    started = time.perf_counter()
    prepared = prepare_file(FIXTURE)
    base = prepared.metadata()
    statement = prepared.statement
    assert statement is not None
    rendering = render_statement(statement, base, PdfaLevel.A2U)
    pdf = rendering.pdf
    real_fsync, real_digest = os.fsync, bagging._digest
    pdf_digests = {a: real_digest(a, pdf) for a in bagging.DEFAULT_ALGORITHMS}

    def digest(algorithm: Any, content: bytes) -> str:
        if content is pdf:
            return pdf_digests[algorithm]
        return real_digest(algorithm, content)

    os.fsync = lambda fd: None  # the shortcut: durability is not what is measured here
    bagging._digest = digest  # type: ignore[assignment]
    try:
        db = archive_mod.open_archive(archive)
        day = dt.date(2024, 3, 1)
        at = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
        batch: list[tuple[Metadata, bagging.WrittenBag]] = []
        for i in range(start, start + count):
            record = dict(base.record)
            record["identifier"] = f"bench-{i:07d}"
            record["title"] = f"{base.title} {i}"
            metadata = Metadata(record=record)
            contents = bagging.plan_bag(
                metadata=metadata,
                original=statement.original,
                original_name=FIXTURE.name,
                pdf=pdf,
                pdf_pronom=rendering.level.pronom,
                events=(
                    Event(NORMALIZATION, at, "success", "rendered PDF/A-2u"),
                    Event(INGESTION, at, "success", "bag staged for the archive"),
                ),
                bagging_date=day,
            )
            written = bagging.write_bag(archive / "bags" / metadata.identifier, contents)
            batch.append((metadata, written))
            if len(batch) == 1000 or i == start + count - 1:
                _record(db, batch, statement.original, ledger, premis.software_agent())
                batch = []
        db.close()
    finally:
        os.fsync, bagging._digest = real_fsync, real_digest
    return time.perf_counter() - started


def _record(db, batch, original, ledger, agent) -> None:  # type: ignore[no-untyped-def]
    """The rows archive._publish writes, for a batch of bags, in one transaction."""
    import hashlib

    statement_sha = hashlib.sha256(original).hexdigest()
    with ledger.write(db):
        for metadata, written in batch:
            identifier = metadata.identifier
            db.execute(
                "INSERT INTO bags (identifier, path, state, publisher_pid, ingested_at,"
                " payload_oxum, statement_sha256, metadata_sha256, software, date_issued, title)"
                " VALUES (?, ?, 'published', NULL, ?, ?, ?, ?, ?, ?, ?)",
                (
                    identifier,
                    f"bags/{identifier}",
                    ledger.now(),
                    written.payload_oxum,
                    statement_sha,
                    hashlib.sha256(metadata.to_json()).hexdigest(),
                    agent,
                    metadata.record["date_issued"],
                    metadata.title,
                ),
            )
            db.executemany(
                "INSERT INTO bag_digests (identifier, file, sha256) VALUES (?, ?, ?)",
                [(identifier, n, d) for n, d in written.tagmanifest_digests.items()],
            )
            ledger.record_event(
                db,
                identifier=identifier,
                type="ingestion",
                outcome="success",
                detail={
                    "payload_oxum": written.payload_oxum,
                    "tagmanifests": dict(written.tagmanifest_digests),
                },
                agent=agent,
            )


def run_audit(archive: Path, workers: int | None, simulated: bool = False) -> dict[str, Any]:
    """Audit in this (fresh) process, streaming (``keep_valid=False``, as the command
    line does); time and peak memory of it and its workers. Then rolling slices, as a
    cron job runs them, each checked to take the bags next in the queue's order.
    ``simulated``: each bag's check is replaced by a recorded result (see :func:`simulate`)."""
    from preserve import audit as audit_mod
    from preserve import ledger_check

    if simulated:
        _replace_bag_checks(audit_mod)
        workers = 1
    started = time.perf_counter()
    report = audit_mod.audit(archive, workers=workers, keep_valid=False)
    seconds = time.perf_counter() - started
    if report.bags:
        raise SystemExit(f"{len(report.bags)} bags invalid, e.g. {report.bags[0].as_dict()}")
    full_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # The chain check alone (every slice starts with it): replay and table comparison.
    started = time.perf_counter()
    found = ledger_check.verify_ledger(archive)
    check_seconds = time.perf_counter() - started
    assert found.ok, found.problems
    # Of which the hash chain's replay alone (the rest compares the tables with it).
    from preserve import ledger
    from preserve.chain import verify_chain

    db = ledger.connect(archive, readonly=True)
    started = time.perf_counter()
    verify_chain(db)
    chain_seconds = time.perf_counter() - started
    db.close()
    # Rolling audits at the same size: two cron slices of 1,000 bags, then one with a
    # 3-second budget. After the full audit every bag has the same time, so the queue
    # is identifier order: each slice must take exactly the next bags.
    # (The bench's own check reads the expected bags from the ledger a slice at a time:
    # a list of every identifier would be 70 MiB of this process at a million bags.)
    total = _count(archive)
    taken = 0
    rolling: list[dict[str, Any]] = []
    for limit, budget in ((1000, None), (1000, None), (None, 3.0)):
        mark = _last_event(archive)
        started = time.perf_counter()
        done = audit_mod.audit(
            archive, workers=workers, limit=limit, budget=budget, keep_valid=False
        )
        elapsed = time.perf_counter() - started
        got = _fixity_since(archive, mark)
        # The next bags in the queue's order (after the last, the first again).
        expected = sorted(_identifiers(archive, taken, len(got), total))
        if got != expected or done.checked_count + done.skipped != total:
            raise SystemExit(
                f"rolling slice out of order: {got[:3]}... != {expected[:3]}...,"
                f" {done.checked_count} + {done.skipped} != {total}"
            )
        taken = (taken + len(got)) % total
        rolling.append(
            {
                "seconds": elapsed,
                "checked": done.checked_count,
                "skipped": done.skipped,
                "budget": budget,
            }
        )
    return {
        "bags": report.checked_count,
        "seconds": seconds,
        "self_mib": full_mib,
        "self_mib_after_rolling": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "ledger_check_seconds": check_seconds,
        "chain_seconds": chain_seconds,
        "events": found.chain.events,
        "rolling": rolling,
    }


def _count(archive: Path) -> int:
    import sqlite3

    db = sqlite3.connect(archive / "ledger.sqlite")
    try:
        return int(db.execute("SELECT count(*) FROM bags").fetchone()[0])
    finally:
        db.close()


def _identifiers(archive: Path, start: int, count: int, total: int) -> list[str]:
    """``count`` identifiers in identifier order from position ``start`` (wrapping)."""
    import sqlite3

    db = sqlite3.connect(archive / "ledger.sqlite")
    query = "SELECT identifier FROM bags ORDER BY identifier LIMIT ? OFFSET ?"
    try:
        found = [r[0] for r in db.execute(query, (count, start))]
        if len(found) < count:  # past the last bag: the first ones again
            found += [r[0] for r in db.execute(query, (count - len(found), 0))]
        return found
    finally:
        db.close()


def _last_event(archive: Path) -> int:
    import sqlite3

    db = sqlite3.connect(archive / "ledger.sqlite")
    try:
        return int(db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0])
    finally:
        db.close()


def _fixity_since(archive: Path, mark: int) -> list[str]:
    """The bags a slice recorded, in identifier order."""
    import sqlite3

    db = sqlite3.connect(archive / "ledger.sqlite")
    try:
        return [
            r[0]
            for r in db.execute(
                "SELECT identifier FROM events WHERE id > ? AND type = 'fixity check'"
                " ORDER BY identifier",
                (mark,),
            )
        ]
    finally:
        db.close()


def _replace_bag_checks(audit_mod: Any, failing: bool = False) -> None:
    """The simulation: everything but the per-bag file checks is the real audit (the
    ledger's chain check, the queue query, the planted-bag scan, the report, the
    recording of every result with its chained event); each bag's verification and
    its tag-manifest hashing return a recorded valid result instead (``failing``: a
    recorded failure, two problems a bag, as a damaged bag gives)."""
    from preserve.bagit_format import Problem
    from preserve.verify import BagResult

    problems = (
        Problem(
            "manifest.digest-mismatch",
            "data/original/statement.txt",
            "manifest-sha256.txt: expected sha256 " + "ab" * 32 + ", file has " + "cd" * 32,
        ),
        Problem(
            "oxum.mismatch",
            "bag-info.txt",
            "Payload-Oxum says 190000 bytes in 5 files; the payload has 190009 bytes in 5 "
            "files (content differs: data/original/statement.txt)",
        ),
    )

    def recorded(bag_dir: str, *_args: Any, **_kwargs: Any) -> BagResult:
        if failing:
            return BagResult(bag_dir, False, problems, 11, 190_000, 0.0)
        return BagResult(bag_dir, True, (), 11, 190_000, 0.0)

    audit_mod._verify_one = recorded
    audit_mod._present = lambda _archive, _path: True
    audit_mod._ledger_problems = lambda _dir, _expected, _at: []


def simulate(archive: Path, count: int) -> float:
    """An archive whose ledger holds ``count`` bags, as ingest writes them (rows,
    digests, chained ingestion events), and whose ``bags/`` is empty: a million real
    bag folders do not fit a development disk. Returns seconds."""
    from preserve import archive as archive_mod
    from preserve import ledger
    from preserve.premis import software_agent

    started = time.perf_counter()
    db = archive_mod.open_archive(archive)
    db.execute("PRAGMA synchronous=OFF")  # building, not what is measured
    agent = software_agent()
    digests = {"tagmanifest-sha256.txt": "ab" * 32, "tagmanifest-sha512.txt": "cd" * 64}
    for start in range(0, count, 10_000):
        with ledger.write(db):
            for i in range(start, min(count, start + 10_000)):
                identifier = f"sim-{i:07d}"
                db.execute(
                    "INSERT INTO bags (identifier, path, state, publisher_pid, ingested_at,"
                    " payload_oxum, statement_sha256, metadata_sha256, software, date_issued,"
                    " title) VALUES (?, ?, 'published', NULL, ?, '190000.5', ?, ?, ?, NULL, ?)",
                    (
                        identifier,
                        f"bags/{identifier}",
                        ledger.now(),
                        "0" * 64,
                        "1" * 64,
                        agent,
                        f"Simulated statement {i}",
                    ),
                )
                db.executemany(
                    "INSERT INTO bag_digests (identifier, file, sha256) VALUES (?, ?, ?)",
                    [(identifier, n, d) for n, d in digests.items()],
                )
                ledger.record_event(
                    db,
                    identifier=identifier,
                    type="ingestion",
                    outcome="success",
                    detail={"payload_oxum": "190000.5", "tagmanifests": digests},
                    agent=agent,
                )
    db.close()
    return time.perf_counter() - started


def query_plans(archive: Path) -> list[str]:
    """EXPLAIN QUERY PLAN of each ledger query the audit runs per bag, per page of a
    slice, or per archive (a full audit's table comparisons are scans by design)."""
    import sqlite3

    from preserve import audit as audit_mod
    from preserve import ledger_check
    from preserve.signing import SIGNATURE_EVENT

    window = ledger_check.Window("a", "b", ((1, 2), (3, 4)))
    rows, rows_params = window.rows()
    listed = (getattr(ledger_check, "LISTED", None) or ledger_check._LISTED, ('["x"]',))
    ranges = " OR ".join("e.id BETWEEN ? AND ?" for _ in window.events)
    queries: dict[str, tuple[str, tuple[Any, ...]]] = {
        "queue, full audit (least recently verified first, spooled)": (audit_mod.QUEUE_QUERY, ()),
        "one bag's row": (audit_mod._ONE_ROW, ("x",)),
        "slice queue page: never verified": (
            getattr(audit_mod, "PAGE_NEVER", "SELECT 1"),
            {"at": "a", "mark": 1, "id": "x", "rows": 500},
        ),
        "slice queue page: least recently verified": (
            getattr(audit_mod, "PAGE_SINCE", "SELECT 1"),
            {"at": "a", "mark": 1, "lv": "a", "id": "x", "rows": 500},
        ),
        "read-only slice's queue page (identifier order from its place)": (
            getattr(audit_mod, "PAGE_BY_ID", "SELECT 1"),
            {"at": "a", "mark": 1, "id": "x", "stop": None, "rows": 500},
        ),
        "read-only full queue, from its place / round to it": (
            getattr(audit_mod, "QUEUE_AFTER", "SELECT ?"),
            ("x",),
        ),
        "the clock's window start (a row by rank)": (
            "SELECT identifier FROM bags ORDER BY identifier LIMIT 1 OFFSET ?",
            (5000,),
        ),
        "bags to audit (count, sizes the batches; a slice's 'not reached')": (
            "SELECT count(*) FROM bags",
            (),
        ),
        "sweep window's end": (
            "SELECT identifier FROM bags WHERE identifier > ? ORDER BY identifier LIMIT 1 OFFSET ?",
            ("a", 9999),
        ),
        "sweep window's rows (each stat-ed)": (
            f"SELECT b.identifier FROM bags b WHERE {rows}",
            rows_params,
        ),
        "a planted bag's name looked up": ("SELECT 1 FROM bags WHERE identifier = ?", ("x",)),
        "chain digests of a bag": (
            f"SELECT detail FROM events WHERE identifier = ? AND {ledger_check._DIGEST_EVENTS}"
            " ORDER BY id DESC LIMIT 1",
            ("x",),
        ),
        "a bag's latest signature event": (
            "SELECT at, detail FROM events WHERE identifier = ? AND type = ?"
            " ORDER BY id DESC LIMIT 1",
            ("x", SIGNATURE_EVENT),
        ),
        "withdrawn bags (deaccession events)": (
            "SELECT identifier, detail FROM events WHERE type = ? AND outcome = 'success'"
            " AND identifier IS NOT NULL ORDER BY id",
            ("deaccession",),
        ),
        "links to versions not held": (
            "SELECT l.identifier, l.relation, l.other FROM version_links l"
            " JOIN bags b ON b.identifier = l.identifier"
            " LEFT JOIN bags o ON o.identifier = l.other"
            " WHERE o.identifier IS NULL ORDER BY l.identifier, l.other",
            (),
        ),
        "links to versions not held, the window's bags": (
            "SELECT l.identifier, l.relation, l.other FROM version_links l"
            " JOIN bags b ON b.identifier = l.identifier"
            " LEFT JOIN bags o ON o.identifier = l.other"
            f" WHERE o.identifier IS NULL AND ({rows}) ORDER BY l.identifier, l.other",
            rows_params,
        ),
        "names of bags/ looked up, a batch at once": (
            getattr(audit_mod, "_UNKNOWN", "SELECT 1"),
            ('["x"]',) if hasattr(audit_mod, "_UNKNOWN") else (),
        ),
        "trusted keys (key trust and sealing events)": (
            "SELECT type, detail FROM events WHERE identifier IS NULL AND type IN (?, ?)"
            " ORDER BY id",
            ("key trust", "ledger sealing"),
        ),
        "latest chain checkpoint": (
            "SELECT id, detail FROM events WHERE type = ? AND identifier IS NULL"
            " ORDER BY id DESC LIMIT 1",
            (ledger_check.CHECKPOINT_EVENT,),
        ),
        "the checkpoint's event": ("SELECT hash FROM events WHERE id = ?", (1,)),
        "events replayed after the checkpoint": (
            "SELECT * FROM events WHERE id >= ? ORDER BY id",
            (1,),
        ),
        "events swept": ("SELECT * FROM events WHERE id >= ? AND id <= ? ORDER BY id", (1, 2)),
        "the event before the sweep": (
            "SELECT hash FROM events WHERE id < ? ORDER BY id DESC LIMIT 1",
            (1,),
        ),
        "the chain's last id (a deleted tail)": (
            "SELECT seq FROM sqlite_sequence WHERE name = 'events'",
            (),
        ),
        "record a result": (
            "UPDATE bags SET last_verified_at = ?, last_result = ? WHERE identifier = ?",
            ("a", "b", "x"),
        ),
        "the chain's head (each event appended)": (
            "SELECT hash FROM events WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1",
            (),
        ),
    }
    for name in ("_ROWS_MISSING",):
        if hasattr(ledger_check, name):
            queries["compare, window: ingestion events without a row"] = (
                ledger_check._ROWS_MISSING.format(scope=ranges, type="+e.type"),
                tuple(i for r in window.events for i in r),
            )
    for name, label in (
        ("_UNRECORDED", "rows no ingestion vouches for"),
        ("_STATE_CHANGED", "rows 'publishing' the chain published"),
        ("_PATH_CHANGED", "rows with another path"),
        ("_DIGESTS_DIFFER", "digests differing from the chain's"),
        ("_DIGESTS_UNRECORDED", "digests no event records"),
    ):
        if hasattr(ledger_check, name):
            sql = getattr(ledger_check, name)
            queries[f"compare, window: {label}"] = (sql.format(scope=rows), rows_params)
            queries[f"compare, a page of the slice: {label}"] = (
                sql.format(scope=listed[0]),
                listed[1],
            )
    db = sqlite3.connect(archive / "ledger.sqlite")
    lines = []
    for name, (sql, params) in queries.items():
        found = db.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = "; ".join(row[-1] for row in found)
        lines.append(f"  {name}: {' '.join(plan.split())}")
    db.close()
    return lines


def slice_cost(archive: Path, limit: int) -> dict[str, Any]:
    """One rolling slice of ``limit`` bags (each bag's check a recorded result), in this
    fresh process: its plan (seconds until the first bag is judged), its whole time,
    CPU seconds and this process's peak RSS."""
    from preserve import audit as audit_mod

    _replace_bag_checks(audit_mod)
    cpu = time.process_time()
    report, plan, total = _timed_slice(audit_mod, archive, limit)
    return {
        "plan": plan,
        "total": total,
        "cpu": time.process_time() - cpu,
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "checked": report.checked_count,
        "skipped": report.skipped,
        "ok": report.ok,
    }


def _timed_slice(audit_mod: Any, archive: Path, limit: int) -> tuple[Any, float, float]:
    """(report, seconds until the first bag is judged, seconds in all) of one slice."""
    first: list[float] = []
    started = time.perf_counter()
    report = audit_mod.audit(
        archive,
        workers=1,
        limit=limit,
        keep_valid=False,
        progress=lambda _bag: first or first.append(time.perf_counter()),
    )
    total = time.perf_counter() - started
    return report, (first[0] if first else time.perf_counter()) - started, total


def fail_all(archive: Path) -> dict[str, Any]:
    """A full audit in which every bag's recorded result is a failure, its report then
    written as ``audit --json`` writes it (to /dev/null): time and peak RSS."""
    from preserve import audit as audit_mod

    _replace_bag_checks(audit_mod, failing=True)
    started = time.perf_counter()
    report = audit_mod.audit(archive, workers=1, keep_valid=False)
    audited = time.perf_counter() - started
    audit_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(os.devnull, "w", encoding="utf-8") as out:
        if hasattr(report, "write_json"):
            report.write_json(out.write)
        else:  # a tree from before the spool: the document built whole, as its CLI did
            out.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n")
    return {
        "audit": audited,
        "written": time.perf_counter() - started - audited,
        "rss_after_audit_mib": audit_rss,
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "invalid": report.invalid_count,
        "listed": len(report.bags),
    }


def _child(tree: Path, args: list[str]) -> dict[str, Any]:
    """This script's hidden mode in a fresh process importing ``preserve`` from ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.check_output([sys.executable, __file__, *args], env=env)
    return dict(json.loads(out.splitlines()[-1]))


def main_plan(sizes: list[int], root: Path, baseline: Path | None, rounds: int) -> None:
    """``--plan``: the cost of a rolling slice of 1,000 bags at each size (simulated
    bags), from a checkpoint; with ``--baseline`` the same slices by another tree on a
    copy of the same ledger, in alternating rounds."""
    here = Path(__file__).resolve().parents[1]
    trees = [("this tree", here)] + ([("baseline", baseline)] if baseline else [])
    for size in sizes:
        archive = root / f"plan-{size}"
        built = simulate(archive, size)
        first = _child(here, ["--_archive", str(archive), "--_slice", "1000"])
        print(
            f"{size:,} simulated bags (built in {built:.0f} s); first slice, no checkpoint "
            f"yet (the whole chain replayed and every row compared): {first['total']:.1f} s",
            flush=True,
        )
        copies = {}
        for name, _tree in trees:
            copies[name] = root / f"plan-{size}-{name.replace(' ', '-')}"
            (copies[name] / "bags").mkdir(parents=True)
            shutil.copy(archive / "ledger.sqlite", copies[name] / "ledger.sqlite")
        shutil.rmtree(archive)
        results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in trees}
        for _ in range(rounds):
            for name, tree in trees:
                args = ["--_archive", str(copies[name]), "--_slice", "1000"]
                results[name].append(_child(tree, args))
        for name, _tree in trees:
            runs = results[name]
            med = {k: sorted(r[k] for r in runs)[len(runs) // 2] for k in ("plan", "total", "cpu")}
            print(
                f"  slice of 1,000 from a checkpoint, {name} (median of {rounds}): plan "
                f"{med['plan']:.2f} s, whole slice {med['total']:.2f} s, "
                f"CPU {med['cpu']:.2f} s, peak RSS {max(r['rss_mib'] for r in runs):.0f} MiB; "
                f"checked {runs[-1]['checked']:,}, not reached {runs[-1]['skipped']:,}; "
                f"load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        print("\n".join(["query plans:", *query_plans(copies[trees[0][0]])]), flush=True)
        for copy in copies.values():
            shutil.rmtree(copy)


def add_listing(archive: Path, count: int) -> float:
    """A real, empty folder in ``bags/`` for each simulated bag, and a version link from
    one bag in five to the next (as ``preserve.versions`` records them). Seconds."""
    import sqlite3

    started = time.perf_counter()
    bags = archive / "bags"
    bags.mkdir(exist_ok=True)
    for i in range(count):
        (bags / f"sim-{i:07d}").mkdir()
    db = sqlite3.connect(archive / "ledger.sqlite")
    with db:
        db.executemany(
            "INSERT INTO version_links VALUES (?, ?, 'hasVersion', '2024-01-01T00:00:00Z')",
            ((f"sim-{i:07d}", f"sim-{i + 1:07d}") for i in range(0, count - 1, 5)),
        )
    db.close()
    return time.perf_counter() - started


def slice_breakdown(archive: Path, limit: int) -> dict[str, Any]:
    """One rolling slice of ``limit`` bags (each bag's check a recorded result, its
    folder stat-ed for real) with the time spent in each archive-wide step: the
    listing of ``bags/`` and its lookups, the ``version_links`` scan, the index
    counts, the window's folders checked present, the ledger check (the plan)."""
    from preserve import audit as audit_mod
    from preserve import ledger_check

    present = audit_mod._present
    _replace_bag_checks(audit_mod)
    audit_mod._present = present  # the folders are real here: stat-ed as in a real audit
    spent: dict[str, float] = {}

    def timed(module: Any, name: str, label: str, *, consume: bool = False) -> None:
        inner = getattr(module, name, None)
        if inner is None:
            return

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            result = inner(*args, **kwargs)
            if consume:
                result = list(result)
            spent[label] = spent.get(label, 0.0) + time.perf_counter() - began
            return iter(result) if consume else result

        setattr(module, name, wrapper)

    timed(audit_mod, "_unknown", "bags/ listed (planted bags)", consume=True)
    timed(audit_mod, "_version_problems", "version_links scanned")
    timed(audit_mod, "_rows_to_audit", "bags counted (not reached)")
    timed(audit_mod, "_swept_first", "window's folders stat-ed (missing bags)")
    timed(ledger_check, "check", "ledger check (replay, window compared)")
    report, plan, total = _timed_slice(audit_mod, archive, limit)
    steps = dict(spent)  # this slice's (the runs below add theirs)
    # The slice whose window reaches the last row (once a lap of the sweep) lists bags/
    # and looks up every name; before, every slice listed it (and looked up the window's).
    from preserve import ledger

    db = ledger.connect(archive, readonly=True)
    whole = ledger_check.LedgerCheck(ledger_check.ChainReport(0, "", None), True)
    began = time.perf_counter()
    planted = list(audit_mod._unknown(archive, db, whole, frozenset()))
    lap = time.perf_counter() - began
    db.close()
    read_only: dict[str, float] = {}
    if hasattr(audit_mod, "rotation"):  # slices that record no checkpoint (read-only)
        audit_mod._open = lambda a: (ledger.connect(a, readonly=True), "read-only (bench)")
        with tempfile.TemporaryDirectory() as tmp:
            for label, state in (("state file", Path(tmp) / "state.json"), ("clock", None)):
                began = time.perf_counter()
                done = audit_mod.audit(archive, workers=1, limit=limit, state=state)
                assert done.checked_count == limit and not done.recorded
                read_only[label] = time.perf_counter() - began
    return {
        "read_only": read_only,
        "plan": plan,
        "total": total,
        "steps": steps,
        "lap": lap,
        "planted": len(planted),
        "checked": report.checked_count,
        "ok": report.ok,
    }


def main_listing(sizes: list[int], root: Path, baseline: Path | None, rounds: int) -> None:
    """``--listing``: each archive-wide step of a 1,000-bag slice against the slice."""
    here = Path(__file__).resolve().parents[1]
    trees = [("this tree", here)] + ([("baseline", baseline)] if baseline else [])
    for size in sizes:
        archive = root / f"listing-{size}"
        built = simulate(archive, size)
        made = add_listing(archive, size)
        names = time.perf_counter()
        with os.scandir(archive / "bags") as entries:
            listed = sum(1 for e in entries if e.is_dir(follow_symlinks=False))
        names = time.perf_counter() - names
        print(
            f"{size:,} simulated bags, a real folder each (ledger {built:.0f} s, folders and "
            f"links {made:.0f} s); bags/ listed alone: {listed:,} names in {names:.2f} s",
            flush=True,
        )
        ledger_copy = root / f"listing-{size}.sqlite"
        _child(here, ["--_archive", str(archive), "--_slice", "1000"])  # the checkpoint
        shutil.copy(archive / "ledger.sqlite", ledger_copy)
        results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in trees}
        for _ in range(rounds):
            for name, tree in trees:
                shutil.copy(ledger_copy, archive / "ledger.sqlite")  # the same slice each time
                for suffix in ("-wal", "-shm"):
                    (archive / f"ledger.sqlite{suffix}").unlink(missing_ok=True)
                args = ["--_archive", str(archive), "--_breakdown", "1000"]
                results[name].append(_child(tree, args))
        for name, _tree in trees:
            runs = results[name]

            def med(values: list[float]) -> float:
                return sorted(values)[len(values) // 2]

            labels = sorted({k for r in runs for k in r["steps"]})
            steps = ", ".join(
                f"{k} {med([r['steps'].get(k, 0.0) for r in runs]):.3f} s" for k in labels
            )
            print(
                f"  slice of 1,000, {name} (median of {rounds}): plan "
                f"{med([r['plan'] for r in runs]):.2f} s, whole slice "
                f"{med([r['total'] for r in runs]):.2f} s; {steps}; bags/ listed and every "
                f"name looked up (a full audit; a slice once a lap): "
                f"{med([r['lap'] for r in runs]):.2f} s; "
                + "".join(
                    f"read-only slice, place from the {k}: "
                    f"{med([r['read_only'][k] for r in runs]):.2f} s; "
                    for k in runs[0].get("read_only", {})
                )
                + "load average "
                f"{os.getloadavg()[0]:.1f}",
                flush=True,
            )
        shutil.rmtree(archive)
        ledger_copy.unlink()


def main_fail_all(sizes: list[int], root: Path, baseline: Path | None) -> None:
    """``--fail-all``: a full audit of simulated bags every one of which fails, and its
    ``--json`` report written; peak RSS (and with ``--baseline``, another tree's)."""
    here = Path(__file__).resolve().parents[1]
    trees = [("this tree", here)] + ([("baseline", baseline)] if baseline else [])
    for size in sizes:
        archive = root / f"fail-{size}"
        simulate(archive, size)
        for name, tree in trees:
            copy = root / f"fail-{size}-copy"
            (copy / "bags").mkdir(parents=True)
            shutil.copy(archive / "ledger.sqlite", copy / "ledger.sqlite")
            r = _child(tree, ["--_archive", str(copy), "--_fail_all"])
            print(
                f"{size:,} simulated bags, EVERY ONE FAILING (recorded results), {name}: "
                f"audit {r['audit']:.0f} s, report written in {r['written']:.1f} s; peak RSS "
                f"{r['rss_after_audit_mib']:.0f} MiB after the audit, {r['rss_mib']:.0f} MiB "
                f"after writing the --json report ({r['invalid']:,} invalid, {r['listed']:,} "
                f"listed); load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            shutil.rmtree(copy)
        shutil.rmtree(archive)


def grow(archive: Path, start: int, count: int, builders: int) -> float:
    """Add bags ``start``.. to ``archive`` with ``builders`` processes (each its own
    share of identifiers; their ledger transactions queue, as ingests do). Seconds."""
    from preserve import archive as archive_mod

    archive_mod.open_archive(archive).close()  # the ledger exists before they start
    begun = time.perf_counter()
    share = -(-count // builders)
    children = []
    for first in range(start, start + count, share):
        n = min(share, start + count - first)
        me = [sys.executable, __file__, "--_archive", str(archive), "--_start", str(first)]
        children.append(subprocess.Popen([*me, "--_build", str(n)], stdout=subprocess.DEVNULL))
    if any(child.wait() != 0 for child in children):
        raise SystemExit("a builder failed")
    return time.perf_counter() - begun


def audit_process(archive: Path, workers: int | None, *extra: str) -> dict[str, Any]:
    """``preserve audit ARCHIVE --json`` as a user runs it, under ``/usr/bin/time``:
    wall time, CPU seconds (it and its workers), the largest resident set of it and
    its workers (time's ``%M``), the auditor's own peak (its VmHWM, read every
    0.2 s), and the load average before and after."""
    command = [sys.executable, "-m", "preserve", "audit", str(archive), "--json", *extra]
    command += ["--workers", str(workers)] if workers else []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        timing = Path(tmp) / "time"
        with (Path(tmp) / "out").open("w+b") as out:
            child = subprocess.Popen(
                ["/usr/bin/time", "-o", str(timing), "-f", "%e %U %S %M", *command], stdout=out
            )
            hwm_kib = 0
            while child.poll() is None:
                hwm_kib = max(hwm_kib, _auditor_hwm_kib(child.pid))
                time.sleep(0.2)
            out.seek(0)
            report = json.loads(out.read() or b"{}")
        wall, user, system, max_kib = timing.read_text().split()[-4:]
    return {
        "exit": child.returncode,
        "wall": float(wall),
        "cpu": float(user) + float(system),
        "auditor_hwm_mib": hwm_kib / 1024,
        "max_rss_mib": int(max_kib) / 1024,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "checked": report.get("checked"),
        "invalid": report.get("invalid"),
        "skipped": report.get("skipped"),
    }


def _auditor_hwm_kib(time_pid: int) -> int:
    """VmHWM of ``/usr/bin/time``'s child (the auditor), 0 if not (yet) readable."""
    try:
        children = Path(f"/proc/{time_pid}/task/{time_pid}/children").read_text().split()
        if not children:
            return 0
        status = Path(f"/proc/{children[0]}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
        return int(line.split()[1])
    except (OSError, StopIteration, ValueError):
        return 0


def main_grow(sizes: list[int], root: Path, builders: int, workers: int | None) -> None:
    """``--grow``: one archive of real bags grown to each size in turn, each time
    audited whole as a command (see :func:`audit_process`)."""
    archive = root / "archive-real"
    have = 0
    for size in sizes:
        load = os.getloadavg()
        built = grow(archive, have, size - have, builders)
        print(
            f"built {have:,} -> {size:,} real bags in {built:.0f} s wall "
            f"({builders} builders, load {load[0]:.1f} -> {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        have = size
        a = audit_process(archive, workers)
        cpu = a["cpu"]
        print(
            f"{size:>9,} real bags, `preserve audit --json` as a process: exit {a['exit']}, "
            f"{a['checked']:,} checked, {a['invalid']} invalid; wall {a['wall']:.0f} s "
            f"({a['wall'] / size * 1000:.2f} ms/bag), CPU {cpu:.0f} s "
            f"({cpu / size * 1000:.2f} ms/bag); peak RSS auditor {a['auditor_hwm_mib']:.0f} MiB, "
            f"largest process (auditor or a worker) {a['max_rss_mib']:.0f} MiB; load average "
            f"{a['load_before'][0]:.1f} before, {a['load_after'][0]:.1f} after "
            f"(5-min {a['load_after'][1]:.1f}); on disk {du_mib(archive):,.0f} MiB",
            flush=True,
        )
        if a["exit"] != 0 or a["invalid"]:
            raise SystemExit("the archive did not audit valid")
        # Rolling slices as a cron job runs them, from the full audit's checkpoint.
        for extra in (["--limit", "1000"], ["--limit", "1000"], ["--budget", "30s"]):
            r = audit_process(archive, workers, *extra)
            print(
                f"    `preserve audit {' '.join(extra)}` at {size:,} real bags: exit {r['exit']}, "
                f"{r['checked']:,} checked, {r['skipped']:,} not reached; wall {r['wall']:.1f} s, "
                f"CPU {r['cpu']:.1f} s, peak RSS auditor {r['auditor_hwm_mib']:.0f} MiB; "
                f"load average {r['load_before'][0]:.1f}",
                flush=True,
            )


def du_mib(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=False)
    return int(out.stdout.split()[0]) / 1024 if out.returncode == 0 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--dir", type=Path, help="where to build (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the archives")
    parser.add_argument(
        "--simulate",
        default="",
        help="sizes (e.g. 1000000) audited with the ledger, planning and report real and "
        "each bag's check replaced by a recorded result",
    )
    parser.add_argument(
        "--grow",
        default="",
        help="sizes (e.g. 10000,100000,300000): one archive of real bags grown to each "
        "size, audited whole each time by `preserve audit` as a process",
    )
    parser.add_argument("--builders", type=int, default=2, help="with --grow")
    parser.add_argument(
        "--plan",
        default="",
        help="sizes (e.g. 1000000): a rolling slice's cost from a checkpoint (simulated bags)",
    )
    parser.add_argument(
        "--fail-all",
        default="",
        help="sizes: a full audit of simulated bags that all fail, its --json report written",
    )
    parser.add_argument(
        "--listing",
        default="",
        help="sizes (e.g. 1000000): a slice's archive-wide steps (bags/ listed, version "
        "links, counts) against the slice, simulated bags with a real folder each",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="with --plan, --fail-all, --listing: another tree, the same runs",
    )
    parser.add_argument("--rounds", type=int, default=3, help="with --plan")
    parser.add_argument("--_slice", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--_fail_all", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--_breakdown", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--_build", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--_start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--_simulate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--_simulated", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--_audit", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--_archive", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._build is not None:
        print(json.dumps({"seconds": build(args._archive, args._build, args._start)}))
        return
    if args._simulate is not None:
        print(json.dumps({"seconds": simulate(args._archive, args._simulate)}))
        return
    if args._audit:
        print(json.dumps(run_audit(args._archive, args.workers, args._simulated)))
        return
    if args._slice is not None:
        print(json.dumps(slice_cost(args._archive, args._slice)))
        return
    if args._fail_all:
        print(json.dumps(fail_all(args._archive)))
        return
    if args._breakdown is not None:
        print(json.dumps(slice_breakdown(args._archive, args._breakdown)))
        return
    root = Path(tempfile.mkdtemp(prefix="bench-scale-", dir=args.dir))
    if args.grow or args.plan or args.fail_all or args.listing:
        try:
            if args.listing:
                sizes = [int(s) for s in args.listing.split(",")]
                main_listing(sizes, root, args.baseline, args.rounds)
            if args.plan:
                sizes = [int(s) for s in args.plan.split(",")]
                main_plan(sizes, root, args.baseline, args.rounds)
            if args.fail_all:
                main_fail_all([int(s) for s in args.fail_all.split(",")], root, args.baseline)
            if args.grow:
                sizes = [int(s) for s in args.grow.split(",")]
                main_grow(sizes, root, args.builders, args.workers)
        finally:
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
        return
    rows = []
    sizes = [(int(s), False) for s in args.sizes.split(",") if s]
    sizes += [(int(s), True) for s in args.simulate.split(",") if s]
    try:
        for size, simulated in sizes:
            archive = root / f"archive-{size}{'-simulated' if simulated else ''}"
            me = [sys.executable, __file__, "--_archive", str(archive)]
            how = "--_simulate" if simulated else "--_build"
            built = json.loads(subprocess.check_output([*me, how, str(size)]))
            extra = ["--workers", str(args.workers)] if args.workers else []
            extra += ["--_simulated"] if simulated else []
            audited = json.loads(subprocess.check_output([*me, "--_audit", *extra]))
            label = "SIMULATED (each bag's check a recorded result)" if simulated else "real bags"
            rows.append((size, label, audited, du_mib(archive)))
            r1, r2, rb = audited["rolling"]
            print(
                f"{size:>9,} bags, {label}: built in {built['seconds']:.0f} s; audit "
                f"{audited['seconds']:.1f} s = {audited['seconds'] / size * 1000:.2f} ms/bag; "
                f"peak RSS auditor {audited['self_mib']:.0f} MiB "
                f"({audited['self_mib_after_rolling']:.0f} MiB after the rolling slices), "
                f"worker {audited['worker_mib']:.0f} MiB; ledger check alone "
                f"{audited['ledger_check_seconds']:.1f} s ({audited['events']:,} events; "
                f"of which the chain's replay {audited['chain_seconds']:.1f} s); "
                f"rolling slices of 1,000: {r1['seconds']:.1f} s and {r2['seconds']:.1f} s, "
                f"3 s budget: {rb['seconds']:.1f} s ({rb['checked']:,} checked, "
                f"{rb['skipped']:,} left for later); every slice took the next bags in order",
                flush=True,
            )
            print("\n".join(["query plans:", *query_plans(archive)]), flush=True)
            if not args.keep:
                shutil.rmtree(archive, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print()
    print(
        "| bags | kind | on disk | audit time | per bag | peak RSS auditor | peak RSS worker "
        "| ledger check | rolling 1,000 |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size, label, a, disk in rows:
        print(
            f"| {size:,} | {label} | {disk:,.0f} MiB | {a['seconds']:.1f} s | "
            f"{a['seconds'] / size * 1000:.2f} ms | {a['self_mib_after_rolling']:.0f} MiB | "
            f"{a['worker_mib']:.0f} MiB | {a['ledger_check_seconds']:.1f} s | "
            f"{a['rolling'][0]['seconds']:.1f} s |"
        )


if __name__ == "__main__":
    main()
