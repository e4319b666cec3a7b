"""Benchmark: audit cost and peak memory as an archive grows (1,000 to 100,000 bags).

    python bench/bench_scale.py [--sizes 1000,10000,100000] [--workers N] [--dir DIR] [--keep]

For each size, builds an archive of that many real bags, then audits it in a fresh
process and prints audit seconds per bag and the peak memory (``ru_maxrss``) of the
auditing process and of its largest worker. Cost per bag should stay flat (time
linear in the number of bags) and so should worker memory; the auditing process
holds one ledger row and one result per bag, so it grows by a few hundred bytes a bag.

Shortcut (documented, so 100,000 bags build in minutes): one statement is rendered
to PDF/A once and its PDF reused; each bag gets its own identifier, title and
metadata, and is written with ``preserve.bagging.plan_bag``/``write_bag`` straight
into ``bags/`` with fsync turned off, and recorded in the ledger with the same rows
``preserve.archive._publish`` writes (state 'published', tag-manifest digests, the
ingestion event). The audit itself is the real ``preserve.audit.audit``, with every
check (BagIt, profile, metadata schema, PDF/A, ledger digests).

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

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "en-annual-report.txt"


def build(archive: Path, count: int) -> float:
    """Make an archive of ``count`` bags (see the module docstring); returns seconds."""
    from preserve import archive as archive_mod
    from preserve import bagging, ledger
    from preserve.metadata import Metadata, prepare_file
    from preserve.premis import INGESTION, NORMALIZATION, Event, software_agent
    from preserve.render import PdfaLevel, render_statement

    started = time.perf_counter()
    prepared = prepare_file(FIXTURE)
    base = prepared.metadata()
    statement = prepared.statement
    assert statement is not None
    rendering = render_statement(statement, base, PdfaLevel.A2U)
    real_fsync = os.fsync
    os.fsync = lambda fd: None  # the shortcut: durability is not what is measured here
    try:
        db = archive_mod.open_archive(archive)
        day = dt.date(2024, 3, 1)
        at = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
        batch: list[tuple[Metadata, bagging.WrittenBag]] = []
        for i in range(count):
            record = dict(base.record)
            record["identifier"] = f"bench-{i:07d}"
            record["title"] = f"{base.title} {i}"
            metadata = Metadata(record=record)
            contents = bagging.plan_bag(
                metadata=metadata,
                original=statement.original,
                original_name=FIXTURE.name,
                pdf=rendering.pdf,
                pdf_pronom=rendering.level.pronom,
                events=(
                    Event(NORMALIZATION, at, "success", "rendered PDF/A-2u"),
                    Event(INGESTION, at, "success", "bag staged for the archive"),
                ),
                bagging_date=day,
            )
            written = bagging.write_bag(archive / "bags" / metadata.identifier, contents)
            batch.append((metadata, written))
            if len(batch) == 1000 or i == count - 1:
                _record(db, batch, statement.original, ledger, software_agent())
                batch = []
        db.close()
    finally:
        os.fsync = real_fsync
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


def run_audit(archive: Path, workers: int | None) -> dict[str, float]:
    """Audit in this (fresh) process; time and peak memory of it and its workers."""
    from preserve.audit import audit

    started = time.perf_counter()
    report = audit(archive, workers=workers)
    seconds = time.perf_counter() - started
    invalid = [b for b in report.bags if not b.valid]
    if invalid:
        raise SystemExit(f"{len(invalid)} bags invalid, e.g. {invalid[0].as_dict()}")
    return {
        "bags": len(report.bags),
        "seconds": seconds,
        "self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def du_mib(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=False)
    return int(out.stdout.split()[0]) / 1024 if out.returncode == 0 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--dir", type=Path, help="where to build (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the archives")
    parser.add_argument("--_build", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--_audit", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--_archive", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._build is not None:
        print(json.dumps({"seconds": build(args._archive, args._build)}))
        return
    if args._audit:
        print(json.dumps(run_audit(args._archive, args.workers)))
        return
    root = Path(tempfile.mkdtemp(prefix="bench-scale-", dir=args.dir))
    rows = []
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            archive = root / f"archive-{size}"
            me = [sys.executable, __file__, "--_archive", str(archive)]
            built = json.loads(subprocess.check_output([*me, "--_build", str(size)]))
            extra = ["--workers", str(args.workers)] if args.workers else []
            audited = json.loads(subprocess.check_output([*me, "--_audit", *extra]))
            rows.append((size, built["seconds"], audited, du_mib(archive)))
            print(
                f"{size:>8,} bags: built in {built['seconds']:.0f} s; audit "
                f"{audited['seconds']:.1f} s = {audited['seconds'] / size * 1000:.2f} ms/bag; "
                f"peak RSS auditor {audited['self_mib']:.0f} MiB, "
                f"worker {audited['worker_mib']:.0f} MiB",
                flush=True,
            )
            if not args.keep:
                shutil.rmtree(archive, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print()
    print("| bags | on disk | audit time | per bag | peak RSS auditor | peak RSS worker |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for size, _, a, disk in rows:
        print(
            f"| {size:,} | {disk:,.0f} MiB | {a['seconds']:.1f} s | "
            f"{a['seconds'] / size * 1000:.2f} ms | {a['self_mib']:.0f} MiB | "
            f"{a['worker_mib']:.0f} MiB |"
        )


if __name__ == "__main__":
    main()
