"""Benchmark: replaying the ledger's chain and checking its tables against it.

    python bench/bench_chain.py [--bags 10000,100000] [--audits 1]

For each size, writes a ledger (no bags on disk: only the ledger is measured) with
the rows and chained events a real ingest writes for that many bags (a ``bags``
row, two tag-manifest digests, an ``ingestion`` event holding them), plus one
fixity-check event per bag per earlier audit (``--audits``), then in a fresh
process times :func:`preserve.chain.verify_chain` alone and
:func:`preserve.ledger_check.check` (the replay plus every comparison the audit
makes), and the process's peak memory. Prints numbers; asserts only that the
check finds nothing wrong.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build(archive: Path, bags: int, audits: int) -> float:
    from preserve import ledger
    from preserve.archive import open_archive
    from preserve.premis import FIXITY_CHECK, INGESTION

    started = time.perf_counter()
    db = open_archive(archive)
    agent = "preserve bench"
    for first in range(0, bags, 5000):
        with ledger.write(db):
            for i in range(first, min(first + 5000, bags)):
                identifier = f"bench-{i:07d}"
                digests = {
                    name: hashlib.sha256(f"{identifier}/{name}".encode()).hexdigest()
                    for name in ("tagmanifest-sha256.txt", "tagmanifest-sha512.txt")
                }
                db.execute(
                    "INSERT INTO bags (identifier, path, state, ingested_at, payload_oxum,"
                    " statement_sha256, metadata_sha256, software) VALUES"
                    " (?, ?, 'published', ?, '1.1', ?, ?, ?)",
                    (identifier, f"bags/{identifier}", ledger.now(), "0" * 64, "0" * 64, agent),
                )
                db.executemany(
                    "INSERT INTO bag_digests (identifier, file, sha256) VALUES (?, ?, ?)",
                    [(identifier, n, d) for n, d in digests.items()],
                )
                ledger.record_event(
                    db,
                    identifier=identifier,
                    type=INGESTION,
                    outcome="success",
                    detail={
                        "source": f"{identifier}.txt",
                        "payload_oxum": "1.1",
                        "pdfa": "2u",
                        "tagmanifests": digests,
                    },
                    agent=agent,
                )
    for _ in range(audits):
        for first in range(0, bags, 5000):
            with ledger.write(db):
                for i in range(first, min(first + 5000, bags)):
                    ledger.record_event(
                        db,
                        identifier=f"bench-{i:07d}",
                        type=FIXITY_CHECK,
                        outcome="success",
                        detail={"files": 6, "bytes": 100_000, "problems": []},
                        agent=agent,
                    )
    db.close()
    return time.perf_counter() - started


def measure(archive: Path) -> dict[str, float]:
    from preserve import ledger, ledger_check
    from preserve.chain import verify_chain

    db = ledger.connect(archive, readonly=True)
    started = time.perf_counter()
    report = verify_chain(db)
    chain_seconds = time.perf_counter() - started
    db.execute("BEGIN")
    started = time.perf_counter()
    found = ledger_check.check(db, archive)
    check_seconds = time.perf_counter() - started
    db.close()
    if not (report.ok and found.ok):
        raise SystemExit(f"the check found problems: {found.problems[:3]}")
    return {
        "events": report.events,
        "chain_seconds": chain_seconds,
        "check_seconds": check_seconds,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bags", default="10000,100000")
    parser.add_argument("--audits", type=int, default=1)
    parser.add_argument("--_archive", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--_build", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._build is not None:
        print(json.dumps({"seconds": build(args._archive, args._build, args.audits)}))
        return
    if args._archive is not None:
        print(json.dumps(measure(args._archive)))
        return
    print("| bags | events | verify_chain | check (replay + tables) | per event | peak RSS |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory(prefix="bench-chain-") as root:
        for size in [int(s) for s in args.bags.split(",")]:
            archive = Path(root) / f"a{size}"
            me = [sys.executable, __file__, "--_archive", str(archive)]
            subprocess.check_output([*me, "--_build", str(size), "--audits", str(args.audits)])
            m = json.loads(subprocess.check_output(me))
            print(
                f"| {size:,} | {m['events']:,} | {m['chain_seconds']:.2f} s | "
                f"{m['check_seconds']:.2f} s | {m['check_seconds'] / m['events'] * 1e6:.1f} µs | "
                f"{m['peak_mib']:.0f} MiB |",
                flush=True,
            )


if __name__ == "__main__":
    main()
