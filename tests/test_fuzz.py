"""The fuzz harnesses (``fuzz/``): every saved crash replays clean, and each harness
runs under atheris for a short, fixed number of iterations (see fuzz/README.md to
run them for longer).
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from preserve.bagit_format import parse_bagit_txt, parse_manifest
from preserve.errors import UnreadableInput
from preserve.verify import verify_bag

from .conftest import REPO

FUZZ = REPO / "fuzz"
HARNESSES = sorted(p.stem.removeprefix("fuzz_") for p in FUZZ.glob("fuzz_*.py"))
RUNS = 2000


def _check(name: str) -> Callable[[bytes], None]:
    spec = importlib.util.spec_from_file_location(f"fuzz_{name}", FUZZ / f"fuzz_{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    check: Callable[[bytes], None] = module.check
    return check


def test_there_is_a_harness_for_each_untrusted_parser() -> None:
    assert HARNESSES == [
        "archive",
        "bag_info",
        "bagit_txt",
        "fetch",
        "manifest",
        "sidecar",
        "statement",
    ]


@pytest.mark.parametrize("name", HARNESSES)
def test_seeds_and_saved_crashes_replay_clean(name: str) -> None:
    """Every input that once crashed a parser (fuzz/crashes/<harness>/) is a regression test."""
    check = _check(name)
    inputs = sorted((FUZZ / "seeds" / name).glob("*")) + sorted((FUZZ / "crashes" / name).glob("*"))
    assert inputs
    for path in inputs:
        check(path.read_bytes())


@pytest.mark.parametrize("name", HARNESSES)
def test_harness_runs_under_atheris(name: str, tmp_path: Path) -> None:
    pytest.importorskip("atheris", reason="atheris (pip install atheris) is not installed")
    (tmp_path / "corpus").mkdir()
    done = subprocess.run(
        [
            sys.executable,
            str(FUZZ / f"fuzz_{name}.py"),
            str(tmp_path / "corpus"),
            str(FUZZ / "seeds" / name),
            f"-atheris_runs={RUNS}",
            "-seed=1",
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    crashes = list(tmp_path.glob("crash-*")) + list(tmp_path.glob("timeout-*"))
    assert done.returncode == 0 and not crashes, done.stderr[-3000:]
    assert f"Done {RUNS}" in done.stderr


# --------------------------------------------------------------------------- regressions


@pytest.mark.parametrize("encoding", ["ISO-\x00\x00", "base64", "rot13", "zlib", "hex", "uu"])
def test_tag_file_encoding_that_is_not_a_text_codec(encoding: str, tmp_path: Path) -> None:
    """Regression (atheris): codecs.lookup raised ValueError on a NUL in the name, and
    bytes.decode raised LookupError for bytes-to-bytes codecs: the verifier crashed."""
    data = f"BagIt-Version: 1.0\nTag-File-Character-Encoding: {encoding}\n".encode()
    _, parsed_encoding, problems = parse_bagit_txt(data)
    assert parsed_encoding is None and [p.code for p in problems] == ["encoding.unknown"]
    manifest = parse_manifest(b"00  data/a\n", "manifest-md5.txt", encoding=encoding)
    assert [p.code for p in manifest.problems] == ["encoding.unknown"]
    bag = tmp_path / "bag"
    (bag / "data").mkdir(parents=True)
    (bag / "data" / "a").write_bytes(b"a")
    (bag / "bagit.txt").write_bytes(data)
    (bag / "manifest-md5.txt").write_bytes(b"0cc175b9c0f1b6a831c399e269772661  data/a\n")
    result = verify_bag(bag)
    assert "encoding.unknown" in {p.code for p in result.errors}


@pytest.mark.parametrize("encoding", ["idna", "punycode", "utf-7"])
def test_text_codecs_that_raise_plain_unicode_error(encoding: str) -> None:
    parsed = parse_manifest(b"\xff\xfe..\n", "manifest-md5.txt", encoding=encoding)
    assert [p.code for p in parsed.problems][:1] == ["encoding.invalid"]


def _zip_bag(tmp_path: Path) -> Path:
    import zipfile

    path = tmp_path / "bag.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("b/bagit.txt", "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
        zf.writestr("b/data/a.txt", "hello " * 200)
        zf.writestr(
            "b/manifest-sha256.txt",
            hashlib.sha256(b"hello " * 200).hexdigest() + "  data/a.txt\n",
        )
    return path


def test_zip_with_a_corrupt_deflate_stream_is_reported_not_a_crash(tmp_path: Path) -> None:
    """Regression (atheris): zlib.error from a damaged member escaped the verifier."""
    path = _zip_bag(tmp_path)
    assert verify_bag(path).valid
    data = bytearray(path.read_bytes())
    start = data.index(b"data/a.txt") + len(b"data/a.txt")  # the member's compressed bytes
    data[start : start + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    result = verify_bag(path)
    assert not result.valid
    assert {p.code for p in result.errors} & {"file.unreadable", "bag.unreadable"}


def test_zip_member_with_an_empty_name(tmp_path: Path) -> None:
    """Regression (atheris): ZipInfo.is_dir() raised IndexError on an empty file name."""
    path = _zip_bag(tmp_path)
    data = path.read_bytes()
    # Rename "b/data/a.txt" to "" in the central directory: length 12 → 0 would shift
    # offsets, so replay the saved crash input instead, then check a clean result type.
    assert data
    for crash in sorted((FUZZ / "crashes" / "archive").glob("*")):
        target = tmp_path / ("c.zip" if crash.read_bytes()[:2] == b"PK" else "c.tar")
        target.write_bytes(crash.read_bytes())
        try:
            result = verify_bag(target)
        except UnreadableInput:
            continue
        assert not result.valid


def test_zip_of_files_with_permission_bits_only_is_valid(tmp_path: Path) -> None:
    """Regression: ZipFile.writestr stores mode 0o600 with no file-type bits; the
    verifier called every such member a special file and the bag invalid."""
    import zipfile

    path = _zip_bag(tmp_path)
    with zipfile.ZipFile(path) as zf:
        assert {i.external_attr >> 16 for i in zf.infolist()} == {0o600}
    result = verify_bag(path)
    assert result.valid, [p.one_line() for p in result.problems]
