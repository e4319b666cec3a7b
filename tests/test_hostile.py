"""Hostile files against the verifier, round 2 (issue 17): each test builds the file an
attacker would send and checks the documented promise holds (no hang, bounded memory,
one clear line, a stable problem code). Every test failed before its fix.

Hangs and memory are observed in a child process: a hang hits ``HANG_GUARD`` (the
test fails instead of blocking the suite), memory is the child's peak RSS.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import pikepdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preserve.archive import ingest
from preserve.keys import generate_key
from preserve.signing import LIMIT_CODE, check_signatures, sign_bag
from preserve.timestamps import check_timestamp
from preserve.verify import verify_bag
from preserve.verify.tar_reader import MAX_EXTENDED_HEADER

from .conftest import FIXTURES
from .test_verify import write_bag

HANG_GUARD = 60  # seconds; the hanging cases ran forever before their fix
MiB = 1 << 20


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive with one bag of ours (claims the profile, has metadata and a PDF)."""
    root = tmp_path_factory.mktemp("hostile")
    report = ingest([FIXTURES / "en-annual-report.txt"], root / "archive")
    assert report.exit_code == 0, report.as_dict()
    return root / "archive"


@pytest.fixture
def bag(archive: Path) -> Path:
    (only,) = (archive / "bags").iterdir()
    return only


def cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "preserve", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def child(code: str) -> tuple[list[str], int]:
    """Run ``code`` (which sets ``codes``) in a fresh interpreter: (codes, peak RSS bytes).

    The peak is the child's own VmHWM: ``ru_maxrss`` survives exec on Linux, so it
    would report the test runner's peak instead.
    """
    script = (
        "import json, resource\n"
        + code
        + "\npeak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss"
        + "\ntry:\n    status = open('/proc/self/status').read().split('VmHWM:')[1]"
        + "\n    peak = int(status.split()[0])\nexcept (OSError, IndexError):\n    pass"
        + "\nprint(json.dumps([sorted(codes), peak]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stderr
    found, kib = json.loads(done.stdout.strip().splitlines()[-1])
    return found, kib * 1024


def one_clean_line(done: subprocess.CompletedProcess[str]) -> str:
    text = (done.stdout + done.stderr).strip()
    assert "Traceback" not in text and "Error(" not in text, text
    return text


# --------------------------------------------------------------------------- D6 FIFOs


def _pdf(bag: Path) -> str:
    (pdf,) = (bag / "data" / "pdfa").iterdir()
    return f"data/pdfa/{pdf.name}"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize(
    "rel",
    ["bag-info.txt", "data/metadata/statement.json", "PDF", "signatures/signature.json"],
)
def test_a_fifo_in_a_bag_of_ours_does_not_hang_verify(bag: Path, rel: str) -> None:
    """D6: FIFOs blocked the profile, metadata, PDF and signature checks forever."""
    rel = _pdf(bag) if rel == "PDF" else rel
    target = bag / rel
    target.parent.mkdir(exist_ok=True)
    target.unlink(missing_ok=True)
    os.mkfifo(target)
    done = cli("verify", bag)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "file.special" in done.stdout
    one_clean_line(done)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_as_bag_info_does_not_hang_audit(archive: Path, bag: Path) -> None:
    (bag / "bag-info.txt").unlink()
    os.mkfifo(bag / "bag-info.txt")
    done = cli("audit", archive)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "file.special" in done.stdout


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_as_tsa_roots_is_one_line_not_a_hang(bag: Path, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "roots.pem")
    done = cli("verify", bag, "--tsa-ca", tmp_path / "roots.pem")
    assert done.returncode == 2
    text = one_clean_line(done)
    assert "roots.pem" in text and "FIFO" in text and len(text.splitlines()) == 1


# --------------------------------------------------------------------------- D8-D10 tar


def _header(name: bytes, flag: bytes, size: int, *, extra: bytes = b"") -> bytes:
    """A ustar header block with a correct checksum (``extra`` patched in at 386)."""
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:116] = b"0000000\0"
    block[116:124] = b"0000000\0"
    block[124:136] = f"{size:011o}\0".encode()
    block[136:148] = b"00000000000\0"
    block[156:157] = flag
    block[257:265] = b"ustar\x0000"
    if extra:
        block[257:265] = b"ustar  \0"  # GNU, as sparse members are written
        block[386 : 386 + len(extra)] = extra
    block[148:156] = b" " * 8
    block[148:156] = f"{sum(block):06o}\0 ".encode()
    return bytes(block)


