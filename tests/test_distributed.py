"""Audits and ingests on a real Dask cluster: a scheduler and two workers as subprocesses
(every port bound to 127.0.0.1), and a LocalCluster with worker processes.

The report of an audit on Dask must be the report of a local audit of the same
archive, bag for bag; the ledger must get exactly one fixity-check event per bag
checked, whatever happens to a worker, the scheduler or the planner.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("distributed")

from preserve import chain, ledger
from preserve.archive import IngestOptions, ingest
from preserve.audit import RECORD_EVERY, AuditReport, BagAudit, audit
from preserve.cli import cli
from preserve.distributed import (
    DaskExecutor,
    ExecutorLost,
    PathMap,
    batch_size_for,
)

from .conftest import REPO
from .test_archive import make_statements

HOST = "127.0.0.1"


# --------------------------------------------------------------------------- a real cluster


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes, all on 127.0.0.1."""

    def __init__(self, root: Path, workers: int = 2) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.file = root / "scheduler.json"
        self.env = {**os.environ, "PYTHONPATH": str(REPO)}  # workers import this tree
        self.logs = root
        self.scheduler = self._start(
            "scheduler",
            ["scheduler", "--host", HOST, "--port", "0"],
            ["--dashboard-address", f"{HOST}:0", "--scheduler-file", str(self.file)],
        )
        deadline = time.monotonic() + 60
        while not self.file.is_file() or not self.file.read_text().strip():
            assert self.scheduler.poll() is None, self.log("scheduler")
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        self.address = json.loads(self.file.read_text())["address"]
        assert self.address.startswith(f"tcp://{HOST}:")
        self.workers = [
            self._start(
                f"worker{i}",
                ["worker", "--scheduler-file", str(self.file), "--host", HOST],
                ["--dashboard-address", f"{HOST}:0", "--nworkers", "1", "--nthreads", "1"],
                # Without a nanny, a killed worker stays dead: its work must go elsewhere.
                ["--no-nanny"],
            )
            for i in range(workers)
        ]
        self.wait_for(workers)

    def _start(self, name: str, *args: list[str]) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "dask", *(a for part in args for a in part)]
        with open(self.logs / f"{name}.log", "wb") as log:
            return subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.logs
            )

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def wait_for(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            client.wait_for_workers(count, timeout=60)

    def listening_addresses(self) -> set[str]:
        """Every address our processes listen on (``ss``), to prove none is public."""
        if shutil.which("ss") is None:
            return set()
        pids = {p.pid for p in [self.scheduler, *self.workers] if p.poll() is None}
        out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=False)
        found = set()
        for line in out.stdout.splitlines():
            if any(f"pid={pid}," in line for pid in pids):
                found.add(line.split()[3].rsplit(":", 1)[0])
        return found

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers, self.scheduler]:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        yield running
    finally:
        running.stop()


# --------------------------------------------------------------------------- archives


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five real bags, ingested locally; tests work on copies (conftest ``archive``)."""
    root = tmp_path_factory.mktemp("pristine")
    make_statements(root / "in", 5)
    report = ingest([root / "in"], root / "archive")
    assert report.exit_code == 0, report.as_dict()
    return root / "archive"


def damage(archive: Path) -> None:
    """One bag of each kind of trouble the audit finds, so a match proves something."""
    bags = sorted((archive / "bags").iterdir())
    pdf = next((bags[0] / "data" / "pdfa").iterdir())
    pdf.write_bytes(pdf.read_bytes() + b"%tampered\n")  # corrupt payload
    shutil.rmtree(bags[1])  # missing
    shutil.copytree(bags[2], archive / "bags" / "planted-bag")  # never ingested


def comparable(report: AuditReport) -> list[dict[str, Any]]:
    """The report's bags, by identifier, without the timing (which never matches)."""
    rows = []
    for bag in report.bags:
        row = bag.as_dict()
        del row["seconds"]
        rows.append(row)
    return sorted(rows, key=lambda r: r["identifier"])


