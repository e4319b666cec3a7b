"""Benchmark: time and peak memory of the verifier on the hostile files of issue 17, and
the speed of tar reading on ordinary serialized bags.

    python bench/bench_hostile.py [DIR] [--skip-build] [--guard SECONDS] [--tar-files N]

Builds, under DIR (a temporary folder by default), the files an attacker sent:

* ``pax.tar.gz``: 522 KB, one 512 MiB pax header (D8); ``longname.tar.gz`` the same as
  a GNU long name;
* ``cve.tar``: 413 KB of ``0 hdrcharset=`` pax records, CVE-2024-6232 (D9);
* ``sparse.tar``: 10 KB, a GNU sparse member with a 20 GiB hole (D10);
* ``icc.pdf``: ~1.6 MB, an OutputIntent ICC profile that inflates to 1.5 GiB (D11);

then verifies each in a fresh child process (``verify_bag``, or ``check_pdfa`` for the
PDF), printing seconds and the child's peak RSS (VmHWM). A child still running after
``--guard`` seconds is killed and shown as such. Finally it times ``verify_bag`` on an
ordinary tar.gz and tar bag (``--tar-files`` small files plus one 64 MiB file).

Run it with another checkout first on ``PYTHONPATH`` to compare before and after.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from pathlib import Path

MiB = 1 << 20


def _header(name: bytes, flag: bytes, size: int, extra: bytes = b"") -> bytes:
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:116] = block[116:124] = b"0000000\0"
    block[124:136] = f"{size:011o}\0".encode()
    block[136:148] = b"00000000000\0"
    block[156:157] = flag
    block[257:265] = b"ustar  \0" if extra else b"ustar\x0000"
    block[386 : 386 + len(extra)] = extra
    block[148:156] = b" " * 8
    block[148:156] = f"{sum(block):06o}\0 ".encode()
    return bytes(block)


def _member(name: str, data: bytes) -> bytes:
    return _header(name.encode(), b"0", len(data)) + data + bytes(-len(data) % 512)


def _bag(sparse: bool = False) -> bytes:
    """A one-file bag ``b/``; ``sparse``: its manifest also lists data/big.bin."""
    payload = b"hello\n"
    digest = hashlib.sha256(payload).hexdigest()
    manifest = f"{digest}  data/a.txt\n" + (f"{'0' * 64}  data/big.bin\n" if sparse else "")
    return (
        _member("b/bagit.txt", b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
        + _member("b/manifest-sha256.txt", manifest.encode())
        + _member("b/data/a.txt", payload)
    )


def build(folder: Path) -> dict[str, Path]:
    files = {}
    for flag, name in ((b"x", "pax.tar.gz"), (b"L", "longname.tar.gz")):
        path = folder / name
        with gzip.open(path, "wb", compresslevel=9) as out:
            out.write(_header(b"././@LongLink" if flag == b"L" else b"pax", flag, 512 * MiB))
            chunk = bytes(MiB)
            for _ in range(512):
                out.write(chunk)
            out.write(_bag() + bytes(1024))
        files[name] = path
    records = b"0 hdrcharset=" * 32_000
    path = folder / "cve.tar"
    path.write_bytes(
        _header(b"pax", b"x", len(records))
        + records
        + bytes(-len(records) % 512)
        + _bag()
        + bytes(1024)
    )
    files["cve.tar"] = path
    hole = 20 << 30
    sparse_map = f"{hole:011o}\0".encode() + f"{1:011o}\0".encode()
    extra = sparse_map + bytes(96 - len(sparse_map)) + b"\0" + f"{hole + 1:011o}\0".encode()
    path = folder / "sparse.tar"
    path.write_bytes(
        _bag(sparse=True)
        + _header(b"b/data/big.bin", b"S", 1, extra)
        + b"x"
        + bytes(511)
        + bytes(1024)
    )
    files["sparse.tar"] = path
    files["icc.pdf"] = _icc_pdf(folder / "icc.pdf", 1536 * MiB)
    return files


def _icc_pdf(path: Path, inflated: int) -> Path:
    import pikepdf

    from preserve.pdfa import icc_profile

    deflate = zlib.compressobj(9)
    parts = [deflate.compress(icc_profile()[:128])]
    chunk = bytes(MiB)
    for _ in range(inflated // MiB):
        parts.append(deflate.compress(chunk))
    parts.append(deflate.flush())
    pdf = pikepdf.new()
    pdf.add_blank_page()
    profile = pdf.make_stream(b"")
    profile.write(b"".join(parts), filter=pikepdf.Name.FlateDecode)
    pdf.Root.OutputIntents = pikepdf.Array(
        [
            pikepdf.Dictionary(
                Type=pikepdf.Name.OutputIntent,
                S=pikepdf.Name.GTS_PDFA1,
                DestOutputProfile=profile,
            )
        ]
    )
    pdf.save(path, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    return path


_CHILD = """
import json, sys, time
from pathlib import Path
started = time.perf_counter()
path = Path(sys.argv[1])
if path.suffix == ".pdf":
    from preserve.pdfa import check_pdfa
    codes = sorted({p.code for p in check_pdfa(path.read_bytes())})