def _bag_members() -> list[tuple[str, bytes]]:
    """The tag files of a valid one-file bag ``b/`` holding data/a.txt."""
    import hashlib

    payload = b"hello\n"
    digest = hashlib.sha256(payload).hexdigest()
    return [
        ("b/bagit.txt", b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"),
        ("b/manifest-sha256.txt", f"{digest}  data/a.txt\n".encode()),
        ("b/data/a.txt", payload),
    ]


def _member(name: str, data: bytes) -> bytes:
    return _header(name.encode(), b"0", len(data)) + data + bytes(-len(data) % 512)


def _gzip_with_huge_header(path: Path, flag: bytes, size: int) -> None:
    """A tar.gz whose first member is a ``flag`` header of ``size`` bytes (zeros, so tiny)."""
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(_header(b"././@LongLink" if flag == b"L" else b"pax", flag, size))
        chunk = bytes(MiB)
        for _ in range(size // MiB):
            out.write(chunk)
        for name, data in _bag_members():
            out.write(_member(name, data))
        out.write(bytes(1024))


@pytest.mark.parametrize("flag", [b"x", b"L"])
def test_huge_pax_or_long_name_header_is_refused_unread(tmp_path: Path, flag: bytes) -> None:
    """D8: a 512 MiB pax header (or GNU long name) in a tiny tar.gz peaked at 1.6 GB."""
    target = tmp_path / "bomb.tar.gz"
    _gzip_with_huge_header(target, flag, 256 * MiB)
    assert target.stat().st_size < 2 * MiB
    found, peak = child(
        f"from preserve.verify import verify_bag\nr = verify_bag({str(target)!r})\n"
        "codes = {p.code for p in r.problems}\n"
        "assert any('extended header' in p.message for p in r.problems), r.problems"
    )
    assert "archive.damaged" in found
    assert peak < 150 * MiB, f"peak RSS {peak:,}: the header was read"


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        # CVE-2024-6232: no newline, so tarfile's regex backtracks from every digit.
        (b"0 hdrcharset=" * 70_000, ["archive.damaged"]),
        # Well-formed, many: read and skipped, the bag after the header is valid.
        (b"21 hdrcharset=BINARY\n" * 40_000, []),
    ],
)
def test_repeated_pax_records_are_parsed_in_linear_time(
    tmp_path: Path, records: bytes, expected: list[str]
) -> None:
    """D9 (CVE-2024-6232): 413 KB of repeated hdrcharset records took tarfile 52 s,
    these 910 KB minutes; the bounded reader takes milliseconds (HANG_GUARD)."""
    assert len(records) < MAX_EXTENDED_HEADER
    raw = _header(b"pax", b"x", len(records)) + records + bytes(-len(records) % 512)
    raw += b"".join(_member(n, d) for n, d in _bag_members()) + bytes(1024)
    target = tmp_path / "pax.tar"
    target.write_bytes(raw)
    found, _ = child(
        f"from preserve.verify import verify_bag\nr = verify_bag({str(target)!r})\n"
        "codes = {p.code for p in r.errors if p.code.startswith('archive')}"
    )
    assert found == expected


def test_sparse_member_is_refused_and_its_hole_never_walked(tmp_path: Path) -> None:
    """D10: a 10 KB GNU sparse tar with a 20 GiB hole took 24 s (time grew with the hole)."""
    hole = 20 << 30
    sparse_map = f"{hole:011o}\0".encode() + f"{1:011o}\0".encode()  # (offset, numbytes)
    realsize = f"{hole + 1:011o}\0".encode()
    extra = sparse_map + bytes(482 - 386 - len(sparse_map)) + b"\0" + realsize
    header = _header(b"b/data/big.bin", b"S", 1, extra=extra)
    raw = b"".join(_member(n, d) for n, d in _bag_members())
    raw += header + b"x" + bytes(511) + bytes(1024)
    target = tmp_path / "sparse.tar"
    target.write_bytes(raw)
    assert target.stat().st_size < 10_000
    result = verify_bag(target)
    assert ("archive.sparse-member", "data/big.bin") in {(p.code, p.path) for p in result.errors}
    assert not result.valid


