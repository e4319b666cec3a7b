"""Resource limits: a hostile bag or input ends in a clear ``limit.*`` problem or
one-line error, never in exhausted memory, a hang or a traceback (docs/limits.md).

Also the regression tests for crashes found by fuzzing and property tests
(integers too long for ``int()``, Unicode digits, JSON nested too deeply,
directories nested deeper than Python's recursion limit).
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from preserve.bagit_format import (
    DEFAULT_LIMITS,
    Limits,
    format_bag_info,
    format_bagit_txt,
    format_manifest,
    parse_bagit_txt,
    parse_fetch,
    parse_manifest,
    parse_oxum,
    version_tuple,
)
from preserve.errors import InputError, SigningError
from preserve.verify import verify_bag

SHA = "manifest-sha256.txt"


def make_bag(root: Path, payload: dict[str, bytes], *, bag_info: bytes | None = None) -> Path:
    """A minimal valid BagIt 1.0 bag with the given payload (paths under data/)."""
    root.mkdir(parents=True)
    for rel, content in payload.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    (root / "bagit.txt").write_bytes(format_bagit_txt())
    entries = [(hashlib.sha256(c).hexdigest(), rel) for rel, c in payload.items()]
    (root / SHA).write_bytes(format_manifest(entries))
    size = sum(len(c) for c in payload.values())
    info = (
        bag_info
        if bag_info is not None
        else format_bag_info([("Payload-Oxum", f"{size}.{len(payload)}")])
    )
    (root / "bag-info.txt").write_bytes(info)
    return root


def codes(result_problems: object) -> set[str]:
    return {p.code for p in result_problems}  # type: ignore[attr-defined]


def error_codes(path: Path, limits: Limits = DEFAULT_LIMITS) -> set[str]:
    result = verify_bag(path, limits=limits)
    return {p.code for p in result.errors}


def as_tar(bag: Path, out: Path) -> Path:
    with tarfile.open(out, "w:gz") as tar:
        tar.add(bag, arcname=bag.name)
    return out


def as_zip(bag: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(bag.rglob("*")):
            if p.is_file():
                zf.write(p, f"{bag.name}/{p.relative_to(bag).as_posix()}")
    return out


def test_a_small_bag_is_valid_under_the_default_limits(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "b", {"data/a.txt": b"a", "data/sub/b.txt": b"bb"})
    assert verify_bag(bag).valid


@pytest.mark.parametrize("form", ["dir", "tar", "zip"])
def test_too_many_files_is_one_clear_error(tmp_path: Path, form: str) -> None:
    payload = {f"data/f{i:03d}.txt": b"x" for i in range(30)}
    bag = make_bag(tmp_path / "b", payload)
    target = {
        "dir": bag,
        "tar": as_tar(bag, tmp_path / "b.tar.gz") if form == "tar" else bag,
        "zip": as_zip(bag, tmp_path / "b.zip") if form == "zip" else bag,
    }[form]
    result = verify_bag(target, limits=Limits(max_files=10))
    assert not result.valid
    # Only the limit: a partial listing must not produce misleading payload.missing errors.
    assert codes(result.errors) == {"limit.files"}
    assert "more than 10" in result.errors[0].message
    assert verify_bag(target, limits=Limits(max_files=100)).valid


def test_manifest_with_more_entries_than_files_allowed(tmp_path: Path) -> None:
    lines = b"".join(b"%s  data/f%d\n" % (b"0" * 64, i) for i in range(50))
    parsed = parse_manifest(lines, SHA, limits=Limits(max_files=20))
    assert len(parsed.entries) == 20
    assert [p.code for p in parsed.problems] == ["limit.files"]


def test_path_too_long_on_disk_and_in_the_manifest(tmp_path: Path) -> None:
    long_name = "data/" + "n" * 200 + ".txt"
    bag = make_bag(tmp_path / "b", {long_name: b"x", "data/ok.txt": b"y"})
    result = verify_bag(bag, limits=Limits(max_path_bytes=100))
    assert codes(result.errors) == {"limit.path-length"}
    # Both the file on disk and the manifest line are named; nothing else is reported.
    assert len(result.errors) == 2
    assert all(p.path.startswith("data/nnnn") for p in result.errors)
    assert verify_bag(bag).valid


def test_path_length_counts_utf8_bytes(tmp_path: Path) -> None:
    limits = Limits(max_path_bytes=20)
    assert limits.path_problem("data/" + "é" * 7) is None  # 5 + 14 bytes
    problem = limits.path_problem("data/" + "é" * 8)
    assert problem is not None and problem.code == "limit.path-length"


def test_directory_deeper_than_pythons_recursion_limit(tmp_path: Path) -> None:
    """Regression: a bag nested 1,100 directories deep crashed the walk (RecursionError)."""
    bag = make_bag(tmp_path / "b", {"data/x.txt": b"x"})
    cwd = os.getcwd()
    try:
        os.chdir(bag / "data")
        for _ in range(1100):
            os.mkdir("d")
            os.chdir("d")
        Path("deep.txt").write_bytes(b"deep")
        os.chdir(cwd)
        result = verify_bag(bag)
    finally:
        # pytest's clean-up of old temporary folders would hit the recursion limit too.
        _remove_deep(bag / "data")
        os.chdir(cwd)
    assert not result.valid
    assert codes(result.errors) == {"limit.depth"}
    assert "65 directories deep" in result.errors[0].message


def _remove_deep(folder: Path) -> None:
    """Remove a chain of nested ``d`` folders bottom-up (shutil.rmtree recurses too)."""
    depth = 0
    path = folder
    while (path / "d").is_dir():
        path, depth = path / "d", depth + 1
    os.chdir(folder)
    try:
        for level in range(depth, 0, -1):
            os.chdir("/".join(["d"] * (level - 1)) or ".")
            for child in Path("d").iterdir():
                child.unlink()
            os.rmdir("d")
            os.chdir(folder)
    finally:
        os.chdir(folder.parent)
    assert not (folder / "d").exists()


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        Limits(max_files=0)
    with pytest.raises(ValueError):
        Limits(max_depth=10_000)


def test_manifest_line_too_long(tmp_path: Path) -> None:
    bag = make_bag(tmp_path / "b", {"data/a.txt": b"a"})
    with (bag / SHA).open("ab") as fh:
        fh.write(b"0" * 64 + b"  data/" + b"z" * 20_000 + b"\n")
    result = verify_bag(bag)
    assert codes(result.errors) == {"limit.manifest-line"}
    assert "line 2 is 20,071 characters" in result.errors[0].message


def test_fetch_line_too_long_and_too_many_entries() -> None:
    data = b"http://example.org/" + b"u" * 100 + b" 1 data/a\n"
    parsed = parse_fetch(data, limits=Limits(max_line_chars=50))
    assert [p.code for p in parsed.problems] == ["limit.fetch-line"] and not parsed.entries
    many = b"".join(b"http://example.org/%d 1 data/f%d\n" % (i, i) for i in range(10))
    parsed = parse_fetch(many, limits=Limits(max_files=3))
    assert len(parsed.entries) == 3 and [p.code for p in parsed.problems] == ["limit.files"]


def _peak_while(fn: object) -> int:
    tracemalloc.start()
    try:
        fn()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("bag-info.txt", "limit.bag-info-size"),
        ("manifest-sha256.txt", "limit.tag-file-size"),
        ("tagmanifest-sha256.txt", "limit.tag-file-size"),
        ("fetch.txt", "limit.tag-file-size"),
        ("bagit.txt", "limit.tag-file-size"),
    ],
)
def test_huge_tag_file_is_refused_without_reading_it(tmp_path: Path, name: str, code: str) -> None:
    bag = make_bag(tmp_path / "b", {"data/a.txt": b"a"})
    with (bag / name).open("wb") as fh:
        fh.truncate(300 << 20)  # sparse: 300 MiB on paper, nothing on the disk
    peak = _peak_while(lambda: verify_bag(bag))
    result = verify_bag(bag)
    assert code in codes(result.errors)
    [problem] = [p for p in result.errors if p.code == code]
    assert problem.path == name and "314,572,800 bytes" in problem.message
    assert peak < 8 << 20, f"{peak:,} bytes allocated: the file was read"


@pytest.mark.parametrize("form", ["tar", "zip"])
def test_huge_bag_info_in_an_archive_is_not_read(tmp_path: Path, form: str) -> None:
    bag = make_bag(tmp_path / "b", {"data/a.txt": b"a"})
    (bag / "bag-info.txt").write_bytes(b"Note: " + b"x" * (3 << 20) + b"\n")
    target = as_tar(bag, tmp_path / "b.tgz") if form == "tar" else as_zip(bag, tmp_path / "b.zip")
    # Three MiB of one letter compresses past the ratio limit (limit.ratio by
    # default); lifted, the bag-info limit is what stops it.
    assert "limit.ratio" in codes(verify_bag(target).errors)
    result = verify_bag(target, limits=Limits(max_ratio=100_000))
    assert "limit.bag-info-size" in codes(result.errors)
    assert verify_bag(target, limits=Limits(max_bag_info_bytes=4 << 20, max_ratio=100_000)).valid


def test_zip_member_that_lies_about_its_size_is_cut_at_the_limit(tmp_path: Path) -> None:
    """A zip header claiming a small bag-info.txt cannot make the reader take more."""
    bag = make_bag(tmp_path / "b", {"data/a.txt": b"a"})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(bag.rglob("*")):
            if p.is_file():
                zf.write(p, f"b/{p.relative_to(bag).as_posix()}")
    path = tmp_path / "b.zip"
    path.write_bytes(buffer.getvalue())
    result = verify_bag(path, limits=Limits(max_bag_info_bytes=5))
    assert "limit.bag-info-size" in codes(result.errors)


# --------------------------------------------------------------------------- regressions


def test_oxum_with_thousands_of_digits_is_malformed_not_a_crash(tmp_path: Path) -> None:
    """Regression: int() refuses 4,300+ digit strings; Payload-Oxum raised ValueError."""
    assert parse_oxum("9" * 5000 + ".1") is None
    info = b"Payload-Oxum: " + b"9" * 5000 + b".1\n"
    bag = make_bag(tmp_path / "b", {"data/a.txt": b"a"}, bag_info=info)
    assert codes(verify_bag(bag).errors) == {"oxum.malformed"}


def test_bagit_version_with_thousands_of_digits(tmp_path: Path) -> None:
    """Regression: BagIt-Version 1.000…0 (5,000 digits) crashed version_tuple()."""
    data = b"BagIt-Version: 1." + b"0" * 5000 + b"\nTag-File-Character-Encoding: UTF-8\n"
    version, _, problems = parse_bagit_txt(data)
    assert version is not None and [p.code for p in problems] == ["bagit.version"]
    assert version_tuple(version) == (1, 0)
    bag = make_bag(tmp_path / "b", {"data/a.txt": b"a"})
    (bag / "bagit.txt").write_bytes(data)
    assert "bagit.version" in codes(verify_bag(bag).errors)


@pytest.mark.parametrize("length", ["²", "٣", "9" * 5000, "-1", "1.5"])
def test_fetch_length_that_is_not_ascii_digits(length: str) -> None:
    """Regression: '²'.isdigit() is true but int('²') raises; so did 5,000 digits."""
    parsed = parse_fetch(f"http://example.org/a {length} data/a\n".encode())
    assert [p.code for p in parsed.problems] == ["fetch.malformed"]
    assert parsed.entries[0].length is None


DEEP_JSON = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


def test_deeply_nested_sidecar_is_a_one_line_input_error(tmp_path: Path) -> None:
    """Regression: json.loads raised RecursionError (a traceback) on '[[[[...'."""
    from preserve.metadata import read_sidecar

    path = tmp_path / "s.json"
    path.write_bytes(DEEP_JSON)
    with pytest.raises(InputError, match="nested too deeply"):
        read_sidecar(path)


def test_deeply_nested_metadata_inside_a_bag_is_a_problem(tmp_path: Path) -> None:
    from preserve.bag_checks import _check_metadata

    bag = tmp_path / "b"
    (bag / "data" / "metadata").mkdir(parents=True)
    (bag / "data" / "metadata" / "statement.json").write_bytes(DEEP_JSON)
    assert [p.code for p in _check_metadata(bag)] == ["metadata.unreadable"]


def test_deeply_nested_signature_and_profile(tmp_path: Path) -> None:
    from preserve.profile import parse_profile
    from preserve.signing import INFO_NAME, SIGNATURES_DIR, read_signature

    with pytest.raises(InputError, match="nested too deeply"):
        parse_profile(DEEP_JSON.decode())
    (tmp_path / SIGNATURES_DIR).mkdir()
    (tmp_path / SIGNATURES_DIR / INFO_NAME).write_bytes(DEEP_JSON)
    with pytest.raises(SigningError, match="nested too deeply"):
        read_signature(tmp_path)


def test_every_documented_limit_is_in_docs() -> None:
    from dataclasses import fields

    from .conftest import REPO

    doc = (REPO / "docs" / "limits.md").read_text(encoding="utf-8")
    for f in fields(Limits):
        assert f"`{f.name}`" in doc, f.name
    for code in (
        "limit.files",
        "limit.depth",
        "limit.path-length",
        "limit.manifest-line",
        "limit.fetch-line",
        "limit.tag-file-size",
        "limit.bag-info-size",
        "MAX_STATEMENT_BYTES",
        "MAX_SIDECAR_BYTES",
    ):
        assert code in doc, code


# --------------------------------------------------------------------------- never hang

HANG_GUARD = 60  # seconds; these ran forever before the fix


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG_GUARD
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_like_a_statement_or_sidecar_does_not_hang(tmp_path: Path) -> None:
    """Regression: ingest opened a FIFO ``x.txt`` (or ``x.json``) and waited forever."""
    os.mkfifo(tmp_path / "x.txt")
    done = subprocess.run(
        [sys.executable, "-m", "preserve", "validate", str(tmp_path / "x.txt")],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    assert done.returncode == 2
    assert "not a regular file (a FIFO, device or socket)" in done.stdout + done.stderr
    # A sidecar given with --metadata (a FIFO beside a statement is not taken for one).
    os.mkfifo(tmp_path / "y.json")
    done = _run(
        "from pathlib import Path\nfrom preserve.metadata import read_sidecar\n"
        f"try:\n    read_sidecar(Path({str(tmp_path / 'y.json')!r}))\n"
        "except Exception as e:\n    print(type(e).__name__, e)"
    )
    assert "UnreadableInput" in done.stdout and "not a regular file" in done.stdout


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_audit_of_a_tag_manifest_linked_to_dev_zero(tmp_path: Path) -> None:
    """Regression: audit read each recorded tag manifest whole, through symlinks: a
    planted link to /dev/zero exhausted memory. It is now reported, unread."""
    from preserve.archive import IngestOptions, ingest
    from preserve.audit import audit

    source = tmp_path / "s.txt"
    source.write_text(
        "Library hours\n\nThe library opens on Sundays.\n\nJane Doe\nOmbudsman\n\n1 March 2024\n",
        encoding="utf-8",
    )
    archive = tmp_path / "a"
    assert ingest([source], archive, IngestOptions(workers=1)).exit_code == 0
    (bag,) = (archive / "bags").iterdir()
    manifest = bag / "tagmanifest-sha256.txt"
    manifest.unlink()
    manifest.symlink_to("/dev/zero")
    report = audit(archive, workers=1)
    codes_found = {p.code for b in report.bags for p in b.problems}
    assert {"symlink", "ledger.tagmanifest-unreadable"} <= codes_found


# --------------------------------------------------------------------------- bombs

BOMB_BYTES = 64 << 20  # zeros: ~64 KB compressed, a 1,000-fold ratio


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, read in chunks (the bomb is never held in memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def tar_bomb(bag: Path, out: Path) -> Path:
    """A real bag, gzipped, with one payload member of ``BOMB_BYTES`` zeros in front."""
    with tarfile.open(out, "w:gz") as tar:
        info = tarfile.TarInfo(f"{bag.name}/data/zeros.bin")
        info.size = BOMB_BYTES
        tar.addfile(info, io.BufferedReader(_Zeros(BOMB_BYTES)))
        tar.add(bag, arcname=bag.name)
    return out


def zip_bomb(bag: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open(f"{bag.name}/data/zeros.bin", "w", force_zip64=True) as member:
            chunk = bytes(1 << 20)
            for _ in range(BOMB_BYTES >> 20):
                member.write(chunk)
        for p in sorted(bag.rglob("*")):
            if p.is_file():
                zf.write(p, f"{bag.name}/{p.relative_to(bag).as_posix()}")
    return out


@pytest.mark.parametrize("build", [tar_bomb, zip_bomb], ids=["tar.gz", "zip"])
def test_compression_bombs_stop_at_the_ratio_and_byte_limits(tmp_path: Path, build: object) -> None:
    bag = make_bag(tmp_path / "bag", {"data/a.txt": b"hello"})
    bomb = build(bag, tmp_path / "bomb")  # type: ignore[operator]
    assert bomb.stat().st_size < BOMB_BYTES // 100
    result = verify_bag(bomb)  # the default ratio limit (200) catches 1,000:1
    assert "limit.ratio" in codes(result.errors) and result.bytes_checked < BOMB_BYTES
    # With the ratio allowed, the byte limit stops it instead, before the bomb is read.
    lax = Limits(max_ratio=10_000, max_bytes=8 << 20)
    result = verify_bag(bomb, limits=lax)
    assert "limit.bytes" in codes(result.errors) and result.bytes_checked < 8 << 20
    # And with both allowed, it is read (and found wrong: zeros.bin is not in the manifest).
    roomy = Limits(max_ratio=10_000, max_bytes=1 << 30)
    assert not {c for c in error_codes(bomb, roomy) if c.startswith("limit.")}


def test_small_honest_archives_are_under_the_default_ratio_and_byte_limits(
    tmp_path: Path,
) -> None:
    # Two MiB of repetitive text compresses ~30-fold: an honest file, far from 200:1.
    text = b"".join(b"line %d of a long notice about opening hours\n" % i for i in range(48_000))
    bag = make_bag(tmp_path / "bag", {"data/notice.txt": text})
    for form in (as_tar, as_zip):
        archive = form(bag, tmp_path / f"bag.{form.__name__}")
        assert not error_codes(archive), form.__name__


# --------------------------------------------------------------------------- options


def test_cli_limit_options_on_verify(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from preserve.cli import cli

    bag = make_bag(tmp_path / "bag", {"data/a.txt": b"a", "data/b.txt": b"b"})
    runner = CliRunner()
    assert runner.invoke(cli, ["verify", str(bag)]).exit_code == 0
    few = runner.invoke(cli, ["verify", "--json", "--max-files", "3", str(bag)])
    assert few.exit_code == 1
    assert "limit.files" in {p["code"] for p in json.loads(few.output)["bags"][0]["problems"]}
    bomb = tar_bomb(bag, tmp_path / "bomb.tar.gz")
    capped = runner.invoke(
        cli, ["verify", "--json", "--max-ratio", "100000", "--max-bytes", "8M", str(bomb)]
    )
    assert capped.exit_code == 1
    found = {p["code"] for p in json.loads(capped.output)["bags"][0]["problems"]}
    assert "limit.bytes" in found and "limit.ratio" not in found
    for bad in (["--max-bytes", "lots"], ["--max-bytes", "0"], ["--max-ratio", "0"]):
        refused = runner.invoke(cli, ["verify", *bad, str(bag)])
        assert refused.exit_code == 2 and "Traceback" not in refused.output, bad


def test_parse_size_units() -> None:
    from preserve.cli.checking import parse_size

    assert parse_size("100M") == 100 << 20
    assert parse_size("2G") == 2 << 30
    assert parse_size("2GiB") == 2 << 30
    assert parse_size("4096") == 4096
    assert parse_size("1.5G") == 3 << 29
    assert parse_size("0.5k") == 512
    assert parse_size("1.0000001K") == 1024  # a fraction of a byte rounds down
    import click

    for bad in ("1.5", "1.G", ".5G", "1,5G", "-1M", "0", "0.0001K", "1e3", "", "G", "١٠M"):
        with pytest.raises(click.BadParameter):
            parse_size(bad)


def test_archive_limits_settings_apply_to_verify_and_audit(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from preserve.archive import ingest
    from preserve.cli import cli
    from preserve.settings import set_value

    from .test_archive import make_statements

    make_statements(tmp_path / "in", 1)
    assert ingest([tmp_path / "in"], tmp_path / "archive").exit_code == 0
    archive = tmp_path / "archive"
    (bag,) = sorted((archive / "bags").iterdir())
    runner = CliRunner()
    assert runner.invoke(cli, ["verify", str(bag)]).exit_code == 0
    set_value(archive, "limits.max_files", "3")
    verified = runner.invoke(cli, ["verify", "--json", str(bag)])
    assert verified.exit_code == 1
    assert "limit.files" in {p["code"] for p in json.loads(verified.output)["bags"][0]["problems"]}
    audited = runner.invoke(cli, ["audit", "--json", "--no-record", str(archive)])
    assert audited.exit_code == 1
    assert "limit.files" in {p["code"] for p in json.loads(audited.output)["bags"][0]["problems"]}
    # An option overrides the archive's setting.
    roomy = runner.invoke(cli, ["audit", "--no-record", "--max-files", "1000", str(archive)])
    assert roomy.exit_code == 0, roomy.output
