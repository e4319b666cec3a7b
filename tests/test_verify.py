"""The verifier on real bags: agreement with bagit-python, precise codes, safety."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import bagit
import jsonschema
import pytest

from preserve.bagit_format import (
    DigestAlgorithm,
    format_bag_info,
    format_bagit_txt,
    format_fetch,
    format_manifest,
    manifest_name,
    tagmanifest_name,
)
from preserve.errors import UnreadableInput
from preserve.verify import BagResult, Problem, Severity, verify_bag, verify_bags

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "verify-report.schema.json"

PAYLOAD = {
    "statement.txt": b"We will keep our promise.\n" * 50,
    "sub dir/r\u00e9sum\u00e9.pdf": bytes(range(256)) * 40,
    "notes.md": b"# notes\n",
    "odd\nname 100%.txt": b"bagit-python escapes the newline, not the percent sign",
}


def errors(result: BagResult) -> set[tuple[str, str]]:
    return {(p.code, p.path) for p in result.problems if p.severity is Severity.error}


def warnings(result: BagResult) -> set[tuple[str, str]]:
    return {(p.code, p.path) for p in result.problems if p.severity is Severity.warning}


@pytest.fixture
def made_bag(tmp_path: Path) -> Path:
    """A bag made by bagit-python (the reference), sha256 + sha512."""
    root = tmp_path / "bag"
    for rel, data in PAYLOAD.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    bagit.make_bag(str(root), {"Source-Organization": "Test"}, checksums=["sha256", "sha512"])
    return root


def bagit_python_valid(root: Path) -> bool:
    try:
        return bool(bagit.Bag(str(root)).is_valid())
    except bagit.BagError:
        return False


# --------------------------------------------------------------------------- corruptions


def flip_byte(root: Path) -> None:
    p = root / "data" / "statement.txt"
    data = bytearray(p.read_bytes())
    data[10] ^= 0x01
    p.write_bytes(bytes(data))


def truncate(root: Path) -> None:
    p = root / "data" / "sub dir" / "r\u00e9sum\u00e9.pdf"
    p.write_bytes(p.read_bytes()[:100])


def delete(root: Path) -> None:
    (root / "data" / "notes.md").unlink()


def add_extra(root: Path) -> None:
    (root / "data" / "extra.txt").write_bytes(b"not bagged")


def rename(root: Path) -> None:
    (root / "data" / "notes.md").rename(root / "data" / "notes2.md")


def edit_bag_info(root: Path) -> None:
    with (root / "bag-info.txt").open("a") as fh:
        fh.write("Contact-Name: Someone Else\n")


RES = "data/sub dir/r\u00e9sum\u00e9.pdf"
CORRUPTIONS: dict[str, tuple[Callable[[Path], None], set[tuple[str, str]]]] = {
    "flipped-byte": (flip_byte, {("manifest.digest-mismatch", "data/statement.txt")}),
    "truncated": (
        truncate,
        {("manifest.digest-mismatch", RES), ("oxum.mismatch", "bag-info.txt")},
    ),
    "deleted": (
        delete,
        {("payload.missing", "data/notes.md"), ("oxum.mismatch", "bag-info.txt")},
    ),
    "extra": (
        add_extra,
        {("payload.not-in-manifest", "data/extra.txt"), ("oxum.mismatch", "bag-info.txt")},
    ),
    "renamed": (
        rename,
        {("payload.missing", "data/notes.md"), ("payload.not-in-manifest", "data/notes2.md")},
    ),
    "edited-bag-info": (edit_bag_info, {("manifest.digest-mismatch", "bag-info.txt")}),
}


def test_intact_bag_agrees_with_bagit_python(made_bag: Path) -> None:
    result = verify_bag(made_bag)
    assert bagit_python_valid(made_bag)
    assert result.valid and result.problems == ()
    assert result.files_checked == len(PAYLOAD) + 4  # + bagit, bag-info, 2 manifests
    assert result.version == "0.97"  # what bagit-python 1.9 writes
    assert result.algorithms == ("sha256", "sha512")


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corruption_agrees_with_bagit_python(made_bag: Path, name: str) -> None:
    corrupt, expected = CORRUPTIONS[name]
    corrupt(made_bag)
    result = verify_bag(made_bag)
    assert not bagit_python_valid(made_bag)
    assert not result.valid
    assert errors(result) == expected


def test_flipped_byte_is_named_per_algorithm_and_not_blamed_on_oxum(made_bag: Path) -> None:
    flip_byte(made_bag)
    result = verify_bag(made_bag)
    mismatches = [p for p in result.problems if p.code == "manifest.digest-mismatch"]
    assert sorted(p.message.split(":")[0] for p in mismatches) == [
        "manifest-sha256.txt",
        "manifest-sha512.txt",
    ]
    assert not any(p.code.startswith("oxum") for p in result.problems)


def test_truncation_oxum_problem_names_the_file(made_bag: Path) -> None:
    truncate(made_bag)
    (oxum,) = [p for p in verify_bag(made_bag).problems if p.code == "oxum.mismatch"]
    assert RES in oxum.message


def test_every_problem_reported_not_just_the_first(made_bag: Path) -> None:
    for corrupt in (flip_byte, delete, add_extra, edit_bag_info):
        corrupt(made_bag)
    assert {c for c, _ in errors(verify_bag(made_bag))} == {
        "manifest.digest-mismatch",
        "payload.missing",
        "payload.not-in-manifest",
        "oxum.mismatch",
    }


# --------------------------------------------------------------------------- hand-made bags


def write_bag(
    root: Path,
    files: dict[str, bytes],
    algs: Iterable[DigestAlgorithm] = (DigestAlgorithm.sha256,),
    *,
    info: list[tuple[str, str]] | None = None,
    tag_manifests: bool = True,
) -> Path:
    """A bag written with this project's format functions (what the bag writer will do)."""
    algs = list(algs)
    for rel, data in files.items():
        p = root.joinpath("data", *rel.split("/"))
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "bagit.txt").write_bytes(format_bagit_txt())
    oxum = f"{sum(len(d) for d in files.values())}.{len(files)}"
    (root / "bag-info.txt").write_bytes(format_bag_info([*(info or []), ("Payload-Oxum", oxum)]))
    for alg in algs:
        entries = [(hashlib.new(alg.value, d).hexdigest(), f"data/{r}") for r, d in files.items()]
        (root / manifest_name(alg)).write_bytes(format_manifest(entries))
    if tag_manifests:
        tags = [p for p in sorted(root.iterdir()) if p.is_file()]
        for alg in algs:
            entries = [(hashlib.new(alg.value, p.read_bytes()).hexdigest(), p.name) for p in tags]
            (root / tagmanifest_name(alg)).write_bytes(format_manifest(entries))
    return root


