"""Benchmark: preserve's verifier against bagit-python on many small and a few large bags.

    python bench/bench_verify.py [DIR] [--small N] [--large-mib M] [--large N] [--keep]

Builds (with bagit-python) N bags of three small files (~45 KB per bag) and a few bags
of one large file, all with sha256 and sha512 manifests, then times:

* bagit-python: ``bagit.Bag(p).validate()`` one bag after another (``processes=2`` for
  the large bags, as its docs suggest for big payloads);
* preserve: :func:`preserve.verify.verify_bags` over the same bags, using every core
  (processes for the small bags, threads inside each large bag when run alone).

First each side runs as a whole process, as a user runs it (start-up included):
``python -m preserve verify BAG...`` against a fresh interpreter calling
``bagit.Bag(p).validate()`` on each bag; then in-process as a second line.

Each side runs on a warm page cache (a discarded warm-up pass first), so the numbers
compare CPU work, not the disk. Peak RSS comes from ``resource.getrusage``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bagit

from preserve.verify import verify_bag, verify_bags

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
        bag = root / f"large-{i}"
        if not (bag / "bagit.txt").exists():
            bag.mkdir(parents=True, exist_ok=True)
            with (bag / "big.bin").open("wb") as fh:
                for k in range(mib):
                    fh.write(block[: (1 << 20) - 1] + bytes([(i + k) % 256]))
            bagit.make_bag(str(bag), checksums=ALGORITHMS, processes=2)
        bags.append(bag)
    return bags


def timed(fn: Callable[[], bool]) -> tuple[float, bool]:
    start = time.perf_counter()
    ok = fn()
    return time.perf_counter() - start, ok


def bagit_python(bags: list[Path], processes: int) -> bool:
    for bag in bags:
        bagit.Bag(str(bag)).validate(processes=processes)
    return True


def ours_batch(bags: list[Path], workers: int) -> bool:
    return all(r.valid for r in verify_bags(bags, workers=workers))


def ours_threads(bags: list[Path], workers: int) -> bool:
    """Bags concurrently on threads: hashing releases the GIL, parsing does not."""
    with ThreadPoolExecutor(workers) as pool:
        return all(r.valid for r in pool.map(lambda b: verify_bag(b, threads=1), bags))


def ours_one_by_one(bags: list[Path]) -> bool:
    """Large bags one after another, each spread over threads per file."""
    return all(verify_bag(b).valid for b in bags)


#: The reference as a user runs it: a fresh interpreter validating each named bag.
_BAGIT_SCRIPT = (
    "import sys, bagit\n"
    "n = int(sys.argv[1])\n"
    "for p in sys.argv[2:]: bagit.Bag(p).validate(processes=n)\n"
)


def whole_bagit(bags: list[Path], processes: int) -> bool:
    """bagit-python as a whole process (start-up included)."""
    cmd = [sys.executable, "-c", _BAGIT_SCRIPT, str(processes), *map(str, bags)]
    return subprocess.run(cmd, capture_output=True).returncode == 0


def whole_preserve(bags: list[Path]) -> bool:
    """``preserve verify BAG...`` as a whole process (start-up included)."""
    cmd = [sys.executable, "-m", "preserve", "verify", *map(str, bags)]
    return subprocess.run(cmd, capture_output=True).returncode == 0


def peak_rss_mib() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def compare(
    label: str, theirs: Callable[[], bool], ours: dict[str, Callable[[], bool]], repeat: int
) -> None:
    """Best of ``repeat`` rounds, contenders interleaved so a busy spell hits all alike."""
    theirs()  # warm the page cache
    best = {"bagit-python": float("inf")} | {name: float("inf") for name in ours}
    for _ in range(repeat):
        best["bagit-python"] = min(best["bagit-python"], timed(theirs)[0])
        for name, fn in ours.items():
            seconds, ok = timed(fn)
            assert ok, f"{name} found a valid bag invalid"
            best[name] = min(best[name], seconds)
    t_theirs = best.pop("bagit-python")
    print(f"{label}: bagit-python {t_theirs:8.2f} s")
    for name, t_ours in best.items():
        print(f"{label}: preserve {name:<22} {t_ours:8.2f} s   {t_theirs / t_ours:5.1f}x faster")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", nargs="?", type=Path, help="where to build the bags (reused)")
    parser.add_argument("--small", type=int, default=2000, help="number of small bags")
    parser.add_argument("--large", type=int, default=4, help="number of large bags")
    parser.add_argument("--large-mib", type=int, default=256, help="size of each large file")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender (best kept)")
    parser.add_argument("--keep", action="store_true", help="keep a temporary directory")
    args = parser.parse_args(argv)
    workers = os.cpu_count() or 1
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-verify-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        small = build_small(root / "small", args.small)
        large = build_large(root / "large", args.large, args.large_mib)
        print(
            f"built {len(small)} small + {len(large)} large bags in "
            f"{time.perf_counter() - t0:.1f} s under {root}; {workers} cores"
        )
        if small:
            compare(
                f"{len(small)} small bags, whole processes",
                lambda: whole_bagit(small, 1),
                {"preserve verify": lambda: whole_preserve(small)},
                args.repeat,
            )
            compare(
                f"{len(small)} small bags",
                lambda: bagit_python(small, 1),
                {
                    f"processes={workers}": lambda: ours_batch(small, workers),
                    f"threads={workers}": lambda: ours_threads(small, workers),
                    "one process": lambda: ours_batch(small, 1),
                },
                args.repeat,
            )
        if large:
            compare(
                f"{len(large)} x {args.large_mib} MiB, whole processes",
                lambda: whole_bagit(large, 2),
                {"preserve verify": lambda: whole_preserve(large)},
                args.repeat,
            )
            compare(
                f"{len(large)} x {args.large_mib} MiB",
                lambda: bagit_python(large, 2),
                {
                    f"bag threads={workers}": lambda: ours_threads(large, workers),
                    f"bag processes={workers}": lambda: ours_batch(large, workers),
                    "one bag at a time": lambda: ours_one_by_one(large),
                },
                args.repeat,
            )
        own, children = peak_rss_mib()
        print(f"load average now: {os.getloadavg()[0]:.2f} (other work skews timings)")
        print(f"peak RSS: this process {own:.0f} MiB, largest child {children:.0f} MiB")
    finally:
        if args.dir is None and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