def fixity_events(archive: Path) -> list[str]:
    db = ledger.connect(archive, readonly=True)
    try:
        rows = db.execute(
            "SELECT identifier FROM events WHERE type = 'fixity check' ORDER BY identifier"
        ).fetchall()
        report = chain.verify_chain(db)
    finally:
        db.close()
    assert report.ok, report.as_dict()
    return [r[0] for r in rows]


# --------------------------------------------------------------------------- pure parts


def test_path_map_swaps_only_whole_leading_folders() -> None:
    mapping = PathMap.parse("/srv/archive/=/mnt/archive")
    assert mapping.to_remote("/srv/archive/bags/a") == "/mnt/archive/bags/a"
    assert mapping.to_remote("/srv/archive") == "/mnt/archive"
    assert mapping.to_remote("/srv/archive2/bags/a") == "/srv/archive2/bags/a"
    assert mapping.to_local("/mnt/archive/staging/x") == "/srv/archive/staging/x"
    for bad in ("/a", "a=/b", "/a=", "=/b"):
        with pytest.raises(ValueError):
            PathMap.parse(bad)


def test_batch_size_keeps_every_thread_busy_and_tasks_few() -> None:
    assert batch_size_for(10, 2) == 1
    assert batch_size_for(2_000, 2) == 63
    assert batch_size_for(1_000_000, 10) == 64
    assert batch_size_for(0, 4) == 1


# --------------------------------------------------------------------------- audits


def test_audit_on_cluster_matches_a_local_audit(cluster: Cluster, archive: Path) -> None:
    damage(archive)
    local = audit(archive, workers=1, record=False)
    assert not local.ok and len(local.bags) == 6
    result = CliRunner().invoke(
        cli, ["audit", str(archive), "--scheduler", cluster.address, "--json", "--all"]
    )
    assert result.exit_code == 1, result.output
    remote = json.loads(result.stdout)
    rows = sorted(remote["bags"], key=lambda r: r["identifier"])
    for row in rows:
        del row["seconds"]
    assert rows == comparable(local)
    # Only bags that were verified get a fixity event (missing and planted ones are not).
    verified = sorted(b.identifier for b in local.bags if b.files_checked or b.bytes_checked)
    assert fixity_events(archive) == verified
    assert cluster.listening_addresses() <= {HOST}


def test_audit_through_a_path_map(cluster: Cluster, archive: Path, tmp_path: Path) -> None:
    """Workers that see the archive elsewhere get its paths there; a wrong map is seen."""
    elsewhere = tmp_path / "mounted-here"
    elsewhere.symlink_to(archive, target_is_directory=True)
    with DaskExecutor(cluster.address, path_map=PathMap(str(archive), str(elsewhere))) as executor:
        mapped = audit(archive, executor=executor, record=False)
    assert mapped.ok and len(mapped.bags) == 5
    with DaskExecutor(
        cluster.address, path_map=PathMap(str(archive), str(tmp_path / "not-mounted"))
    ) as executor:
        wrong = audit(archive, executor=executor, record=False)
    assert not wrong.ok and len(wrong.bags) == 5
    assert all("bag.unreadable" in {p.code for p in b.problems} for b in wrong.bags)


def test_budget_stops_submitting_and_waits_for_running_batches(cluster: Cluster) -> None:
    with DaskExecutor(cluster.address, batch_size=3) as executor:
        results = list(executor.map_unordered(abs, [(-i,) for i in range(100)], lambda: False))
        assert results == []  # out of budget before the first batch: nothing runs
        calls = {"n": 0}

        def one_round() -> bool:  # the budget lasts for the first window only
            calls["n"] += 1
            return calls["n"] <= 4

        results = list(executor.map_unordered(abs, [(-i,) for i in range(100)], one_round))
    indexes = sorted(i for i, _ in results)
    # Two threads, two batches each in flight: four batches of three, each bag once.
    assert indexes == list(range(12))
    assert all(value == index for index, value in results)


