"""Benchmark: preserve's verifier against bagit-python on many small and a few large bags.

    python bench/bench_verify.py [DIR] [--small N] [--large N] [--large-mib M]
                                 [--rounds R] [--keep] [--no-inprocess] [--baseline SRC]

Builds (with bagit-python) N bags of three small files (~45 KB per bag) and a few bags
of one large file, all with sha256 and sha512 manifests (reused when DIR is given).

First line of each comparison, whole processes as a user runs them (start-up
included), on the same bags in the same run:

* bagit-python: a fresh interpreter calling ``bagit.Bag(p).validate()`` on each bag
  (``processes=2`` for the large bags, as its docs suggest for big payloads);
* preserve: ``python -m preserve verify BAG...`` (all checks, default workers);
  with ``--baseline SRC``, also the ``preserve`` of another checkout (say a
  ``git worktree`` of main), so before and after are timed in the same rounds;
* for the large bags, an ideal two-process hasher: a fresh interpreter whose two
  processes each read their share of the files once and feed sha256 and sha512
  (the ceiling on two cores: no parsing, no checks);
* for the small bags, the hash-only floor: a fresh interpreter whose two forked
  processes list each bag and read and hash every file once, both digests, and
  check nothing (what any verifier in Python must at least do: the system calls
  and the hashing; the issue's "30-line prototype that only hashes").

Second line, in-process: ``bagit.Bag(p).validate()`` against
:func:`preserve.verify.verify_bags` (imports and start-up excluded).

Both sides run with compiled bytecode, as installed programs do: the development
environment sets ``PYTHONDONTWRITEBYTECODE``, which would make every ``preserve``
run compile its modules from source (~40 ms more start-up than a user pays), so the
child processes run without it, their caches under ``DIR/pycache``
(``PYTHONPYCACHEPREFIX``: nothing is written into the source tree); the warm-up
round fills them. ``PYTHONUNBUFFERED``, also set here and not by users, is dropped
too: it makes each line ``preserve verify`` prints to a pipe a system call.

The machine may be shared: every round runs the contenders one after another
(A B C A B C ...), a discarded warm-up round first (warm page cache: the numbers
compare CPU work, not the disk), and medians are reported with the load average
before and after. Ratios are bagit-python's median over the other's. Wall time is
what a user waits for; on a loaded machine the two-process contenders cannot use
both cores, so the CPU seconds (the process and all it started; user + system) are
printed too: they say how much work each does, whatever the load.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import bagit

ALGORITHMS = ["sha256", "sha512"]
SMALL_SIZES = (30_000, 12_000, 3_000)  # ~45 KB per bag


def build_small(root: Path, count: int) -> list[Path]:
    rng = os.urandom(sum(SMALL_SIZES) + count)
    bags = []
    for i in range(count):
        bag = root / f"small-{i:05d}"
        if not (bag / "bagit.txt").exists():
            (bag / "docs").mkdir(parents=True, exist_ok=True)
            offset = 0
            for j, size in enumerate(SMALL_SIZES):
                name = bag / ("docs" if j else ".") / f"file{j}.bin"
                name.write_bytes(rng[i + offset : i + offset + size])
                offset += size
            bagit.make_bag(str(bag), checksums=ALGORITHMS)
        bags.append(bag)
    return bags


def build_large(root: Path, count: int, mib: int) -> list[Path]:
    bags = []
    block = os.urandom(1 << 20)
    for i in range(count):
        bag = root / f"large-{mib}m-{i}"  # by size: a reused DIR never mislabels
        if not (bag / "bagit.txt").exists():
            bag.mkdir(parents=True, exist_ok=True)
            with (bag / "big.bin").open("wb") as fh:
                for k in range(mib):
                    fh.write(block[: (1 << 20) - 1] + bytes([(i + k) % 256]))
            bagit.make_bag(str(bag), checksums=ALGORITHMS, processes=2)
        bags.append(bag)
    return bags


#: The reference as a user runs it: a fresh interpreter validating each named bag.
_BAGIT_SCRIPT = (
    "import sys, bagit\n"
    "n = int(sys.argv[1])\n"
    "for p in sys.argv[2:]: bagit.Bag(p).validate(processes=n)\n"
)

#: The ceiling: two processes, each reading its files once and feeding both digests.
_IDEAL_SCRIPT = """
import hashlib, os, sys
from concurrent.futures import ProcessPoolExecutor
def one(path):
    a, b = hashlib.sha256(), hashlib.sha512()
    with open(path, "rb", buffering=0) as fh:
        while block := fh.read(1 << 20):
            a.update(block); b.update(block)
    return a.hexdigest(), b.hexdigest()
