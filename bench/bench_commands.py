"""Benchmark: each ``preserve`` command as a whole process, as a user runs it.

    python bench/bench_commands.py [--runs N] [--fixture fixtures/X.txt] [--no-bytecode]

Prints, for each command, the median wall time of N runs (start-up included) and the
median CPU time (user + system) the process used, next to a bare ``python -c pass``
so the interpreter's own start is visible: --version, verify --help, validate,
render, verify of one bag, search and audit of a small archive (one statement
ingested first, untimed). Then the same one-page statement rendered by the tools an
archive might use instead, where installed: WeasyPrint (``python -m weasyprint``, from
the statement as a minimal HTML page, PDF/A-2a) and LibreOffice (``soffice --headless
--convert-to pdf``). Goals (issue 14): --version and verify --help under 0.1 s,
validate under 0.5 s, render under 0.6 s on an idle 2-core machine.

The load average is printed because other work skews the wall times; the CPU times
are skewed much less (a loaded machine makes each process wait, not work). Python
byte code is cached in a temporary folder (``PYTHONPYCACHEPREFIX``), as an installed
package has it: ``--no-bytecode`` measures with ``PYTHONDONTWRITEBYTECODE=1``
instead, where every module of ``preserve`` is compiled from source on each run.
Caches the commands keep in the user's cache folder (the language model, the
compiled schema) are filled by one untimed run of each command first.
"""

from __future__ import annotations

import argparse
import html
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Timing:
    """Medians over the runs of one command."""

    wall: float
    cpu: float


def measure(cmd: list[str], runs: int, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> Timing:
    """Median wall and CPU seconds of ``runs`` runs of ``cmd`` (after one untimed run)."""
    walls: list[float] = []
    cpus: list[float] = []
    for attempt in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, env=env)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode not in ok:
            raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-400:]!r}")
        if attempt:  # the first run fills caches (byte code, model, compiled schema)
            walls.append(wall)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return Timing(statistics.median(walls), statistics.median(cpus))


def as_html(statement: Path, out: Path) -> Path:
    """The statement as the plainest HTML page (a paragraph per block), for WeasyPrint."""
    text = statement.read_text(encoding="utf-8")
    blocks = [b.strip() for b in text.split("\n\n") if b.strip()]
    body = "\n".join(f"<p>{html.escape(b).replace(chr(10), '<br>')}</p>" for b in blocks)
    out.write_text(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{statement.stem}'
        f"</title></head><body>{body}</body></html>\n",
        encoding="utf-8",
    )
    return out


def other_tools(fixture: Path, root: Path, py: str) -> list[tuple[str, list[str]]]:
    """The other renderers installed here, each as a command making a PDF of the fixture."""
    tools: list[tuple[str, list[str]]] = []
    probe = subprocess.run([py, "-c", "import weasyprint"], capture_output=True)
    if probe.returncode == 0:
        page = as_html(fixture, root / "one.html")
        tools.append(
            (
                "WeasyPrint (2a)",
                [
                    py,
                    "-m",
                    "weasyprint",
                    "--pdf-variant",
                    "pdf/a-2a",
                    str(page),
                    str(root / "w.pdf"),
                ],
            )
        )
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office:
        tools.append(
            (
                "LibreOffice",
                [
                    office,
                    f"-env:UserInstallation=file://{root / 'lo-profile'}",
                    "--headless",
                    "--convert-to",
                    "pdf",
                    "--outdir",
                    str(root / "lo"),
                    str(fixture),
                ],
            )
        )
    return tools


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (median kept)")
    parser.add_argument(
        "--fixture",
        type=Path,
        default=REPO / "fixtures" / "en-letter-sincerely.txt",
        help="a one-page statement",
    )
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="run with PYTHONDONTWRITEBYTECODE=1 (modules compiled from source each run)",
    )
    args = parser.parse_args(argv)
    fixture = args.fixture
    if not fixture.exists():
        fixture = sorted((REPO / "fixtures").glob("en-*.txt"))[0]
    py = sys.executable
    pre = [py, "-m", "preserve"]
    root = Path(tempfile.mkdtemp(prefix="bench-commands-"))
    env = dict(os.environ)
    if args.no_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
    try:
        archive = root / "archive"
        subprocess.run(
            [*pre, "ingest", str(fixture), "--archive", str(archive)],
            check=True,
            capture_output=True,
            env=env,
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
        commands += [(label, cmd, (0,)) for label, cmd in other_tools(fixture, root, py)]
        code = "no byte code cache" if args.no_bytecode else "byte code cached"
        print(f"{fixture.name}; {args.runs} runs each; {os.cpu_count()} cores; {code}")
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        print(f"{'command':<18} {'wall':>8} {'cpu':>8}")
        render: Timing | None = None
        for label, cmd, ok in commands:
            timing = measure(cmd, args.runs, env, ok)
            ratio = ""
            if label == "render one-page":
                render = timing
            elif render is not None and label.startswith(("WeasyPrint", "LibreOffice")):
                ratio = f"   ({timing.wall / render.wall:.1f}x our render's wall time)"
            print(f"{label:<18} {timing.wall:7.3f}s {timing.cpu:7.3f}s{ratio}", flush=True)
        if not shutil.which("soffice") and not shutil.which("libreoffice"):
            print("LibreOffice: not installed here (skipped)")
        print(f"load average after: {os.getloadavg()[0]:.2f} (other work skews wall times)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
