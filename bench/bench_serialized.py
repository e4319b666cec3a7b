"""Benchmark: every check on a bag directory and on the same bag as tar, tar.gz and zip.

    python bench/bench_serialized.py [--bags N] [--repeat R]

Ingests N fixture statements into a temporary archive, exports each bag with
``preserve.export`` in the three formats, then times :func:`preserve.verify.verify_bag`
with the checks of our own bags (:class:`preserve.bag_checks.PreserveChecks`: profile,
metadata schema, PDF/A) on each form, best of R runs a bag, warm page cache. Prints
milliseconds a bag and the ratio to the directory. Also times ``check_profile`` alone
against every named profile on the tar.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = sorted(
    p
    for p in (REPO / "fixtures").glob("*.txt")
    if p.name.startswith(("en-", "az-", "ru-", "hy-")) and "web" not in p.name
)


def _best(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bags", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from preserve import settings
    from preserve.archive import IngestOptions, ingest
    from preserve.bag_checks import PreserveChecks
    from preserve.export import export_bag
    from preserve.profile import NAMED_PROFILES, check_profile, load_profile
    from preserve.verify import verify_bag

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        archive = root / "archive"
        archive.mkdir()
        settings.set_value(archive, "institution.name", "Bench archive")
        report = ingest(FIXTURES[: args.bags], archive, IngestOptions(workers=1))
        bags = sorted((archive / "bags").iterdir())
        if not bags:
            print("no bag was ingested:", report.as_dict(), file=sys.stderr)
            return 1
        forms: dict[str, list[Path]] = {"directory": bags}
        for suffix in (".tar", ".tar.gz", ".zip"):
            out = root / suffix.strip(".").replace(".", "-")
            out.mkdir()
            forms[suffix] = []
            for bag in bags:
                target = out / f"{bag.name}{suffix}"
                export_bag(bag, target)
                forms[suffix].append(target)
        checks = (PreserveChecks(),)
        print(
            f"{len(bags)} bags, best of {args.repeat} runs each, every check (profile, "
            "metadata, PDF/A)"
        )
        base = 0.0
        for form, paths in forms.items():
            for p in paths:
                result = verify_bag(p, extra_checks=checks)
                assert result.valid, (p, result.problems)
            per_bag = statistics.mean(
                _best(lambda p=p: verify_bag(p, extra_checks=checks), args.repeat) for p in paths
            )
            base = base or per_bag
            print(
                f"  {form:<10} {per_bag * 1000:7.2f} ms a bag   x{per_bag / base:5.2f} of directory"
            )
        tar = forms[".tar"][0]
        for name in NAMED_PROFILES:
            profile = load_profile(name)
            took = _best(lambda profile=profile: check_profile(tar, profile), args.repeat)
            print(f"  check_profile {name:<13} on a tar: {took * 1000:6.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