with ProcessPoolExecutor(2) as pool:
    list(pool.map(one, sys.argv[1:]))
"""


#: The floor for many small bags (the issue's "prototype that only hashes with a
#: process pool"): two processes, each reading every file of its bags once and
#: computing both digests; no manifest read, nothing compared, no rule checked.
_FLOOR_SCRIPT = """
import hashlib, os, sys
from multiprocessing import get_context
def bag(root):
    pending, n = [root], 0
    while pending:
        with os.scandir(pending.pop()) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    pending.append(e.path)
                    continue
                fd = os.open(e.path, os.O_RDONLY)
                try:
                    data = os.read(fd, os.fstat(fd).st_size + 1)
                finally:
                    os.close(fd)
                hashlib.sha256(data).hexdigest(); hashlib.sha512(data).hexdigest()
                n += 1
    return n
with get_context("fork").Pool(2) as pool:
    sum(pool.imap(bag, sys.argv[1:], chunksize=32))
"""


#: The environment of the timed processes (see the module docstring); set by main().
ENV: dict[str, str] = {}


#: (wall seconds, CPU seconds of this process and every child it waited for)
Timing = tuple[float, float]


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn: Callable[[], object]) -> Timing:
    """Wall and CPU time of ``fn`` (CPU includes the processes it started and reaped)."""
    cpu, start = _cpu(), time.perf_counter()
    fn()
    return time.perf_counter() - start, _cpu() - cpu


def run(cmd: list[str]) -> Timing:
    def go() -> None:
        done = subprocess.run(cmd, capture_output=True, env=ENV or None)
        if done.returncode != 0:
            raise SystemExit(f"{cmd[:4]}... exited {done.returncode}: {done.stderr[-400:]!r}")

    return timed(go)


def whole_bagit(bags: list[Path], processes: int) -> Timing:
    return run([sys.executable, "-c", _BAGIT_SCRIPT, str(processes), *map(str, bags)])


def whole_preserve(bags: list[Path], source: Path | None = None) -> Timing:
    """``preserve verify`` as a user runs it; ``source``: another checkout's package."""
    # -P: not the current folder first on sys.path (run from inside a checkout, -m
    # would import that checkout's preserve, whatever PYTHONPATH names).
    cmd = [sys.executable, "-P", "-m", "preserve", "verify", *map(str, bags)]
    if source is None:
        return run(cmd)
    saved = dict(ENV)
    ENV["PYTHONPATH"] = str(source)
    try:
        return run(cmd)
    finally:
        ENV.clear()
        ENV.update(saved)


def whole_ideal(files: list[Path]) -> Timing:
    return run([sys.executable, "-c", _IDEAL_SCRIPT, *map(str, files)])


def whole_floor(bags: list[Path]) -> Timing:
    return run([sys.executable, "-c", _FLOOR_SCRIPT, *map(str, bags)])


def in_bagit(bags: list[Path], processes: int) -> None:
    for bag in bags:
        bagit.Bag(str(bag)).validate(processes=processes)


def in_preserve(bags: list[Path]) -> None:
    from preserve.verify import verify_bags

    assert all(r.valid for r in verify_bags(bags)), "preserve found a valid bag invalid"


def interleaved(contenders: dict[str, Callable[[], Timing]], rounds: int) -> dict[str, Timing]:
    """Median wall and CPU seconds of each contender over ``rounds`` rounds, A B C A B C."""
    for fn in contenders.values():
        fn()  # warm-up: page cache, bytecode caches
    times: dict[str, list[Timing]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            times[name].append(fn())
    return {
        name: (statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts))
        for name, ts in times.items()
    }