def test_file_that_is_also_a_directory_in_a_tar(tmp_path: Path) -> None:
    """D26: a regular member b/data beside b/data/a.txt verified valid; tar cannot extract it."""
    raw = b"".join(_member(n, d) for n, d in _bag_members())
    raw = _member("b/data", b"not a folder") + raw + bytes(1024)
    target = tmp_path / "both.tar"
    target.write_bytes(raw)
    result = verify_bag(target)
    assert not result.valid
    assert ("archive.file-and-directory", "data") in {(p.code, p.path) for p in result.errors}


def test_tar_reader_agrees_with_tarfile_on_ordinary_archives(tmp_path: Path) -> None:
    """Long names (pax and GNU), a ustar prefix, directories and links, compressed or not."""
    long = "b/data/" + "d" * 120 + "/" + "n" * 150 + ".txt"
    for fmt, suffix in ((tarfile.PAX_FORMAT, "w:xz"), (tarfile.GNU_FORMAT, "w:bz2")):
        target = tmp_path / f"t{fmt}.tar"
        with tarfile.open(target, suffix, format=fmt) as tf:
            for name, data in [*_bag_members(), (long, b"long\n")]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            link = tarfile.TarInfo("b/data/link")
            link.type = tarfile.SYMTYPE
            link.linkname = "a.txt"
            tf.addfile(link)
        from preserve.verify.tar_reader import iter_members, open_stream

        with open_stream(target) as stream:
            mine = [(m.name, m.kind, m.size) for m in iter_members(stream)]
        with tarfile.open(target) as tf:
            theirs = [
                (m.name, "link" if m.issym() else "file", m.size if m.isreg() else 0) for m in tf
            ]
        assert [(n, k, s if k == "file" else 0) for n, k, s in mine] == theirs
        codes = {p.code for p in verify_bag(target).errors}
        assert codes == {"symlink", "payload.not-in-manifest"}, codes


# --------------------------------------------------------------------------- D11 PDF bomb