def test_names_needing_percent_encoding(tmp_path: Path) -> None:
    files = {"100% sure.txt": b"a", "line\nbreak.txt": b"b", "cr\rname": b"c", " spaced ": b"d"}
    root = write_bag(tmp_path / "bag", files)
    manifest = (root / "manifest-sha256.txt").read_bytes()
    assert b"100%25 sure.txt" in manifest and b"line%0Abreak" in manifest
    result = verify_bag(root)
    assert result.valid, result.problems
    assert result.files_checked == 4 + 3  # + bagit, bag-info, manifest


@pytest.mark.parametrize("ending", [b"\r\n", b"\r"])
def test_crlf_and_cr_line_endings(tmp_path: Path, ending: bytes) -> None:
    root = write_bag(tmp_path / "bag", {"a.txt": b"a", "b.txt": b"b"}, tag_manifests=False)
    for name in ("bagit.txt", "manifest-sha256.txt", "bag-info.txt"):
        p = root / name
        p.write_bytes(p.read_bytes().replace(b"\n", ending))
    assert verify_bag(root).valid


def test_weak_algorithm_only_is_a_warning(tmp_path: Path) -> None:
    root = write_bag(tmp_path / "bag", {"a": b"a"}, [DigestAlgorithm.md5])
    result = verify_bag(root)
    assert result.valid
    assert ("manifest.weak-algorithm", "") in warnings(result)
    root2 = write_bag(tmp_path / "bag2", {"a": b"a"}, [DigestAlgorithm.md5, DigestAlgorithm.sha512])
    assert ("manifest.weak-algorithm", "") not in warnings(verify_bag(root2))


def test_unsupported_algorithm_fails_closed(tmp_path: Path) -> None:
    root = write_bag(tmp_path / "bag", {"a": b"a"})
    (root / "manifest-whirlpool.txt").write_text("00ff  data/a\n")
    result = verify_bag(root)
    assert ("manifest.unsupported-algorithm", "manifest-whirlpool.txt") in errors(result)


