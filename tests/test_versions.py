"""Language versions of one statement: linked by ledger events and PREMIS, never in a bag."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from preserve import archive as archive_mod
from preserve.cli import cli

PREMIS = "{http://www.loc.gov/premis/v3}"

TEXTS = {
    "en": (
        "Library opens a reading garden\n\n"
        "The city library opened a reading garden for visitors of all ages on Wednesday. "
        "The garden has benches, shade and a small collection of books for reading outdoors.\n\n"
        "Books may be borrowed with a library card, and the garden is open every day from "
        "nine in the morning until sunset.\n\n"
        "Anna Example\nDirector of the City Library\n\n5 June 2024\n"
    ),
    "az": (
        "Kitabxana oxu bağı açır\n\n"
        "Şəhər kitabxanası çərşənbə günü bütün yaşlardan olan ziyarətçilər üçün oxu bağı açdı. "
        "Bağda skamyalar, kölgə və açıq havada oxumaq üçün kiçik kitab kolleksiyası var.\n\n"
        "Kitabları kitabxana kartı ilə götürmək olar, bağ hər gün səhər saat doqquzdan gün "
        "batana qədər açıqdır.\n\n"
        "Anna Nümunəova\nŞəhər Kitabxanasının direktoru\n\n5 iyun 2024\n"
    ),
    "ru": (
        "Библиотека открывает читальный сад\n\n"
        "Городская библиотека открыла в среду читальный сад для посетителей всех возрастов. "
        "В саду есть скамейки, тень и небольшая коллекция книг для чтения на свежем воздухе.\n\n"
        "Книги можно брать по читательскому билету, сад открыт каждый день с девяти утра "
        "до заката.\n\n"
        "Анна Примерова\nДиректор городской библиотеки\n\n5 июня 2024\n"
    ),
}
ORGANIZATION = "City Library"


def write(folder: Path, language: str, **sidecar: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"garden-{language}.txt"
    path.write_text(TEXTS[language], encoding="utf-8")
    record = {
        "identifier": f"city-library-2024-06-05-garden-{language}",
        "creator": {"organization": ORGANIZATION},
        **sidecar,
    }
    path.with_suffix(".json").write_text(json.dumps(record), encoding="utf-8")
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def tagmanifest(bag: Path) -> str:
    return hashlib.sha256((bag / "tagmanifest-sha256.txt").read_bytes()).hexdigest()


def link_events(archive: Path) -> list[tuple[str, dict[str, object]]]:
    db = sqlite3.connect(archive / "ledger.sqlite")
    try:
        rows = db.execute(
            "SELECT identifier, detail FROM events WHERE type = 'version link' ORDER BY id"
        ).fetchall()
    finally:
        db.close()
    return [(row[0], json.loads(row[1])) for row in rows]


def test_a_later_version_links_to_the_earlier_one_without_editing_it(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    en_id = "city-library-2024-06-05-garden-en"
    az_id = "city-library-2024-06-05-garden-az"
    code, out = run("ingest", str(write(tmp_path / "in", "en")), "-a", str(archive))
    assert code == 0, out
    en_bag = archive / "bags" / en_id
    before = tagmanifest(en_bag)
    code, out = run(
        "ingest", str(write(tmp_path / "in", "az", translation_of=en_id)), "-a", str(archive)
    )
    assert code == 0, out
    az_bag = archive / "bags" / az_id
    # The earlier, published bag is untouched.
    assert tagmanifest(en_bag) == before
    # The later one says so in its own bag: record, Dublin Core, PREMIS.
    record = json.loads((az_bag / "data/metadata/statement.json").read_text())
    assert record["translation_of"] == en_id and record["language"] == "az-Latn"
    rows = list(csv.reader((az_bag / "data/metadata/metadata.csv").read_text().splitlines()))
    assert rows[1][rows[0].index("dcterms.isVersionOf")] == en_id
    premis = ET.parse(az_bag / "premis.xml").getroot()
    relations = [
        (
            r.findtext(f"{PREMIS}relationshipSubType"),
            r.findtext(f".//{PREMIS}relatedObjectIdentifierValue"),
        )
        for r in premis.iter(f"{PREMIS}relationship")
    ]
    assert ("is version of", en_id) in relations
    # And the ledger, in the hash chain, on both ends.
    events = link_events(archive)
    assert (az_id, {"relation": "isVersionOf", "other": en_id, "other_archived": True}) in events
    assert (en_id, {"relation": "hasVersion", "other": az_id, "declared_by": az_id}) in events
    code, out = run("ledger", "verify", str(archive))
    assert code == 0, out
    code, out = run("audit", str(archive))
    assert code == 0, out


def test_search_finds_the_group_and_shows_every_version(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    ids = {lang: f"city-library-2024-06-05-garden-{lang}" for lang in TEXTS}
    inputs = tmp_path / "in"
    run("ingest", str(write(inputs, "en")), "-a", str(archive))
    run("ingest", str(write(inputs, "az", translation_of=ids["en"])), "-a", str(archive))
    code, out = run(
        "ingest", str(write(inputs, "ru", versions=[ids["en"], ids["az"]])), "-a", str(archive)
    )
    assert code == 0, out
    code, out = run("search", str(archive), "reading", "garden", "--json")
    assert code == 0, out
    hits = json.loads(out)["hits"]
    assert [h["identifier"] for h in hits] == [ids["en"]]
    assert hits[0]["versions"] == sorted([ids["az"], ids["ru"]])
    code, out = run("search", str(archive), "читальный")
    assert code == 0 and f"versions: {ids['az']}, {ids['en']}" in out, out


def test_a_matching_statement_in_another_language_is_proposed_not_linked(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "archive"
    run("ingest", str(write(tmp_path / "in", "en")), "-a", str(archive))
    code, out = run("ingest", str(write(tmp_path / "in", "ru")), "-a", str(archive))
    assert code == 0, out
    assert "looks like a version of city-library-2024-06-05-garden-en" in out
    assert link_events(archive) == []  # proposed only: the archivist declares it


def test_audit_reports_a_link_to_a_bag_that_is_missing(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    later = "city-library-2024-06-05-garden-ru"
    code, out = run(
        "ingest", str(write(tmp_path / "in", "en", versions=[later])), "-a", str(archive)
    )
    assert code == 0 and f"version {later} is not in the archive (yet)" in out, out
    code, out = run("audit", str(archive), "--json")
    assert code == 1, out
    problems = [p for bag in json.loads(out)["bags"] for p in bag["problems"]]
    assert [p["code"] for p in problems] == ["ledger.version-missing"]
    assert later in problems[0]["message"]
    code, out = run("ingest", str(write(tmp_path / "in", "ru")), "-a", str(archive))
    assert code == 0, out
    ru_end = {"relation": "isVersionOf", "other": "city-library-2024-06-05-garden-en",
              "declared_by": "city-library-2024-06-05-garden-en"}  # fmt: skip
    assert (later, ru_end) in link_events(archive)
    code, out = run("audit", str(archive))
    assert code == 0, out
    code, out = run("search", str(archive), "читальный", "--json")
    assert json.loads(out)["hits"][0]["versions"] == ["city-library-2024-06-05-garden-en"]


class Died(Exception):
    """Stands for the process dying between the rename and the ledger's 'published'."""