def report(label: str, medians: dict[str, Timing], load: tuple[float, float]) -> None:
    ref_wall, ref_cpu = medians["bagit-python"]
    others = {n: t for n, t in medians.items() if n != "bagit-python"}
    pad = " " * len(label)
    print(f"{label}: " + ", ".join(f"{n} {w:.3f} s" for n, (w, _) in medians.items()))
    print(
        f"{pad}  wall ratio vs bagit-python: "
        + ", ".join(f"{n} {ref_wall / w:.2f}x" for n, (w, _) in others.items())
    )
    print(f"{pad}  CPU seconds: " + ", ".join(f"{n} {c:.3f}" for n, (_, c) in medians.items()))
    print(
        f"{pad}  CPU ratio vs bagit-python: "
        + ", ".join(f"{n} {ref_cpu / c:.2f}x" for n, (_, c) in others.items())
    )
    print(f"{pad}  load average {load[0]:.2f} before, {load[1]:.2f} after")
    for floor in ("ideal 2-process hasher", "hash-only floor"):
        if floor in medians and "preserve verify" in medians:
            ours, ideal = medians["preserve verify"], medians[floor]
            print(
                f"{pad}  preserve verify against the {floor}: wall {ours[0] / ideal[0] - 1:+.1%}, "
                f"CPU {ours[1] / ideal[1] - 1:+.1%}"
            )


def compare(label: str, contenders: dict[str, Callable[[], Timing]], rounds: int) -> None:
    before = os.getloadavg()[0]
    medians = interleaved(contenders, rounds)
    report(label, medians, (before, os.getloadavg()[0]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", nargs="?", type=Path, help="where to build the bags (reused)")
    parser.add_argument("--small", type=int, default=2000, help="number of small bags")
    parser.add_argument("--large", type=int, default=4, help="number of large bags")
    parser.add_argument("--large-mib", type=int, default=256, help="size of each large file")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--keep", action="store_true", help="keep a temporary directory")
    parser.add_argument(
        "--no-inprocess", action="store_true", help="whole processes only (skip line 2)"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="SRC",
        help="also time preserve verify from this checkout (PYTHONPATH=SRC), e.g. main",
    )
    args = parser.parse_args(argv)
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-verify-"))
    root.mkdir(parents=True, exist_ok=True)
    ENV.update(os.environ)
    ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    # Also set in this development environment, not by users: it makes every line
    # written to a pipe a system call of its own (~17 µs a line here).
    ENV.pop("PYTHONUNBUFFERED", None)
    ENV["PYTHONPYCACHEPREFIX"] = str(root / "pycache")

    def baseline(bags: list[Path]) -> dict[str, Callable[[], Timing]]:
        src = args.baseline
        return {} if src is None else {"baseline": lambda: whole_preserve(bags, src)}

    try:
        t0 = time.perf_counter()
        small = build_small(root / "small", args.small)
        large = build_large(root / "large", args.large, args.large_mib)
        print(
            f"built {len(small)} small + {len(large)} large bags in "
            f"{time.perf_counter() - t0:.1f} s under {root}; {os.cpu_count()} cores; "
            f"median of {args.rounds} interleaved rounds"
        )
        if small:
            compare(
                f"{len(small)} small bags, whole processes",
                {
                    "bagit-python": lambda: whole_bagit(small, 1),
                    "preserve verify": lambda: whole_preserve(small),
                    "hash-only floor": lambda: whole_floor(small),
                }
                | baseline(small),
                args.rounds,
            )
            if not args.no_inprocess:
                compare(
                    f"{len(small)} small bags, in-process",
                    {
                        "bagit-python": lambda: timed(lambda: in_bagit(small, 1)),
                        "verify_bags": lambda: timed(lambda: in_preserve(small)),
                    },
                    args.rounds,
                )
        if large:
            files = [bag / "data" / "big.bin" for bag in large]
            compare(
                f"{len(large)} x {args.large_mib} MiB, whole processes",
                {
                    "bagit-python": lambda: whole_bagit(large, 2),
                    "preserve verify": lambda: whole_preserve(large),
                    "ideal 2-process hasher": lambda: whole_ideal(files),
                }
                | baseline(large),
                args.rounds,
            )
            if not args.no_inprocess:
                compare(
                    f"{len(large)} x {args.large_mib} MiB, in-process",
                    {
                        "bagit-python": lambda: timed(lambda: in_bagit(large, 2)),
                        "verify_bags": lambda: timed(lambda: in_preserve(large)),
                    },
                    args.rounds,
                )
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"peak RSS: this process {own:.0f} MiB, largest child {children:.0f} MiB")
    finally:
        if args.dir is None and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