def test_structural_errors(tmp_path: Path) -> None:
    root = write_bag(tmp_path / "bag", {"d/a": b"a"}, tag_manifests=False)
    with (root / "manifest-sha256.txt").open("a") as fh:
        fh.write(f"{'0' * 64}  data/d\n")  # a directory
        fh.write(f"{hashlib.sha256(format_bagit_txt()).hexdigest()}  bagit.txt\n")
    (root / "tagmanifest-sha256.txt").write_text(f"{'0' * 64}  tagmanifest-sha256.txt\n")
    assert errors(verify_bag(root)) == {
        ("manifest.lists-directory", "data/d"),
        ("manifest.outside-payload", "bagit.txt"),
        ("tagmanifest.lists-tagmanifest", "tagmanifest-sha256.txt"),
    }


def test_no_data_dir_and_no_manifest(tmp_path: Path) -> None:
    root = tmp_path / "bag"
    root.mkdir()
    (root / "bagit.txt").write_bytes(format_bagit_txt())
    assert errors(verify_bag(root)) == {
        ("payload.no-data-dir", "data"),
        ("manifest.none", ""),
    }


def test_empty_directory_is_not_a_bag(tmp_path: Path) -> None:
    codes = {c for c, _ in errors(verify_bag(tmp_path))}
    assert {"bagit.missing", "payload.no-data-dir", "manifest.none"} <= codes


def test_duplicate_entry_is_an_error_in_1_0(tmp_path: Path) -> None:
    root = write_bag(tmp_path / "bag", {"a": b"a"}, tag_manifests=False)
    line = (root / "manifest-sha256.txt").read_bytes()
    (root / "manifest-sha256.txt").write_bytes(line + line)
    assert ("manifest.duplicate-entry", "data/a") in errors(verify_bag(root))


def test_fetch_rules(tmp_path: Path) -> None:
    root = write_bag(tmp_path / "bag", {"a": b"a", "b": b"bb"}, tag_manifests=False)
    (root / "data" / "b").unlink()
    (root / "fetch.txt").write_bytes(
        format_fetch(
            [
                ("https://example.org/b", 2, "data/b"),
                ("https://example.org/c", 1, "data/c"),
                ("https://example.org/a", 5, "data/a"),
            ]
        )
    )
    assert errors(verify_bag(root)) == {
        ("payload.not-fetched", "data/b"),
        ("fetch.not-in-manifest", "data/c"),
        ("fetch.length-mismatch", "data/a"),
        ("oxum.mismatch", "bag-info.txt"),
    }


def test_fetch_lines_are_matched_against_each_manifest_once() -> None:
    """Each manifest's paths are gathered once, not once per fetch.txt line (n², slow)."""
    from preserve.bagit_format import FetchEntry, ManifestEntry, ParsedFetch, ParsedManifest
    from preserve.verify.checker_base import _CheckerBase
    from preserve.verify.tree import _Tree

    class Counting(tuple[ManifestEntry, ...]):
        walks = 0

        def __iter__(self):  # type: ignore[no-untyped-def]
            Counting.walks += 1
            return super().__iter__()

    paths = [f"data/f{i}.bin" for i in range(50)]
    listed = Counting(ManifestEntry("0" * 64, p, n) for n, p in enumerate(paths[:40], 1))
    manifest = ParsedManifest("manifest-sha256.txt", listed, ())
    fetch = ParsedFetch(
        tuple(FetchEntry("https://example.org/x", 1, p, n) for n, p in enumerate(paths, 1)), ()
    )
    checker = _CheckerBase(_Tree("bag"))
    checker.check_fetch(fetch, {DigestAlgorithm.sha256: manifest})
    assert Counting.walks == 1
    assert {p.path for p in checker.problems if p.code == "fetch.not-in-manifest"} == set(
        paths[40:]
    )


def test_system_files_and_case_twins_on_disk_warn(tmp_path: Path) -> None:
    root = write_bag(tmp_path / "bag", {".DS_Store": b"", "Read.me": b"x", "read.ME": b"y"})
    result = verify_bag(root)
    assert result.valid
    assert {("payload.system-file", "data/.DS_Store")} <= warnings(result)
    assert {c for c, _ in warnings(result)} >= {"payload.system-file", "path.case-collision"}


