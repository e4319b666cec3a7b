"""Benchmark: seconds per export, plain and for each repository profile, and peak memory.

    python bench/bench_export.py [--runs N] [--big-mib M]

Ingests one fixture statement into a temporary archive (institution settings set),
then times ``export_bag`` (plain tar) and ``export_profile`` for every profile on that
bag, and again on a copy whose PDF/A is replaced by ``--big-mib`` MiB of random bytes
(manifests rebuilt with ``bagit``), to show how a profile export scales: it verifies
the bag, reads it into memory, hashes everything again and serializes. Prints the
median of ``--runs`` runs and its ratio to the plain tar export, and the process's
peak RSS at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--big-mib", type=int, default=64)
    args = parser.parse_args()

    import bagit

    from preserve.archive import ingest
    from preserve.export import export_bag
    from preserve.export.profiles import PROFILES, export_profile
    from preserve.export.spec import Options
    from preserve.settings import load_settings, set_value

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        assert ingest([REPO / "fixtures" / "en-annual-report.txt"], root / "archive").exit_code == 0
        for key, value in {
            "institution.name": "Bench Institution",
            "institution.address": "1 Bench Road",
            "institution.contact_email": "bench@example.org",
        }.items():
            set_value(root / "archive", key, value)
        options = Options(institution=load_settings(root / "archive").institution)
        (small,) = (root / "archive" / "bags").iterdir()
        big = small.with_name(small.name + "-big")
        shutil.copytree(small, big)
        (pdf,) = (big / "data" / "pdfa").iterdir()
        pdf.write_bytes(os.urandom(args.big_mib << 20))
        bagit.Bag(str(big)).save(manifests=True)

        for label, bag in (("small", small), (f"{args.big_mib} MiB", big)):
            size = sum(p.stat().st_size for p in bag.rglob("*") if p.is_file())
            print(f"bag {label}: {size:,} bytes")
            timings: dict[str, float] = {}
            jobs = [("plain tar", None)] + [(name, name) for name in PROFILES]
            for name, profile in jobs:
                runs = []
                for i in range(args.runs):
                    out_dir = root / "out" / f"{name}-{label}-{i}".replace(" ", "_")
                    out_dir.mkdir(parents=True)
                    started = time.perf_counter()
                    if profile is None:
                        export_bag(bag, out_dir / "x.tar")
                    else:
                        out = out_dir / ("x" + PROFILES[profile].default_suffix)
                        export_profile(bag, profile, out, options)
                    runs.append(time.perf_counter() - started)
                    shutil.rmtree(out_dir)
                timings[name] = statistics.median(runs)
            base = timings["plain tar"]
            for name, seconds in timings.items():
                print(f"  {name:<14} {seconds * 1000:8.1f} ms x{seconds / base:5.2f} of plain tar")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
