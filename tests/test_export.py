"""preserve.export: serialized bags unpack to the same, valid bag, byte for byte, every time."""

from __future__ import annotations

import calendar
import datetime as dt
import gzip
import json
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import bagit
import pytest

from preserve.errors import ArchiveError, InputError, UnreadableInput
from preserve.export import EARLIEST, ExportFormat, export_bag
from preserve.profile import check_serialization

IDENT = "office-of-the-ombudsman-2024-02-23-annual-report"
BAGGING_DATE = "2024-02-23"
STAMP = calendar.timegm(dt.date(2024, 2, 23).timetuple())


@pytest.fixture
def bag(tmp_path: Path) -> Path:
    """A valid BagIt 1.0 bag with nested folders and non-ASCII, spaced file names."""
    bag_dir = tmp_path / "bags" / IDENT
    files = {
        "original/Déclaration du médiateur.txt": "Texte reçu tel quel\n".encode(),
        "metadata/statement.json": b'{"identifier": "x"}\n',
        "metadata/metadata.csv": b"filename,dc.title\n",
        f"pdfa/{IDENT}.pdf": b"%PDF-1.7\n" + bytes(range(256)) * 64 + b"%%EOF\n",
    }
    for rel, content in files.items():
        target = bag_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    bagit.make_bag(
        str(bag_dir),
        bag_info={"Bagging-Date": BAGGING_DATE, "External-Identifier": IDENT},
        checksums=["sha256", "sha512"],
    )
    (bag_dir / "bagit.txt").write_bytes(b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    (bag_dir / "premis.xml").write_bytes(b"<premis/>\n")
    bagit.Bag(str(bag_dir)).save()
    bagit.Bag(str(bag_dir)).validate()
    return bag_dir


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under root → its bytes (None for a folder)."""
    return {
        p.relative_to(root).as_posix(): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
    }


def unpack(archive: Path, fmt: ExportFormat, dest: Path) -> None:
    dest.mkdir()
    if fmt is ExportFormat.zip:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)
    else:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_export_unpacks_to_the_same_valid_bag(tmp_path: Path, bag: Path, fmt: ExportFormat) -> None:
    out = tmp_path / f"{IDENT}{fmt.suffix}"
    result = export_bag(bag, out, fmt)
    assert result.path == out.resolve() and out.is_file()
    assert result.size == out.stat().st_size
    assert result.top == IDENT
    assert result.files == sum(1 for p in bag.rglob("*") if p.is_file())
    dest = tmp_path / "unpacked"
    unpack(out, fmt, dest)
    assert [p.name for p in dest.iterdir()] == [IDENT]  # one top-level folder, named as the bag
    bagit.Bag(str(dest / IDENT)).validate()
    assert tree(dest / IDENT) == tree(bag)
    assert check_serialization(out) == []  # our profile accepts every format we write


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_plain_export_keeps_the_bag_folder_and_a_given_top_is_used(
    tmp_path: Path, bag: Path, fmt: ExportFormat
) -> None:
    """The serializer alone keeps the bag's own folder, whatever the file is called; callers
    pass ``top`` (``export_plain`` and the profiles: the file's name)."""
    plain = export_bag(bag, tmp_path / f"renamed{fmt.suffix}", fmt)
    assert plain.top == IDENT
    out = tmp_path / f"other{fmt.suffix}"
    assert export_bag(bag, out, fmt, top="other").top == "other"
    dest = tmp_path / "unpacked"
    unpack(out, fmt, dest)
    assert [p.name for p in dest.iterdir()] == ["other"]
    assert tree(dest / "other") == tree(bag)


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_exports_are_byte_identical(tmp_path: Path, bag: Path, fmt: ExportFormat) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = export_bag(bag, tmp_path / "a" / f"x{fmt.suffix}", fmt)
    os.utime(bag / "bag-info.txt", (0, 0))  # file times must not leak into the export
    second = export_bag(bag, tmp_path / "b" / f"x{fmt.suffix}", fmt)
    a_bytes = (tmp_path / "a" / f"x{fmt.suffix}").read_bytes()
    assert a_bytes == (tmp_path / "b" / f"x{fmt.suffix}").read_bytes()
    assert first.sha256 == second.sha256


def test_tar_members_are_sorted_anonymous_and_stamped(tmp_path: Path, bag: Path) -> None:
    out = tmp_path / f"{IDENT}.tar"
    result = export_bag(bag, out, ExportFormat.tar)
    assert result.mtime == STAMP
    with tarfile.open(out) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names[0] == IDENT
    assert names == sorted(names, key=lambda n: n.split("/"))
    assert f"{IDENT}/data/original/Déclaration du médiateur.txt" in names
    for m in members:
        assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", STAMP)
        assert m.mode == (0o755 if m.isdir() else 0o644)
        assert m.isdir() or m.isfile()


def test_tar_gz_header_has_no_name_and_a_fixed_time(tmp_path: Path, bag: Path) -> None:
    out = tmp_path / f"{IDENT}.tar.gz"
    export_bag(bag, out, ExportFormat.tar_gz)
    header = out.read_bytes()[:10]
    assert header[:2] == b"\x1f\x8b"
    assert int.from_bytes(header[4:8], "little") == STAMP
    assert header[3] & 0x08 == 0  # FNAME flag unset: no file name inside
    assert gzip.decompress(out.read_bytes())[: len(IDENT)] == IDENT.encode()


def test_zip_entries_are_sorted_and_stamped(tmp_path: Path, bag: Path) -> None:
    out = tmp_path / f"{IDENT}.zip"
    export_bag(bag, out, ExportFormat.zip)
    with zipfile.ZipFile(out) as zf:
        infos = zf.infolist()
        assert zf.testzip() is None
    names = [i.filename for i in infos]
    assert names[0] == f"{IDENT}/"
    assert names == sorted(names, key=lambda n: n.rstrip("/").split("/"))
    for info in infos:
        assert info.date_time == (2024, 2, 23, 0, 0, 0)
        assert info.create_system == 3
        assert info.external_attr >> 16 == (0o40755 if info.is_dir() else 0o100644)


def test_format_follows_the_name(tmp_path: Path, bag: Path) -> None:
    assert export_bag(bag, tmp_path / "x.tgz").format is ExportFormat.tar_gz
    assert export_bag(bag, tmp_path / "x.ZIP").format is ExportFormat.zip
    with pytest.raises(InputError, match="cannot tell the format"):
        export_bag(bag, tmp_path / "x.rar")


def test_missing_or_odd_bagging_date_falls_back_to_1980(tmp_path: Path, bag: Path) -> None:
    info = bag / "bag-info.txt"
    info.write_text(
        info.read_text(encoding="utf-8").replace(BAGGING_DATE, "1970-01-01"), encoding="utf-8"
    )
    earliest = calendar.timegm(EARLIEST.timetuple())
    assert export_bag(bag, tmp_path / "a.zip").mtime == earliest
    info.write_text("Bagging-Date: someday\n", encoding="utf-8")
    assert export_bag(bag, tmp_path / "b.tar").mtime == earliest


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks here")
def test_symlink_in_the_bag_is_refused(tmp_path: Path, bag: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not for export")
    (bag / "data" / "link.txt").symlink_to(secret)
    out = tmp_path / "bag.tar"
    with pytest.raises(InputError, match="symlink") as info:
        export_bag(bag, out, ExportFormat.tar)
    assert info.value.path == str(bag / "data" / "link.txt")
    assert sorted(tmp_path.iterdir()) == [tmp_path / "bags", secret]  # nothing left behind


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks here")
def test_symlinked_bag_is_refused(tmp_path: Path, bag: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(bag, target_is_directory=True)
    with pytest.raises(InputError, match="symlink"):
        export_bag(link, tmp_path / "bag.zip", ExportFormat.zip)


def test_refuses_to_write_inside_the_bag(bag: Path) -> None:
    for out in (bag / "self.tar", bag / "data" / "self.zip", bag / ".." / IDENT / "x.tar"):
        with pytest.raises(InputError, match="inside the bag"):
            export_bag(bag, out)
        assert not out.exists()


def test_existing_output_is_replaced_atomically(tmp_path: Path, bag: Path) -> None:
    out = tmp_path / "bag.zip"
    out.write_bytes(b"old")
    before = out.stat().st_ino
    export_bag(bag, out, ExportFormat.zip)
    assert out.stat().st_ino != before  # a new file renamed over, not the old one rewritten
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bag.zip", "bags"]
    assert out.stat().st_mode & 0o777 == 0o644


def test_failed_export_leaves_old_output_and_no_temp(
    tmp_path: Path, bag: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "bag.tar"
    out.write_bytes(b"old")

    def boom(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("preserve.export.serialize._write_tar", boom)
    with pytest.raises(ArchiveError, match="No space left") as info:
        export_bag(bag, out, ExportFormat.tar)
    assert info.value.path == str(out.resolve())
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bag.tar", "bags"]


def test_unreadable_file_is_unreadable_input(
    tmp_path: Path, bag: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = bag / "data" / "metadata" / "statement.json"
    real_open = os.open

    def deny(path: object, *args: object, **kwargs: object) -> int:
        if Path(str(path)) == victim:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("preserve.export.serialize.os.open", deny)
    with pytest.raises(UnreadableInput, match="Permission denied") as info:
        export_bag(bag, tmp_path / "bag.tar")
    assert info.value.path == str(victim)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bags"]


def test_file_that_changes_size_is_unreadable_input(
    tmp_path: Path, bag: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from preserve.export import serialize as export

    real = export._walk

    def growing(folder: Path, prefix: str):  # type: ignore[no-untyped-def]
        for member in real(folder, prefix):
            yield member
            if member.name.endswith("premis.xml"):
                member.source.write_bytes(b"<premis>grown</premis>\n")

    monkeypatch.setattr(export, "_walk", growing)
    with pytest.raises(UnreadableInput, match="changed while exporting"):
        export_bag(bag, tmp_path / "bag.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bags"]


def test_input_and_output_errors(tmp_path: Path, bag: Path) -> None:
    with pytest.raises(UnreadableInput, match="no such bag"):
        export_bag(tmp_path / "absent", tmp_path / "x.tar")
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputError, match=r"no bagit\.txt"):
        export_bag(tmp_path / "plain", tmp_path / "x.tar")
    with pytest.raises(ArchiveError, match="does not exist"):
        export_bag(bag, tmp_path / "nowhere" / "x.tar")
    (tmp_path / "taken.tar").mkdir()
    with pytest.raises(ArchiveError, match="is a directory"):
        export_bag(bag, tmp_path / "taken.tar")


def test_special_file_is_refused(tmp_path: Path, bag: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    os.mkfifo(bag / "data" / "pipe")
    with pytest.raises(InputError, match="not a regular file"):
        export_bag(bag, tmp_path / "bag.tar")


def test_result_as_dict(tmp_path: Path, bag: Path) -> None:
    result = export_bag(bag, tmp_path / "bag.tar.gz")
    doc = result.as_dict()
    assert doc["format"] == "tar.gz" and doc["mime"] == "application/gzip"
    assert doc["sha256"] == result.sha256 and len(result.sha256) == 64
    assert doc["path"] == str(tmp_path.resolve() / "bag.tar.gz")


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_preserve_verifier_accepts_the_serialized_bag(
    tmp_path: Path, bag: Path, fmt: ExportFormat
) -> None:
    verify = pytest.importorskip("preserve.verify")
    out = export_bag(bag, tmp_path / f"bag{fmt.suffix}", fmt).path
    result = verify.verify_bag(out)
    assert result.valid, [p.one_line() for p in result.errors]
    assert result.version == "1.0" and result.algorithms == ("sha256", "sha512")


def test_cli_export(tmp_path: Path, bag: Path) -> None:
    from click.testing import CliRunner

    from preserve.cli import cli

    runner = CliRunner()
    out = tmp_path / "bag.zip"
    result = runner.invoke(cli, ["export", str(bag), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["format"] == "zip" and doc["path"] == str(out.resolve())
    result = runner.invoke(cli, ["export", str(bag), "--format", "tar", "-o", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert tarfile.is_tarfile(tmp_path / "b")
    result = runner.invoke(cli, ["export", str(bag), "-o", str(bag / "inside.tar")])
    assert result.exit_code == 1
    assert "inside the bag" in result.output
    result = runner.invoke(cli, ["export", str(tmp_path / "absent"), "-o", str(out)])
    assert result.exit_code == 2


# --------------------------------------------------------------------------- named by the file


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive holding one statement bag of ours (it claims our profile)."""
    from preserve.archive import ingest

    from .conftest import FIXTURES

    root = tmp_path_factory.mktemp("export-plain")
    report = ingest([FIXTURES / "en-annual-report.txt"], root / "archive")
    assert report.exit_code == 0, report.as_dict()
    return root / "archive"


@pytest.fixture
def ours(archive: Path) -> Path:
    (only,) = (archive / "bags").iterdir()
    return only


def unpack_one(out: Path, dest: Path) -> Path:
    """Unpack; the single top-level folder inside."""
    unpack(out, ExportFormat.from_path(out) or ExportFormat.tar, dest)
    (top,) = dest.iterdir()
    return top


def verify_cli(*args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from preserve.cli import cli

    done = CliRunner().invoke(cli, ["verify", *args])
    return done.exit_code, done.output


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".zip"])
def test_a_renamed_plain_export_unpacks_to_a_folder_named_as_the_file(
    tmp_path: Path, ours: Path, suffix: str
) -> None:
    """Regression: ``export BAG -o renamed.tar`` wrote a ``<bag-id>/`` folder."""
    from click.testing import CliRunner

    from preserve.cli import cli

    before = tree(ours)
    out = tmp_path / f"renamed{suffix}"
    done = CliRunner().invoke(cli, ["export", str(ours), "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert "added bag-info.txt:Internal-Sender-Identifier: renamed" in done.output
    copy = unpack_one(out, tmp_path / "unpacked")
    assert copy.name == "renamed"
    bagit.Bag(str(copy)).validate()
    code, text = verify_cli(str(copy))
    assert code == 0 and text.startswith("VALID"), text
    code, text = verify_cli(str(out))  # the file itself, streamed
    assert code == 0 and text.startswith("VALID"), text
    # The payload is the bag's, byte for byte; only bag-info and the tag manifests differ.
    copied = tree(copy)
    differ = sorted(k for k in before if copied.get(k) != before[k])
    assert differ == ["bag-info.txt", "tagmanifest-sha256.txt", "tagmanifest-sha512.txt"]
    assert (copy / "bag-info.txt").read_bytes().endswith(b"Internal-Sender-Identifier: renamed\n")
    assert tree(ours) == before  # the archived bag is only read


def test_a_folder_renamed_by_hand_is_still_a_mismatch(tmp_path: Path, ours: Path) -> None:
    """Only a declared name is accepted: moving a bag to another name is still reported."""
    moved = tmp_path / "someone-else"
    shutil.copytree(ours, moved)
    code, text = verify_cli(str(moved))
    assert code == 1 and "metadata.identifier-mismatch" in text


def test_an_export_under_the_bags_own_name_is_unchanged_and_keeps_its_signature(
    tmp_path: Path, ours: Path
) -> None:
    from preserve.export.plain import export_plain
    from preserve.keys import generate_key
    from preserve.signing import sign_archived_bag

    key, public = generate_key(tmp_path / "k.key")
    sign_archived_bag(ours, key)
    done = export_plain(ours, tmp_path / f"{ours.name}.tar")
    assert (done.renamed_from, done.signature, done.changes) == (None, "kept", ())
    copy = unpack_one(done.result.path, tmp_path / "unpacked")
    assert tree(copy) == tree(ours)
    code, text = verify_cli("--trusted-key", str(public), str(done.result.path))
    assert code == 0 and text.startswith("VALID"), text


@pytest.mark.parametrize("suffix", [".tar", ".zip"])
def test_a_renamed_signed_export_drops_the_signature_and_says_why(
    tmp_path: Path, ours: Path, suffix: str
) -> None:
    import xml.etree.ElementTree as ET

    from preserve.export.plain import export_plain
    from preserve.keys import generate_key
    from preserve.premis import PREMIS_NS
    from preserve.signing import sign_archived_bag

    key, _ = generate_key(tmp_path / "k.key")
    sign_archived_bag(ours, key)
    done = export_plain(ours, tmp_path / f"for-them{suffix}")
    assert done.signature == "dropped" and done.renamed_from == ours.name
    assert any(c.kind == "dropped" and c.path == "signatures/" for c in done.changes)
    copy = unpack_one(done.result.path, tmp_path / "unpacked")
    assert not (copy / "signatures").exists()
    details = [
        e.findtext(f".//{{{PREMIS_NS}}}eventDetail") or ""
        for e in ET.parse(copy / "premis.xml").getroot().iter(f"{{{PREMIS_NS}}}event")
    ]
    assert any(d.startswith("Digital signature dropped") for d in details)
    bagit.Bag(str(copy)).validate()
    code, text = verify_cli(str(copy))
    assert code == 0 and text.startswith("VALID"), text
    assert (ours / "signatures" / "signature.json").is_file()  # the archived bag keeps it


@pytest.mark.parametrize("suffix", [".tar.gz", ".zip"])
def test_a_renamed_signed_export_is_resigned_with_the_key_given(
    tmp_path: Path, ours: Path, suffix: str
) -> None:
    from click.testing import CliRunner

    from preserve.cli import cli
    from preserve.keys import generate_key
    from preserve.signing import Trust, check_signatures, sign_archived_bag

    first, _ = generate_key(tmp_path / "first.key")
    sign_archived_bag(ours, first)
    out = tmp_path / f"for-them{suffix}"
    archive_key = tmp_path / "archive.key"
    made = CliRunner().invoke(cli, ["keys", "init", str(archive_key)])
    assert made.exit_code == 0, made.output
    done = CliRunner().invoke(
        cli, ["export", str(ours), "-o", str(out), "--key", str(archive_key), "--json"]
    )
    assert done.exit_code == 0, done.output
    doc = json.loads(done.output)
    assert doc["signature"] == "re-signed" and doc["top"] == "for-them"
    copy = unpack_one(out, tmp_path / "unpacked")
    public = tmp_path / "archive.pub.pem"
    assert list(check_signatures(copy, Trust.from_files([public]))) == []
    code, text = verify_cli("--trusted-key", str(public), str(out))
    assert code == 0 and text.startswith("VALID"), text
    bagit.Bag(str(copy)).validate()


def test_an_invalid_bag_or_a_name_that_breaks_bag_info_is_not_renamed(
    tmp_path: Path, ours: Path
) -> None:
    from preserve.export.plain import export_plain

    with pytest.raises(InputError, match="printable on one line"):
        export_plain(ours, tmp_path / "two\nlines.tar")
    (ours / "data" / "metadata" / "statement.json").write_bytes(b"{}")
    with pytest.raises(InputError, match="not a valid bag"):
        export_plain(ours, tmp_path / "renamed.tar")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive"]