def test_twin_with_wrong_digest_is_an_error(tmp_path: Path) -> None:
    """A case/normalization twin is only forgiven if its content matches."""
    root = write_bag(tmp_path / "bag", {"hello.txt": b"hello"}, tag_manifests=False)
    with (root / "manifest-sha256.txt").open("a") as fh:
        fh.write(f"{'1' * 64}  data/HELLO.txt\n")
    assert ("manifest.digest-mismatch", "data/hello.txt") in errors(verify_bag(root))


# --------------------------------------------------------------------------- safety


def test_symlink_is_reported_and_never_followed(made_bag: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"s" * 1_000_000)
    (made_bag / "data" / "notes.md").unlink()
    (made_bag / "data" / "notes.md").symlink_to(secret)
    result = verify_bag(made_bag)
    assert errors(result) >= {("symlink", "data/notes.md")}
    assert result.bytes_checked < 100_000  # the megabyte behind the link was never read


def test_symlinked_data_dir(made_bag: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere"
    (made_bag / "data").rename(moved)
    (made_bag / "data").symlink_to(moved, target_is_directory=True)
    result = verify_bag(made_bag)
    assert ("symlink", "data") in errors(result)
    assert ("payload.no-data-dir", "data") in errors(result)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
def test_fifo_is_reported_not_opened(made_bag: Path) -> None:
    os.mkfifo(made_bag / "data" / "pipe")
    assert ("file.special", "data/pipe") in errors(verify_bag(made_bag))  # and no hang


def test_nothing_written_and_read_only_ok(made_bag: Path) -> None:
    def snapshot() -> list[tuple[str, int, int]]:
        return sorted(
            (str(p), p.lstat().st_size, p.lstat().st_mtime_ns) for p in made_bag.rglob("*")
        )

    before = snapshot()
    for p in [made_bag, *made_bag.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        assert verify_bag(made_bag).valid
    finally:
        for p in [made_bag, *made_bag.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
    assert snapshot() == before


def test_missing_path_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(UnreadableInput):
        verify_bag(tmp_path / "nope")
    (tmp_path / "plain.txt").write_text("not a bag")
    with pytest.raises(UnreadableInput):
        verify_bag(tmp_path / "plain.txt")


# --------------------------------------------------------------------------- serialized


def _tar(made_bag: Path, out: Path, extra: Callable[[tarfile.TarFile], None] | None = None) -> Path:
    with tarfile.open(out, "w:gz") as tf:
        tf.add(made_bag, arcname="bag")
        if extra:
            extra(tf)
    return out


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def test_tar_gz_and_zip_valid(made_bag: Path, tmp_path: Path) -> None:
    tgz = _tar(made_bag, tmp_path / "bag.tar.gz")
    zpath = tmp_path / "bag.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(made_bag.rglob("*")):
            if p.is_file():
                zf.write(p, "bag/" + p.relative_to(made_bag).as_posix())
    for archive in (tgz, zpath):
        result = verify_bag(archive)
        assert result.valid, result.problems
        assert result.bytes_checked == verify_bag(made_bag).bytes_checked


def test_tar_escaping_member(made_bag: Path, tmp_path: Path) -> None:
    tgz = _tar(made_bag, tmp_path / "evil.tar.gz", lambda tf: _add_bytes(tf, "bag/../evil", b"x"))
    assert ("path.unsafe", "bag/../evil") in errors(verify_bag(tgz))
    assert not (tmp_path / "evil").exists()


def test_tar_link_and_duplicate_members(made_bag: Path, tmp_path: Path) -> None:
    def extra(tf: tarfile.TarFile) -> None:
        link = tarfile.TarInfo("bag/data/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
        _add_bytes(tf, "bag/data/notes.md", b"shadowing content")

    result = verify_bag(_tar(made_bag, tmp_path / "links.tar.gz", extra))
    assert {("symlink", "data/link"), ("archive.duplicate-member", "data/notes.md")} <= errors(
        result
    )


def test_corrupt_member_in_tar(made_bag: Path, tmp_path: Path) -> None:
    flip_byte(made_bag)
    result = verify_bag(_tar(made_bag, tmp_path / "c.tar"))
    assert ("manifest.digest-mismatch", "data/statement.txt") in errors(result)


# --------------------------------------------------------------------------- parallel, hooks


def test_threads_and_processes_agree(made_bag: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import concurrent.futures

    import preserve.verify.tree_dir as v

    monkeypatch.setattr(v, "PARALLEL_MIN_BYTES", 0)  # force the pools on a small bag
    monkeypatch.setattr(v, "_SLICE", 2)  # and several slices of jobs
    started: list[str] = []
    for name in ("ThreadPoolExecutor", "ProcessPoolExecutor"):
        # tree_dir imports the pools where it starts one (not at start-up).
        real = getattr(concurrent.futures, name)

        def counting(*args: object, _real: type = real, _name: str = name) -> object:
            started.append(_name)
            return _real(*args)

        monkeypatch.setattr(concurrent.futures, name, counting)
    truncate(made_bag)
    base = verify_bag(made_bag, threads=1)
    for kwargs in ({"threads": 4}, {"processes": 2}):
        other = verify_bag(made_bag, **kwargs)  # type: ignore[arg-type]
        assert other.problems == base.problems
        assert other.bytes_checked == base.bytes_checked
    assert started == ["ThreadPoolExecutor", "ProcessPoolExecutor"]  # the pools really ran


def test_verify_bags_in_order(made_bag: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(made_bag, other)
    delete(other)
    results = list(verify_bags([made_bag, other, tmp_path / "missing"], workers=2))
    assert [r.valid for r in results] == [True, False, False]
    assert results[2].problems[0].code == "bag.cannot-open"


def _names_the_bag(root: Path) -> Iterable[Problem]:
    """An extra check (module level: a process pool may pickle it) marking each bag."""
    yield Problem("test.seen", "", root.name, Severity.warning)


def test_verify_bags_batches_agree_with_one_by_one(
    made_bag: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bags verified in batches per worker come back in order, each as verify_bag says."""
    import preserve.verify.run as run

    monkeypatch.setattr(run, "_BATCH", 3)  # several batches per worker (forked: inherited)
    paths: list[Path] = []
    for i, change in enumerate([None, flip_byte, delete, None, add_extra, truncate, None] * 2):
        bag = tmp_path / f"b{i:02d}"
        shutil.copytree(made_bag, bag)
        if change is not None:
            change(bag)
        paths.append(bag)
    paths.insert(5, tmp_path / "missing")
    assert len(run._batches([str(p) for p in paths], 2)) >= 4
    checks = (_names_the_bag,)
    batched = list(verify_bags(paths, workers=2, extra_checks=checks))
    alone = [verify_bag(p, threads=1, extra_checks=checks) if p.exists() else None for p in paths]
    assert [r.bag for r in batched] == [str(p) for p in paths]
    for got, want in zip(batched, alone, strict=True):
        if want is None:
            assert [p.code for p in got.problems] == ["bag.cannot-open"] and not got.valid
            continue
        assert (got.valid, got.problems) == (want.valid, want.problems)
        assert (got.files_checked, got.bytes_checked) == (want.files_checked, want.bytes_checked)
        assert ("test.seen", "") in warnings(got)  # the checks reached every worker


def test_batches_keep_every_worker_busy() -> None:
    import preserve.verify.run as run

    items = [f"bag{i}" for i in range(2000)]
    batches = run._batches(items, 2)
    assert [b for batch in batches for b in batch] == items
    assert max(map(len, batches)) <= run._BATCH
    assert len(batches) >= 2 * run._TASKS_PER_WORKER
    # A few large bags: one bag a task, so two workers share four bags two and two.
    assert run._batches(["a", "b", "c", "d"], 2) == [["a"], ["b"], ["c"], ["d"]]


def test_a_bag_directory_needs_no_pool_or_archive_reader(made_bag: Path) -> None:
    """verify_bag on one directory imports neither multiprocessing nor the tar/zip trees."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from preserve.verify import verify_bag\n"
        f"assert verify_bag({str(made_bag)!r}).valid\n"
        "lazy = ('multiprocessing', 'concurrent.futures.process', "
        "'preserve.verify.tar_reader', 'preserve.verify.tree_archive')\n"
        "print(sorted(m for m in lazy if m in sys.modules))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_tag_files_are_read_once(made_bag: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker and the checks beyond RFC 8493 share one read of each tag file."""
    from preserve.bag_checks import PreserveChecks
    from preserve.verify.tree import _TooLarge
    from preserve.verify.tree_dir import _DirTree

    reads: list[str] = []
    real = _DirTree._read

    def counting(self: _DirTree, rel: str, max_bytes: int) -> bytes:
        reads.append(rel)
        return real(self, rel, max_bytes)

    monkeypatch.setattr(_DirTree, "_read", counting)
    assert verify_bag(made_bag, extra_checks=[PreserveChecks()]).valid
    assert "bag-info.txt" in reads and len(reads) == len(set(reads))
    tree = _DirTree(made_bag, 1, None)
    data = tree.read("bag-info.txt", 1 << 20)
    with pytest.raises(_TooLarge):  # a kept file is still bounded by each caller's limit
        tree.read("bag-info.txt", len(data) - 1)
    assert tree.read("data/statement.txt", 1 << 20) and "data/statement.txt" not in tree.cache


def test_extra_checks_hook(made_bag: Path) -> None:
    def ours(root: Path) -> Iterable[Problem]:
        assert root == made_bag
        yield Problem("profile.missing-field", "bag-info.txt", "no Statement-Id", Severity.error)

    def broken(root: Path) -> Iterable[Problem]:
        raise RuntimeError("boom")

    result = verify_bag(made_bag, extra_checks=[ours, broken])
    assert errors(result) == {("profile.missing-field", "bag-info.txt"), ("check.failed", "")}


# --------------------------------------------------------------------------- report


def test_report_matches_schema(made_bag: Path) -> None:
    flip_byte(made_bag)
    schema = json.loads(SCHEMA.read_text())
    doc = {"valid": False, "bags": [verify_bag(made_bag).as_dict()]}
    jsonschema.validate(doc, schema)
    json.dumps(doc)  # serialisable


# --------------------------------------------------------------------------- CLI


def test_cli_verify_exit_codes_and_json(made_bag: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from preserve.cli import cli

    runner = CliRunner()
    ok = runner.invoke(cli, ["verify", str(made_bag)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith(f"VALID {made_bag} ")

    bad = tmp_path / "bad"
    shutil.copytree(made_bag, bad)
    flip_byte(bad)
    out = runner.invoke(cli, ["verify", str(made_bag), str(bad)])
    assert out.exit_code == 1
    assert f"INVALID {bad}" in out.output
    assert "  error manifest.digest-mismatch data/statement.txt: manifest-sha256.txt" in out.output

    as_json = runner.invoke(cli, ["verify", "--json", str(bad), str(tmp_path / "absent")])
    assert as_json.exit_code == 2
    doc = json.loads(as_json.output)
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    assert doc["valid"] is False
    assert [b["valid"] for b in doc["bags"]] == [False, False]
    assert doc["bags"][1]["problems"][0]["code"] == "bag.cannot-open"


# --------------------------------------------------------------------------- hashing


@pytest.mark.parametrize("split", [False, True])
def test_hash_file_one_pass_all_algorithms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split: bool
) -> None:
    import preserve.hashing as hashing

    monkeypatch.setattr(hashing, "SPLIT_MIN_BYTES", 1)
    data = os.urandom(3 * hashing.CHUNK_SIZE + 123)
    p = tmp_path / "f.bin"
    p.write_bytes(data)
    algs = list(DigestAlgorithm)
    digests, size = hashing.hash_file(p, algs, split_algorithms=split)
    assert size == len(data)
    assert digests == {a: hashlib.new(a.value, data).hexdigest() for a in algs}


@pytest.mark.parametrize("size", [0, 1, 4096, 45_000])
def test_hash_file_small_files_and_one_that_grew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """A small file is hashed from one read; one longer than fstat said is read to its end."""
    import preserve.hashing as hashing

    data = os.urandom(size)
    p = tmp_path / "f.bin"
    p.write_bytes(data)
    algs = list(DigestAlgorithm)
    want = {a: hashlib.new(a.value, data).hexdigest() for a in algs}
    assert hashing.hash_file(p, algs) == (want, size)
    real_fstat = os.fstat

    def shrunk(fd: int) -> os.stat_result:  # as if the file grew after fstat
        st = real_fstat(fd)
        fields = list(st)
        fields[6] = max(0, st.st_size - 3000)  # st_size
        return os.stat_result(fields)

    monkeypatch.setattr(hashing.os, "fstat", shrunk)
    assert hashing.hash_file(p, algs) == (want, size)


def test_hash_file_refuses_symlink_and_replaced_file(tmp_path: Path) -> None:
    import preserve.hashing as hashing

    target = tmp_path / "t"
    target.write_bytes(b"x")
    link = tmp_path / "l"
    link.symlink_to(target)
    with pytest.raises(OSError):
        hashing.hash_file(link, [DigestAlgorithm.sha256])
    st = target.stat()
    with pytest.raises(hashing.FileChanged):
        hashing.hash_file(target, [DigestAlgorithm.sha256], identity=(st.st_dev, st.st_ino + 1))


def test_large_bag_threads_and_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lone big file is hashed with one thread per algorithm, and a flip is still found."""
    import preserve.hashing as hashing

    monkeypatch.setattr(hashing, "SPLIT_MIN_BYTES", 1 << 20)
    root = write_bag(
        tmp_path / "bag",
        {"big.bin": os.urandom(5 << 20)},
        [DigestAlgorithm.sha256, DigestAlgorithm.sha512],
    )
    assert verify_bag(root).valid
    p = root / "data" / "big.bin"
    with p.open("r+b") as fh:
        fh.seek(4 << 20)
        byte = fh.read(1)
        fh.seek(4 << 20)
        fh.write(bytes([byte[0] ^ 0xFF]))
    assert errors(verify_bag(root)) == {("manifest.digest-mismatch", "data/big.bin")}


def test_undecodable_file_name_is_reported_printably(made_bag: Path) -> None:
    fd = os.open(os.fsencode(made_bag / "data") + b"/bad-\xff.bin", os.O_WRONLY | os.O_CREAT)
    os.close(fd)
    result = verify_bag(made_bag)
    assert ("payload.not-in-manifest", "data/bad-\\xff.bin") in errors(result)
    json.dumps(result.as_dict(), ensure_ascii=False).encode("utf-8")


# --------------------------------------------------------------------------- serialized bags, fully

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "fixtures" / "en-title-only.txt"
SUFFIXES = (".tar", ".tar.gz", ".zip")


@pytest.fixture(scope="module")
def ingested_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bag written by ``preserve ingest``, in an archive that names its institution."""
    from preserve import settings
    from preserve.archive import IngestOptions, ingest

    archive = tmp_path_factory.mktemp("serialized") / "archive"
    archive.mkdir()
    settings.set_value(archive, "institution.name", "Archive of Public Statements")
    report = ingest([FIXTURE], archive, IngestOptions(workers=1))
    assert report.exit_code == 0, report.as_dict()
    (bag,) = (archive / "bags").iterdir()
    return bag


def _rewrite(bag: Path, dest: Path, change: Callable[[Path], None]) -> Path:
    """A copy of ``bag`` changed by ``change``, its manifests made consistent again, so only
    the checks beyond RFC 8493 (profile, metadata, PDF/A) can see what changed."""
    copy = dest / bag.name
    shutil.copytree(bag, copy)
    change(copy)
    rebag = bagit.Bag(str(copy))
    rebag.save(manifests=True)
    bagit_version = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    (copy / "bagit.txt").write_bytes(bagit_version)  # bagit-python 1.9 writes 0.97
    bagit.Bag(str(copy)).save()
    assert verify_bag(copy).valid  # RFC 8493 alone finds nothing wrong
    return copy


def _checks() -> tuple[Callable[..., Iterable[Problem]], ...]:
    from preserve.bag_checks import PreserveChecks

    return (PreserveChecks(),)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_exported_bag_verifies_fully(ingested_bag: Path, tmp_path: Path, suffix: str) -> None:
    from preserve.export import export_bag

    out = tmp_path / f"{ingested_bag.name}{suffix}"
    export_bag(ingested_bag, out)
    result = verify_bag(out, extra_checks=_checks())
    assert result.valid and result.problems == (), result.problems
    assert result.files_checked == verify_bag(ingested_bag).files_checked == 9


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_serialized_bag_faults_beyond_rfc_8493_are_named(
    ingested_bag: Path, tmp_path: Path, suffix: str
) -> None:
    """Bad metadata, a PDF that is not PDF/A and a missing premis.xml, in a consistent bag:
    each is found inside the tar or zip, with the code it has in a directory."""
    from preserve.export import export_bag

    def spoil(bag: Path) -> None:
        record_path = bag / "data/metadata/statement.json"
        record = json.loads(record_path.read_bytes())
        del record["title"]
        record_path.write_text(json.dumps(record), encoding="utf-8")
        pdf = bag / "data/pdfa" / f"{bag.name}.pdf"
        pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
        (bag / "premis.xml").unlink()

    work = tmp_path / "work"
    work.mkdir()
    spoiled = _rewrite(ingested_bag, work, spoil)
    pdf_rel = f"data/pdfa/{spoiled.name}.pdf"
    in_dir = errors(verify_bag(spoiled, extra_checks=_checks()))
    out = tmp_path / f"{spoiled.name}{suffix}"
    export_bag(spoiled, out)
    in_archive = errors(verify_bag(out, extra_checks=_checks()))
    assert in_archive == in_dir
    assert ("metadata.invalid", "data/metadata/statement.json") in in_archive
    assert ("profile.tag-file-required", "premis.xml") in in_archive
    assert any(code.startswith("pdfa.") and path == pdf_rel for code, path in in_archive)
    assert not any(code == "check.skipped" for code, _ in in_archive)


def test_serialized_bag_name_is_its_top_folder(ingested_bag: Path, tmp_path: Path) -> None:
    """The metadata identifier is compared with the tar's top folder, not the file name."""
    from preserve.export import export_bag

    out = tmp_path / "renamed-on-the-way.tar"
    export_bag(ingested_bag, out)
    assert verify_bag(out, extra_checks=_checks()).valid
    work = tmp_path / "work"
    work.mkdir()
    moved = work / "another-name"
    shutil.copytree(ingested_bag, moved)
    out2 = tmp_path / "another-name.zip"
    export_bag(moved, out2)
    assert ("metadata.identifier-mismatch", "data/metadata/statement.json") in errors(
        verify_bag(out2, extra_checks=_checks())
    )


def test_bag_claiming_profile_0_1_stays_valid() -> None:
    """A bag made before profile 0.2 (tests/bags/README.md) is judged by 0.1, which it meets;
    by 0.2 it would not be (it claims another identifier)."""
    from preserve.profile import check_profile, load_profile

    old = REPO / "tests" / "bags" / "preserve-0.1-bag.tar.gz"
    result = verify_bag(old, extra_checks=_checks())
    assert result.valid and result.problems == (), result.problems
    assert check_profile(old, load_profile("preserve-0.1")) == []
    assert {p.code for p in check_profile(old, load_profile())} == {"profile.identifier-mismatch"}


def test_signed_serialized_bag_has_its_signatures_checked(
    ingested_bag: Path, tmp_path: Path
) -> None:
    """A tar holding signatures/ has them checked streamed: a broken one is named."""
    copy = tmp_path / ingested_bag.name
    shutil.copytree(ingested_bag, copy)
    (copy / "signatures").mkdir()
    (copy / "signatures" / "signature.json").write_bytes(b"{}")
    out = tmp_path / "signed.tar"
    with tarfile.open(out, "w") as tf:
        tf.add(copy, arcname=copy.name)
    found = errors(verify_bag(out, extra_checks=_checks()))
    assert found == {("signature.malformed", "signatures/signature.json")}


def test_corrupt_pdf_in_a_tar_is_named_and_not_parsed(ingested_bag: Path, tmp_path: Path) -> None:
    """A flipped byte in the PDF member: the digest names it; the PDF/A check skips it."""
    from preserve.export import export_bag

    out = tmp_path / f"{ingested_bag.name}.tar"
    export_bag(ingested_bag, out)
    pdf_rel = f"data/pdfa/{ingested_bag.name}.pdf"
    with tarfile.open(out) as tf:
        member = tf.getmember(f"{ingested_bag.name}/{pdf_rel}")
        offset = member.offset_data + member.size // 2
    data = bytearray(out.read_bytes())
    data[offset] ^= 0xFF
    out.write_bytes(bytes(data))
    result = verify_bag(out, extra_checks=_checks())
    assert ("manifest.digest-mismatch", pdf_rel) in errors(result)
    assert ("check.skipped", pdf_rel) in warnings(result)
    assert not any(p.code.startswith("pdfa.") for p in result.problems)


def test_cli_export_then_verify_is_valid(ingested_bag: Path, tmp_path: Path) -> None:
    """The report of issue 13: ``preserve export BAG -o B.tar`` then ``preserve verify B.tar``
    said INVALID (check.skipped: preserve checks needs a bag directory), exit 1."""
    from click.testing import CliRunner

    from preserve.cli import cli

    runner = CliRunner()
    for suffix in SUFFIXES:
        out = tmp_path / f"B{suffix}"
        done = runner.invoke(cli, ["export", str(ingested_bag), "-o", str(out)])
        assert done.exit_code == 0, done.output
        done = runner.invoke(cli, ["verify", str(out)])
        assert done.exit_code == 0, done.output
        assert done.output.startswith(f"VALID {out}") and "check.skipped" not in done.output