def test_calls_are_drawn_a_batch_at_a_time(cluster: Cluster) -> None:
    """A lazy stream of calls (an audit's queue at a million bags) is never held whole:
    when the first result comes back, only the batches in flight have been drawn."""
    drawn: list[int] = []

    def calls() -> Iterator[tuple[int]]:
        for i in range(1_000):
            drawn.append(i)
            yield (-i,)

    with DaskExecutor(cluster.address, batch_size=10) as executor:
        results = executor.map_unordered(abs, calls())
        first = next(results)
        drawn_at_first = len(drawn)
        everything = [first, *results]
    # Two threads, two batches of ten each in flight.
    assert drawn_at_first == 40
    assert sorted(i for i, _ in everything) == list(range(1_000))
    assert all(value == index for index, value in everything)


def test_interrupted_audit_records_what_was_verified(cluster: Cluster, archive: Path) -> None:
    """Ctrl-C in the planner: the bags reported so far are recorded, the chain holds."""
    seen: list[BagAudit] = []

    def interrupt_after_two(bag: BagAudit) -> None:
        seen.append(bag)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with (
        DaskExecutor(cluster.address, batch_size=1) as executor,
        pytest.raises(KeyboardInterrupt),
    ):
        audit(archive, executor=executor, progress=interrupt_after_two)
    assert fixity_events(archive) == sorted(b.identifier for b in seen)


def test_lost_scheduler_ends_with_exit_2_and_keeps_what_was_verified(
    tmp_path: Path, archive: Path
) -> None:
    own = Cluster(tmp_path / "doomed", workers=1)
    seen: list[BagAudit] = []

    def kill_scheduler_after_two(bag: BagAudit) -> None:
        seen.append(bag)
        if len(seen) == 2:
            own.scheduler.send_signal(signal.SIGKILL)
            own.scheduler.wait()

    try:
        with (
            DaskExecutor(own.address, batch_size=1, timeout=5) as executor,
            pytest.raises(ExecutorLost) as lost,
        ):
            audit(archive, executor=executor, progress=kill_scheduler_after_two)
    finally:
        own.stop()
    assert lost.value.exit_code == 2
    assert "scheduler was lost" in lost.value.message
    assert 2 <= len(seen) < 5
    assert fixity_events(archive) == sorted(b.identifier for b in seen)


def test_unreachable_scheduler_is_one_line_and_exit_2(archive: Path) -> None:
    with socket_closed_port() as port:
        result = CliRunner().invoke(
            cli, ["audit", str(archive), "--scheduler", f"tcp://{HOST}:{port}"]
        )
    assert result.exit_code == 2
    assert "cannot reach the Dask scheduler" in result.stderr
    assert "Traceback" not in result.output
    assert fixity_events(archive) == []


