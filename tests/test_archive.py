"""Ingest into an archive: real bags (validated by the bagit library), ledger, search."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bagit
import pytest
from click.testing import CliRunner

from preserve import ledger
from preserve.archive import IngestOptions, Status, ingest
from preserve.cli import cli
from preserve.search import search

from .conftest import FIXTURES

ENGLISH = FIXTURES / "en-annual-report.txt"


def statement_text(i: int, title: str = "Library opening hours extended") -> str:
    return (
        f"{title} (notice {i})\n\n"
        "The public library will open on Sundays from next month, so that people who work "
        "during the week can borrow books and use the reading room.\n\n"
        f"Visitors are welcome from 10:00 to 16:00. This is notice number {i}.\n\n"
        "Jane Doe\nOmbudsman of Springfield\n\n1 March 2024\n\nSearch in archive\n"
    )


def make_statements(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"notice-{i:03d}.txt"
        path.write_text(statement_text(i), encoding="utf-8")
        paths.append(path)
    return paths


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def bag_dirs(archive: Path) -> list[Path]:
    if not (archive / "bags").is_dir():
        return []
    return sorted(p for p in (archive / "bags").iterdir())


def test_ingest_makes_a_valid_bagit_1_0_bag(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    report = ingest([ENGLISH], archive)
    assert report.exit_code == 0, report.as_dict()
    (result,) = report.results
    assert result.status is Status.ingested
    bag_dir = archive / str(result.bag)
    bag = bagit.Bag(str(bag_dir))
    bag.validate()  # raises on any problem
    assert (bag_dir / "bagit.txt").read_bytes() == (
        b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    )
    assert set(bag.algorithms) == {"sha256", "sha512"}
    # The original bytes, exactly as received.
    assert (bag_dir / "data/original/en-annual-report.txt").read_bytes() == ENGLISH.read_bytes()
    record = json.loads((bag_dir / "data/metadata/statement.json").read_bytes())
    assert record["identifier"] == result.identifier == bag_dir.name
    pdf = (bag_dir / f"data/pdfa/{bag_dir.name}.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    info = bag.info
    # Source-Organization names the archive's institution, absent until settings name it
    # (test_profile.py: test_source_organization_is_the_archive_institution).
    assert "Source-Organization" not in info
    for field in (
        "External-Identifier",
        "External-Description",
        "Bagging-Date",
        "Bag-Software-Agent",
        "Payload-Oxum",
        "Bag-Size",
        "BagIt-Profile-Identifier",
    ):
        assert info.get(field), field
    assert info["External-Identifier"] == bag_dir.name
    creator = record["creator"]
    issuer = creator.get("organization") or record.get("publisher") or creator["name"]
    assert info["External-Description"] == f"{record['title']} ({issuer})"


def test_bag_validates_with_the_bagit_command_line(tmp_path: Path) -> None:
    report = ingest([ENGLISH], tmp_path / "a")
    bag_dir = tmp_path / "a" / str(report.results[0].bag)
    run = subprocess.run(
        [sys.executable, "-m", "bagit", "--validate", str(bag_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr


def test_metadata_csv_and_premis_describe_the_payload(tmp_path: Path) -> None:
    report = ingest([ENGLISH], tmp_path / "a")
    bag_dir = tmp_path / "a" / str(report.results[0].bag)
    lines = (bag_dir / "data/metadata/metadata.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    assert header[0] == "filename" and "dc.title" in header and "dcterms.issued" in header
    assert lines[1].startswith("objects/original/en-annual-report.txt,")
    assert any(line.startswith(f"objects/pdfa/{bag_dir.name}.pdf,") for line in lines)
    ns = {"p": "http://www.loc.gov/premis/v3"}
    root = ET.parse(bag_dir / "premis.xml").getroot()
    types = [e.text for e in root.findall("p:event/p:eventType", ns)]
    assert types == [
        "validation",
        "normalization",
        "validation",
        "message digest calculation",
        "ingestion",
    ]
    # the render's self-check, recorded: the copy's text read back with PDFium
    check = root.findall("p:event", ns)[2]
    detail = check.find("p:eventDetailInformation/p:eventDetail", ns)
    assert detail is not None and detail.text is not None
    assert re.fullmatch(
        r"text of the PDF/A copy read back with PDFium \S+ \(pypdfium2 \S+\): \d+ words, "
        r"identical to the statement's derived text",
        detail.text,
    ), detail.text
    assert check.findtext("p:eventOutcomeInformation/p:eventOutcome", None, ns) == "pass"
    # the rendering names each embedded font file with its SHA-256, so a re-render
    # can be checked against the same fonts
    rendered = root.findall("p:event", ns)[1].findtext(
        "p:eventDetailInformation/p:eventDetail", "", ns
    )
    named = re.findall(r"(\S+) (\S+\.tt[fc]) sha256:([0-9a-f]{64}) \((\S+)\)", rendered)
    assert named and {name for name, *_ in named} >= {"NotoSerif", "NotoSerif-Bold"}, rendered
    from preserve.render.fonts import FONT_DIR

    for _name, file, digest, source in named:
        if source == "vendored":
            assert hashlib.sha256((FONT_DIR / file).read_bytes()).hexdigest() == digest
    keys = {
        o.find("p:objectIdentifier/p:objectIdentifierValue", ns).text: o.find(  # type: ignore[union-attr]
            "p:objectCharacteristics/p:format/p:formatRegistry/p:formatRegistryKey", ns
        ).text  # type: ignore[union-attr]
        for o in root.findall("p:object", ns)
    }
    assert keys["data/original/en-annual-report.txt"] == "x-fmt/111"
    assert keys["data/metadata/statement.json"] == "fmt/817"
    assert (
        keys[f"data/pdfa/{bag_dir.name}.pdf"] == "fmt/476"
    )  # PDF/A-2a (tagged, PDF/UA-1), the default


def test_ledger_records_relative_paths_and_tagmanifest_digests(tmp_path: Path) -> None:
    archive = tmp_path / "a"
    report = ingest([ENGLISH], archive)
    identifier = str(report.results[0].identifier)
    db = ledger.connect(archive, readonly=True)
    bag = ledger.get_bag(db, identifier)
    db.close()
    assert bag is not None and bag.state == "published"
    assert bag.path == f"bags/{identifier}"
    assert set(bag.tagmanifest_digests) == {"tagmanifest-sha256.txt", "tagmanifest-sha512.txt"}
    for name, digest in bag.tagmanifest_digests.items():
        assert hashlib.sha256((archive / bag.path / name).read_bytes()).hexdigest() == digest
    assert bag.statement_sha256 == hashlib.sha256(ENGLISH.read_bytes()).hexdigest()


def test_reingest_is_idempotent_and_writes_nothing(tmp_path: Path) -> None:
    archive = tmp_path / "a"
    ingest([ENGLISH], archive)
    before = tree_digest(archive / "bags")
    with sqlite3.connect(archive / "ledger.sqlite") as db:
        events_before = db.execute("SELECT count(*) FROM events").fetchone()[0]
    report = ingest([ENGLISH], archive)
    (result,) = report.results
    assert result.status is Status.already_archived
    assert result.message == f"already archived as {result.identifier}"
    assert report.exit_code == 0
    assert tree_digest(archive / "bags") == before
    with sqlite3.connect(archive / "ledger.sqlite") as db:
        assert db.execute("SELECT count(*) FROM events").fetchone()[0] == events_before


def test_identifier_collision_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "a"
    first = tmp_path / "one.txt"
    first.write_text(statement_text(1), encoding="utf-8")
    (tmp_path / "one.json").write_text(json.dumps({"identifier": "shared-id"}), encoding="utf-8")
    assert ingest([first], archive).exit_code == 0
    before = tree_digest(archive / "bags")
    second = tmp_path / "two.txt"
    second.write_text(statement_text(2), encoding="utf-8")
    (tmp_path / "two.json").write_text(json.dumps({"identifier": "shared-id"}), encoding="utf-8")
    report = ingest([second], archive)
    (result,) = report.results
    assert result.status is Status.failed and report.exit_code == 1
    assert "identifier 'shared-id' is taken by a different statement" in result.message
    assert tree_digest(archive / "bags") == before


def test_batch_goes_on_past_a_bad_statement_and_fail_fast_stops(tmp_path: Path) -> None:
    good = make_statements(tmp_path / "in", 3)
    bad = tmp_path / "in" / "notice-001.txt"
    bad.write_bytes(b"\xff\xfe not utf-8")
    report = ingest([tmp_path / "in"], tmp_path / "a", IngestOptions(workers=2))
    statuses = {Path(r.source).name: r.status for r in report.results}
    assert statuses == {
        "notice-000.txt": Status.ingested,
        "notice-001.txt": Status.failed,
        "notice-002.txt": Status.ingested,
    }
    assert report.exit_code == 1
    assert len(bag_dirs(tmp_path / "a")) == 2
    report = ingest(good, tmp_path / "b", IngestOptions(fail_fast=True))
    assert {Path(r.source).name: r.status for r in report.results} == {
        "notice-000.txt": Status.ingested,
        "notice-001.txt": Status.failed,
    }
    assert len(bag_dirs(tmp_path / "b")) == 1


def test_symlinks_in_an_input_folder_are_not_followed(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    make_statements(folder, 1)
    outside = tmp_path / "outside.txt"
    outside.write_text(statement_text(99), encoding="utf-8")
    (folder / "link.txt").symlink_to(outside)
    report = ingest([folder], tmp_path / "a")
    assert [Path(r.source).name for r in report.results] == ["notice-000.txt"]


def test_archive_path_that_is_a_file_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "archive"
    not_a_dir.write_text("x")
    result = CliRunner().invoke(cli, ["ingest", str(ENGLISH), "--archive", str(not_a_dir)])
    assert result.exit_code == 2
    assert "archive path exists and is not a directory" in result.output
    assert not_a_dir.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive"]


def test_invalid_statement_exits_1_and_stages_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"")
    result = CliRunner().invoke(cli, ["ingest", str(bad), "--archive", str(tmp_path / "a")])
    assert result.exit_code == 1
    assert "statement is empty" in result.output
    assert not list((tmp_path / "a" / "bags").iterdir())
    assert not list((tmp_path / "a" / "staging").iterdir())


def test_cli_ingest_json_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["ingest", str(ENGLISH), "--archive", str(tmp_path / "a"), "--json"]
    )
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.output)
    assert report["ingested"] == 1 and report["results"][0]["status"] == "ingested"


def test_archive_is_relocatable(tmp_path: Path) -> None:
    ingest([ENGLISH], tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "moved", symlinks=True)
    shutil.rmtree(tmp_path / "a")
    hits = search(tmp_path / "moved", "annual report")
    assert hits
    db = ledger.connect(tmp_path / "moved", readonly=True)
    (bag,) = ledger.all_bags(db)
    db.close()
    bagit.Bag(str(tmp_path / "moved" / bag.path)).validate()


@pytest.mark.parametrize(
    ("fixture", "query"),
    [
        ("az-hotline.txt", "hüquqları"),
        ("ru-school-visit.txt", "школ"),
        ("hy-library-access.txt", "գրադարան"),
    ],
)
def test_search_finds_words_in_each_script(tmp_path: Path, fixture: str, query: str) -> None:
    archive = tmp_path / "a"
    report = ingest([FIXTURES / fixture, ENGLISH], archive)
    assert report.exit_code == 0, report.as_dict()
    hits = search(archive, query)
    expected = next(r.identifier for r in report.results if r.source.endswith(fixture))
    assert [h.identifier for h in hits] == [expected]
    assert "[" in hits[0].snippet


def test_search_query_syntax_is_data(tmp_path: Path) -> None:
    ingest([ENGLISH], tmp_path / "a")
    assert search(tmp_path / "a", 'annual" OR NEAR(x') == search(tmp_path / "a", "annual OR NEAR x")


# --------------------------------------------------------------------------- crashes


def _ingest_process(inputs: Path, archive: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "preserve",
            "-q",
            "ingest",
            str(inputs),
            "--archive",
            str(archive),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _assert_only_complete_bags(archive: Path) -> None:
    for bag_dir in bag_dirs(archive):
        bagit.Bag(str(bag_dir)).validate()


def _kill_when(process: subprocess.Popen[bytes], ready: Callable[[], bool]) -> None:
    """SIGKILL the process as soon as ``ready()`` holds (or when it exits by itself)."""
    deadline = time.monotonic() + 120
    while process.poll() is None and not ready() and time.monotonic() < deadline:
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.wait()


def _count(folder: Path) -> int:
    try:
        return sum(1 for _ in folder.iterdir())
    except FileNotFoundError:
        return 0


KILL_POINTS: dict[str, Callable[[Path], bool]] = {
    # while the first bag is being written in staging/
    "first-staging": lambda a: _count(a / "staging") > 0,
    # right after the ledger's first 'publishing' row (before or after the rename)
    "first-publish": lambda a: _count(a / "bags") >= 1,
    "third-publish": lambda a: _count(a / "bags") >= 3,
    "mid-batch": lambda a: _count(a / "bags") >= 6 and _count(a / "staging") > 0,
    "late-batch": lambda a: _count(a / "bags") >= 10,
}


@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_sigkill_mid_ingest_never_leaves_a_partial_bag(tmp_path: Path, point: str) -> None:
    inputs = tmp_path / "in"
    make_statements(inputs, 12)
    archive = tmp_path / "a"
    process = _ingest_process(inputs, archive)
    _kill_when(process, lambda: KILL_POINTS[point](archive))
    _assert_only_complete_bags(archive)
    # The next run cleans up, finishes what was interrupted, and ingests the rest.
    report = ingest([inputs], archive)
    assert report.exit_code == 0, report.as_dict()
    assert len(bag_dirs(archive)) == 12
    assert not list((archive / "staging").iterdir())
    _assert_only_complete_bags(archive)
    db = ledger.connect(archive, readonly=True)
    rows = ledger.all_bags(db)
    db.close()
    assert {b.path for b in rows} == {f"bags/{p.name}" for p in bag_dirs(archive)}
    assert {b.state for b in rows} == {"published"}


def test_concurrent_ingests_into_one_archive(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    make_statements(first, 6)
    for i in range(6, 12):
        (second).mkdir(exist_ok=True)
        (second / f"n{i}.txt").write_text(statement_text(i), encoding="utf-8")
    archive = tmp_path / "a"
    ingest([ENGLISH], archive)  # create it first, as a cron job would find it
    procs = [_ingest_process(first, archive), _ingest_process(second, archive)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    assert len(bag_dirs(archive)) == 13
    _assert_only_complete_bags(archive)
    if os.name == "posix":
        assert not list((archive / "staging").iterdir())
