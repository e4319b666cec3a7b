"""Benchmark: each ``preserve`` command as a whole process, as a user runs it.

    python bench/bench_commands.py [--runs N] [--fixture fixtures/X.txt]

Prints the median wall time of N runs of each command (start-up included) next to a
bare ``python -c pass``, so the interpreter's own start is visible: --version,
verify --help, validate, render, verify of one bag, search and audit of a small
archive (one statement ingested first, untimed). Goals (issue 14): --version and
verify --help under 0.1 s, validate under 0.5 s, render under 0.6 s on an idle
2-core machine; the load average is printed because other work skews the numbers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def median_seconds(cmd: list[str], runs: int, ok: tuple[int, ...] = (0,)) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True)
        times.append(time.perf_counter() - start)
        if done.returncode not in ok:
            raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-400:]!r}")
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (median kept)")
    parser.add_argument(
        "--fixture",
        type=Path,
        default=REPO / "fixtures" / "en-letter-sincerely.txt",
        help="a one-page statement",
    )
    args = parser.parse_args(argv)
    fixture = args.fixture
    if not fixture.exists():
        fixture = sorted((REPO / "fixtures").glob("en-*.txt"))[0]
    py = sys.executable
    pre = [py, "-m", "preserve"]
    root = Path(tempfile.mkdtemp(prefix="bench-commands-"))
    try:
        archive = root / "archive"
        subprocess.run(
            [*pre, "ingest", str(fixture), "--archive", str(archive)],
            check=True,
            capture_output=True,
        )
        bag = next((archive / "bags").iterdir())
        word = fixture.read_text(encoding="utf-8").split()[3].strip(".,;:")
        commands: list[tuple[str, list[str], tuple[int, ...]]] = [
            ("python -c pass", [py, "-c", "pass"], (0,)),
            ("--version", [*pre, "--version"], (0,)),
            ("verify --help", [*pre, "verify", "--help"], (0,)),
            ("validate one.txt", [*pre, "validate", str(fixture)], (0, 1)),
            ("render one-page", [*pre, "render", str(fixture), "-o", str(root / "x.pdf")], (0,)),
            ("verify one bag", [*pre, "verify", str(bag)], (0,)),
            ("search", [*pre, "search", str(archive), word], (0, 1)),
            ("audit (1 bag)", [*pre, "audit", str(archive)], (0,)),
        ]
        print(f"{fixture.name}; {args.runs} runs each; {os.cpu_count()} cores")
        for label, cmd, ok in commands:
            print(f"{label:<18} {median_seconds(cmd, args.runs, ok):6.3f} s", flush=True)
        print(f"load average now: {os.getloadavg()[0]:.2f} (other work skews timings)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