class socket_closed_port:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind((HOST, 0))
            return int(sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None


# --------------------------------------------------------------------------- ingest


def test_ingest_on_a_local_cluster_publishes_here(tmp_path: Path) -> None:
    """Rendering and staging on LocalCluster worker processes; publishing in this one."""
    inputs = make_statements(tmp_path / "in", 4)
    (tmp_path / "in" / "empty.txt").write_bytes(b"")
    archive = tmp_path / "archive"
    result = CliRunner().invoke(
        cli,
        [
            "ingest",
            *map(str, inputs),
            str(tmp_path / "in" / "empty.txt"),
            "-a",
            str(archive),
            "--scheduler",
            "local:2",
            "--json",
        ],
    )
    assert result.exit_code == 1, result.output  # the empty file alone failed
    report = json.loads(result.stdout)
    statuses = {Path(r["source"]).name: r["status"] for r in report["results"]}
    assert statuses == {**{p.name: "ingested" for p in inputs}, "empty.txt": "failed"}
    assert list((archive / "staging").iterdir()) == []
    checked = audit(archive, workers=1)
    assert checked.ok and len(checked.bags) == 4
    db = ledger.connect(archive, readonly=True)
    try:
        states = {r[0] for r in db.execute("SELECT state FROM bags")}
    finally:
        db.close()
    assert states == {"published"}


def test_ingest_on_cluster_equals_a_local_ingest(cluster: Cluster, tmp_path: Path) -> None:
    """Same statements, same moment: the same bags, byte for byte, but for the times
    the worker stamps into its PREMIS events (validated and rendered at)."""
    inputs = make_statements(tmp_path / "in", 3)
    options = IngestOptions(created=time_zero())
    here = ingest(inputs, tmp_path / "here", options)
    with DaskExecutor(cluster.address) as executor:
        there = ingest(
            inputs, tmp_path / "there", IngestOptions(created=time_zero(), executor=executor)
        )
    assert here.exit_code == there.exit_code == 0
    for bag in sorted((tmp_path / "here" / "bags").iterdir()):
        other = tmp_path / "there" / "bags" / bag.name
        pdf = f"data/pdfa/{bag.name}.pdf"
        assert (bag / pdf).read_bytes() == (other / pdf).read_bytes()
        assert (bag / "data/metadata/statement.json").read_bytes() == (
            other / "data/metadata/statement.json"
        ).read_bytes()


def time_zero() -> Any:
    import datetime as dt

    return dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


# --------------------------------------------------------------------------- a worker killed


@pytest.mark.slow
def test_worker_killed_mid_audit_loses_and_repeats_no_bag(tmp_path: Path) -> None:
    """SIGKILL one of two workers a quarter of the way through 1,500 bags: its batches
    run on the other, and the report and the ledger are a local audit's."""
    sys.path.insert(0, str(REPO))
    from bench.bench_scale import build

    archive = tmp_path / "archive"
    count = 1_500
    build(archive, count)
    local = audit(archive, workers=1, record=False)
    assert local.ok and len(local.bags) == count
    cluster = Cluster(tmp_path / "dask")
    victim = cluster.workers[0]
    seen: list[str] = []

    in_ledger_midway: list[int] = []

    def kill_a_worker(bag: BagAudit) -> None:
        seen.append(bag.identifier)
        if len(seen) == count // 4:
            victim.send_signal(signal.SIGKILL)
        if len(seen) == RECORD_EVERY + 1:  # results are written as they come, in batches
            in_ledger_midway.append(len(fixity_events(archive)))

    try:
        with DaskExecutor(cluster.address) as executor:
            remote = audit(archive, executor=executor, progress=kill_a_worker)
            assert victim.wait(timeout=10) == -signal.SIGKILL
            assert len(executor.client.scheduler_info()["workers"]) == 1
    finally:
        cluster.stop()
    assert len(seen) == len(set(seen)) == count
    assert in_ledger_midway == [RECORD_EVERY]
    assert comparable(remote) == comparable(local)
    assert fixity_events(archive) == sorted(seen)
    db = sqlite3.connect(archive / "ledger.sqlite")
    try:
        results = {r[0] for r in db.execute("SELECT last_result FROM bags")}
    finally:
        db.close()
    assert results == {"success"}


class RerunningExecutor:
    """Runs every call twice, as Dask does with a batch whose worker died after it had
    staged some of its bags, and keeps the second result."""

    def map_unordered(self, func: Any, calls: Any, keep_going: Any = None) -> Iterator[Any]:
        for index, call in enumerate(calls):
            func(*call)
            yield index, func(*call)

    def to_remote(self, path: Any) -> str:
        return str(path)

    def to_local(self, path: Any) -> str:
        return str(path)


def test_ingest_batch_run_again_after_a_worker_died_stages_afresh(tmp_path: Path) -> None:
    """Regression: the second run of a job found its staging folder from the first
    (``write_bag`` wants a new folder) and failed with 'File exists'."""
    inputs = make_statements(tmp_path / "in", 2)
    archive = tmp_path / "archive"
    report = ingest(inputs, archive, IngestOptions(executor=RerunningExecutor()))
    assert report.exit_code == 0, report.as_dict()
    assert list((archive / "staging").iterdir()) == []
    assert audit(archive, workers=1).ok
