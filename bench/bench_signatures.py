"""Benchmark: the signature checks of one bag, in a folder and serialized, by signer count.

    python bench/bench_signatures.py [--rounds 30]

Ingests the annual-report fixture, signs it with 1, 2 and 3 keys (a first signature
and countersignatures), exports each as tar, tar.gz and zip, and times, best of
``--rounds`` (the machine is shared: the minimum is the least disturbed):
``check_signatures`` alone (opening and listing the bag included: for a tar.gz that
is one pass of decompression), and the whole ``verify_bag`` with ``PreserveChecks``
(what ``preserve verify`` runs), in the folder and in each serialized file. Prints
milliseconds and the serialized/folder ratio; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preserve.archive import ingest
from preserve.bag_checks import PreserveChecks
from preserve.export import export_bag
from preserve.keys import generate_key
from preserve.signing import Trust, check_signatures, sign_bag
from preserve.verify import verify_bag

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "en-annual-report.txt"


def best_ms(work: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ingest([FIXTURE], root / "archive")
        (bag,) = (root / "archive" / "bags").iterdir()
        keys = [generate_key(root / f"k{i}.key") for i in range(3)]
        trust = Trust.from_files([public for _, public in keys])
        checks = [PreserveChecks(trust)]
        print(f"{'signers':>7} {'where':>7} {'signatures ms':>14} {'verify ms':>10} {'ratio':>6}")
        for count, (key, _) in enumerate(keys, start=1):
            sign_bag(bag, key)
            out = root / f"out{count}"
            out.mkdir()
            places = {"folder": bag}
            for suffix in ("tar", "tar.gz", "zip"):
                places[suffix] = export_bag(bag, out / f"{bag.name}.{suffix}").path
            base = 0.0
            for where, path in places.items():
                result = verify_bag(path, extra_checks=checks)
                assert result.valid, result.problems
                sig = best_ms(lambda p=path: list(check_signatures(p, trust)), rounds)
                whole = best_ms(lambda p=path: verify_bag(p, extra_checks=checks), rounds)
                base = base or whole
                print(f"{count:>7} {where:>7} {sig:>14.2f} {whole:>10.2f} {whole / base:>6.2f}")


if __name__ == "__main__":
    main()