def _icc_bomb(source: Path, out: Path, inflated: int) -> None:
    """``source`` with its OutputIntent's ICC profile replaced by ``inflated`` bytes of
    deflate (a real ICC header, then zeros), stored compressed as written."""
    from preserve.pdfa import icc_profile

    deflate = zlib.compressobj(9)
    parts = [deflate.compress(icc_profile()[:128])]
    chunk = bytes(MiB)
    for _ in range(inflated // MiB):
        parts.append(deflate.compress(chunk))
    parts.append(deflate.flush())
    with pikepdf.open(source) as pdf:
        profile = pdf.Root.OutputIntents[0].DestOutputProfile
        profile.write(b"".join(parts), filter=pikepdf.Name.FlateDecode)
        pdf.save(out, stream_decode_level=pikepdf.StreamDecodeLevel.none)


def test_icc_decompression_bomb_is_not_inflated(bag: Path, tmp_path: Path) -> None:
    """D11: a 1.6 MB PDF whose ICC stream inflates to 1.5 GiB: verify peaked at 3 GB."""
    bomb = tmp_path / "bomb.pdf"
    _icc_bomb(bag / _pdf(bag), bomb, 512 * MiB)
    assert bomb.stat().st_size < 2 * MiB
    found, peak = child(
        "from preserve.pdfa import check_pdfa\n"
        f"codes = {{p.code for p in check_pdfa(open({str(bomb)!r}, 'rb').read())}}"
    )
    assert peak < 200 * MiB, f"peak RSS {peak:,}: the ICC stream was inflated"
    assert "pdfa.bad-icc" not in found and "pdfa.icc-version" not in found  # header is sound


def test_content_of_a_file_with_a_wrong_digest_is_not_checked(bag: Path, tmp_path: Path) -> None:
    """D11: the PDF/A checks ran even when the digest had already failed."""
    pdf = bag / _pdf(bag)
    _icc_bomb(pdf, tmp_path / "bomb.pdf", 8 * MiB)
    shutil.copyfile(tmp_path / "bomb.pdf", pdf)
    found = {(p.code, p.path, p.severity.value) for p in cli_verify(bag)}
    assert ("manifest.digest-mismatch", _pdf(bag), "error") in found
    assert ("check.skipped", _pdf(bag), "warning") in found


def cli_verify(bag: Path, *args: str) -> list[object]:
    from preserve.bag_checks import PreserveChecks

    return list(verify_bag(bag, extra_checks=(PreserveChecks(),)).problems)


# --------------------------------------------------------------------------- D24/D25 names


def test_verify_dot_inside_a_bag_uses_the_folder_name(bag: Path) -> None:
    """D24: ``verify .`` compared the identifier with the folder name ''."""
    done = cli("verify", ".", cwd=bag)
    assert done.returncode == 0, done.stdout
    assert "identifier-mismatch" not in done.stdout


def test_symlinked_bag_root_is_refused_in_one_line(bag: Path, tmp_path: Path) -> None:
    """D25: a symlinked bag root was followed, then failed with a Python repr."""
    link = tmp_path / bag.name
    link.symlink_to(bag)
    done = cli("verify", link)
    assert done.returncode == 2, done.stdout
    text = one_clean_line(done)
    assert "symbolic link" in text and str(link) in text


# --------------------------------------------------------------------------- D29 messages


def test_oversized_signature_json_is_over_the_limit_not_missing(bag: Path) -> None:
    (bag / "signatures").mkdir()
    (bag / "signatures" / "signature.json").write_bytes(b" " * (3 * MiB))
    problems = list(check_signatures(bag))
    assert [p.code for p in problems] == [LIMIT_CODE], problems
    assert "missing" not in problems[0].message and "3,145,728 bytes" in problems[0].message


def test_bad_signed_file_name_is_reported_without_a_repr(bag: Path, tmp_path: Path) -> None:
    key = generate_key(tmp_path / "k.key")[0]
    sign_bag(bag, key)
    info_path = bag / "signatures" / "signature.json"
    info = json.loads(info_path.read_text())
    info["signed"][0]["signature"] = "../escape.sig"
    info_path.write_text(json.dumps(info))
    (problem,) = check_signatures(bag)
    assert problem.code == "signature.malformed"
    assert "Error(" not in problem.message and "'../escape.sig' is not a plain file name" in (
        problem.message
    )


@pytest.mark.parametrize("der", [b"0\x03\x02\x01", b"garbage", b"\x30\x82\x00\x10" + bytes(16)])
def test_garbage_timestamp_is_described_without_a_rust_repr(der: bytes) -> None:
    (problem,) = check_timestamp(der, b"data", None)
    assert problem.code == "timestamp.malformed"
    assert "{" not in problem.message and "ParseError" not in problem.message, problem.message


# --------------------------------------------------------------------------- D19 -o targets


def _special_targets(tmp_path: Path) -> list[Path]:
    """A FIFO, a symlink and (as root) a character device, each to be left as it is."""
    targets = []
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.tar")
        targets.append(tmp_path / "fifo.tar")
    (tmp_path / "elsewhere.tar").write_bytes(b"keep")
    (tmp_path / "link.tar").symlink_to(tmp_path / "elsewhere.tar")
    targets.append(tmp_path / "link.tar")
    if hasattr(os, "mknod") and os.geteuid() == 0:
        import stat

        os.mknod(tmp_path / "null.tar", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        targets.append(tmp_path / "null.tar")
    return targets


def test_export_never_replaces_a_fifo_device_or_symlink(bag: Path, tmp_path: Path) -> None:
    """D19: ``export -o`` replaced a FIFO or a device node with a regular file."""
    for target in _special_targets(tmp_path):
        before = os.lstat(target)
        done = cli("export", bag, "-o", target)
        assert done.returncode == 2, (target, done.stdout + done.stderr)
        text = one_clean_line(done)
        assert "not replaced" in text and target.name in text
        after = os.lstat(target)
        assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert (tmp_path / "elsewhere.tar").read_bytes() == b"keep"
    assert not list(tmp_path.glob(".*.part"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_render_never_replaces_a_fifo(tmp_path: Path) -> None:
    """D19: ``render -o`` replaced a FIFO with a regular file."""
    os.mkfifo(tmp_path / "copy.pdf")
    done = cli("render", FIXTURES / "en-annual-report.txt", "-o", tmp_path / "copy.pdf")
    assert done.returncode != 0
    assert "not replaced" in one_clean_line(done)
    assert stat_is_fifo(tmp_path / "copy.pdf")


def stat_is_fifo(path: Path) -> bool:
    import stat

    return stat.S_ISFIFO(os.lstat(path).st_mode)


# --------------------------------------------------------------------------- D2 tag values

LINE_BREAKS = ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1e", "\r", "\n", "\t"]


@pytest.mark.parametrize("char", LINE_BREAKS)
def test_no_line_or_control_character_reaches_a_tag_file(char: str) -> None:
    from preserve.bagit_format import format_bag_info, tag_value

    value = f"Office{char}Payload-Oxum: 1.1"
    with pytest.raises(ValueError, match="line break or control"):
        format_bag_info([("Source-Organization", value)])
    assert tag_value(value) == "Office Payload-Oxum: 1.1"
    format_bag_info([("Source-Organization", tag_value(value))])


def test_sidecar_cannot_smuggle_a_second_payload_oxum(tmp_path: Path) -> None:
    """D2: an organization with U+2028 passed; bagit-python then read two Payload-Oxums."""
    import bagit

    source = tmp_path / "in" / "report.txt"
    source.parent.mkdir()
    shutil.copyfile(FIXTURES / "en-annual-report.txt", source)
    sidecar = json.loads((FIXTURES / "en-annual-report.json").read_text(encoding="utf-8"))
    sidecar["creator"]["organization"] = "Office\u2028Payload-Oxum: 1.1"
    source.with_suffix(".json").write_text(json.dumps(sidecar), encoding="utf-8")
    report = ingest([source], tmp_path / "archive")
    assert report.exit_code == 0, report.as_dict()
    (made,) = (tmp_path / "archive" / "bags").iterdir()
    info = (made / "bag-info.txt").read_text(encoding="utf-8")
    assert "Source-Organization: Office Payload-Oxum: 1.1\n" in info
    assert not any(c in info for c in LINE_BREAKS if c != "\n")
    reference = bagit.Bag(str(made))
    assert isinstance(reference.info["Payload-Oxum"], str)  # one value, not a list
    reference.validate()
    assert verify_bag(made).valid


def test_a_foreign_bag_info_with_a_hidden_line_break_is_an_error(tmp_path: Path) -> None:
    root = write_bag(tmp_path / "bag", {"a.txt": b"a"})
    info = (root / "bag-info.txt").read_text(encoding="utf-8")
    (root / "bag-info.txt").write_text(
        "Source-Organization: Office\u2028Payload-Oxum: 9.9\n" + info, encoding="utf-8"
    )
    codes = {p.code for p in verify_bag(root).errors}
    assert "baginfo.hidden-line-break" in codes


# --------------------------------------------------------------------------- D1 anchors


def _schema_patterns() -> list[tuple[str, str]]:
    from .conftest import REPO

    found: list[tuple[str, str]] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "pattern" and isinstance(value, str):
                    found.append((where, value))
                else:
                    walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    for path in sorted((REPO / "schemas").glob("*.json")):
        walk(json.loads(path.read_text(encoding="utf-8")), path.name)
    return found


@pytest.mark.parametrize(("where", "pattern"), _schema_patterns())
def test_schema_patterns_anchor_the_end_for_python_and_javascript(where: str, pattern: str) -> None:
    """D1: ``$`` matches before a final newline in Python's re (what jsonschema uses):
    "abc\\n" passed the identifier pattern. An end anchor must hold in both dialects."""
    import re

    regress = pytest.importorskip("regress")
    if not pattern.endswith("$"):
        return  # unanchored on purpose ("\\S", "^https?://")
    ecma = regress.Regex(pattern)
    # The shortest string of the pattern's alphabet that it accepts, then with a newline.
    for sample in ("abc", "abc.def", "manifest.digest-mismatch"):
        if re.search(pattern, sample):
            assert ecma.find(sample) is not None, (where, sample)
            assert re.search(pattern, sample + "\n") is None, (where, "python")
            assert ecma.find(sample + "\n") is None, (where, "ecma")
            break
    else:
        pytest.fail(f"{where}: no sample matched {pattern!r}")


def test_identifier_with_a_final_newline_is_a_schema_problem() -> None:
    import jsonschema

    from preserve.metadata import load_schema

    pattern = load_schema()["properties"]["identifier"]["pattern"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("abc\n", {"type": "string", "pattern": pattern})
    jsonschema.validate("abc", {"type": "string", "pattern": pattern})


# --------------------------------------------------------------------------- D5, D21 sidecars


def _folder_of_two(tmp_path: Path) -> Path:
    """A folder with two statements, each with a good sidecar."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a", "b"):
        shutil.copyfile(FIXTURES / "en-annual-report.txt", folder / f"{name}.txt")
        sidecar = json.loads((FIXTURES / "en-annual-report.json").read_text(encoding="utf-8"))
        sidecar["identifier"] = f"report-{name}"
        (folder / f"{name}.json").write_text(json.dumps(sidecar), encoding="utf-8")
    return folder


def _bad_sidecar(kind: str, target: Path, tmp_path: Path) -> str:
    """Make ``target`` a hostile sidecar; the words its one-line refusal must contain."""
    target.unlink()
    if kind == "symlink":
        elsewhere = tmp_path / "elsewhere.json"
        elsewhere.write_text('{"identifier": "taken-from-elsewhere"}', encoding="utf-8")
        target.symlink_to(elsewhere)
        return "symbolic link"
    if kind == "dev-zero":
        target.symlink_to("/dev/zero")
        return "symbolic link"
    if kind == "fifo":
        os.mkfifo(target)
        return "not a regular file"
    if kind == "digits":
        target.write_text('{"identifier": "report-a", "x": ' + "9" * 5000 + "}")
        return "thousands of digits"
    target.write_text('{"identifier": "report-a", "title": "\\ud800"}')
    return "lone surrogate U+D800"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("kind", ["symlink", "dev-zero", "fifo", "digits", "surrogate"])
def test_a_hostile_sidecar_refuses_its_statement_only(tmp_path: Path, kind: str) -> None:
    """D5: a sidecar linked elsewhere was followed; a FIFO or a link to /dev/zero was
    skipped, the statement ingested without its metadata. D21: a 5,000-digit number or
    a lone surrogate raised a traceback and nothing of the folder went in."""
    folder = _folder_of_two(tmp_path)
    words = _bad_sidecar(kind, folder / "a.json", tmp_path)
    done = cli("ingest", folder, "--archive", tmp_path / "archive")
    text = one_clean_line_per_statement(done)
    # Unreadable (link, FIFO): could not run, 2; read and bad (digits, surrogate): 1.
    assert done.returncode == (1 if kind in ("digits", "surrogate") else 2), text
    assert words in text and "a.json" in text
    bags = sorted(p.name for p in (tmp_path / "archive" / "bags").iterdir())
    assert bags == ["report-b"]


def one_clean_line_per_statement(done: subprocess.CompletedProcess[str]) -> str:
    text = (done.stdout + done.stderr).strip()
    assert "Traceback" not in text and "Error(" not in text, text
    return text


# --------------------------------------------------------------------------- the tar reader


def _valid_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in [*_bag_members(), ("b/data/" + "é" * 120 + ".txt", b"x")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_tar_is_a_problem_never_a_crash(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """Bytes flipped anywhere in a tar (headers, pax records, sizes, checksums): the
    bounded reader reports, it never raises anything else or reads past the end."""
    from preserve.errors import UnreadableInput

    raw = bytearray(_valid_tar())
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        del raw[data.draw(st.integers(0, len(raw))) :]
    target = tmp_path_factory.mktemp("fuzz") / "t.tar"
    target.write_bytes(bytes(raw))
    with contextlib.suppress(UnreadableInput):  # not even a tar any more: exit 2, one line
        verify_bag(target)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_export_reads_a_fifo_swapped_in_after_listing_without_hanging(tmp_path: Path) -> None:
    """The export listed the bag, then opened each file without O_NONBLOCK: a FIFO put
    in a file's place between the two blocked it forever."""
    os.mkfifo(tmp_path / "bag-info.txt")
    code = (
        "from pathlib import Path\nfrom preserve import export\n"
        f"p = Path({str(tmp_path / 'bag-info.txt')!r})\n"
        "try:\n    export._open_member(export._Member('b/bag-info.txt', p, False, 0))\n"
        "except OSError as e:\n    print('refused', e)\n"
        "try:\n    export._read_small(p)\nexcept OSError as e:\n    print('refused', e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.stdout.count("refused") == 2, done.stdout + done.stderr
