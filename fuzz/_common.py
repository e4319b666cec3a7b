"""Shared by the harnesses: run one under atheris (libFuzzer flags pass through).

    python fuzz/fuzz_manifest.py [CORPUS_DIR ...] [-atheris_runs=N] [-max_total_time=S]

Each harness is importable without atheris (``check`` is the property it fuzzes),
so ``tests/test_fuzz.py`` can replay the regression inputs in ``fuzz/crashes/``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def instrumented() -> Any:
    """Around a harness's imports: atheris instruments preserve's modules for coverage,
    when the harness runs as a program and atheris is installed (else does nothing)."""
    main = sys.modules.get("__main__")
    if main is None or not getattr(main, "__file__", "").endswith(tuple(_HARNESS_FILES)):
        return contextlib.nullcontext()
    try:
        import atheris
    except ImportError:
        return contextlib.nullcontext()
    return atheris.instrument_imports(include=["preserve"])


_HARNESS_FILES = [p.name for p in HERE.glob("fuzz_*.py")]


def run(check: Callable[[bytes], None]) -> None:
    """Fuzz ``check`` with atheris, seeded with ``fuzz/seeds/<harness>/`` when given none."""
    import tempfile

    import atheris

    argv = list(sys.argv)
    name = Path(argv[0]).stem.removeprefix("fuzz_")
    if not any(a.startswith("-artifact_prefix=") for a in argv):
        # Crashing inputs go to a temporary folder (printed), not into the working tree.
        argv.append(f"-artifact_prefix={tempfile.mkdtemp(prefix=f'fuzz-{name}-crash-')}/")
    if not any(not a.startswith("-") for a in argv[1:]):
        seeds = HERE / "seeds" / name
        if seeds.is_dir():
            # libFuzzer writes new inputs into the first folder: never into the repository.
            argv += [tempfile.mkdtemp(prefix=f"fuzz-{name}-"), str(seeds)]
    atheris.Setup(argv, check)
    atheris.Fuzz()
