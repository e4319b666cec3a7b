"""The forked workers of ``verify_bags`` (preserve/verify/forked.py), with real processes.

Order kept whatever worker finishes first, every batch checked once, a worker that
dies reported bag by bag (fail closed, never silently dropped), an interrupted
caller leaves no process behind, and the pool's path gives the same results.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import bagit
import pytest

from preserve.verify import forked

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="forked workers need Linux"
)


def _double(batch: Sequence[int]) -> list[int]:
    if batch[0] % 3 == 0:
        time.sleep(0.01)  # some batches slower: results arrive out of order
    return [2 * x for x in batch]


def _never(item: int, why: str) -> int:
    raise AssertionError(f"{item}: {why}")


def test_results_in_order_and_each_batch_once() -> None:
    batches = [list(range(i, i + 5)) for i in range(0, 200, 5)]
    out = [x for r in forked.run_batches(batches, _double, 2, _never) for x in r]
    assert out == [2 * x for x in range(200)]


def test_more_workers_than_batches() -> None:
    assert list(forked.run_batches([[1], [2]], _double, 8, _never)) == [[2], [4]]


def _die_on_seven(batch: Sequence[int]) -> list[int]:
    if 7 in batch:
        os.kill(os.getpid(), signal.SIGKILL)
    return list(batch)


def test_a_dead_worker_fails_closed() -> None:
    batches = [[i] for i in range(12)]
    results = [
        r
        for rs in forked.run_batches(batches, _die_on_seven, 2, lambda i, why: (i, why))
        for r in rs
    ]
    assert len(results) == 12
    assert results[7] == (7, "the worker process checking it was killed by signal 9")
    # The other worker goes on: every other batch is checked.
    assert [r for i, r in enumerate(results) if i != 7] == [i for i in range(12) if i != 7]


def _one_quick(batch: Sequence[int]) -> list[int]:
    if batch[0] != 1:
        time.sleep(60)
    return list(batch)


def test_an_interrupted_caller_leaves_no_worker() -> None:
    before = _children()
    gen = forked.run_batches([[1], [2], [3], [4]], _one_quick, 2, _never)
    started = time.monotonic()
    assert next(gen) == [1]
    assert len(_children() - before) == 2  # both workers are busy with a slow batch
    gen.close()  # the caller stops (Ctrl-C, an error in the caller): workers are ended
    assert time.monotonic() - started < 10
    assert _children() == before


def _bags(root: Path, count: int) -> list[Path]:
    bags = []
    for i in range(count):
        bag = root / f"bag{i}"
        bag.mkdir()
        (bag / "a.txt").write_text(f"bag {i}\n")
        bagit.make_bag(str(bag), checksums=["sha256"])
        bags.append(bag)
    return bags


#: verify_bags in a fresh interpreter (the test process may have threads running,
#: and then verify_bags rightly uses the pool instead of forking). argv: the bags;
#: with FORKED=0 the pool; with KILL=name, a worker dies (SIGKILL) on that bag.
_RUN = """
import json, os, signal, sys
from preserve.verify import forked, verify_bags
from preserve.verify import run
if os.environ.get("FORKED") == "0":
    forked.usable = lambda: False
else:
    assert forked.usable()
real, kill = run._safe_verify, os.environ.get("KILL")
def dying(path, *args):
    if kill and path.endswith(kill):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(path, *args)
run._safe_verify = dying
out = [r.as_dict() | {"seconds": 0} for r in verify_bags(sys.argv[1:], workers=2)]
print(json.dumps(out))
"""


def _verify_elsewhere(paths: list[Path], **env: str) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-c", _RUN, *map(str, paths)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_verify_bags_forked_and_pooled_agree(tmp_path: Path) -> None:
    bags = _bags(tmp_path, 9)
    (bags[4] / "data" / "a.txt").write_text("changed\n")
    (bags[6] / "bagit.txt").unlink()
    paths = [*bags, tmp_path / "absent"]
    forked_results = _verify_elsewhere(paths, FORKED="1")
    assert forked_results == _verify_elsewhere(paths, FORKED="0")
    assert [r["valid"] for r in forked_results] == [True] * 4 + [False, True, False] + [
        True,
        True,
        False,
    ]


@pytest.mark.parametrize("forking", ["1", "0"])
def test_verify_bags_reports_a_killed_worker_bag_by_bag(tmp_path: Path, forking: str) -> None:
    bags = _bags(tmp_path, 6)
    results = _verify_elsewhere(bags, FORKED=forking, KILL="bag3")
    assert [r["bag"] for r in results] == [str(b) for b in bags]
    bag3 = results[3]
    assert bag3["valid"] is False
    assert [p["code"] for p in bag3["problems"]] == ["check.failed"]  # type: ignore[union-attr]
    message = bag3["problems"][0]["message"]  # type: ignore[index]
    assert message.startswith("not checked: the ")
    if forking == "1":
        assert message.endswith("worker process checking it was killed by signal 9")
        # Only the dead worker's batch is lost: the other worker checked the rest.
        assert [r["valid"] for r in results] == [True, True, True, False, True, True]


def _children() -> set[int]:
    me = str(os.getpid())
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[1] == me:
                        found.add(int(entry))
            except OSError:
                continue
    return found


def _die_on_zero_then_slow(batch: Sequence[int], marks: Path) -> list[int]:
    if batch[0] == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.1)
    (marks / str(batch[0])).touch()
    return list(batch)


def test_a_dead_workers_batch_is_reported_when_it_dies(tmp_path: Path) -> None:
    """The batch a worker died in is reported as soon as the death is seen, not after
    every other batch (whose results would be held in memory until then)."""
    import functools

    batches = [[i] for i in range(8)]
    work = functools.partial(_die_on_zero_then_slow, marks=tmp_path)
    results = forked.run_batches(batches, work, 2, lambda i, why: (i, why))
    first = next(results)
    assert first == [(0, "the worker process checking it was killed by signal 9")]
    # The other worker checks batches 1-7 one after the other, 0.1 s each: the last
    # one cannot be done yet when the first batch's death is reported.
    assert not (tmp_path / "7").exists()
    assert [r for rs in results for r in rs] == list(range(1, 8))
