"""Worker processes die with their parent (issue 17, D22).

An ingest killed with SIGKILL used to leave its pool workers blocked on their task
queue for minutes, holding the ledger open. Here a real ingest is killed while its
workers render, and every worker must be gone within seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

STATEMENT = """Reading hours of the district libraries, notice {n}

The district libraries will open one hour earlier from Monday, so that readers who
work in the afternoon can visit them on the way to work.

The change was agreed with the staff of the libraries.

Anna Example
Head of the Library Council

3 March 2024
"""


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ")"
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def _kill_and_expect_workers_gone(process: subprocess.Popen[bytes], what: str) -> None:
    """Wait until ``process`` has two workers, SIGKILL it, and assert they die too."""
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2 and process.poll() is None:
            workers = _children(process.pid)
            time.sleep(0.05)
        assert len(workers) >= 2, f"{what} never started its workers"
        process.send_signal(signal.SIGKILL)
        process.wait()
        gone_by = time.monotonic() + 5
        while time.monotonic() < gone_by and any(_alive(w) for w in workers):
            time.sleep(0.05)
        assert not [w for w in workers if _alive(w)], "workers outlived their killed parent"
    finally:
        if process.poll() is None:
            process.kill()
        for w in _children(process.pid):
            os.kill(w, signal.SIGKILL)


def test_ingest_workers_die_when_the_ingest_is_killed(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for n in range(60):
        (inputs / f"notice-{n:02d}.txt").write_text(STATEMENT.format(n=n), encoding="utf-8")
    command = [sys.executable, "-m", "preserve", "ingest", str(inputs), "-a", str(tmp_path / "a")]
    process = subprocess.Popen(
        [*command, "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _kill_and_expect_workers_gone(process, "the ingest")


def test_die_with_parent_ends_an_orphan_at_once() -> None:
    """A worker whose parent died before it asked the kernel exits instead of waiting."""
    code = (
        "import os, sys; from preserve.workers import die_with_parent; "
        "die_with_parent(os.getppid() + 1_000_000); print('survived')"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert run.returncode == 1 and "survived" not in run.stdout


def test_die_with_parent_keeps_a_worker_whose_parent_lives() -> None:
    code = (
        "import os; from preserve.workers import die_with_parent; "
        "die_with_parent(os.getppid()); print('alive')"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0 and run.stdout.strip() == "alive"


_SLOW_VERIFY = """
import sys, time
from pathlib import Path
from preserve.verify import verify_bags

def slow(root: Path) -> list:
    time.sleep(120)
    return []

list(verify_bags([Path(p) for p in sys.argv[1:]], workers=2, extra_checks=[slow]))
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_verify_workers_die_when_the_verify_is_killed(tmp_path: Path) -> None:
    """verify_bags' batch workers are started with die_with_parent too."""
    bag = tmp_path / "bag"
    (bag / "data").mkdir(parents=True)
    (bag / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW_VERIFY, str(bag), str(bag), str(bag)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _kill_and_expect_workers_gone(process, "verify_bags")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_parent_death_signal_is_set_without_find_library() -> None:
    """prctl comes from the running program's symbols: no ``ldconfig`` run per worker."""
    code = (
        "import sys, signal, ctypes\n"
        "sys.modules['ctypes.util'] = None  # importing it now fails\n"
        "from preserve.workers import _set_pdeathsig\n"
        "assert _set_pdeathsig(signal.SIGTERM)\n"
        "got = ctypes.c_int()\n"
        "ctypes.CDLL(None).prctl(2, ctypes.byref(got), 0, 0, 0)  # PR_GET_PDEATHSIG\n"
        "print(got.value)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) == signal.SIGTERM