else:
    from preserve.verify import verify_bag
    codes = sorted({p.code for p in verify_bag(path).errors})
seconds = time.perf_counter() - started
status = open("/proc/self/status").read().split("VmHWM:")[1]
print(json.dumps([seconds, int(status.split()[0]) * 1024, codes]))
"""


def measure(path: Path, guard: float) -> str:
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path)],
            capture_output=True,
            text=True,
            timeout=guard,
        )
    except subprocess.TimeoutExpired:
        return f"still running after {guard:.0f} s (killed)"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"crashed: {last[:100]}"
    seconds, peak, codes = json.loads(done.stdout.strip().splitlines()[-1])
    return f"{seconds:7.2f} s  peak RSS {peak / MiB:7.0f} MiB  {', '.join(codes)[:80]}"


def tar_speed(folder: Path, count: int) -> None:
    import bagit  # the reference implementation builds the bag

    from preserve.verify import verify_bag

    bag = folder / "speed"
    if not bag.exists():
        (bag / "d").mkdir(parents=True)
        for i in range(count):
            (bag / "d" / f"f{i:05d}.txt").write_bytes(os.urandom(3000))
        (bag / "big.bin").write_bytes(os.urandom(64 * MiB))
        bagit.make_bag(str(bag), checksums=["sha256", "sha512"])
    for mode, name in (("w:gz", "speed.tar.gz"), ("w", "speed.tar")):
        target = folder / name
        if not target.exists():
            with tarfile.open(target, mode) as tf:
                tf.add(bag, arcname="speed")
        best = min(_timed(lambda t=target: verify_bag(t)) for _ in range(3))
        result = verify_bag(target)
        assert result.valid, result.errors
        print(f"{name:>14}: {count:,} files + 64 MiB, sha256+sha512: {best:.2f} s (best of 3)")


def _timed(fn: object) -> float:
    started = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", nargs="?", type=Path, help="where to build the files (reused)")
    parser.add_argument("--guard", type=float, default=120.0, help="seconds before a kill")
    parser.add_argument("--tar-files", type=int, default=2000, help="small files in the tars")
    parser.add_argument("--skip-build", action="store_true", help="reuse the files in DIR")
    args = parser.parse_args(argv)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    folder.mkdir(parents=True, exist_ok=True)
    names = ["pax.tar.gz", "longname.tar.gz", "cve.tar", "sparse.tar", "icc.pdf"]
    files = {n: folder / n for n in names} if args.skip_build else build(folder)
    for name in names:
        size = files[name].stat().st_size
        print(f"{name:>16} ({size / 1000:8,.0f} KB): {measure(files[name], args.guard)}")
    tar_speed(folder, args.tar_files)
    print(f"load average now: {os.getloadavg()[0]:.2f} (other work skews timings)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
