"""Benchmark: the same audit locally, on ``local:2`` and on a scheduler with two workers.

    python bench/bench_distributed.py [--bags 10000] [--dir DIR] [--keep] [--batch-size N]

Builds one archive of real bags (``bench_scale.build``: every bag has its own
identifier and metadata and is in the ledger), then audits all of it three ways,
recording results each time as a real audit does:

- local: the process pool, one process per core (what ``preserve audit`` does);
- ``local:2``: a Dask ``LocalCluster`` of two single-threaded worker processes;
- a ``dask scheduler`` and two ``dask worker`` processes (subprocesses, 127.0.0.1).

Cluster start-up and shutdown are timed apart from the audit. Prints bags/s, the
overhead per bag of going through Dask (its audit time minus the local one, per
bag), the planner's CPU per bag (the one process that reads the ledger, hashes
tag manifests and writes results: the serial part), and from those an estimate of
a 1,000,000-bag audit on 10 workers. Numbers only; asserts that every bag is valid.
"""

from __future__ import annotations

import argparse
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_scale import build  # noqa: E402


def cpu(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def cluster_cpu(client: Any) -> float:
    """CPU seconds used so far by the scheduler and every worker process."""
    workers = client.run(cpu)
    return float(sum(workers.values()) + client.run_on_scheduler(cpu))


def timed_audit(archive: Path, executor: Any = None) -> dict[str, float]:
    from preserve.audit import audit

    client = executor.client if executor is not None else None
    others = cluster_cpu(client) if client is not None else cpu(resource.RUSAGE_CHILDREN)
    started, cpu_started = time.perf_counter(), cpu()
    report = audit(archive, executor=executor)
    seconds, planner_cpu = time.perf_counter() - started, cpu() - cpu_started
    # Workers' CPU: the Dask processes', or the pool's (reaped when the pool closed).
    others = (cluster_cpu(client) if client is not None else cpu(resource.RUSAGE_CHILDREN)) - others
    invalid = [b for b in report.bags if not b.valid]
    if invalid or not report.recorded:
        raise SystemExit(f"{len(invalid)} invalid, recorded={report.recorded}")
    return {
        "bags": len(report.bags),
        "seconds": seconds,
        "planner_cpu": planner_cpu,
        "total_cpu": planner_cpu + others,
    }


def on_dask(archive: Path, scheduler: str, batch_size: int | None) -> dict[str, float]:
    from preserve.distributed import DaskExecutor

    started = time.perf_counter()
    executor = DaskExecutor(scheduler, batch_size=batch_size).__enter__()
    executor.client.wait_for_workers(2, timeout=60)
    up = time.perf_counter() - started
    try:
        row = timed_audit(archive, executor)
        row["batches"] = executor.batches_done
    finally:
        started = time.perf_counter()
        executor.close()
        row_down = time.perf_counter() - started
    return {**row, "start": up, "stop": row_down}


class Cluster:
    """``dask scheduler`` + two ``dask worker`` processes on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self.file = root / "scheduler.json"
        env = {**os.environ, "PYTHONPATH": str(REPO), "DASK_LOGGING__DISTRIBUTED": "error"}
        dask = [sys.executable, "-m", "dask"]
        self.started = time.perf_counter()
        self.processes = [
            subprocess.Popen(
                [
                    *dask,
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--dashboard-address",
                    "127.0.0.1:0",
                    "--scheduler-file",
                    str(self.file),
                ],
                env=env,
                stderr=subprocess.DEVNULL,
            )
        ]
        while not self.file.is_file() or not self.file.read_text().strip():
            time.sleep(0.05)
        for _ in range(2):
            self.processes.append(
                subprocess.Popen(
                    [
                        *dask,
                        "worker",
                        "--scheduler-file",
                        str(self.file),
                        "--host",
                        "127.0.0.1",
                        "--dashboard-address",
                        "127.0.0.1:0",
                        "--nworkers",
                        "1",
                        "--nthreads",
                        "1",
                    ],
                    env=env,
                    stderr=subprocess.DEVNULL,
                )
            )

    def stop(self) -> float:
        started = time.perf_counter()
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            process.wait(timeout=30)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bags", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, help="where to build (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the archive")
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-dask-", dir=args.dir))
    archive = root / "archive"
    try:
        print(f"building {args.bags:,} bags ...", flush=True)
        print(f"built in {build(archive, args.bags):.0f} s", flush=True)
        rows: dict[str, dict[str, float]] = {}
        rows["local (2 processes)"] = timed_audit(archive)
        print("local", rows["local (2 processes)"], flush=True)
        rows["local:2 (LocalCluster)"] = on_dask(archive, "local:2", args.batch_size)
        print("local:2", rows["local:2 (LocalCluster)"], flush=True)
        launching = time.perf_counter()
        cluster = Cluster(root)
        launched = time.perf_counter() - launching  # until the scheduler file is written
        try:
            row = on_dask(archive, str(cluster.file), args.batch_size)
            row["start"] += launched
        finally:
            row["stop"] += cluster.stop()
        rows["scheduler + 2 workers"] = row
        print("scheduler", row, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    report(rows, args.bags)


def report(rows: dict[str, dict[str, float]], bags: int) -> None:
    local = rows["local (2 processes)"]["seconds"]
    local_cpu = rows["local (2 processes)"]["total_cpu"]
    print()
    print(
        "| run | audit | bags/s | wall vs local, per bag | CPU, all processes | CPU vs local, "
        "per bag | planner CPU per bag | start | stop |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, row in rows.items():
        extra = (row["seconds"] - local) / bags * 1000
        extra_cpu = (row["total_cpu"] - local_cpu) / bags * 1000
        print(
            f"| {name} | {row['seconds']:.1f} s | {bags / row['seconds']:.0f} | "
            f"{extra:+.2f} ms ({(row['seconds'] - local) / local:+.0%}) | "
            f"{row['total_cpu']:.1f} s | "
            f"{extra_cpu:+.2f} ms ({(row['total_cpu'] - local_cpu) / local_cpu:+.0%}) | "
            f"{row['planner_cpu'] / bags * 1000:.2f} ms | "
            f"{row.get('start', 0):.1f} s | {row.get('stop', 0):.1f} s |"
        )
    # On paper: workers scale the bag checks; the planner (one process) does not.
    cluster = rows["scheduler + 2 workers"]
    # CPU of one worker per bag, from the local audit (its pool's CPU, planner apart).
    per_worker_bag = (local_cpu - rows["local (2 processes)"]["planner_cpu"]) / bags
    planner = cluster["planner_cpu"] / bags
    workers_time = 1_000_000 * per_worker_bag / 10
    planner_time = 1_000_000 * planner
    print()
    print(
        f"1,000,000 bags on 10 workers, on paper: workers {workers_time / 3600:.1f} h "
        f"({per_worker_bag * 1000:.1f} ms of a worker per bag), planner "
        f"{planner_time / 3600:.1f} h ({planner * 1000:.2f} ms per bag, serial): "
        f"about {max(workers_time, planner_time) / 3600:.1f} h, bound by the "
        f"{'planner' if planner_time > workers_time else 'workers'}"
    )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