def test_links_of_a_publication_completed_by_recovery_are_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "archive"
    en_id = "city-library-2024-06-05-garden-en"
    az_id = "city-library-2024-06-05-garden-az"
    run("ingest", str(write(tmp_path / "in", "en")), "-a", str(archive))

    def die(db: sqlite3.Connection, identifier: str) -> None:
        raise Died

    monkeypatch.setattr(archive_mod, "_mark_published", die)
    az = write(tmp_path / "in", "az", translation_of=en_id)
    with pytest.raises(Died):
        archive_mod.ingest([az], archive, archive_mod.IngestOptions(workers=1))
    assert (archive / "bags" / az_id).is_dir()
    assert link_events(archive) == []  # nothing in the chain for an unfinished publication
    monkeypatch.undo()
    report = archive_mod.ingest([], archive)
    assert any("publication completed" in line for line in report.recovered)
    events = link_events(archive)
    assert (az_id, {"relation": "isVersionOf", "other": en_id, "other_archived": True}) in events
    assert (en_id, {"relation": "hasVersion", "other": az_id, "declared_by": az_id}) in events
    code, out = run("audit", str(archive))
    assert code == 0, out


def test_links_of_a_publication_undone_by_recovery_leave_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "archive"
    later = "city-library-2024-06-05-garden-ru"
    monkeypatch.setattr(archive_mod.os, "rename", lambda *a: (_ for _ in ()).throw(Died()))
    with pytest.raises(Died):
        archive_mod.ingest([write(tmp_path / "in", "en", versions=[later])], archive)
    monkeypatch.undo()
    archive_mod.ingest([], archive)
    db = sqlite3.connect(archive / "ledger.sqlite")
    try:
        assert db.execute("SELECT count(*) FROM version_links").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM statement_shapes").fetchone()[0] == 0
    finally:
        db.close()
    assert link_events(archive) == []
