"""Benchmark: replication and cross-copy audit to a local folder and an SSH host; repair.

    python bench/bench_replicas.py [--count 10000] [--damage 100] [--dir DIR] [--no-ssh]
        [--profile]

Builds an archive of COUNT small bags with bench_scale's shortcut (one PDF/A rendered
once, each bag its own identifier and metadata, real ledger rows and chained
ingestion events), then measures with the real ``preserve.replicas`` code:

- ``replicate`` to a local folder and to an SSH target (a real ``sshd`` started on
  127.0.0.1 with keys made here; rsync over ssh): bags per second;
- ``audit_copies`` (every copy of every bag hashed and compared with the chain):
  bags per second with the primary and the folder, then with the SSH host too;
- ``audit_copies(repair=True)`` after DAMAGE bags were damaged in the folder
  (a byte flipped in half, the bag deleted in the other half): seconds.

Prints numbers and ratios; asserts only that the end state is healthy.
"""

from __future__ import annotations

import argparse
import cProfile
import getpass
import io
import os
import pstats
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def start_sshd(root: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]] | None:
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not os.path.exists(sshd) or shutil.which("rsync") is None:
        return None
    for name in ("host", "client"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / name)], check=True
        )
    (root / "authorized_keys").write_text((root / "client.pub").read_text())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (root / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {root / 'host'}\n"
        f"AuthorizedKeysFile {root / 'authorized_keys'}\nStrictModes no\nUsePAM no\n"
        "PasswordAuthentication no\nPidFile none\nLogLevel ERROR\n"
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)
    server = subprocess.Popen([sshd, "-D", "-e", "-f", str(root / "sshd_config")])
    kind, key = (root / "host.pub").read_text().split()[:2]
    (root / "known_hosts").write_text(f"[127.0.0.1]:{port} {kind} {key}\n")
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return server, {
        "url": f"ssh://{getpass.getuser()}@127.0.0.1:{port}{root / 'far'}",
        "identity": str(root / "client"),
        "known_hosts": str(root / "known_hosts"),
    }


PROFILE = False


def timed(label: str, count: int, func):  # type: ignore[no-untyped-def]
    profiler = cProfile.Profile() if PROFILE else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    result = func()
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    print(f"{label:<44} {seconds:8.1f} s  {count / seconds:8.0f} bags/s", flush=True)
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
        print("\n".join(out.getvalue().splitlines()[6:22]), flush=True)
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--damage", type=int, default=100)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--no-ssh", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile each phase (tottime)")
    args = parser.parse_args()
    global PROFILE
    PROFILE = args.profile

    from bench_scale import build

    from preserve import settings
    from preserve.replicas import audit_copies, crosscheck, replicate

    work = Path(tempfile.mkdtemp(prefix="bench-replicas-", dir=args.dir))
    server = None
    try:
        archive = work / "archive"
        seconds = build(archive, args.count)
        print(f"built {args.count} bags in {seconds:.1f} s", flush=True)
        settings.set_value(archive, "replicas.targets.near.url", str(work / "near"))
        settings.set_value(archive, "replicas.copies", "2")
        report, local_copy = timed(
            "replicate to a local folder", args.count, lambda: replicate(archive, "near")
        )
        assert report.ok and len(report.copied) == args.count
        _, again = timed(
            "replicate again (all already there)", args.count, lambda: replicate(archive, "near")
        )
        audit1, local_audit = timed(
            "audit --replicas (primary + folder)", args.count, lambda: audit_copies(archive)
        )
        assert audit1.ok
        ssh_copy = ssh_audit = None
        if not args.no_ssh:
            started = start_sshd(work)
            if started is None:
                print("sshd or rsync absent: the SSH target is not measured")
            else:
                server, ssh = started
                for key, value in ssh.items():
                    settings.set_value(archive, f"replicas.targets.far.{key}", value)
                settings.set_value(archive, "replicas.copies", "3")
                report, ssh_copy = timed(
                    "replicate to the SSH target", args.count, lambda: replicate(archive, "far")
                )
                assert report.ok, report.as_dict()["failed"][:3]
                audit2, ssh_audit = timed(
                    "audit --replicas (primary + folder + SSH)",
                    args.count,
                    lambda: audit_copies(archive),
                )
                assert audit2.ok
        names = sorted(p.name for p in (work / "near" / "bags").iterdir())[: args.damage]
        for i, name in enumerate(names):
            bag = work / "near" / "bags" / name
            if i % 2:
                shutil.rmtree(bag)
            else:
                target = bag / "bag-info.txt"
                data = bytearray(target.read_bytes())
                data[0] ^= 1
                target.write_bytes(bytes(data))
        # The repair itself (quarantine, copy, verify, record), apart from the audit
        # of every copy of every bag that finds what to repair.
        repairing_seconds = [0.0]
        real_repair = crosscheck.repair_batch

        def counted(*a, **k):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                return real_repair(*a, **k)
            finally:
                repairing_seconds[0] += time.perf_counter() - started

        crosscheck.repair_batch = counted
        repaired, repair_seconds = timed(
            f"audit --repair ({len(names)} damaged in the folder)",
            args.count,
            lambda: audit_copies(archive, repair=True),
        )
        crosscheck.repair_batch = real_repair
        assert repaired.repaired == len(names) and repaired.ok
        print(
            f"repair: {repair_seconds:.1f} s for the audit that repaired {len(names)} bags,"
            f" of which {repairing_seconds[0]:.1f} s repairing them"
        )
        print(f"replicate again / first time (local): {again / local_copy:.2f}")
        if ssh_copy and ssh_audit:
            print(f"SSH / local replicate time: {ssh_copy / local_copy:.2f}")
            print(f"audit with SSH / without: {ssh_audit / local_audit:.2f}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
